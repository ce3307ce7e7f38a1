"""Grading an answer with the configured provider, cached, and the one
rule every grade obeys whichever provider made it: an answer copied from
the concept's text does not master it.

An evaluation is cached under a hash of (provider, its description, which
names its model and grader or prompt version, question, expected answer,
answer): the same answer to the same question is graded once, and a new
grader version grades afresh.
"""

import dataclasses
import hashlib
import json

from trac.config import FloatOption, IntOption
from trac.core import Component
from trac.util.translation import _

from tracl.cache import LearningCache
from tracl.llm import (MASTERY_THRESHOLD, UNCERTAIN_MARGIN, Confidence,
                       Evaluation, LearningLLM)
from tracl.model.rubrics import Misconception, PointGrade
from tracl.llm.originality import own_words


class AnswerGrader(Component):
    """Grades answers with the configured `ILLMProvider`, caching the
    evaluations."""

    evaluation_ttl = IntOption('learning', 'evaluation_cache_ttl', 86400,
        """Seconds an evaluation of an answer is cached (0: not cached).""")

    uncertain_margin = FloatOption('learning', 'uncertain_margin',
                                   UNCERTAIN_MARGIN,
        """A grade within this distance of the mastery threshold is a
        close call: the grader's confidence in it is at most medium.""")

    copied_answer_overlap = FloatOption('learning', 'copied_answer_overlap',
                                        0.6,
        """Fraction of an answer's four-word sequences found in the
        concept's text or expected answer from which the answer counts as
        copied: it is recorded, scored below the mastery threshold and the
        learner is asked for their own words.""")

    def grade(self, question, expected_answer, answer, context='',
              rubric=None, content=''):
        """The `Evaluation` of `answer` as a learner gets it: the
        provider's (`evaluate`) of the learner's own words. Sentences
        copied from `content` (the concept's text) or the expected answer
        are left out of the grade; an answer that is mostly such a copy
        keeps at most half the mastery threshold, and the feedback asks
        for the learner's own words. Raises `LLMUnavailable`."""
        own, dropped, copied = own_words(answer, content, expected_answer)
        evaluation = self.evaluate(question, expected_answer,
                                   own if dropped and own else answer,
                                   context, rubric)
        mostly_copied = copied >= self.copied_answer_overlap
        if not mostly_copied:
            if dropped:
                evaluation = dataclasses.replace(
                    evaluation, feedback=_(
                        "Sentences copied from the concept's text were not "
                        "graded: only your own words count.") + ' ' +
                    evaluation.feedback)
            return evaluation
        threshold = self.config.getfloat('learning', 'mastery_threshold',
                                         MASTERY_THRESHOLD)
        return dataclasses.replace(
            evaluation, score=min(float(evaluation.score),
                                  round(threshold / 2, 4)),
            feedback=_("This answer repeats the concept's text rather than "
                       "explaining it. Explain the idea in your own words, "
                       "as you would to a friend."),
            confidence=Confidence('high', _("The answer repeats the "
                                            "concept's text.")))

    def evaluate(self, question, expected_answer, answer, context='',
                 rubric=None):
        """The provider's `Evaluation` of `answer` against the question's
        `rubric` (a `tracl.model.rubrics.Rubric`, None for a question
        stored without one); raises `LLMUnavailable`."""
        provider = LearningLLM(self.env).provider
        key = self.cache_key(provider, question, expected_answer, answer,
                             rubric, self.uncertain_margin)
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
    def cache_key(provider, question, expected_answer, answer, rubric=None,
                  margin=UNCERTAIN_MARGIN):
        # The rubric is part of what is graded: the same answer to the
        # same question graded against another rubric is another grade.
        # The margin of a close call decides the grade's confidence.
        material = json.dumps([type(provider).__name__, provider.describe(),
                               question, expected_answer, answer,
                               _rubric_material(rubric), margin])
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
    if cached.get('confidence'):
        cached['confidence'] = Confidence(*cached['confidence'])
    return Evaluation(**cached)
