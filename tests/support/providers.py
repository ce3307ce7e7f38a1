"""A scripted `ILLMProvider` for tests: the offline provider's text, with
the failures, delays, grades and counts a test asks for.

Enable `ScriptedLLMProvider` and choose it with `[learning] llm_provider =
ScriptedLLMProvider`, as an administrator chooses a real provider (the
`provider=True` argument of the `make_env` fixture does both). A component
is one instance per environment, so a test sets its script on
`ScriptedLLMProvider(env)` and reads its counts from there. Untouched, it
behaves as the offline provider and takes one call at a time.

The `grader` fixture is the provider of a `provider=True` environment
with a weak grade for every answer; a test module imports it to use it.
"""

import threading
import time

import pytest
from trac.core import Component, implements

from tracl.api import ILLMProvider
from tracl.llm import Evaluation, LLMUnavailable
from tracl.llm.offline import OfflineLLMProvider


class ScriptedLLMProvider(Component):
    """The offline provider, scripted by its attributes:

    - `failing_questions`: the concepts it cannot write a question for,
      as a provider out of quota (`True`: every concept);
    - `question_delay`: seconds each question takes, as a remote model's
      do (`in_flight`, `most_in_flight`, `question_calls` and `threads`
      count them);
    - `declared_calls`: how many calls it says it takes at once;
    - `grader_down`: grading raises `LLMUnavailable` with `retry_after`;
    - `score` (and `feedback`): the grade of every answer instead of the
      offline grader's, `answer_scores` the grade of particular answers;
    - `version`: part of `describe()`, so a new version makes new cache
      keys, as a new model does.

    `sentence_calls` counts the academic sentences it was asked for: what
    a search cost the language model.
    """

    implements(ILLMProvider)

    def __init__(self):
        self.failing_questions = set()
        self.question_delay = 0
        self.declared_calls = 1
        self.grader_down = False
        self.retry_after = None
        self.score = None
        self.answer_scores = {}
        self.feedback = 'Say more about why it matters.'
        self.version = 'v1'
        self.sentence_calls = self.question_calls = 0
        self.in_flight = self.most_in_flight = 0
        self.threads = set()
        self._lock = threading.Lock()

    @property
    def _offline(self):
        return OfflineLLMProvider(self.env)

    def academic_sentences(self, query):
        self.sentence_calls += 1
        return self._offline.academic_sentences(query)

    def generate_question(self, concept, content, difficulty, query):
        if self.failing_questions is True or \
                concept in self.failing_questions:
            raise LLMUnavailable('quota exhausted while asking about %s'
                                 % concept)
        with self._lock:
            self.question_calls += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.threads.add(threading.get_ident())
        try:
            if self.question_delay:
                time.sleep(self.question_delay)
            return self._offline.generate_question(concept, content,
                                                   difficulty, query)
        finally:
            with self._lock:
                self.in_flight -= 1

    def evaluate(self, question, expected_answer, answer, context,
                 rubric=None):
        if self.grader_down:
            raise LLMUnavailable('injected: grader quota exhausted',
                                 retry_after=self.retry_after)
        if answer in self.answer_scores or self.score is not None:
            return Evaluation(
                score=self.answer_scores.get(answer, self.score),
                feedback=self.feedback, grader='scripted',
                grader_version='1')
        # The offline grader is asked as the study loop asks it: with the
        # concept's rubric when there is one.
        extra = {} if rubric is None else {'rubric': rubric}
        return self._offline.evaluate(question, expected_answer, answer,
                                      context, **extra)

    def concurrent_calls(self):
        return self.declared_calls

    def describe(self):
        # Part of the query vector and evaluation cache keys: a new script
        # grades afresh.
        return 'scripted provider %s %r %r %r' % (
            self.version, self.score, sorted(self.answer_scores.items()),
            self.feedback)


#: The grade `grader` gives every answer: below mastery, so a concept
#: stays open until a test grades it higher.
WEAK_SCORE = 0.3


@pytest.fixture
def grader(env):
    """The scripted grader of `env` (`learning_env(provider=True)`): every
    answer scores WEAK_SCORE, unless a test says otherwise."""
    provider = ScriptedLLMProvider(env)
    provider.score = WEAK_SCORE
    return provider


def scripted_provider(env):
    """`env`'s `ScriptedLLMProvider`, made the active provider."""
    env.config.set('learning', 'llm_provider', ScriptedLLMProvider.__name__)
    return ScriptedLLMProvider(env)
