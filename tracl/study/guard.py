"""What Trac's ticket form may change on a concept ticket.

A concept moves through the study loop: grading an answer moves its ticket
(new -> assigned, closed when mastered) through the model, never through
the ticket form. The form (and batch modify) go through ticket
manipulators, so this guard keeps learners from closing their own concepts
or rewriting their questions there, and keeps anyone, admins included, from
opening or closing a concept that is locked (the concept rule's, in
`tracl.model.concepts`: never mastered, with a prerequisite never mastered).
"""

from trac.core import Component, implements
from trac.ticket.api import ITicketManipulator
from trac.util.translation import _

from tracl.auth.permissions import ADMIN
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.concepts import blockers as lock_blockers

#: Fields the workflow changes; only grading moves them for a learner.
WORKFLOW_FIELDS = ('status', 'resolution')

#: Fields a concept takes from its learning path.
LEARNING_FIELDS = ('summary', 'description', 'milestone', 'question',
                   'question_difficulty', 'question_context')

#: Statuses that say a concept is being studied or mastered: a concept
#: reaches them only once it is no longer locked.
GATED_STATUSES = ('assigned', 'accepted', 'closed')


def status_label(status):
    """A learner's progress status as words."""
    return {'not_started': _("not started"), 'studying': _("studying"),
            'mastered': _("mastered")}.get(status, status)


def describe_blockers(blockers):
    """`#12 Cryptographic Hash Functions (not started), ...`"""
    return ', '.join('#%d %s (%s)' % (b.ticket_id, b.concept,
                                      status_label(b.status))
                     for b in blockers)


class ConceptStudyGuard(Component):
    """Concept tickets change through the study loop, not the ticket form.

    Without LEARNING_ADMIN, nobody changes a concept's status or
    resolution (accept, resolve, reopen...) or its learning fields in the
    form; comments stay open. Nobody, admins included, moves a concept to
    assigned, accepted or closed while it is locked for its learner; a
    concept they have mastered is never locked.
    """

    implements(ITicketManipulator)

    # ITicketManipulator methods

    def prepare_ticket(self, req, ticket, fields, actions):
        pass

    def validate_ticket(self, req, ticket):
        # Creation and type changes are ConceptTicketGuard's.
        if not ticket.exists or \
                ticket._old.get('type', ticket['type']) != CONCEPT_TICKET_TYPE:
            return
        changed = set(ticket._old)
        if not changed:
            return
        if not self._is_admin(req, ticket):
            if any(f in changed for f in WORKFLOW_FIELDS):
                yield 'status', _("Answer the question below; grading moves "
                                  "this concept forward.")
            for field in LEARNING_FIELDS:
                if field in changed:
                    yield field, _("It comes from the learning path; only "
                                   "a learning admin edits it.")
        if 'status' in changed and ticket['status'] in GATED_STATUSES:
            # The learner's prerequisites: an owner change is refused
            # anyway, so the owner before this change.
            owner = ticket._old.get('owner', ticket['owner'])
            blockers = lock_blockers(self.env, owner, ticket.id)
            if blockers:
                yield None, _("This concept cannot become %(status)s before "
                              "its prerequisites are mastered: %(blockers)s.",
                              status=ticket['status'],
                              blockers=describe_blockers(blockers))

    def validate_comment(self, req, comment):
        return []

    # Internal methods

    def _is_admin(self, req, ticket):
        # Some plugins validate tickets without a request: with nobody
        # shown to hold LEARNING_ADMIN, the learner's rules apply.
        perm = getattr(req, 'perm', None)
        return perm is not None and ADMIN in perm(ticket.resource)
