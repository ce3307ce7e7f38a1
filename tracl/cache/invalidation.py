"""Retiring a learner's cached views when a concept ticket changes outside
grading.

Every cached view of a learner's progress (graphs, path lists, summaries)
is filed under the learner's progress version; grading bumps it as it
writes. A concept renamed, moved to another milestone, closed by hand or
deleted changes those views too, without a grade: `ProgressVersionInvalidator`
bumps the version then.
"""

from trac.core import Component, implements
from trac.ticket.api import ITicketChangeListener

from tracl.cache import LearningCache
from tracl.environment import CONCEPT_TICKET_TYPE

#: Ticket fields the cached views show: a change of another field (a
#: comment, a keyword) retires nothing.
SHOWN_FIELDS = frozenset(['summary', 'milestone', 'status', 'owner', 'type'])


class ProgressVersionInvalidator(Component):
    """Concepts renamed, moved, closed by hand or deleted: the learner's
    cached graphs and summaries are retired (progress version)."""

    implements(ITicketChangeListener)

    # ITicketChangeListener methods

    def ticket_created(self, ticket):
        pass

    def ticket_changed(self, ticket, comment, author, old_values):
        if ticket['type'] == CONCEPT_TICKET_TYPE and \
                set(old_values) & SHOWN_FIELDS:
            LearningCache(self.env).bump_progress_version(ticket['owner'])

    def ticket_deleted(self, ticket):
        if ticket['type'] == CONCEPT_TICKET_TYPE:
            LearningCache(self.env).bump_progress_version(ticket['owner'])
