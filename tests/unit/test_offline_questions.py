"""The offline provider's academic sentences and questions."""

import pytest
from trac.test import EnvironmentStub

import support.envs  # noqa: F401 (loads TracLearn's modules)
from tracl.corpus import load_starter_corpus
from tracl.llm.offline import (MAX_EXPECTED_ANSWER, OfflineLLMProvider,
                               query_topic)


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


@pytest.mark.parametrize('difficulty', [1, 2, 3, 4, 5])
def test_question_asks_for_understanding_at_each_difficulty(provider,
                                                            difficulty):
    chunk = load_starter_corpus()[0]
    generated = provider.generate_question(
        chunk['concept'], chunk['content'], difficulty, 'I want to learn')
    assert generated.difficulty == difficulty
    assert chunk['concept'] in generated.question
    assert 100 <= len(generated.question) <= 500
    assert any(word in generated.question.lower()
               for word in ('explain', 'how', 'why', 'describe', 'analyse',
                            'in your own words'))


def test_questions_differ_by_difficulty(provider):
    chunk = load_starter_corpus()[0]
    questions = {provider.generate_question(chunk['concept'],
                                            chunk['content'], d, '').question
                 for d in range(1, 6)}
    assert len(questions) == 5


def test_expected_answer_comes_from_the_chunk_within_bounds(provider):
    for chunk in load_starter_corpus():
        expected = provider.generate_question(
            chunk['concept'], chunk['content'], 3, '').expected_answer
        assert 150 <= len(expected) <= MAX_EXPECTED_ANSWER, chunk['id']
        # Every sentence of the expected answer is the chunk's own.
        for sentence in expected.split('. '):
            assert sentence.rstrip('.') in chunk['content'], chunk['id']


def test_expected_answer_starts_with_the_definition(provider):
    chunk = load_starter_corpus()[0]
    expected = provider.generate_question(chunk['concept'], chunk['content'],
                                          3, '').expected_answer
    assert expected.startswith(chunk['content'].split('. ')[0])


def test_out_of_range_difficulty_is_clamped(provider):
    chunk = load_starter_corpus()[0]
    assert provider.generate_question(chunk['concept'], chunk['content'], 9,
                                      '').difficulty == 5
    assert provider.generate_question(chunk['concept'], chunk['content'], 0,
                                      '').difficulty == 1
