"""What each Trac group may do in a TracLearn environment, out of the box.

Trac's `initenv` lets every signed-in user create and edit wiki pages and
create and change tickets. Every TracLearn learner is signed in, so with
those grants any learner could rewrite the start page the admins wrote
(and the search box on it) for everyone, or open tickets of their own. A
learner needs less: reading, the study loop (which checks who owns a
concept, not a Trac action) and comments on their own concepts. So the
defaults are:

- `anonymous` (and so everyone): Trac's read-only actions, untouched;
- `authenticated`: nothing more (Trac's wiki and ticket write grants to
  `anonymous` and `authenticated` are revoked);
- `learner` (Cognito's Students): LEARNING_STUDY and TICKET_APPEND, to
  comment on their own concepts (other learners' concepts do not exist for
  them; ConceptOwnerPolicy sees to that);
- `admin` (Instructors and Administrators): LEARNING_ADMIN, and the wiki
  and ticket editing Trac gave everyone: WIKI_CREATE, WIKI_MODIFY,
  TICKET_CREATE, TICKET_MODIFY and TICKET_BATCH_MODIFY.

The change is made once per environment, on creation or on the upgrade
that brings it to an existing one, and recorded in the `system` table: an
admin who later grants a write action back to `authenticated` keeps it.
It revokes only Trac's stock write grants to `anonymous` and
`authenticated`; what an admin granted to users or to other groups is
never touched.
"""

from trac.db.api import DatabaseManager
from trac.perm import PermissionSystem

#: The `system` entry recording which version of the defaults the
#: environment has had; a later change to the defaults raises it.
PERMISSIONS_VERSION_NAME = 'learning_permissions_version'

#: The version of the defaults below.
PERMISSIONS_VERSION = 1

#: The Trac groups the default `[cognito] group_map` maps Cognito's
#: Students, and Instructors and Administrators, to.
LEARNER_GROUP = 'learner'
ADMIN_GROUP = 'admin'

#: Everyone, signed in or not: Trac's groups of every request.
EVERYONE = ('anonymous', 'authenticated')

#: The write actions Trac's `initenv` grants to `authenticated` (and, in
#: Trac before 1.0, to `anonymous`).
STOCK_WRITE_ACTIONS = ('WIKI_CREATE', 'WIKI_MODIFY', 'TICKET_CREATE',
                       'TICKET_MODIFY')

#: What TracLearn grants in their place, as `(group, action)`.
DEFAULT_GRANTS = (
    # A comment on one's own concept; TICKET_MODIFY would also let a
    # learner change the fields of every ticket that is not a concept.
    (LEARNER_GROUP, 'TICKET_APPEND'),
) + tuple((ADMIN_GROUP, action)
          for action in STOCK_WRITE_ACTIONS + ('TICKET_BATCH_MODIFY',))


def needs_upgrade(env):
    """Whether the environment has not had the defaults yet."""
    return DatabaseManager(env).needs_upgrade(PERMISSIONS_VERSION,
                                              PERMISSIONS_VERSION_NAME)


def apply_defaults(env):
    """Revoke Trac's stock write grants to everyone, grant the learner and
    admin groups theirs and record that it is done, in one transaction;
    nothing when it was done before. Returns the `(revoked, granted)`
    lists of `(subject, action)`."""
    if not needs_upgrade(env):
        return [], []
    perms = PermissionSystem(env)
    with env.db_transaction:
        existing = set(perms.get_all_permissions())
        revoked = [(subject, action) for subject in EVERYONE
                   for action in STOCK_WRITE_ACTIONS
                   if (subject, action) in existing]
        granted = [grant for grant in DEFAULT_GRANTS
                   if grant not in existing]
        # The store, not PermissionSystem.grant_permission: that refuses
        # an action no enabled component defines (batch modify can be
        # disabled), and a grant for later is harmless.
        for subject, action in revoked:
            perms.store.revoke_permission(subject, action)
        for subject, action in granted:
            perms.store.grant_permission(subject, action)
        DatabaseManager(env).set_database_version(PERMISSIONS_VERSION,
                                                  PERMISSIONS_VERSION_NAME)
    return revoked, granted
