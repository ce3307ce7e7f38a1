"""The offline provider's academic sentences and questions."""

import re

import pytest
from trac.test import EnvironmentStub

import support.envs  # noqa: F401 (loads TracLearn's modules)
from tracl.corpus import load_starter_corpus
from tracl.llm.offline import (MAX_EXPECTED_ANSWER, OfflineLLMProvider,
                               query_topic)
from tracl.llm.offline_questions import concept_name, is_plural
from tracl.model.questions import question_record
from tracl.model.rubrics import QUESTION_LENGTH, question_problems, sentences

STARTER = load_starter_corpus()
DIFFICULTIES = [1, 2, 3, 4, 5]


@pytest.fixture
def provider():
    return OfflineLLMProvider(EnvironmentStub(enable=['trac.*', 'tracl.*']))


@pytest.mark.parametrize('query, topic', [
    ('I want to understand machine learning', 'machine learning'),
    ("I'd like to learn the basics of quantum computing",
     'quantum computing'),
    ('teach me about blockchain technology?', 'blockchain technology'),
    ('What is a Merkle tree?', 'a Merkle tree'),
    ('linear algebra', 'linear algebra'),
])
def test_query_topic_drops_what_learners_say_around_it(query, topic):
    assert query_topic(query) == topic


def test_five_academic_sentences_about_the_topic(provider):
    sentences = provider.academic_sentences(
        'I want to understand machine learning')
    assert len(sentences) == 5 == len(set(sentences))
    assert sentences[0] == 'I want to understand machine learning'
    assert all('machine learning' in s for s in sentences)


def test_sentences_are_deterministic(provider):
    query = 'why does proof of work make rewriting history expensive?'
    assert provider.academic_sentences(query) == \
        provider.academic_sentences(query)


@pytest.mark.parametrize('difficulty', DIFFICULTIES)
def test_question_asks_for_understanding_at_each_difficulty(provider,
                                                            difficulty):
    chunk = STARTER[0]
    generated = provider.generate_question(
        chunk['concept'], chunk['content'], difficulty, 'I want to learn')
    assert generated.difficulty == difficulty
    assert chunk['concept'].lower() in generated.question.lower()
    assert QUESTION_LENGTH[0] <= len(generated.question) <= \
        QUESTION_LENGTH[1]
    assert re.match(r'^(What|How|Why|In) ', generated.question)


def test_difficulty_changes_the_form_of_the_question(provider):
    chunk = STARTER[0]  # its key points state causes and why it matters
    questions = [provider.generate_question(chunk['concept'],
                                            chunk['content'], d, '').question
                 for d in DIFFICULTIES]
    assert questions[0].startswith('What are cryptographic hash functions')
    assert questions[2].startswith('How do cryptographic hash functions '
                                   'work, and why')
    assert questions[4].startswith('Why do cryptographic hash functions')
    assert len(set(questions)) >= 3


def test_expected_answer_comes_from_the_chunk_within_bounds(provider):
    for chunk in load_starter_corpus():
        expected = provider.generate_question(
            chunk['concept'], chunk['content'], 3, '').expected_answer
        assert 150 <= len(expected) <= MAX_EXPECTED_ANSWER, chunk['id']
        # Every sentence of the expected answer is the chunk's own.
        for sentence in expected.split('. '):
            assert sentence.rstrip('.') in chunk['content'], chunk['id']


def test_expected_answer_starts_with_the_definition(provider):
    chunk = STARTER[0]
    expected = provider.generate_question(chunk['concept'], chunk['content'],
                                          3, '').expected_answer
    assert expected.startswith(chunk['content'].split('. ')[0])


def test_out_of_range_difficulty_is_clamped(provider):
    chunk = STARTER[0]
    assert provider.generate_question(chunk['concept'], chunk['content'], 9,
                                      '').difficulty == 5
    assert provider.generate_question(chunk['concept'], chunk['content'], 0,
                                      '').difficulty == 1


# Grammar of the concept names ----------------------------------------------

@pytest.mark.parametrize('name, plural', [
    ('Matrices and Transposes', True), ('Smart Contracts', True),
    ('Transactions and UTXOs', True), ('UTXOs', True), ('DNS', False),
    ('TCP Congestion Control', False), ('Hashing', False),
    ('Least Squares', False), ('Evaluation Metrics', True),
    ('Wi-Fi Basics', True), ('Genetics', False), ('Endosymbiosis', False),
    ('Mitochondria', True), ('Photosynthesis in Chloroplasts', False),
    ('Systems of Linear Equations', True), ('Proof of Work', False),
    ('Bias-Variance Tradeoff', False), ('Consensus', False),
    ('The Plasma Membrane', False), ('EVM and Gas', True),
    ('Zero-Knowledge Proofs', True), ("Shor's Algorithm", False),
])
def test_number_of_a_concept_name(name, plural):
    assert is_plural(name) is plural


def test_number_agrees_with_how_the_chunk_itself_writes_the_name():
    checked = 0
    for chunk in STARTER:
        name = concept_name(chunk['concept'], chunk['content'])
        bare = re.sub(r'^the ', '', name.text.lower())
        verbs = re.findall(r'(?:^|\. )(?:the )?%s (is|are|do|does) '
                           % re.escape(bare), chunk['content'].lower())
        for verb in verbs:
            checked += 1
            assert (verb in ('are', 'do')) is name.plural, chunk['id']
    assert checked >= 20


@pytest.mark.parametrize('chunk_id, text', [
    ('la_08', 'matrices and transposes'), ('bc_06', 'Merkle trees'),
    ('net_20', 'the Domain Name System'), ('qc_18', "Shor's algorithm"),
    ('net_07', 'Wi-Fi basics'), ('la_22', 'the spectral theorem'),
    ('bc_09', 'transactions and UTXOs'), ('la_26', 'Markov chains'),
    ('qc_04', 'measurement and the Born rule'),
    ('net_24', 'Transport Layer Security'), ('bio_05', 'the plasma membrane'),
])
def test_names_read_in_lower_case_unless_proper(chunk_id, text):
    chunk = next(c for c in STARTER if c['id'] == chunk_id)
    assert concept_name(chunk['concept'], chunk['content']).text == text


@pytest.mark.parametrize('difficulty', DIFFICULTIES)
def test_every_starter_question_is_grammatical(provider, difficulty):
    for chunk in STARTER:
        question = provider.generate_question(
            chunk['concept'], chunk['content'], difficulty, '').question
        name = concept_name(chunk['concept'], chunk['content'])
        where = '%s at %d: %s' % (chunk['id'], difficulty, question)
        assert question.endswith('?') and question.count('?') == 1, where
        assert '  ' not in question and question == question.strip(), where
        assert question[0].isupper(), where
        assert name.text in question or \
            name.text[0].upper() + name.text[1:] in question, where
        singular_verb = re.compile(r'\b(is|does) %s\b' % re.escape(name.text),
                                   re.IGNORECASE)
        plural_verb = re.compile(r'\b(are|do) %s\b' % re.escape(name.text),
                                 re.IGNORECASE)
        if name.plural:
            assert not singular_verb.search(question), where
            assert not re.search(r'\b(does it|is it|its)\b', question), \
                where
        else:
            assert not plural_verb.search(question), where
            assert not re.search(r'\b(do they|are they|their)\b',
                                 question), where
        assert not re.search(r'\b(what is|how does) \w+s and\b',
                             question, re.IGNORECASE), where


# Scope and rubric ---------------------------------------------------------

def _as_record(generated):
    record = question_record(None, generated)
    del record['chunk_id']
    return record


@pytest.mark.parametrize('difficulty', DIFFICULTIES)
def test_every_starter_question_passes_the_rubric_rules(provider,
                                                        difficulty):
    for chunk in STARTER:
        generated = provider.generate_question(
            chunk['concept'], chunk['content'], difficulty, '')
        assert question_problems(_as_record(generated),
                                 chunk['content']) == [], chunk['id']


@pytest.mark.parametrize('difficulty', [1, 3, 5])
def test_key_points_are_whole_sentences_naming_their_number(provider,
                                                            difficulty):
    for chunk in STARTER:
        generated = provider.generate_question(
            chunk['concept'], chunk['content'], difficulty, '')
        numbered = sentences(chunk['content'])
        points = generated.key_points
        assert 2 <= len(points) <= 5, chunk['id']
        # The definition comes first.
        assert points[0].sources == [1], chunk['id']
        for point in points:
            assert len(point.sources) == 1, chunk['id']
            assert point.point == \
                ' '.join(numbered[point.sources[0] - 1].split()), chunk['id']
        # The expected answer is the key points, in the text's order.
        assert generated.expected_answer == ' '.join(
            p.point for p in sorted(points, key=lambda p: p.sources))
        assert generated.misconceptions == ()


# What a question asks for, and the words a key point must contain for it.
_ASKS = [
    (r'\bwhy\b', r'\b(because|since|therefore|thus|hence|as a result|'
                 r'means|so that|in order to|why|matters?|important|'
                 r'essential|useful|prevents?|protects?|resists?|avoids?|'
                 r'guards?)\b|, so\b'),
    (r'protect against', r'\b(prevents?|protects?|resists?|avoids?|'
                         r'guards? against)\b'),
    (r'guarantee', r'\b(ensures?|guarantees?)\b'),
    (r'make possible', r'\b(so that|in order to|allows?|enables?|lets|'
                       r'makes? it possible|used (to|for))\b'),
    (r'matter', r'\b(matters?|important|essential|useful)\b'),
]
_NEVER_ASKED = r'trade-?offs?|compar|limitation|advantage|disadvantage|' \
               r'example|step by step'


@pytest.mark.parametrize('difficulty', DIFFICULTIES)
def test_question_asks_only_what_its_key_points_state(provider,
                                                      difficulty):
    for chunk in STARTER:
        generated = provider.generate_question(
            chunk['concept'], chunk['content'], difficulty, '')
        question = generated.question
        points = ' '.join(p.point for p in generated.key_points)
        where = '%s at %d: %s' % (chunk['id'], difficulty, question)
        for asked, stated in _ASKS:
            if re.search(asked, question, re.IGNORECASE):
                assert re.search(stated, points, re.IGNORECASE), where
        condition = re.search(r'what happens ((?:when|if|whenever|once) '
                              r'[^,?]+)', question)
        if condition:
            assert condition.group(1).lower() in points.lower(), where
        for word in re.findall(_NEVER_ASKED, question, re.IGNORECASE):
            assert word.lower() in points.lower(), where


def test_without_a_stated_cause_the_question_falls_back_to_what_it_is(
        provider):
    content = ('A covalent bond is a chemical bond in which two atoms share '
               'a pair of electrons. The shared pair sits between the two '
               'nuclei. Covalent bonds are common in organic molecules.')
    questions = {provider.generate_question('Covalent Bonds', content, d,
                                            '').question
                 for d in DIFFICULTIES}
    assert questions == {
        'What are covalent bonds, and what are their main features?'}


def test_hard_question_asks_what_happens_under_a_stated_condition(provider):
    chunk = next(c for c in STARTER if c['id'] == 'net_20')
    generated = provider.generate_question(chunk['concept'],
                                           chunk['content'], 4, '')
    assert generated.question == ('In the Domain Name System, what happens '
                                  'when an application needs an address?')
    assert any(p.point.startswith('When an application needs an address,')
               for p in generated.key_points)


def test_questions_and_rubrics_are_deterministic():
    first = OfflineLLMProvider(EnvironmentStub(enable=['trac.*', 'tracl.*']))
    second = OfflineLLMProvider(EnvironmentStub(enable=['trac.*',
                                                        'tracl.*']))
    for chunk in STARTER:
        for difficulty in (2, 4):
            assert first.generate_question(
                chunk['concept'], chunk['content'], difficulty, 'a') == \
                second.generate_question(chunk['concept'], chunk['content'],
                                         difficulty, 'b'), chunk['id']


def test_a_one_sentence_chunk_gets_a_question_without_a_rubric(provider):
    # One sentence cannot make the two key points a rubric needs: the
    # answer is graded against the expected answer alone.
    generated = provider.generate_question(
        'Soon Gone', 'A chunk that will soon be gone.', 3, '')
    assert generated.question.endswith('?')
    assert generated.expected_answer == 'A chunk that will soon be gone.'
    assert generated.key_points == ()


def test_a_question_needs_a_name_and_content(provider):
    with pytest.raises(ValueError):
        provider.generate_question('', 'Some text here.', 3, '')
    with pytest.raises(ValueError):
        provider.generate_question('Name', '   ', 3, '')
