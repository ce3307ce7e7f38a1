"""What each Trac group may do in a TracLearn environment, out of the box.

Trac's `initenv` lets every signed-in user create and edit wiki pages and
create and change tickets: it grants WIKI_CREATE, WIKI_MODIFY,
TICKET_CREATE and TICKET_MODIFY to `authenticated` (and no write action to
`anonymous`). Every TracLearn learner is signed in, so with those grants
any learner could rewrite the start page the admins wrote (and the search
box on it) for everyone, or open tickets of their own. A learner needs
less: reading, the study loop (which checks who owns a concept, not a Trac
action) and comments. So the defaults are:

- `anonymous` (and so everyone): Trac's read-only actions, untouched;
- `authenticated`: nothing more, when Trac's four stock write grants to it
  are still all there (see below);
- `learner` (Cognito's Students): LEARNING_STUDY and TICKET_APPEND, which
  lets a learner comment on their own concepts (other learners' concepts do
  not exist for them; ConceptOwnerPolicy sees to that) and also on every
  ticket that is not a concept, such as a defect an admin opened;
- `admin` (Instructors and Administrators): LEARNING_ADMIN, and the wiki
  and ticket editing Trac gave everyone: WIKI_CREATE, WIKI_MODIFY,
  TICKET_CREATE, TICKET_MODIFY and TICKET_BATCH_MODIFY.

Which grants to `authenticated` are revoked: only Trac's stock ones, and
only while they are still the pristine stock set, all four of them. That
is how `initenv` leaves a new environment and an existing one nobody has
tuned; such an environment ends with learners read-only. When some of the
four are gone, an admin has tuned the environment's permissions, so the
ones left (such as `authenticated WIKI_MODIFY` kept for a class wiki) are
the admin's choice: they stay, and the upgrade warns about them in the log.
A write grant to `anonymous` is never Trac's stock grant, so it always
stays, with the same warning. What an admin granted to users or to other
groups is never touched. The caller prints what was revoked together with
the `trac-admin ENV permission add ...` command that restores it.

The change is made once per environment, on creation or on the upgrade
that brings it to an existing one, and recorded in the `system` table: an
admin who later grants a write action back to `authenticated` keeps it.
"""

import shlex

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

#: The group Trac's `initenv` grants the write actions below to.
STOCK_WRITER = 'authenticated'

#: The write actions Trac's `initenv` grants to `authenticated`.
STOCK_WRITE_ACTIONS = ('WIKI_CREATE', 'WIKI_MODIFY', 'TICKET_CREATE',
                       'TICKET_MODIFY')

#: Trac's stock write grants, as `(group, action)`.
STOCK_WRITE_GRANTS = tuple((STOCK_WRITER, action)
                           for action in STOCK_WRITE_ACTIONS)

#: What TracLearn grants in their place, as `(group, action)`.
DEFAULT_GRANTS = (
    # A comment on one's own concept, and on any ticket that is not a
    # concept; TICKET_MODIFY would also let a learner change the fields of
    # every ticket that is not a concept.
    (LEARNER_GROUP, 'TICKET_APPEND'),
) + tuple((ADMIN_GROUP, action)
          for action in STOCK_WRITE_ACTIONS + ('TICKET_BATCH_MODIFY',))


class Outcome(object):
    """What `apply_defaults` did: `revoked`, `granted` and `kept`, lists of
    `(subject, action)`; `kept` holds the write grants to everyone it left
    because an admin made them."""

    def __init__(self, revoked=(), granted=(), kept=()):
        self.revoked = list(revoked)
        self.granted = list(granted)
        self.kept = list(kept)

    def __eq__(self, other):
        return isinstance(other, Outcome) and \
            (self.revoked, self.granted, self.kept) == \
            (other.revoked, other.granted, other.kept)

    def __repr__(self):
        return 'Outcome(revoked=%r, granted=%r, kept=%r)' % (
            self.revoked, self.granted, self.kept)


def needs_upgrade(env):
    """Whether the environment has not had the defaults yet."""
    return DatabaseManager(env).needs_upgrade(PERMISSIONS_VERSION,
                                              PERMISSIONS_VERSION_NAME)


def is_pristine(existing):
    """Whether the grants `existing` still hold every one of Trac's stock
    write grants: nobody has tuned them, so they are no admin's choice."""
    return all(grant in existing for grant in STOCK_WRITE_GRANTS)


def apply_defaults(env):
    """Revoke Trac's stock write grants when they are still pristine, grant
    the learner and admin groups theirs and record that it is done, in one
    transaction; nothing when it was done before. Returns an `Outcome`."""
    if not needs_upgrade(env):
        return Outcome()
    perms = PermissionSystem(env)
    with env.db_transaction:
        existing = set(perms.get_all_permissions())
        revoked = list(STOCK_WRITE_GRANTS) if is_pristine(existing) else []
        kept = [(subject, action) for subject in EVERYONE
                for action in STOCK_WRITE_ACTIONS
                if (subject, action) in existing and
                (subject, action) not in revoked]
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
    return Outcome(revoked, granted, kept)


def permission_commands(env, verb, grants):
    """The `trac-admin ENV permission <verb> ...` commands, one a subject,
    that add (or remove) `grants`, a list of `(subject, action)`."""
    actions = {}
    for subject, action in grants:
        actions.setdefault(subject, []).append(action)
    # shlex.quote leaves a plain path or name as it is, so the usual
    # command reads (and copies) plainly.
    return ['trac-admin %s permission %s %s %s'
            % (shlex.quote(env.path), verb, shlex.quote(subject),
               ' '.join(names))
            for subject, names in actions.items()]
