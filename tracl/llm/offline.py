"""The embedded LLM provider: no network, deterministic.

No generative model small enough to ship writes or grades well, so this
provider builds its text from the material itself: academic sentences from
the learner's query, questions that ask for understanding (explain, how,
why, compare) shaped by the difficulty, expected answers from the chunk's
key sentences, and grades from `OfflineGrader` (semantic similarity to the
expected answer plus coverage of its key ideas, calibrated on human-marked
answers).
"""

import json
import re

from trac.core import Component, implements

from tracl.api import ILLMProvider
from tracl.embedding import EmbeddingUnavailable, LearningEmbedder
from tracl.llm import Evaluation, GeneratedQuestion, LLMUnavailable

#: Bounds of an expected answer, in characters: long enough to state the
#: idea, short enough to grade against.
MAX_EXPECTED_ANSWER = 1000
MIN_EXPECTED_ANSWER = 200

#: Phrases learners put around what they want to learn.
_QUERY_FILLER = re.compile(
    r"^(?:please\s+)?(?:i(?:\s+(?:want|would\s+like|need|wish)|['\u2019]d\s+like)"
    r"\s+to\s+"
    r"(?:understand|learn(?:\s+about)?|know(?:\s+about)?|study)|"
    r"teach\s+me(?:\s+about)?|help\s+me\s+understand|explain(?:\s+to\s+me)?|"
    r"tell\s+me\s+about|what\s+(?:is|are)|how\s+(?:do|does|is|are)|"
    r"learn(?:ing)?\s+about)\s+", re.IGNORECASE)
_LEADING_BASICS = re.compile(
    r"^(?:the\s+)?(?:basics|fundamentals|foundations|principles)\s+of\s+",
    re.IGNORECASE)

#: Words marking a sentence that explains (cause, purpose, consequence).
_EXPLAINING = re.compile(
    r"\b(because|so that|therefore|thus|which means|means that|allows?|"
    r"enables?|ensures?|prevents?|matters?|why|in order to|as a result|"
    r"so\b)", re.IGNORECASE)

_SENTENCE_END = re.compile(r'(?<=[.!?])\s+(?=[A-Z0-9"(])')

#: Questions by difficulty: each asks for understanding, not a phrase.
QUESTION_TEMPLATES = {
    1: "In your own words, what is {concept}? Describe what it is for and "
       "give one simple example from the material.",
    2: "Explain what {concept} is and why it matters. What problem does it "
       "solve, and what would be harder without it?",
    3: "How does {concept} work? Describe the mechanism step by step and "
       "illustrate it with a concrete example.",
    4: "Why is {concept} designed the way it is? Explain the problem it "
       "addresses, how it addresses it, and what goes wrong without it.",
    5: "Analyse {concept}: explain how it works, its limitations or "
       "trade-offs, and how it builds on the ideas that come before it.",
}

ACADEMIC_TEMPLATES = (
    "{query}",
    "An introduction to {topic} defines its fundamental concepts and "
    "explains how they relate to each other.",
    "The key principles of {topic} explain how it works and why it "
    "matters in practice.",
    "Studying {topic} means understanding its core mechanisms, methods and "
    "applications, with worked examples.",
    "Advanced ideas in {topic} build on foundational prerequisites and "
    "their limitations.",
)


def query_topic(query):
    """What a learner's query is about: "I want to understand machine
    learning" -> "machine learning"."""
    topic = ' '.join((query or '').split()).strip(' ?.!')
    topic = _QUERY_FILLER.sub('', topic)
    topic = _LEADING_BASICS.sub('', topic)
    return topic.strip(' ?.!') or (query or '').strip()


def split_sentences(text):
    return [s.strip() for s in _SENTENCE_END.split(' '.join(text.split()))
            if s.strip()]


def key_sentences(concept, content, limit=MAX_EXPECTED_ANSWER):
    """The sentences of `content` a good answer about `concept` contains:
    the definition (first sentence), then the ones that explain (cause,
    purpose, consequence) or name the concept, in the text's order."""
    sentences = split_sentences(content)
    if not sentences:
        return ''
    name = concept.lower()
    ranked = sorted(range(len(sentences)), key=lambda i: (
        i != 0, not _EXPLAINING.search(sentences[i]),
        name not in sentences[i].lower(), i))
    chosen, length = [], 0
    for i in ranked:
        if length + len(sentences[i]) + 1 > limit:
            continue
        chosen.append(i)
        length += len(sentences[i]) + 1
        if length >= MIN_EXPECTED_ANSWER and len(chosen) >= 3:
            break
    return ' '.join(sentences[i] for i in sorted(chosen))


class OfflineLLMProvider(Component):
    """Questions and grades without a network, deterministic."""

    implements(ILLMProvider)

    def __init__(self):
        self._grader = None

    # ILLMProvider methods

    def academic_sentences(self, query):
        query = ' '.join((query or '').split())
        topic = query_topic(query)
        return [t.format(query=query, topic=topic)
                for t in ACADEMIC_TEMPLATES]

    def generate_question(self, concept, content, difficulty, query):
        difficulty = min(5, max(1, int(3 if difficulty is None
                                       else difficulty)))
        concept = ' '.join((concept or '').split())
        expected = key_sentences(concept, content or '')
        if not concept or not expected:
            raise ValueError("A question needs a concept name and content.")
        question = QUESTION_TEMPLATES[difficulty].format(concept=concept)
        return GeneratedQuestion(question, expected, difficulty)

    def evaluate(self, question, expected_answer, answer, context):
        result = self.grader.grade(question, expected_answer, answer)
        return Evaluation(score=result.score, feedback=result.feedback,
                          grader='offline', grader_version=result.version,
                          model=self._embedder().model_name(),
                          raw_output=json.dumps(result.features,
                                                sort_keys=True))

    def concurrent_calls(self):
        # Everything is computed in this process: threads would only take
        # turns on the interpreter.
        return 1

    def describe(self):
        from tracl.llm.offline_grader import GRADER_VERSION
        return 'offline provider (deterministic; grader %s; %s)' % (
            GRADER_VERSION, self._embedder().model_name())

    # Internal methods

    @property
    def grader(self):
        if self._grader is None:
            from tracl.llm.offline_grader import OfflineGrader
            self._grader = OfflineGrader(_SafeEmbedder(self._embedder()))
        return self._grader

    def _embedder(self):
        return LearningEmbedder(self.env).embedder


class _SafeEmbedder(object):
    """The embedder, with its failures turned into `LLMUnavailable`."""

    def __init__(self, embedder):
        self._embedder = embedder

    def embed(self, texts):
        try:
            return self._embedder.embed(texts)
        except EmbeddingUnavailable as e:
            raise LLMUnavailable(str(e))

    def __getattr__(self, name):
        return getattr(self._embedder, name)
