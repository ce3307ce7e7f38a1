"""Human review of grades: learners dispute a grade, instructors work
through the queue of disputed and uncertain attempts and decide them.

The rules of a decision (an attempt of its own, the decided attempt
overridden, progress counted again, the ticket moving) are
`tracl.model.decisions`'; this service adds the limits, the caches and
the timeline's wording.
"""

from trac.config import IntOption
from trac.core import Component, implements
from trac.ticket.api import ITicketChangeListener
from trac.util.datefmt import datetime_now, to_utimestamp, utc
from trac.util.text import exception_to_unicode
from trac.util.translation import _

from tracl.clock import LearningClock
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model import decisions
from tracl.study.loop import StudyLoop
from tracl.study.retention import SCHEDULER_VERSION, Retention

#: Characters a dispute's reason and a decision's comment may have.
REASON_LENGTH = (10, 1000)
COMMENT_LENGTH = (1, 2000)

#: Seconds of the window the dispute limit counts in.
DISPUTE_WINDOW = 86400


class DisputeLimit(Exception):
    """The learner opened too many disputes lately; `retry_after` is how
    many seconds until they may open another."""

    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after


class GradingReview(Component):
    """Disputes, the instructor's queue and decisions."""

    disputes_per_day = IntOption('learning', 'disputes_per_day', 5,
        """Disputes a learner may open in 24 hours (429 above); one per
        concept may be open at a time.""")

    queue_page_size = IntOption('learning', 'review_queue_page_size', 50,
        """Items of the instructor's queue shown per page (the API's
        `limit` may ask for up to 200).""")

    def dispute(self, sub, ticket_id, attempt, reason):
        """Open `sub`'s dispute of attempt `attempt` of their concept;
        returns its id. Raises `DisputeLimit` and those of
        `tracl.model.decisions.open_dispute`."""
        now = to_utimestamp(datetime_now(utc))
        count, oldest = decisions.disputes_since(
            self.env, sub, now - DISPUTE_WINDOW * 1000000)
        if count >= self.disputes_per_day:
            raise DisputeLimit(max(1, int((oldest - now) / 1000000 +
                                          DISPUTE_WINDOW) + 1))
        dispute_id = decisions.open_dispute(self.env, sub, ticket_id,
                                            attempt, reason)
        StudyLoop(self.env).progress_changed(sub, ticket_id, False)
        return dispute_id

    def withdraw(self, sub, ticket_id, dispute_id):
        """Withdraw `sub`'s open dispute; returns whether one was."""
        done = decisions.withdraw_dispute(self.env, sub, ticket_id,
                                          dispute_id)
        if done:
            StudyLoop(self.env).progress_changed(sub, ticket_id, False)
        return done

    def disputes(self, sub, ticket_id):
        return decisions.concept_disputes(self.env, sub, ticket_id)

    def queue(self, subject=None, learner=None, kind=None, limit=None,
              after=None):
        return decisions.grading_queue(
            self.env, subject, learner, kind,
            limit or self.queue_page_size, after)

    def decide(self, instructor, ticket_id, attempt, score, comment):
        """Record instructor `instructor`'s decision; returns a
        `tracl.model.decisions.Decision`."""
        loop = StudyLoop(self.env)
        owner = self._owner(ticket_id)
        decision = decisions.decide(
            self.env, instructor, ticket_id, attempt, score, comment,
            loop.mastery_threshold, self._ticket_comment,
            schedule=Retention(self.env).scheduler_for(owner)
            if owner else None, clock=LearningClock(self.env).now,
            scheduler_name=SCHEDULER_VERSION)
        if owner:
            loop.progress_changed(owner, ticket_id, True)
        return decision

    # Internal methods

    def _owner(self, ticket_id):
        for owner, in self.env.db_query(
                "SELECT owner FROM ticket WHERE id=%s", (ticket_id,)):
            return owner

    @staticmethod
    def _ticket_comment(attempt, score, mastered):
        text = _("An instructor regraded answer attempt %(n)d: "
                 "%(score)d%%.", n=attempt, score=int(round(score * 100)))
        if mastered:
            text += ' ' + _("Concept mastered.")
        return text


class DecisionsOfDeletedConcepts(Component):
    """When an admin deletes a concept ticket through Trac, its attempts
    and progress go with it (their foreign keys cascade) and the
    instructors' decisions on it stay as the grading's audit, no longer
    matching the learner's attempts on a concept that takes the ticket's
    id (`tracl.model.decisions.detach_from_deleted_concept`).

    Trac tells of a deletion after committing it: if detaching fails
    then, the ticket is gone all the same, so the failure is logged
    rather than shown, and the next concept created under that id
    detaches whatever decisions still wait under it (a new ticket has
    none of its own)."""

    implements(ITicketChangeListener)

    # ITicketChangeListener methods

    def ticket_created(self, ticket):
        # Part of the creation (often of a whole path, in one
        # transaction): a failure here fails it.
        if ticket['type'] == CONCEPT_TICKET_TYPE:
            self._log(decisions.detach_from_deleted_concept(self.env,
                                                            ticket.id),
                      ticket.id)

    def ticket_changed(self, ticket, comment, author, old_values):
        pass

    def ticket_deleted(self, ticket):
        if ticket['type'] != CONCEPT_TICKET_TYPE:
            return
        try:
            detached = decisions.detach_from_deleted_concept(self.env,
                                                             ticket.id)
        except self.env.db_exc.DatabaseError as e:
            self.log.error("Could not detach the decisions on deleted "
                           "concept #%s: %s", ticket.id,
                           exception_to_unicode(e))
            return
        self._log(detached, ticket.id)

    def ticket_comment_modified(self, ticket, cdate, author, comment,
                                old_comment):
        pass

    def ticket_change_deleted(self, ticket, cdate, changes):
        pass

    # Internal methods

    def _log(self, detached, ticket_id):
        if detached:
            self.log.info("Kept %d decision(s) on deleted concept #%s "
                          "without its learner", detached, ticket_id)
