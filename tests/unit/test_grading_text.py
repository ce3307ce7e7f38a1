"""How the offline grader reads an answer's text (`tracl.llm.text`): the
vocabulary of a question, misspelt terms respelt to the question's words,
note-taking shorthand written out in words; and, through the grader, a
misspelt key term still counted."""

import pytest
from trac.test import EnvironmentStub

import support.envs  # noqa: F401 (loads TracLearn's modules)
from support.envs import destroy_env
from tracl.llm.text import (RESPELL_MIN_LENGTH, STOPWORDS, respell,
                            spell_out, vocabulary)

QUESTION = ("How does back propagation find the gradient of the loss, and "
            "how does k-means move each centroid?")
KNOWN = vocabulary(QUESTION)


# -- vocabulary

def test_the_vocabulary_is_the_lower_case_words_of_every_text():
    assert vocabulary('The Gradient', 'back-propagation, LOSS!') == \
        frozenset(['the', 'gradient', 'back', 'propagation', 'loss'])


def test_the_vocabulary_of_no_text_is_empty():
    assert vocabulary() == frozenset()
    assert vocabulary('', None) == frozenset()


# -- respell

@pytest.mark.parametrize('misspelt, word', [
    ('gradiant', 'gradient'), ('propogation', 'propagation'),
    ('centriod', 'centroid')])
def test_a_misspelt_term_is_respelt_to_the_questions_word(misspelt, word):
    assert respell('It uses the %s here.' % misspelt, KNOWN) == \
        'It uses the %s here.' % word


def test_every_misspelt_term_of_an_answer_is_respelt():
    assert respell('back propogation gives the gradiant; each centriod '
                   'moves', KNOWN) == \
        'back propagation gives the gradient; each centroid moves'


def test_a_respelt_first_word_keeps_its_capital():
    assert respell('Gradiant of the loss.', KNOWN) == 'Gradient of the loss.'
    assert respell('Propogation, then.', KNOWN) == 'Propagation, then.'


def test_a_known_word_is_left_alone_though_near_another_known_word():
    # "centroids" is one slip from "centroid": near enough to be respelt,
    # were it not a word of the question itself.
    known = vocabulary('one centroid, two centroids')
    assert respell('the centroids', known) == 'the centroids'


def test_a_stopword_is_left_alone():
    # "these" is one slip from "theses", but a function word.
    assert 'these' in STOPWORDS
    assert respell('these are mine', vocabulary('Two theses')) == \
        'these are mine'


def test_a_word_shorter_than_the_minimum_length_is_left_alone():
    # "grad" is one slip from "grade", but one letter too short.
    assert len('grad') < RESPELL_MIN_LENGTH
    assert respell('a grad student', vocabulary('the grade')) == \
        'a grad student'


def test_a_word_equally_near_two_known_words_is_left_alone():
    # One slip from each: no telling which was meant.
    known = vocabulary('stationary paper, stationery shop')
    assert respell('stationory', known) == 'stationory'
    # Either word alone is a safe guess.
    assert respell('stationory', vocabulary('a stationary point')) == \
        'stationary'


def test_a_single_slip_anywhere_in_the_word_is_respelt():
    assert respell('the sentroid', KNOWN) == 'the centroid'
    assert respell('the cnetroid', KNOWN) == 'the centroid'


def test_a_word_two_slips_away_is_left_alone():
    # Words of opposite meaning are often two slips apart: a wrong answer
    # must not be respelt into the right one.
    known = vocabulary('A hypertonic solution and the intercellular space')
    assert respell('a hypotonic solution', known) == 'a hypotonic solution'
    assert respell('the intracellular space', known) == \
        'the intracellular space'


def test_a_word_far_from_every_known_word_is_left_alone():
    assert respell('a hyperplane splits it', KNOWN) == \
        'a hyperplane splits it'


def test_without_a_vocabulary_the_text_is_unchanged():
    assert respell('the gradiant', frozenset()) == 'the gradiant'
    assert respell('the gradiant', vocabulary('')) == 'the gradiant'


def test_a_vocabulary_of_short_words_only_changes_nothing():
    assert respell('the lossy gradiant', vocabulary('the loss')) == \
        'the lossy gradiant'


# -- spell_out

def test_a_definition_written_as_a_note_reads_as_a_sentence():
    assert spell_out('Recall: share of real positives found.').startswith(
        'Recall is share')


def test_each_note_definition_after_a_sentence_end_is_written_out():
    assert spell_out('Precision: share of predictions right; Recall: share '
                     'of positives found.') == \
        ('Precision is share of predictions right; Recall is share of '
         'positives found.')


@pytest.mark.parametrize('arrow', ['->', '=>', '\u2192'])
def test_an_arrow_becomes_becomes(arrow):
    assert spell_out('ice %s water' % arrow) == 'ice becomes water'
    assert spell_out('ice%swater' % arrow) == 'ice becomes water'


def test_a_ket_is_not_an_arrow():
    assert spell_out('the state |-> is measured') == \
        'the state |-> is measured'


def test_an_equals_sign_becomes_equals():
    assert spell_out('force = mass times acceleration') == \
        'force equals mass times acceleration'


def test_a_tilde_before_a_number_becomes_about():
    assert spell_out('a lookup takes ~5 ms') == 'a lookup takes about 5 ms'


@pytest.mark.parametrize('note, words', [
    ('w/o a key', 'without a key'), ('slow b/c of disk', 'slow because of '
                                                          'disk')])
def test_slash_abbreviations_are_written_out(note, words):
    assert spell_out(note) == words


@pytest.mark.parametrize('text', [
    'The backup runs at 12:30 each night.',
    'Mix them in a ratio of 3:4 by weight.'])
def test_a_time_or_a_ratio_keeps_its_colon(text):
    assert spell_out(text) == text


def test_plain_prose_is_unchanged():
    text = 'Recall is the share of real positives the model finds.'
    assert spell_out(text) == text


# -- Through the grader

@pytest.fixture(scope='module')
def grader():
    from tracl.embedding import LearningEmbedder
    from tracl.llm.offline_grader import OfflineGrader
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('TRAC_TEST_DB_URI', 'sqlite::memory:')
        env = EnvironmentStub(enable=['trac.*', 'tracl.*'])
    yield OfflineGrader(LearningEmbedder(env).embedder)
    destroy_env(env)


def test_a_misspelt_key_term_counts_as_the_term_itself(grader):
    question = 'How does a neural network learn its weights?'
    expected = ('Back propagation computes the gradient of the loss, and '
                'each weight takes a small step against it.')
    right = 'Back propagation finds the gradient; each weight steps against it.'
    misspelt = ('Back propogation finds the gradiant; each weight steps '
                'against it.')

    def coverage(answer):
        features, _, _ = grader.analyse(question, expected, answer)
        return features['key_term_coverage']
    # "propagation" and "gradient" are key terms (the expected answer's,
    # not the question's): spelt wrong, they would not be found.
    assert coverage(misspelt) == coverage(right) > coverage(
        'Back finds the; each weight steps against it.')


def test_a_sentences_own_colon_is_left_alone():
    assert spell_out('There are two reasons: cost and speed.') == \
        'There are two reasons: cost and speed.'


def test_a_double_arrow_is_an_equivalence():
    assert spell_out('p <=> q, and a <-> b') == \
        'p is equivalent to q, and a is equivalent to b'
