"""Retention: the FSRS review scheduler, as TracLearn uses it.

A graded answer is a pass/fail review: a mastering score is Good, anything
less Again. The scheduler runs with FSRS's default parameters, no learning
steps (mastery is the evidence a learning step would ask for), one
relearning step of a day after a lapse, and the learner's desired
retention (their preference, else `[learning] desired_retention`). Its
fuzz spreads due dates a little so reviews do not bunch up; tests turn it
off. The rules of what an answer is (study, first, review, practice,
relearning) are the domain's (`tracl.model.reviews`); this module only
computes cards.
"""

from collections import namedtuple
from datetime import datetime, timedelta, timezone

import fsrs
from trac.config import BoolOption, FloatOption
from trac.core import Component

from tracl.auth.profile import LearnerProfiles
from tracl.clock import LearningClock
from tracl.model import reviews
from tracl.model.reviews import AGAIN, GOOD, Card

#: The scheduler and its version, as the review log names them.
SCHEDULER_VERSION = 'fsrs-%s' % getattr(fsrs, '__version__', '6')

#: The relearning step after a lapse.
RELEARNING_STEP = timedelta(days=1)

#: The desired retention a learner may choose.
MIN_RETENTION, MAX_RETENTION = 0.70, 0.97

#: The preference naming a learner's desired retention.
RETENTION_PREFERENCE = 'desired_retention'

#: A first review's card, the same for every concept but its times.
FirstCard = namedtuple('FirstCard', 'state stability difficulty interval')


def _utc(when):
    """`when` in the UTC the scheduler insists on (not Trac's own)."""
    return None if when is None else when.astimezone(timezone.utc)


def _fsrs_card(card):
    return fsrs.Card(card_id=1, state=fsrs.State(card.state),
                     step=card.step, stability=card.stability,
                     difficulty=card.difficulty, due=_utc(card.due),
                     last_review=_utc(card.last_review))


def _scheduler(desired_retention, fuzzing):
    return fsrs.Scheduler(desired_retention=desired_retention,
                          learning_steps=(),
                          relearning_steps=(RELEARNING_STEP,),
                          enable_fuzzing=fuzzing)


def first_review_card(desired_retention=0.9):
    """The card a first mastery gives, reviewed Good with the default
    parameters and no fuzz (the upgrade's backfill)."""
    at = datetime(2000, 1, 1, tzinfo=timezone.utc)
    card, _log = _scheduler(desired_retention, False).review_card(
        fsrs.Card(card_id=1), fsrs.Rating.Good, at)
    return FirstCard(int(card.state), card.stability, card.difficulty,
                     card.due - at)


def valid_retention(value):
    """Whether `value` is a desired retention a learner may choose."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and MIN_RETENTION <= value <= MAX_RETENTION


class Retention(Component):
    """Computes review cards with FSRS for each learner."""

    desired_retention = FloatOption('learning', 'desired_retention', 0.9,
        """The share of reviews a learner should still recall when a
        mastered concept comes back (0.70 to 0.97): higher brings
        concepts back sooner and more often. A learner's own preference
        (`desired_retention` in `/api/v1/me/preferences`) takes its place;
        a change applies from each concept's next review.""")

    review_fuzzing = BoolOption('learning', 'review_fuzzing', 'true',
        """Spread due dates by a few percent, so that concepts mastered
        together do not all come back on the same day.""")

    def retention_of(self, sub):
        """`sub`'s desired retention: their preference when valid, else
        the option's (clamped to the allowed range)."""
        preferences = LearnerProfiles(self.env).get(sub).get(
            'preferences') or {}
        chosen = preferences.get(RETENTION_PREFERENCE)
        if valid_retention(chosen):
            return float(chosen)
        return min(MAX_RETENTION, max(MIN_RETENTION,
                                      float(self.desired_retention)))

    def scheduler_for(self, sub):
        """A function `(card, passed, at) -> Card` for `sub`: the card
        after a review at `at` (a first one when `card` is None)."""
        scheduler = _scheduler(self.retention_of(sub), self.review_fuzzing)

        def review(card, passed, at):
            rating = fsrs.Rating.Good if passed else fsrs.Rating.Again
            before = fsrs.Card(card_id=1) if card is None \
                else _fsrs_card(card)
            after, _log = scheduler.review_card(before, rating, _utc(at))
            lapsed = card is not None and not passed and \
                card.state == fsrs.State.Review
            return Card(int(after.state), after.step, after.stability,
                        after.difficulty, after.due, after.last_review,
                        1 if card is None else card.reviews + 1,
                        (0 if card is None else card.lapses) + lapsed)
        review.rating = lambda passed: GOOD if passed else AGAIN
        return review

    def retrievability(self, sub, card, at=None):
        """How likely `sub` recalls the concept of `card` at `at` (now by
        default), 0 to 1."""
        scheduler = _scheduler(self.retention_of(sub), False)
        return scheduler.get_card_retrievability(
            _fsrs_card(card), _utc(at or LearningClock(self.env).now()))

    def due(self, sub, until=None):
        """`sub`'s concepts due at `until` (now by default), the most
        overdue first, each with how likely they recall it now."""
        now = LearningClock(self.env).now()
        scheduler = _scheduler(self.retention_of(sub), False)
        return [dict(reviews.due_json(item),
                     retrievability=round(scheduler.get_card_retrievability(
                         _fsrs_card(item.card), _utc(now)), 4))
                for item in reviews.due_concepts(self.env, sub,
                                                 until or now)]

    def state(self, sub, ticket_id):
        """`sub`'s review state of the concept as the API shows it, or None
        before its first mastery."""
        card = reviews.cards(self.env, sub, [ticket_id]).get(ticket_id)
        if card is None:
            return None
        return reviews.card_json(card, self.retrievability(sub, card))

    def make_due(self, ticket_id):
        """Make the mastered concept due now (an admin's "ask again");
        returns its learner's `sub`, or None when it is not mastered."""
        return reviews.make_due(self.env, ticket_id,
                                LearningClock(self.env).now())
