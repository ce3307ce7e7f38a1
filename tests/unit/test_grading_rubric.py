"""The rubric an answer is graded by (`tracl.model.questions`'
`grading_rubric` and `load_grading_rubric`, and a concept's `rubric` from
`tracl.model.concepts.load_concept`), on SQLite and PostgreSQL: the asked
question's key points, and the misconceptions of every question of its
chunk, its own first, each once."""

from trac.ticket.model import Ticket

from tracl.corpus import load_starter_corpus, load_starter_questions
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model import questions
from tracl.model.concepts import concept_description, load_concept
from tracl.model.rubrics import KeyPoint, Misconception, Rubric
from tracl.schema import sql

ALICE = 'sub-alice'

#: A chunk with two starter questions, and one with a single question.
TWO_QUESTIONS, ONE_QUESTION = 'la_09', 'bc_01'

COMMUTES = Misconception('AB equals BA.', 'Not in general.')
SAME_SHAPE = Misconception('Any two matrices multiply.',
                           'Only when the inner sizes agree.')
ENTRYWISE = Misconception('Entries multiply one by one.',
                          'Each entry is a row times a column.')


# Helpers ------------------------------------------------------------------

def question(qid, key_points, misconceptions):
    """A `StoredQuestion` of chunk la_09 with this rubric."""
    return questions.StoredQuestion(
        qid, TWO_QUESTIONS, 2, 'Question %d?' % qid, 'An answer.',
        Rubric([KeyPoint(p, ['A source.']) for p in key_points],
               list(misconceptions)), 'starter', qid)


def store_chunk_questions(env, chunk_id):
    """Store every starter question of `chunk_id`; return them in order."""
    content = {c['id']: c['content']
               for c in load_starter_corpus()}[chunk_id]
    return [questions.store_question(env, record, content, 'starter')
            for record in load_starter_questions()
            if record['chunk_id'] == chunk_id]


def concept_asking(env, stored):
    """A concept ticket of `stored`'s chunk whose current question is
    `stored`; its ticket id."""
    ticket = Ticket(env)
    ticket.populate({'type': CONCEPT_TICKET_TYPE, 'status': 'new',
                     'summary': 'Matrix Multiplication', 'owner': ALICE,
                     'description': concept_description('Some text.'),
                     'question': 'The first question?',
                     'question_difficulty': '3'})
    ticket_id = ticket.insert()
    env.db_transaction(sql(env, """
        INSERT INTO {concept_metadata} (ticket_id, chunk_id,
            expected_answer, question_id, created_at)
        VALUES (%s, %s, %s, %s, 0)"""),
        (ticket_id, stored.chunk_id, 'The first answer.', stored.id))
    return ticket_id


# grading_rubric -------------------------------------------------------------

def test_the_rubric_has_the_asked_questions_key_points_only():
    asked = question(1, ['Rows meet columns.'], [ENTRYWISE])
    other = question(2, ['It composes maps.', 'Order matters.'], [COMMUTES])
    rubric = questions.grading_rubric(asked, [asked, other])
    assert [k.point for k in rubric.key_points] == ['Rows meet columns.']


def test_own_misconceptions_come_first_then_the_siblings():
    asked = question(1, ['Rows meet columns.'], [ENTRYWISE, SAME_SHAPE])
    other = question(2, ['Order matters.'], [COMMUTES])
    assert list(questions.grading_rubric(asked, [other, asked])
                .misconceptions) == [ENTRYWISE, SAME_SHAPE, COMMUTES]


def test_a_misconception_two_questions_share_is_there_once():
    asked = question(1, ['Rows meet columns.'], [SAME_SHAPE])
    other = question(2, ['Order matters.'], [COMMUTES, SAME_SHAPE])
    third = question(3, ['It composes maps.'], [COMMUTES, ENTRYWISE])
    assert list(questions.grading_rubric(asked, [asked, other, third])
                .misconceptions) == [SAME_SHAPE, COMMUTES, ENTRYWISE]


def test_without_siblings_the_rubric_is_the_questions_own():
    asked = question(1, ['Rows meet columns.'], [ENTRYWISE, COMMUTES])
    for siblings in ([], [asked]):
        rubric = questions.grading_rubric(asked, siblings)
        assert list(rubric.key_points) == list(asked.rubric.key_points)
        assert list(rubric.misconceptions) == [ENTRYWISE, COMMUTES]


# load_grading_rubric --------------------------------------------------------

def test_each_question_of_a_chunk_is_graded_by_both_misconceptions(env):
    first, second = store_chunk_questions(env, TWO_QUESTIONS)
    own_first = list(first.rubric.misconceptions)
    own_second = list(second.rubric.misconceptions)
    assert own_first and own_second and \
        not set(own_first) & set(own_second)

    rubric = questions.load_grading_rubric(env, first.id)
    assert list(rubric.key_points) == list(first.rubric.key_points)
    assert list(rubric.misconceptions) == own_first + own_second
    rubric = questions.load_grading_rubric(env, second.id)
    assert list(rubric.key_points) == list(second.rubric.key_points)
    assert list(rubric.misconceptions) == own_second + own_first


def test_the_only_question_of_a_chunk_has_its_own_misconceptions(env):
    store_chunk_questions(env, TWO_QUESTIONS)
    only, = store_chunk_questions(env, ONE_QUESTION)
    rubric = questions.load_grading_rubric(env, only.id)
    assert list(rubric.key_points) == list(only.rubric.key_points)
    assert list(rubric.misconceptions) == list(only.rubric.misconceptions)


def test_the_grading_rubric_of_an_unknown_question_is_none(env):
    first, second = store_chunk_questions(env, TWO_QUESTIONS)
    assert questions.load_grading_rubric(env, first.id + second.id + 1) \
        is None


# load_concept ---------------------------------------------------------------

def test_a_concept_is_graded_by_its_questions_rubric_and_the_chunks(env):
    first, second = store_chunk_questions(env, TWO_QUESTIONS)
    concept = load_concept(env, concept_asking(env, second))
    assert concept.question_id == second.id
    assert concept.question == second.question
    assert list(concept.rubric.key_points) == \
        list(second.rubric.key_points)
    assert list(concept.rubric.misconceptions) == \
        list(second.rubric.misconceptions) + \
        list(first.rubric.misconceptions)


def test_a_concept_of_a_one_question_chunk_has_its_own_misconceptions(env):
    store_chunk_questions(env, TWO_QUESTIONS)
    only, = store_chunk_questions(env, ONE_QUESTION)
    concept = load_concept(env, concept_asking(env, only))
    assert list(concept.rubric.key_points) == list(only.rubric.key_points)
    assert list(concept.rubric.misconceptions) == \
        list(only.rubric.misconceptions)
