"""Grading an answer with the configured provider, cached.

An evaluation is cached under a hash of (provider, its description, which
names its model and grader or prompt version, question, expected answer,
answer): the same answer to the same question is graded once, and a new
grader version grades afresh.
"""

import dataclasses
import hashlib
import json

from trac.config import IntOption
from trac.core import Component

from tracl.cache import LearningCache
from tracl.llm import Evaluation, LearningLLM


class AnswerGrader(Component):
    """Grades answers with the configured `ILLMProvider`, caching the
    evaluations."""

    evaluation_ttl = IntOption('learning', 'evaluation_cache_ttl', 86400,
        """Seconds an evaluation of an answer is cached (0: not cached).""")

    def evaluate(self, question, expected_answer, answer, context='',
                 rubric=None):
        """The `Evaluation` of `answer` against the question's `rubric`
        (a `tracl.model.rubrics.Rubric`, None for a question stored
        without one); raises `LLMUnavailable`."""
        provider = LearningLLM(self.env).provider
        key = self.cache_key(provider, question, expected_answer, answer)
        cache = LearningCache(self.env)
        if self.evaluation_ttl > 0:
            cached = cache.get(key)
            if cached is not None:
                try:
                    return Evaluation(**cached)
                except TypeError:
                    pass  # written by another version: grade afresh
        # Without a rubric the call is the one every provider has always
        # taken, so a provider written before rubrics still grades.
        extra = {} if rubric is None else {'rubric': rubric}
        evaluation = provider.evaluate(question, expected_answer, answer,
                                       context, **extra)
        if self.evaluation_ttl > 0:
            cache.set(key, dataclasses.asdict(evaluation),
                      self.evaluation_ttl)
        return evaluation

    @staticmethod
    def cache_key(provider, question, expected_answer, answer):
        material = json.dumps([type(provider).__name__, provider.describe(),
                               question, expected_answer, answer])
        return 'evaluation:' + hashlib.sha256(material.encode()).hexdigest()
