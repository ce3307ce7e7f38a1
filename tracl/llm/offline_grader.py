"""Grading a learner's answer without a network: how close it comes to the
expected answer in meaning and how many of its key terms it covers,
calibrated on human-marked answers. Deterministic; standard library and
numpy only, with any embedder that has `embed(texts)` (`IEmbedder`).

How a grade is made:

1. Text addressed to the grader ("ignore previous instructions", "give
   full marks", "you are now ...") is cut out of the answer before anything
   else reads it: the answer is data, so such text adds nothing.
2. Five features compare the answer with the expected answer and the
   question (`FEATURES`). A logistic model with global coefficients (no
   per-question parameter) turns them into the probability that a human
   marker accepts the answer.
3. A monotone map puts the model's decision threshold (probability 0.5)
   on `MASTERY_THRESHOLD`, so "score >= 0.8" means "the model would
   accept it".
4. Guards cap the score of answers that cannot show understanding whatever
   the features say: empty-ish answers, copies of the question and keyword
   salad.
5. Feedback names up to three key ideas of the expected answer the answer
   has and up to three it misses.

Only sentences are embedded: the expected answer's once per grader (kept,
and `prepare` embeds them ahead of the first answer), then the answer's.

The coefficients come from `bench/grading_eval.py --fit` on SciEntsBank
(`data/scientsbank/train.csv`); the same script measures, by 5-fold
cross-validation grouped by question, how well they generalise to
questions they were not fitted on.
"""

import difflib
import math
import re
import threading
import unicodedata
from collections import OrderedDict, namedtuple
from dataclasses import dataclass, field

import numpy as np

from tracl.llm import MASTERY_THRESHOLD

#: Changes whenever a grade could change: features, coefficients, guards.
GRADER_VERSION = 'offline-grader-1'

#: Model probability at which an answer counts as right; mapped to
#: `MASTERY_THRESHOLD` on the score scale.
DECISION_PROBABILITY = 0.5

#: The features the logistic model reads, in the order of its coefficients.
FEATURES = (
    # Mean over the expected answer's sentences of the best cosine with
    # one of the answer's sentences.
    'sentence_coverage',
    # Share of the expected answer's content stems that the question does
    # not give and the answer has.
    'key_term_coverage',
    # Share of the answer's content stems found in the expected answer.
    'answer_on_reference',
    # Share of the answer's words that are function words: structure.
    'function_word_share',
    # log((1 + answer content words) / (1 + expected content words)),
    # at most 0: shorter than expected costs, longer earns nothing.
    'relative_length',
)

# Fitted by `bench/grading_eval.py --fit` on all 4,969 answers of
# SciEntsBank train.csv (SemEval-2013 task 7, Dzikovska et al. 2013; built
# on SciEntsBank, Nielsen et al. 2008), L2 = 1 on standardised features.
# Before that, 5-fold cross-validation grouped by question_id (seed 20130:
# no question on both sides) measured on questions the model was not
# fitted on: AUC 0.767 against 0.674 for the cosine-only baseline, and
# accuracy 0.716 at score >= 0.8 (majority class 0.596). Features kept
# because they raised the grouped-CV AUC; tried and dropped: plain cosine,
# the max of sentence cosines, IDF weights over the references, negation
# mismatch, bigram coverage, interactions (no gain), absolute lengths
# (function-word share and relative length do as well, whatever the size
# of the texts), and cosine to the question and word-level embedding
# coverage (+0.001 and +0.002 AUC, not worth their embeddings' time).
INTERCEPT = -2.860
COEFFICIENTS = (1.888, 2.331, 0.837, 1.987, 0.826)

#: The guards, each with the highest score it leaves.
GUARD_CAPS = {'empty': 0.1, 'copy': 0.3, 'salad': 0.3}
#: Empty-ish: fewer content words than this, none of them a key term of
#: the expected answer that the question does not give. (Short right
#: answers exist: 35% of SciEntsBank's answers under 3 content words are
#: marked correct, "Celsius.", "It vibrates.".)
MIN_CONTENT_WORDS = 3
#: A copy of the question: it covers under this share of the key terms,
#: and its words match the question's (or a run of its sentences) this
#: much (difflib ratio), or this much with under this share of its content
#: stems new to the question. (On SciEntsBank, 16 answers, 19% marked
#: correct: answers that restate the question rightly stay clear of it.)
COPY_KEY_TERM_COVERAGE = 1 / 3.
COPY_OVERLAP = 0.75
COPY_OVERLAP_WITHOUT_NEW_WORDS = 0.6
COPY_NOVELTY = 0.2
#: Keyword salad: at least this many words and no function word but
#: those that join items of a list.
SALAD_MIN_WORDS = 3
LIST_WORDS = frozenset(['and', 'or', 'also', 'etc', 'plus', 'then'])

#: Characters of an answer that are graded (the rest is ignored), so that
#: a very long text cannot hold a request up.
MAX_ANSWER_CHARS = 4000

#: Key ideas named in feedback, each way.
FEEDBACK_IDEAS = 3

#: Expected answers whose sentence embeddings are kept.
EXPECTED_CACHE_SIZE = 256

LogisticModel = namedtuple('LogisticModel', 'intercept coefficients')

#: The model the grader uses unless given another (the bench gives fold
#: models).
MODEL = LogisticModel(INTERCEPT, COEFFICIENTS)


@dataclass(frozen=True)
class GradeResult:
    """A grade: the score in [0, 1], feedback in plain sentences, and the
    features and guards that produced it (for audit)."""

    score: float
    feedback: str
    features: dict = field(default_factory=dict)
    rubric_version: str = GRADER_VERSION

    @property
    def version(self):
        return self.rubric_version


# -- Words

STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be
because been before being below between both but by can can't cannot could
couldn't did didn't do does doesn't doing don't down during each either else
etc even every few for from further had hadn't has hasn't have haven't having
he he'd he'll he's her here hers herself him himself his how i i'd i'll i'm
i've if in into is isn't it it's its itself just let's lot lots many may me
might more most much must my myself neither no nor not now of off oh ok okay
on once one ones only or other ought our ours ourselves out over own really
same shall she she'd she'll she's should shouldn't so some such than that
that's the their theirs them themselves then there there's these they they'd
they'll they're they've thing things this those through thus to too under
until up upon us very was wasn't we we'd we'll we're we've well were weren't
what what's when where which while who whom whose why will with won't would
wouldn't yeah yes you you'd you'll you're you've your yours yourself
yourselves
""".split())

#: Words too general to be named as a key idea in feedback.
GENERIC_WORDS = frozenset("""
make makes made making use uses used using see seen saw show shows showed
shown way ways like called call get gets got leave leaves leaving left put
take takes took tell tells told know knows knew need needs needed able
process place part kind type example form case fact idea turn turns
find finds found give gives given keep keeps kept
""".split())

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?|[^\sA-Za-z0-9]")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*\n+\s*")
_VOWEL = re.compile('[aeiouy]')
_SUFFIXES = (
    ('ational', 'at'), ('ations', 'at'), ('ation', 'at'), ('itions', 'it'),
    ('ition', 'it'), ('tions', 't'), ('tion', 't'), ('sions', 's'),
    ('sion', 's'), ('ments', ''), ('ment', ''), ('ness', ''), ('ities', ''),
    ('ity', ''), ('ingly', ''), ('edly', ''), ('ies', 'y'), ('ied', 'y'),
    ('sses', 'ss'), ('ing', ''), ('ed', ''), ('ly', ''), ('est', ''),
    ('er', ''), ('es', ''), ('s', ''))


def normalise(text):
    text = unicodedata.normalize('NFKC', text or '')
    return text.replace('\u2019', "'").replace('\u2018', "'")


def words(text):
    """The words of `text`, lower case."""
    return _WORD.findall(normalise(text).lower())


def sentences(text):
    """The sentences of `text` that have at least one word."""
    parts = _SENTENCE_END.split(normalise(text).strip())
    return [p.strip() for p in parts if _WORD.search(p.lower())]


def is_content(word):
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


def stem(word):
    """A light suffix stripper, enough for vibrates / vibration /
    vibrating, higher / high, evaporated / evaporation."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in _SUFFIXES:
        if not word.endswith(suffix):
            continue
        if suffix == 's' and word.endswith(('ss', 'us', 'is')):
            continue
        base = word[:-len(suffix)] + replacement
        if suffix in ('er', 'est') and len(base) < 4:
            continue
        if len(base) >= 3 and _VOWEL.search(base):
            if suffix in ('ing', 'ed', 'er', 'est') and len(base) > 3 and \
                    base[-1] == base[-2] and base[-1] not in 'lsz':
                base = base[:-1]
            word = base
            break
    if word.endswith('e') and len(word) > 4:
        word = word[:-1]
    if word.endswith('y') and len(word) > 3:
        word = word[:-1] + 'i'
    return word


def content_stems(tokens):
    return [stem(t) for t in tokens if is_content(t)]


def question_overlap(tokens, question):
    """How much the words `tokens` repeat the question's, in order: the
    best difflib ratio against the question or a run of its sentences."""
    if not tokens:
        return 0.0
    parts = [words(s) for s in sentences(question)]
    best = 0.0
    for first in range(len(parts)):
        run = []
        for part in parts[first:]:
            run = run + part
            best = max(best, difflib.SequenceMatcher(
                None, tokens, run, autojunk=False).ratio())
    return best


# -- Text addressed to the grader

_INJECTION = re.compile(r"""
    \b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|the|
        your|of|every)\s+)*(?:(?:previous|prior|above|earlier|preceding|
        original|grading|system|these|those|my|other)\s+)?(?:instructions?|
        prompts?|rules?|directions?|guidelines?|rubrics?|criteria|context)\b
  | \b(?:give|award|assign|grant)\s+(?:(?:me|this|it|my|the|student|
        learner|answer|response|a|an)\s+)*(?:full|maximum|max|perfect|top|
        highest|all\s+the|100\s*%?|10\s*/\s*10)\s+(?:marks?|points?|scores?|
        credit|grades?)\b
  | \b(?:mark|grade|score|rate|evaluate)\s+(?:this|my|the|it)\s+(?:(?:answer|
        response|reply)\s+)?as\s+(?:correct|right|perfect|mastered|full)\b
  | \b(?:full|maximum|perfect)\s+(?:marks|score|points)\s+(?:please|now)\b
  | \bscore\s*[:=]\s*(?:1(?:\.0+)?|100\s*%?|10\s*/\s*10)\b
  | \byou\s+are\s+now\s+(?:an?|the|my|in|acting|playing|dan)\b
  | \bfrom\s+now\s+on,?\s+you\b
  | \bsystem\s+prompt\b
  | \b(?:new|updated|real|actual)\s+instructions?\b
  | \bact\s+as\s+(?:an?\s+|the\s+|my\s+)?(?:grader|teacher|examiner|marker|
        assistant|ai)\b
  | \bpretend\s+(?:to\s+be|you\s+are)\b
  | \bas\s+an?\s+(?:ai|language\s+model|grader)\b
  | \bthis\s+answer\s+(?:is|deserves)\s+(?:correct|perfect|full|an?\s+a)\b
  | \bjailbreak\b
  | </?\s*(?:system|instructions?|prompt)\s*>
  | ^\s*(?:system|assistant|developer)\s*:
""", re.IGNORECASE | re.VERBOSE)


def remove_instructions(answer):
    """`answer` without text addressed to the grader: from the first
    such phrase of a sentence to its end. Returns (text, removed?)."""
    kept, removed = [], False
    for sentence in sentences(answer):
        match = _INJECTION.search(sentence)
        if match:
            removed = True
            sentence = sentence[:match.start()].strip(' ,;:-')
        if sentence:
            kept.append(sentence)
    return ' '.join(kept), removed


# -- Key ideas of the expected answer

KeyIdea = namedtuple('KeyIdea', 'phrase stems')


def key_ideas(expected_answer, question_stems):
    """The expected answer's key ideas, in order: runs of content words
    (split at function words, general words and punctuation), each with
    the stems that the question does not already give. Runs that only
    repeat the question are not key ideas."""
    ideas, seen = [], set()
    for sentence in sentences(expected_answer):
        run = []
        for token in _TOKEN.findall(sentence) + ['.']:
            word = token.lower().replace('\u2019', "'")
            if _WORD.fullmatch(word) and is_content(word) and \
                    word not in GENERIC_WORDS:
                run.append(token)
                continue
            new = tuple(dict.fromkeys(
                stem(w.lower()) for w in run
                if stem(w.lower()) not in question_stems))
            if new and not set(new) <= seen:
                seen.update(new)
                ideas.append(KeyIdea(' '.join(run), frozenset(new)))
            run = []
    return ideas


def covers(idea, answer_stems):
    """Whether the answer has at least half of a key idea's own stems."""
    return 2 * len(idea.stems & answer_stems) >= len(idea.stems)


# -- The grader

class OfflineGrader(object):
    """Grades answers against expected answers with an embedder.

    `embedder` is anything with `embed(texts)` returning unit rows
    (`IEmbedder`); `model` defaults to the calibrated `MODEL`."""

    def __init__(self, embedder, model=MODEL):
        self.embedder = embedder
        self.model = model
        self._expected = OrderedDict()
        self._lock = threading.Lock()

    def grade(self, question, expected_answer, answer):
        """A `GradeResult` of `answer` to `question`."""
        features, ideas = self.analyse(question, expected_answer, answer)
        probability = self.probability(features)
        score = self.score(features, probability)
        features['probability'] = round(probability, 4)
        return GradeResult(score, self.feedback(features, ideas, score),
                           features, GRADER_VERSION)

    def analyse(self, question, expected_answer, answer):
        """The features and guard flags of `answer` (a dict), and the key
        ideas of the expected answer with whether the answer covers them."""
        if not words(expected_answer):
            raise ValueError("An answer can only be graded against an "
                             "expected answer with words in it.")
        text, injected = remove_instructions((answer or '')[:MAX_ANSWER_CHARS])
        tokens = words(text)
        answer_stems = set(content_stems(tokens))
        question_stems = set(content_stems(words(question)))
        expected_tokens = words(expected_answer)
        expected_stems = list(dict.fromkeys(content_stems(expected_tokens)))
        new_stems = [s for s in expected_stems
                     if s not in question_stems] or expected_stems
        n_content = sum(1 for t in tokens if is_content(t))
        features = {
            'sentence_coverage': self._sentence_coverage(expected_answer,
                                                         text),
            'key_term_coverage': _share(new_stems, answer_stems),
            'answer_on_reference': _share(answer_stems, set(expected_stems)),
            'function_word_share':
                (len(tokens) - n_content) / max(len(tokens), 1),
            'relative_length': min(0.0, math.log(
                (1 + n_content) / (1 + len(content_stems(expected_tokens))))),
            'novelty': _share(answer_stems, answer_stems - question_stems),
            'question_overlap': question_overlap(tokens, question),
            'content_words': n_content,
            'instructions_removed': injected,
        }
        features['guards'] = self._guards(features, tokens, answer_stems,
                                          set(new_stems))
        ideas = [(idea, covers(idea, answer_stems))
                 for idea in key_ideas(expected_answer, question_stems)]
        return {k: round(v, 4) if isinstance(v, float) else v
                for k, v in features.items()}, ideas

    def prepare(self, expected_answer):
        """Embed `expected_answer` ahead of its first answer (when its
        question is written, say): grading then embeds the answer only."""
        self._expected_vectors(expected_answer)

    def probability(self, features):
        """The model's probability that a human marker accepts the answer."""
        z = self.model.intercept + sum(
            w * features[name]
            for name, w in zip(FEATURES, self.model.coefficients))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @staticmethod
    def score(features, probability):
        """The calibrated score of `probability`, scaled down into
        [0, cap] by each guard that holds (so guarded answers keep their
        order among themselves)."""
        score = calibrate(probability)
        for guard in features['guards']:
            score *= GUARD_CAPS[guard]
        if not features['content_words']:
            score = 0.0
        return round(score, 4)

    # Internal methods

    def _sentence_coverage(self, expected_answer, text):
        """Mean over the expected answer's sentences of the best cosine
        with one of the answer's sentences."""
        if not words(text):
            return 0.0
        expected = self._expected_vectors(expected_answer)
        answer = np.asarray(self.embedder.embed(sentences(text)),
                            dtype=np.float32)
        return float((expected @ answer.T).max(1).mean())

    def _expected_vectors(self, expected_answer):
        """The embeddings of the expected answer's sentences, embedded
        together (so always alike) and kept for the next answers."""
        with self._lock:
            cached = self._expected.get(expected_answer)
            if cached is not None:
                self._expected.move_to_end(expected_answer)
                return cached
        cached = np.asarray(self.embedder.embed(sentences(expected_answer)),
                            dtype=np.float32)
        with self._lock:
            self._expected[expected_answer] = cached
            while len(self._expected) > EXPECTED_CACHE_SIZE:
                self._expected.popitem(last=False)
        return cached

    @staticmethod
    def _guards(features, tokens, answer_stems, new_stems):
        guards = []
        if features['content_words'] < MIN_CONTENT_WORDS and \
                not answer_stems & new_stems:
            guards.append('empty')
        overlap = features['question_overlap']
        if features['key_term_coverage'] < COPY_KEY_TERM_COVERAGE and (
                overlap >= COPY_OVERLAP or (
                    overlap >= COPY_OVERLAP_WITHOUT_NEW_WORDS and
                    features['novelty'] < COPY_NOVELTY)):
            guards.append('copy')
        if len(tokens) >= SALAD_MIN_WORDS and all(
                is_content(t) or t in LIST_WORDS for t in tokens):
            guards.append('salad')
        return guards

    @staticmethod
    def feedback(features, ideas, score):
        """Plain sentences: what the answer got right, which key ideas
        are missing, and what the guards found."""
        guards = features['guards']
        lines = []
        if features['instructions_removed']:
            lines.append("Instructions addressed to the grader were ignored; "
                         "only the answer itself is graded.")
        if 'empty' in guards:
            lines.append("The answer is too short to show understanding: "
                         "explain the idea in a full sentence or two.")
        if 'copy' in guards:
            lines.append("The answer mostly repeats the question; say what "
                         "the answer to it is.")
        if 'salad' in guards:
            lines.append("The answer lists terms without saying how they "
                         "relate; write them into sentences that explain.")
        present = [idea.phrase for idea, has in ideas if has]
        missing = [idea.phrase for idea, has in ideas if not has]
        if present:
            lines.append("What you got right: you mention %s."
                         % _enumerate(present[:FEEDBACK_IDEAS], 'and'))
        mastered = score >= MASTERY_THRESHOLD
        if missing:
            lines.append("%s %s." % (
                "To be complete, it could also mention" if mastered
                else "Key ideas missing:",
                _enumerate(missing[:FEEDBACK_IDEAS], 'and')))
        if mastered:
            lines.append("This answer shows mastery.")
        elif not present and not guards:
            lines.append("The answer does not yet reach the key ideas of "
                         "the expected answer.")
        return ' '.join(lines)


def calibrate(probability):
    """Map the model's probability onto the score scale, monotone, with
    `DECISION_PROBABILITY` on `MASTERY_THRESHOLD`: quadratic below it
    (uncertain answers stay near the threshold, clear misses fall towards
    0: RMSE 0.457 against 0.468 for a straight line, Pearson 0.452
    against 0.437, in the grouped CV) and linear above it."""
    p, t, m = min(1.0, max(0.0, probability)), DECISION_PROBABILITY, \
        MASTERY_THRESHOLD
    if p <= t:
        return m * (p / t) ** 2
    return m + (1 - m) * (p - t) / (1 - t)


def _share(items, found):
    items = list(items)
    if not items:
        return 0.0
    return sum(1 for item in items if item in found) / len(items)


def _enumerate(phrases, conjunction):
    phrases = ['"%s"' % p for p in phrases]
    if len(phrases) == 1:
        return phrases[0]
    return '%s %s %s' % (', '.join(phrases[:-1]), conjunction, phrases[-1])
