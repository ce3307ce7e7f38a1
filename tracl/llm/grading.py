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
from tracl.model.rubrics import Misconception, PointGrade


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
        key = self.cache_key(provider, question, expected_answer, answer,
                             rubric)
        cache = LearningCache(self.env)
        if self.evaluation_ttl > 0:
            cached = cache.get(key)
            if cached is not None:
                try:
                    return _evaluation(cached)
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
    def cache_key(provider, question, expected_answer, answer, rubric=None):
        # The rubric is part of what is graded: the same answer to the
        # same question graded against another rubric is another grade.
        material = json.dumps([type(provider).__name__, provider.describe(),
                               question, expected_answer, answer,
                               _rubric_material(rubric)])
        return 'evaluation:' + hashlib.sha256(material.encode()).hexdigest()


def _rubric_material(rubric):
    """`rubric` as plain lists for the cache key (None without one)."""
    if rubric is None:
        return None
    return [[[k.point, list(k.sources)] for k in rubric.key_points],
            [[m.claim, m.correction] for m in rubric.misconceptions]]


def _evaluation(cached):
    """The `Evaluation` a cache entry holds: evidence and errors come back
    as lists from a cache that stores JSON, and are made tuples again."""
    cached = dict(cached)
    cached['evidence'] = tuple(PointGrade(*g)
                               for g in cached.get('evidence') or ())
    cached['errors'] = tuple(Misconception(*e)
                             for e in cached.get('errors') or ())
    return Evaluation(**cached)
