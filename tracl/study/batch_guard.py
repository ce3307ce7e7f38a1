"""What Trac's batch modify may change on concept tickets.

Trac's batch modify (the panel under a query's results, posting to
`/batchmodify`) changes many tickets in one request. It checks
TICKET_BATCH_MODIFY once for the whole request, not for each ticket, and
its field and workflow changes go around the ticket form, so neither the
concept privacy policy nor the study guard's admin exemptions fit it. A
concept moves through grading; an admin corrects one concept at a time
from its ticket page, where the study guard checks the change. So this
guard refuses, for everyone, admins included, a batch request that would
change a concept's status, resolution, owner, type or learning fields, and
answers a batch request naming a concept the user may not see as if the
ticket did not exist. Comments and other fields still batch-modify.
"""

from trac.core import Component, implements
from trac.resource import ResourceNotFound
from trac.util import to_list
from trac.util.translation import _
from trac.web.api import HTTPForbidden, IRequestFilter

from tracl.auth.permissions import ConceptOwnerPolicy
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.study.guard import LEARNING_FIELDS, WORKFLOW_FIELDS

#: The batch modify request's path.
BATCH_PATH = '/batchmodify'

#: What a batch request may not change on a concept: what grading moves,
#: who the concept belongs to, what it is, and what its path gave it.
PROTECTED_FIELDS = WORKFLOW_FIELDS + ('owner', 'type') + LEARNING_FIELDS

#: The workflow action that changes nothing (Trac's default choice).
LEAVE = 'leave'


class ConceptBatchGuard(Component):
    """Refuses batch modify requests that would move a concept or change
    its owner, type or learning fields, for learners and admins alike."""

    implements(IRequestFilter)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        if req.path_info == BATCH_PATH and req.method == 'POST':
            self.check_batch(req)
        return handler

    def post_process_request(self, req, template, data, metadata):
        return template, data, metadata

    # Public methods

    def check_batch(self, req):
        """Raise unless the batch request of `req` leaves every selected
        concept's protected fields alone: `ResourceNotFound` for a concept
        the user may not see, `HTTPForbidden` for a change grading alone
        may make."""
        concepts = self._selected_concepts(req)
        if not concepts:
            return
        policy = ConceptOwnerPolicy(self.env)
        for ticket_id in concepts:
            if not policy.may_see(req, ticket_id):
                raise ResourceNotFound(_("Ticket %(id)s does not exist.",
                                         id=ticket_id),
                                       _("Invalid ticket number"))
        changed = self.protected_changes(req)
        if changed:
            raise HTTPForbidden(_(
                "Batch modify does not change the %(fields)s of concept "
                "tickets (%(tickets)s): grading moves a concept, and a "
                "learning admin corrects one from its ticket page. Leave "
                "the concepts out of the selection, or change only their "
                "comment and other fields.",
                fields=', '.join(changed),
                tickets=', '.join('#%d' % t for t in concepts)))

    def protected_changes(self, req):
        """The protected fields the batch request of `req` would change:
        a workflow action other than leaving the tickets as they are
        (it may set the status, resolution or owner), or a new value for
        one of the fields."""
        changed = []
        action = req.args.get('action')
        if action and action != LEAVE:
            changed.extend(['status', 'resolution', 'owner'])
        for field in PROTECTED_FIELDS:
            if field not in changed and any(
                    name in req.args for name in ('batchmod_value_' + field,
                                                  'batchmod_mode_' + field)):
                changed.append(field)
        return changed

    # Internal methods

    def _selected_concepts(self, req):
        """The concept tickets among the batch request's selection."""
        ids = set()
        for value in to_list(req.args.get('selected_tickets', '')):
            try:
                ids.add(int(value))
            except ValueError:
                continue   # Trac's handler answers a bad id itself.
        if not ids:
            return []
        marks = ', '.join(['%s'] * len(ids))
        return sorted(row[0] for row in self.env.db_query(
            "SELECT id FROM ticket WHERE type=%%s AND id IN (%s)" % marks,
            [CONCEPT_TICKET_TYPE] + sorted(ids)))
