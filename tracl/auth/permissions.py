"""Who may do what: the `LEARNING_*` actions, Cognito groups as Trac
permission groups, and concept tickets private to their learner.

A `learning_concept` ticket belongs to the learner whose Cognito `sub` is
its owner. For anyone else without LEARNING_ADMIN it does not exist: every
ticket action on it is denied, so Trac's roadmap, query, timeline, search,
reports, RSS and CSV leave it out, and its page answers 404 rather than 403
(existence does not leak).
"""

import re
import threading
from collections import OrderedDict

from trac.core import Component, implements
from trac.perm import (IPermissionGroupProvider, IPermissionPolicy,
                       IPermissionRequestor)
from trac.resource import ResourceNotFound
from trac.ticket.api import ITicketChangeListener
from trac.util.translation import _
from trac.web.api import IRequestFilter

from tracl.auth.config import CognitoConfig
from tracl.auth.profile import LearnerProfiles
from tracl.environment import CONCEPT_TICKET_TYPE

STUDY = 'LEARNING_STUDY'
ADMIN = 'LEARNING_ADMIN'

#: How many tickets' (type, owner) the policy remembers.
_OWNER_CACHE_SIZE = 20000

_TICKET_PATH_RE = re.compile(r'^/(?:ticket|(?:raw-)?attachment/ticket)/'
                             r'([0-9]+)(?:/|$)')


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
        if ticket_type != CONCEPT_TICKET_TYPE or username == owner:
            return None
        if ADMIN in perm:
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
        return req.authname == owner or ADMIN in req.perm

    # Internal methods

    def _type_and_owner(self, ticket_id):
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
        with self._lock:
            self._owners[ticket_id] = found
            while len(self._owners) > _OWNER_CACHE_SIZE:
                self._owners.popitem(last=False)
        return found

    def _forget(self, ticket_id):
        with self._lock:
            self._owners.pop(ticket_id, None)
