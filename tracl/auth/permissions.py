"""Who may do what: the `LEARNING_*` actions, Cognito groups as Trac
permission groups, and concept tickets private to their learner.

A `learning_concept` ticket belongs to the learner whose Cognito `sub` is
its owner. For anyone else without LEARNING_ADMIN it does not exist: every
ticket action on it is denied, so Trac's roadmap, query, timeline, search,
reports, RSS and CSV leave it out, and its page answers 404 rather than 403
(existence does not leak).

Trac asks this policy about each ticket only after a query's or a report's
SQL has cut its page and counted its matches: those statements read only
the tickets their viewer may see (`tracl.auth.concept_query`), so pages,
totals and page links are right. The rows dropped here, and the counts
fixed on a page of one, are a second line behind that.

The query page offers Trac's batch modify panel only to those who may use
it (TICKET_BATCH_MODIFY).

On PostgreSQL the policy remembers each ticket's type and owner (a read
per ticket would be a round trip per row of a list). A concept keeps both
(`ConceptTicketGuard`); a change or deletion in this process is forgotten
at once (its ticket listener), and a ticket id comes from a sequence that
never gives it again, so what another process deletes leaves only an entry
for a ticket that no longer exists. SQLite gives the id of the highest
ticket deleted to the next one created: another process (trac-admin
deleting a learner's data, another worker) could delete one learner's
concept and create another's under its id, and a remembered owner would
then be the wrong learner. There the policy reads the ticket each time: a
local read by primary key.
"""

import re
import threading
from collections import OrderedDict

from trac.core import Component, implements
from trac.perm import (IPermissionGroupProvider, IPermissionPolicy,
                       IPermissionRequestor)
from trac.resource import ResourceNotFound
from trac.ticket.api import ITicketChangeListener, ITicketManipulator
from trac.util.translation import _
from trac.web.api import IRequestFilter

from tracl.auth.config import CognitoConfig
from tracl.auth.profile import LearnerProfiles
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.schema import dialect

STUDY = 'LEARNING_STUDY'
ADMIN = 'LEARNING_ADMIN'

#: How many tickets' (type, owner) the policy remembers.
_OWNER_CACHE_SIZE = 20000

_TICKET_PATH_RE = re.compile(r'^/(?:ticket|(?:raw-|zip-)?attachment/ticket)/'
                             r'([0-9]+)(?:/|$)')


#: User names that own no concept, whatever a ticket's owner says: no name,
#: and the anonymous visitor.
_OWNS_NOTHING = (None, '', 'anonymous')


def owns_no_concept(username):
    """Whether user `username` owns no concept ticket, whatever its owner
    field says (anonymous)."""
    return username in _OWNS_NOTHING


def sees_every_concept(perm):
    """Whether the holder of `perm` (a `PermissionCache`) sees every
    learner's concepts (LEARNING_ADMIN)."""
    return ADMIN in perm


def _owns(username, owner):
    """Whether `username` owns a ticket of `owner`."""
    return username == owner and not owns_no_concept(username)


class ConceptTicketGuard(Component):
    """A concept ticket stays its learner's: nobody reassigns it or turns
    it into another type through Trac's ticket form, and concepts are not
    created by hand (learning paths create them)."""

    implements(ITicketManipulator)

    # ITicketManipulator methods

    def prepare_ticket(self, req, ticket, fields, actions):
        pass

    def validate_ticket(self, req, ticket):
        old_type = ticket._old.get('type', ticket['type'])
        if CONCEPT_TICKET_TYPE not in (old_type, ticket['type']):
            return
        if not ticket.exists:
            yield 'type', _("Concept tickets are created from learning "
                            "paths, not by hand.")
            return
        if old_type != ticket['type']:
            yield 'type', _("A concept ticket keeps its type.")
        if 'owner' in ticket._old:
            yield 'owner', _("A concept belongs to its learner: it cannot "
                             "be reassigned.")

    def validate_comment(self, req, comment):
        return []


class LearningPermissions(Component):
    """The LEARNING_STUDY and LEARNING_ADMIN actions, and the Trac groups
    of a learner's Cognito groups."""

    implements(IPermissionGroupProvider, IPermissionRequestor)

    # IPermissionRequestor methods

    def get_permission_actions(self):
        return [STUDY, (ADMIN, [STUDY])]

    # IPermissionGroupProvider methods

    def get_permission_groups(self, username):
        if username in ('anonymous', 'authenticated'):
            return []
        groups = LearnerProfiles(self.env).get(username)['groups']
        return CognitoConfig(self.env).trac_groups(groups)


class ConceptOwnerPolicy(Component):
    """Concept tickets are visible and changeable only by their learner
    and by LEARNING_ADMIN. List it first in `[trac] permission_policies`."""

    implements(IPermissionPolicy, IRequestFilter, ITicketChangeListener)

    def __init__(self):
        self._owners = OrderedDict()
        self._lock = threading.Lock()
        self._remembers = None

    # IPermissionPolicy methods

    def check_permission(self, action, username, resource, perm):
        if resource is None or resource.realm != 'ticket' or \
                resource.id is None or action == ADMIN:
            return None
        try:
            ticket_id = int(resource.id)
        except (TypeError, ValueError):
            return None
        ticket_type, owner = self._type_and_owner(ticket_id)
        if ticket_type != CONCEPT_TICKET_TYPE or \
                _owns(username, owner) or sees_every_concept(perm):
            return None
        return False

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        match = _TICKET_PATH_RE.match(req.path_info)
        if match and not self.may_see(req, int(match.group(1))):
            raise ResourceNotFound(_("Ticket %(id)s does not exist.",
                                     id=match.group(1)),
                                   _("Invalid ticket number"))
        return handler

    def post_process_request(self, req, template, data, metadata):
        if template == 'report_view.html' and data and \
                'row_groups' in data:
            self._hide_emptied_report_groups(data)
        elif template == 'query.html' and data and 'tickets' in data:
            self._drop_hidden_query_results(req, data)
            self._hide_batch_modify_from_non_holders(req, data)
        return template, data, metadata

    # ITicketChangeListener methods

    def ticket_created(self, ticket):
        self._forget(ticket.id)

    def ticket_changed(self, ticket, comment, author, old_values):
        self._forget(ticket.id)

    def ticket_deleted(self, ticket):
        self._forget(ticket.id)

    # Public methods

    def may_see(self, req, ticket_id):
        """Whether `req`'s user may know concept ticket `ticket_id`
        exists (a non-concept ticket: always)."""
        ticket_type, owner = self._type_and_owner(ticket_id)
        if ticket_type != CONCEPT_TICKET_TYPE:
            return True
        return _owns(req.authname, owner) or sees_every_concept(req.perm)

    # Internal methods

    def _hide_emptied_report_groups(self, data):
        """Trac builds a report's groups and its count before it drops
        the rows a viewer may not see: drop the groups left empty (their
        header would name a hidden concept's owner) and, on a report of
        one page, count only the rows shown. A report's SQL reads no
        hidden concept (ConceptQueries): this is for any row that still
        comes through, as from a report of other tables."""
        groups = [(value, rows) for value, rows in data['row_groups']
                  if rows]
        shown = sum(len(rows) for _value, rows in groups)
        data['row_groups'] = groups
        paginator = data.get('paginator')
        if paginator is None or getattr(paginator, 'num_pages', 1) <= 1:
            data['numrows'] = shown

    def _drop_hidden_query_results(self, req, data):
        """Trac counts and groups a query's matches before its template
        hides the tickets a viewer may not see: drop them from the results
        and their groups, and, on a query of one page, count what is left,
        so neither a count nor a group header tells of hidden concepts.
        The query's SQL reads no hidden concept (ConceptQueries), so its
        pages and counts are already right: this is a second line."""
        def visible(ticket):
            return 'TICKET_VIEW' in req.perm('ticket', ticket['id'])
        data['tickets'] = [t for t in data['tickets'] if visible(t)]
        if data.get('groups'):
            groups = [(value, [t for t in tickets if visible(t)])
                      for value, tickets in data['groups']]
            data['groups'] = [(v, t) for v, t in groups if t] or [(None, [])]
        query, paginator = data.get('query'), data.get('paginator')
        if query is None or paginator is None or paginator.num_pages > 1:
            return
        query.num_items = len(data['tickets'])
        paginator.num_items = len(data['tickets'])

    def _hide_batch_modify_from_non_holders(self, req, data):
        """Trac 1.6's query template shows the batch modify panel under
        any query with results (its test is `tickets` alone), while Trac
        adds the panel's actions and its script (auto_preview.js) only
        for TICKET_BATCH_MODIFY holders: anyone else gets a form that
        answers 403 and a script error in the browser's console. Nothing
        else of the page reads `tickets`, so an empty list hides the panel
        from them. Done here, after the hidden results are dropped and
        counted, because that needs the list."""
        if 'TICKET_BATCH_MODIFY' not in req.perm('ticket'):
            data['tickets'] = []

    def _type_and_owner(self, ticket_id):
        remember = self._remembers_owners()
        if remember:
            with self._lock:
                found = self._owners.get(ticket_id)
                if found is not None:
                    self._owners.move_to_end(ticket_id)
                    return found
        rows = self.env.db_query(
            "SELECT type, owner FROM ticket WHERE id=%s", (ticket_id,))
        if not rows:
            # Not remembered: the ticket may be created by another process.
            return None, None
        found = tuple(rows[0])
        if not remember:
            return found
        with self._lock:
            self._owners[ticket_id] = found
            while len(self._owners) > _OWNER_CACHE_SIZE:
                self._owners.popitem(last=False)
        return found

    def _remembers_owners(self):
        """Whether tickets' ids are never given again (PostgreSQL), so that
        their type and owner may be remembered (see the module's doc)."""
        if self._remembers is None:
            try:
                self._remembers = dialect(self.env) == 'postgres'
            except ValueError:
                self._remembers = False
        return self._remembers

    def _forget(self, ticket_id):
        with self._lock:
            self._owners.pop(ticket_id, None)
