"""Is an answer the learner's own words?

The concept's text is on its ticket page, so an answer pasted from it (or
from the expected answer) would grade well without showing understanding.
An answer is "copied" when most of its word sequences (shingles of four
words) appear in one of the sources. Paraphrases share a few short phrases
with their source ("the hash of the"), not most of them.
"""

import re

#: Words per shingle.
SHINGLE = 4

#: Share of a sentence's shingles found in a source from which the
#: sentence counts as copied (and is left out of the grade).
COPIED_SENTENCE = 0.6

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")

_WORD_RE = re.compile(r'\w+', re.UNICODE)


def _words(text):
    return _WORD_RE.findall((text or '').casefold())


def _shingles(words):
    return {tuple(words[i:i + SHINGLE])
            for i in range(len(words) - SHINGLE + 1)}


def copied_fraction(answer, *sources):
    """The largest fraction, over `sources`, of `answer`'s shingles that
    occur in that source: 0.0 (nothing copied) to 1.0 (all copied). An
    answer shorter than one shingle counts as not copied."""
    return _fraction(answer, _source_shingles(sources))


def own_words(answer, *sources):
    """`answer` without its sentences copied from `sources` (most of
    their four-word sequences found in one of them), whether any was,
    and the copied fraction of the whole answer (`copied_fraction`):
    pasted sentences are not the learner's understanding, so they are
    not graded, whatever else the answer holds. The sources are read
    once."""
    shingled = _source_shingles(sources)
    kept, dropped = [], False
    for sentence in _SENTENCE.split(answer or ''):
        if sentence.strip() and \
                _fraction(sentence, shingled) >= COPIED_SENTENCE:
            dropped = True
            continue
        kept.append(sentence)
    return (' '.join(s.strip() for s in kept if s.strip()), dropped,
            _fraction(answer, shingled))


def _source_shingles(sources):
    return [_shingles(_words(source)) for source in sources]


def _fraction(text, source_shingles):
    shingles = _shingles(_words(text))
    if not shingles:
        return 0.0
    return max([len(shingles & source) / len(shingles)
                for source in source_shingles] or [0.0])
