"""A question's rules: sentences of a chunk, and what the rubric validator
refuses (tracl.model.rubrics)."""

import pytest

from tracl.model.rubrics import (MAX_MISCONCEPTIONS, Question, QuestionError,
                                 check_question, question_problems, sentences)

CONTENT = ("Matrix multiplication composes linear maps. The product AB "
           "applies B first and then A. In general AB and BA differ! Is it "
           "ever commutative? Yes: a matrix commutes with the identity.")


def question(**changes):
    raw = {
        'chunk_id': 'la_05',
        'question': 'What does the product of two matrices do, and does '
                    'the order matter?',
        'difficulty': 2,
        'expected_answer': 'It applies one linear map after the other, B '
                           'first; swapping them usually changes the result.',
        'key_points': [
            {'point': 'The product AB applies B first and then A.',
             'sources': [2]},
            {'point': 'In general AB and BA are different matrices.',
             'sources': [3]}],
        'misconceptions': [
            {'claim': 'Matrix multiplication is commutative.',
             'correction': 'In general AB and BA differ.'}],
    }
    raw.update(changes)
    return raw


def test_sentences_split_at_end_marks_before_a_capital():
    assert sentences(CONTENT) == [
        'Matrix multiplication composes linear maps.',
        'The product AB applies B first and then A.',
        'In general AB and BA differ!',
        'Is it ever commutative?',
        'Yes: a matrix commutes with the identity.']


def test_sentences_keep_decimals_and_lower_case_continuations_together():
    assert sentences('It is 2.5 times larger, i.e. bigger. Then it '
                     'stops.') == ['It is 2.5 times larger, i.e. bigger.',
                                   'Then it stops.']


def test_a_good_question_passes_and_becomes_a_question():
    checked = check_question(question(), CONTENT)
    assert isinstance(checked, Question)
    assert checked.key_points[0].sources == [2]
    assert checked.misconceptions[0].claim.startswith('Matrix')
    assert checked.as_json() == question()


def test_a_key_point_naming_no_sentence_is_refused():
    raw = question(key_points=[
        {'point': 'The product AB applies B first.', 'sources': []},
        {'point': 'AB and BA differ in general.', 'sources': [3]}])
    assert question_problems(raw, CONTENT) == [
        "key point 1: names none of the chunk's sentences it rests on"]


def test_a_key_point_naming_a_sentence_the_chunk_lacks_is_refused():
    raw = question(key_points=[
        {'point': 'The product AB applies B first.', 'sources': [2, 9]},
        {'point': 'AB and BA differ in general.', 'sources': [0]}])
    problems = question_problems(raw, CONTENT)
    assert problems == [
        'key point 1: names sentence 9, but the chunk has sentences 1 to 5',
        'key point 2: names sentence 0, but the chunk has sentences 1 to 5']


@pytest.mark.parametrize('count', [0, 1, 6])
def test_a_rubric_has_two_to_five_key_points(count):
    points = [{'point': 'The product AB applies B first.', 'sources': [2]}
              ] * count
    assert 'a rubric has 2 to 5 key points' in question_problems(
        question(key_points=points), CONTENT)


def test_too_many_misconceptions_are_refused():
    item = {'claim': 'It is commutative.', 'correction': 'It is not.'}
    raw = question(misconceptions=[item] * (MAX_MISCONCEPTIONS + 1))
    assert question_problems(raw, CONTENT) == [
        'a rubric has at most 3 misconceptions']


def test_a_misconception_needs_its_correction():
    raw = question(misconceptions=[{'claim': 'It is commutative.'}])
    assert question_problems(raw, CONTENT) == [
        'misconception 1 must have a claim and a correction, and nothing '
        'else']


@pytest.mark.parametrize('changes, problem', [
    ({'question': 'Explain matrix multiplication.'},
     'the question must end with a question mark'),
    ({'question': 'Why?'}, 'question has 4 characters; 10 to 300 fit'),
    ({'question': None}, 'question must be non-empty text'),
    ({'difficulty': 6}, 'difficulty must be a whole number from 1 to 5'),
    ({'difficulty': True}, 'difficulty must be a whole number from 1 to 5'),
    ({'expected_answer': '   '}, 'expected_answer must be non-empty text'),
    ({'rubric': []}, "unknown field 'rubric'"),
])
def test_bad_fields_are_named(changes, problem):
    assert problem in question_problems(question(**changes), CONTENT)


def test_check_question_raises_with_every_problem():
    with pytest.raises(QuestionError) as raised:
        check_question(question(difficulty=0, key_points=[]), CONTENT)
    assert 'difficulty' in str(raised.value)
    assert 'key points' in str(raised.value)


def test_a_question_that_is_not_an_object_is_refused():
    assert question_problems(['What?'], CONTENT) == [
        'a question must be a JSON object']


# -- The starter questions

from collections import Counter, defaultdict  # noqa: E402
import re  # noqa: E402

from tracl.corpus import (load_starter_corpus,  # noqa: E402
                          load_starter_questions, question_report)


@pytest.fixture(scope='module')
def starter():
    return load_starter_corpus(), load_starter_questions()


def test_every_starter_question_passes_the_rules(starter):
    chunks, questions = starter
    assert question_report(questions, chunks) == []


def test_every_starter_chunk_has_a_question(starter):
    chunks, questions = starter
    asked = Counter(q['chunk_id'] for q in questions)
    assert [c['id'] for c in chunks if not asked[c['id']]] == []
    assert len(questions) >= len(chunks) == 156


def test_one_subject_has_a_second_question_at_another_difficulty(starter):
    chunks, questions = starter
    by_chunk = defaultdict(list)
    for question in questions:
        by_chunk[question['chunk_id']].append(question['difficulty'])
    subjects = defaultdict(list)
    for chunk in chunks:
        subjects[chunk['subject']].append(
            len(set(by_chunk[chunk['id']])) >= 2)
    assert [name for name, seconds in subjects.items() if all(seconds)]


def test_starter_questions_do_not_use_the_old_templates(starter):
    _chunks, questions = starter
    templated = re.compile(r'^(In your own words, what is|How does [^,?]* '
                           r'work\?$)')
    assert [q['question'] for q in questions
            if templated.search(q['question'])] == []


def test_question_report_names_an_unknown_chunk_and_a_bad_rubric(starter):
    chunks, questions = starter
    good = dict(questions[0])
    stray = dict(good, chunk_id='no_such_chunk')
    unsupported = dict(good, key_points=[
        {'point': 'A point resting on nothing.', 'sources': [99]},
        good['key_points'][0]])
    report = question_report([good, stray, unsupported], chunks)
    assert [p.where for p in report] == ['question 2', 'question 3']
    assert 'no known chunk' in report[0].message
    assert 'names sentence 99' in report[1].message
