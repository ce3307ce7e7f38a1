"""The embedded LLM provider: no network, deterministic.

No generative model small enough to ship writes or grades well, so this
provider builds its text from the material itself: academic sentences from
the learner's query, questions whose key points are the chunk's own
sentences and which ask only what those answer (`offline_questions`), and
grades from `OfflineGrader` (semantic similarity to the
expected answer plus coverage of its key ideas, calibrated on human-marked
answers).
"""

import json
import re

from trac.core import Component, implements

from tracl.api import ILLMProvider
from tracl.embedding import EmbeddingUnavailable, LearningEmbedder
from tracl.llm import (UNCERTAIN_MARGIN, Evaluation, GeneratedQuestion,
                       LLMUnavailable)
from tracl.llm import offline_questions
from tracl.llm.calibration import active_calibration
from tracl.llm.offline_questions import (  # noqa: F401 (callers' names)
    MAX_EXPECTED_ANSWER, MIN_EXPECTED_ANSWER)
from tracl.model.rubrics import MIN_KEY_POINTS

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


def key_sentences(concept, content, limit=MAX_EXPECTED_ANSWER):
    """The sentences of `content` a good answer about `concept` contains:
    the definition (first sentence), then the ones that explain (cause,
    purpose, consequence) or name the concept, in the text's order."""
    return offline_questions.expected_answer(
        offline_questions.key_points(concept, content, limit=limit))


class OfflineLLMProvider(Component):
    """Questions and grades without a network, deterministic."""

    implements(ILLMProvider)

    def __init__(self):
        self._graders = {}

    # ILLMProvider methods

    def academic_sentences(self, query):
        query = ' '.join((query or '').split())
        topic = query_topic(query)
        return [t.format(query=query, topic=topic)
                for t in ACADEMIC_TEMPLATES]

    def generate_question(self, concept, content, difficulty, query):
        """Key points are whole sentences of `content`; no misconceptions
        are written, since rules cannot derive a sound false claim from
        true sentences (see `offline_questions`)."""
        difficulty = min(5, max(1, int(3 if difficulty is None
                                       else difficulty)))
        concept = ' '.join((concept or '').split())
        points = offline_questions.key_points(concept, content or '',
                                              difficulty)
        if not concept or not points:
            raise ValueError("A question needs a concept name and content.")
        question = offline_questions.write_question(concept, content,
                                                    difficulty, points)
        # A chunk of one sentence cannot give the two key points a rubric
        # needs: its question comes without one and is graded against the
        # expected answer alone, as questions written before rubrics are.
        expected = offline_questions.expected_answer(points)
        if len(points) < MIN_KEY_POINTS:
            points = ()
        return GeneratedQuestion(question, expected, difficulty,
                                 key_points=points)

    def evaluate(self, question, expected_answer, answer, context,
                 rubric=None):
        # Without a rubric the grader derives key points from the
        # expected answer, as for questions written before rubrics.
        stored = active_calibration(self.env)
        result = self._grader_for(stored).grade(
            question, expected_answer, answer, rubric,
            self.config.getfloat('learning', 'uncertain_margin',
                                 UNCERTAIN_MARGIN))
        return Evaluation(score=result.score, feedback=result.feedback,
                          grader='offline',
                          grader_version=self._version(stored),
                          model=self._embedder().model_name(),
                          raw_output=json.dumps(result.features,
                                                sort_keys=True),
                          evidence=tuple(result.evidence),
                          errors=tuple(result.errors),
                          confidence=result.confidence)

    def concurrent_calls(self):
        # Everything is computed in this process: threads would only take
        # turns on the interpreter.
        return 1

    def describe(self):
        return 'offline provider (deterministic; grader %s; %s)' % (
            self._version(active_calibration(self.env)),
            self._embedder().model_name())

    # Internal methods

    @property
    def grader(self):
        """The grader with its built-in calibration."""
        return self._grader_for(None)

    def _grader_for(self, stored):
        """The grader with calibration `stored` (a `StoredCalibration`,
        None for the built-in one); each keeps its own embeddings of the
        questions it graded."""
        from tracl.llm.offline_grader import OfflineGrader
        key = stored.id if stored else None
        grader = self._graders.get(key)
        if grader is None:
            grader = OfflineGrader(_SafeEmbedder(self._embedder()),
                                   calibration=stored.calibration
                                   if stored else None)
            self._graders[key] = grader
        return grader

    @staticmethod
    def _version(stored):
        """The grader version a grade records: a refitted calibration is
        part of it, so past grades keep the one they were given."""
        from tracl.llm.offline_grader import GRADER_VERSION
        if stored is None:
            return GRADER_VERSION
        return '%s+calibration-%d' % (GRADER_VERSION, stored.id)

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
