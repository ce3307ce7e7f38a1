"""The copy check of the study loop (`tracl.llm.originality`): how much of
an answer's four-word sequences come from the concept's text or its
expected answer. Pure functions: no environment."""

import pytest

from tracl.llm.originality import copied_fraction, own_words

#: The starter corpus's 'Distributed Ledgers' concept: the beginning of its
#: text, and the expected answer the offline provider writes for it.
LEDGER_TEXT = (
    "A distributed ledger is a record of transactions or balances that is "
    "replicated across many independent computers instead of being held by "
    "one central authority. In a traditional bank, a single institution "
    "keeps the authoritative ledger, and customers must trust it to record "
    "transfers honestly.")
LEDGER_EXPECTED = (
    "A distributed ledger is a record of transactions or balances that is "
    "replicated across many independent computers instead of being held by "
    "one central authority. Because the ledger is typically append-only, "
    "history is extended rather than edited, and any node can independently "
    "check the full record. The hard part for distributed ledgers is "
    "agreement.")

#: An answer in the learner's own words (the offline grader scores it 0.93).
PARAPHRASE = (
    "A distributed ledger keeps the record of transactions on many separate "
    "computers rather than one central authority. New entries are only "
    "appended, so the history is extended, not edited, and every node can "
    "check the whole record itself. Getting them to agree is the hard part.")


def test_an_exact_copy_is_entirely_copied():
    assert copied_fraction(LEDGER_TEXT, LEDGER_TEXT) == 1.0


def test_a_copied_passage_of_the_source_is_entirely_copied():
    passage = LEDGER_TEXT.split('. ')[1]
    assert copied_fraction(passage, LEDGER_TEXT) == 1.0


@pytest.mark.parametrize('answer, most', [
    (PARAPHRASE, 0.0),
    # Opens with the text's words, then goes its own way: 3 of 26 shingles.
    ("A distributed ledger is a record that lives on lots of machines; "
     "nobody in the middle owns it, entries are only ever added, and each "
     "machine can verify everything.", 3 / 26),
], ids=['own-words', 'shared-opening'])
def test_a_paraphrase_shares_at_most_a_few_short_phrases(answer, most):
    assert copied_fraction(answer, LEDGER_TEXT, LEDGER_EXPECTED) == \
        pytest.approx(most)


def test_the_fraction_counts_the_answers_shingles_found_in_the_source():
    # Ten words make seven shingles; the first six words are the text's, so
    # three shingles (words 1-4, 2-5 and 3-6) are found in it.
    answer = 'a distributed ledger is a record kept by many friends'
    assert copied_fraction(answer, LEDGER_TEXT) == pytest.approx(3 / 7)


def test_repeating_a_copied_phrase_does_not_raise_the_fraction():
    # Shingles are a set: a phrase pasted three times counts once.
    copied = 'replicated across many independent computers'
    own = 'my friends keep notebooks about their shared lunches every week'
    once = copied_fraction(copied + ' ' + own, LEDGER_TEXT)
    thrice = copied_fraction(' '.join([copied] * 3 + [own]), LEDGER_TEXT)
    assert once == pytest.approx(2 / 12)
    assert thrice <= once


@pytest.mark.parametrize('answer', [
    '',
    None,
    'distributed ledger',
    'a distributed ledger',          # three words: shorter than a shingle
    '   ...   !!! ',
], ids=['empty', 'none', 'two-words', 'three-words', 'punctuation-only'])
def test_an_answer_shorter_than_a_shingle_counts_as_not_copied(answer):
    assert copied_fraction(answer, LEDGER_TEXT, answer) == 0.0


def test_four_copied_words_make_one_whole_shingle():
    assert copied_fraction('a distributed ledger is', LEDGER_TEXT) == 1.0


@pytest.mark.parametrize('answer', [
    LEDGER_TEXT.upper(),
    LEDGER_TEXT.lower(),
    LEDGER_TEXT.replace(',', '').replace('.', '!'),
    LEDGER_TEXT.replace(' ', '  \n '),
    '"' + LEDGER_TEXT.replace(' is ', ' -- is -- ') + '"',
], ids=['upper', 'lower', 'punctuation', 'whitespace', 'dashes-and-quotes'])
def test_case_punctuation_and_spacing_do_not_hide_a_copy(answer):
    assert copied_fraction(answer, LEDGER_TEXT) == 1.0


def test_case_folding_is_unicode_aware():
    # casefold(), not lower(): 'STRASSE' and 'straße' are the same word.
    source = 'Die lange Straße führt zum alten Hafen der Stadt'
    answer = 'DIE LANGE STRASSE FÜHRT ZUM ALTEN HAFEN DER STADT'
    assert copied_fraction(answer, source) == 1.0


def test_with_several_sources_the_largest_fraction_counts():
    half_text = ('a distributed ledger is a record of transactions '
                 'my own words follow here about trust')
    in_text = copied_fraction(half_text, LEDGER_TEXT)
    assert 0 < in_text < 1
    assert copied_fraction(half_text, LEDGER_TEXT, 'unrelated words only '
                           'from somewhere else entirely') == in_text
    assert copied_fraction(half_text, 'unrelated words only from somewhere '
                           'else entirely', LEDGER_TEXT) == in_text
    # The expected answer repeats the text's opening, so both agree here;
    # its own second sentence is found in it alone.
    tail = ('history is extended rather than edited, and any node can '
            'independently check')
    assert copied_fraction(tail, LEDGER_TEXT) == 0.0
    assert copied_fraction(tail, LEDGER_TEXT, LEDGER_EXPECTED) == 1.0


def test_shingles_spread_over_sources_are_not_added_up():
    # Seventeen words, fourteen shingles: five in the first source, six in
    # the second. The answer is as copied as its most copied-from source.
    first = 'a distributed ledger is a record of transactions'
    second = 'history is extended rather than edited and any node'
    answer = first + ' ' + second
    assert copied_fraction(answer, first, second) == pytest.approx(6 / 14)


@pytest.mark.parametrize('sources', [(), (None,), ('',)],
                         ids=['no-source', 'none', 'empty'])
def test_without_source_text_nothing_is_copied(sources):
    assert copied_fraction(LEDGER_TEXT, *sources) == 0.0


def test_a_word_order_change_breaks_the_shingles():
    words = LEDGER_TEXT.split()
    assert copied_fraction(' '.join(reversed(words)), LEDGER_TEXT) == 0.0


def test_own_words_leave_out_the_copied_sentences():
    source = ('A hash function maps data of any size to a fixed-size digest. '
              'Changing one bit of the input changes the digest completely.')
    answer = ('It squeezes anything into a short fingerprint. Changing one '
              'bit of the input changes the digest completely. So you can '
              'spot any edit.')
    own, dropped, copied = own_words(answer, source)
    assert dropped
    assert copied == pytest.approx(copied_fraction(answer, source))
    assert own == ('It squeezes anything into a short fingerprint. So you '
                   'can spot any edit.')


def test_own_words_keep_a_paraphrase_whole():
    source = 'A hash function maps data of any size to a fixed-size digest.'
    answer = 'It squeezes anything into a short fingerprint of fixed size.'
    assert own_words(answer, source)[:2] == (answer, False)
