"""`learning grants`: giving the application's PostgreSQL role what it
needs, and no more.

`grants` writes, or runs, the SQL that creates the role the application
connects as on RDS and grants it the rows of Trac's tables and of the
learning tables, never their definitions: the tables' owner, not the
application, runs `initenv` and `upgrade`, so a compromised application
cannot change the schema.
"""

import re

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import exception_to_unicode, printout
from trac.util.translation import _

from tracl.schema import PG_SCHEMA, TABLES, VIEWS, dialect

#: A role `learning grants` accepts: a plain lower-case identifier, so the
#: quoted name it writes is the name an unquoted `CREATE ROLE` or a
#: connection string means.
ROLE_NAME_RE = re.compile(r'[a-z_][a-z0-9_]{0,62}')

#: Role names PostgreSQL reserves or reads as keywords.
RESERVED_ROLE_NAMES = ('public', 'none', 'current_role', 'current_user',
                       'session_user', 'user', 'all')

#: The privileges the application needs on the rows of a table.
TABLE_PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE'

#: ... and on a sequence (`nextval`, `currval`).
SEQUENCE_PRIVILEGES = 'USAGE, SELECT'


def quote_identifier(name):
    """`name` as a PostgreSQL quoted identifier."""
    return '"%s"' % name.replace('"', '""')


def quote_literal(text):
    """`text` as a PostgreSQL string literal (standard_conforming_strings,
    the default since 9.1)."""
    return "'%s'" % text.replace("'", "''")


def check_role_name(role):
    """Refuse a role name `learning grants` would not write as typed."""
    if not ROLE_NAME_RE.fullmatch(role or '') or \
            role in RESERVED_ROLE_NAMES or role.startswith('pg_'):
        raise AdminCommandError(_(
            "%(role)s is not a role name learning grants accepts: use "
            "lower-case letters, digits and underscores (at most 63, not "
            "starting with a digit or pg_), such as application_role.",
            role=role))


def grant_statements(role, trac_schema, database):
    """The statements that create `role` when missing and grant it what
    the application needs in `database`: the rows of Trac's tables (in
    `trac_schema`) and of the learning tables, reading the two views, and
    the sequences; the same for tables later upgrades create."""
    check_role_name(role)
    who = quote_identifier(role)
    trac = quote_identifier(trac_schema)
    learning = quote_identifier(PG_SCHEMA)

    def qualified(names):
        return ',\n    '.join('%s.%s' % (learning, quote_identifier(name))
                              for name in names)
    return [
        "DO $$\nBEGIN\n"
        "    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles\n"
        "                   WHERE rolname = %s) THEN\n"
        "        CREATE ROLE %s NOLOGIN;\n"
        "    END IF;\nEND\n$$" % (quote_literal(role), who),
        "GRANT CONNECT ON DATABASE %s TO %s"
        % (quote_identifier(database), who),
        # Trac's own tables: Trac reads and writes nearly all of them
        # (tickets, sessions, permissions, wiki, ...).
        "GRANT USAGE ON SCHEMA %s TO %s" % (trac, who),
        "GRANT %s ON ALL TABLES IN SCHEMA %s TO %s"
        % (TABLE_PRIVILEGES, trac, who),
        "GRANT %s ON ALL SEQUENCES IN SCHEMA %s TO %s"
        % (SEQUENCE_PRIVILEGES, trac, who),
        # The learning tables by name, the views read-only.
        "GRANT USAGE ON SCHEMA %s TO %s" % (learning, who),
        "GRANT %s ON\n    %s\nTO %s" % (TABLE_PRIVILEGES, qualified(TABLES),
                                        who),
        "GRANT SELECT ON\n    %s\nTO %s" % (qualified(VIEWS), who),
        "GRANT %s ON ALL SEQUENCES IN SCHEMA %s TO %s"
        % (SEQUENCE_PRIVILEGES, learning, who),
        # Tables a later upgrade creates, as the role running this.
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT %s ON TABLES TO %s"
        % (trac, TABLE_PRIVILEGES, who),
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT %s ON SEQUENCES TO %s"
        % (trac, SEQUENCE_PRIVILEGES, who),
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT %s ON TABLES TO %s"
        % (learning, TABLE_PRIVILEGES, who),
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT %s ON SEQUENCES TO %s"
        % (learning, SEQUENCE_PRIVILEGES, who),
    ]


class GrantsAdminCommands(Component):
    """Grant the application's database role what it needs."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning grants', '<role> [--print]',
               """Grant a PostgreSQL role what the application needs

               Creates the role (NOLOGIN) when missing and grants it the
               rows of Trac's tables and of the learning tables, reading
               the learning views, and the sequences, never the right to
               change a table. Run it as the tables' owner; with --print,
               print the SQL for someone who is (RDS). The application
               then connects as a member: CREATE ROLE app LOGIN PASSWORD
               '...' IN ROLE <role>.""",
               None, self._grants)

    # Commands

    def _grants(self, *args):
        positional = [arg for arg in args if arg != '--print']
        if len(positional) != 1 or positional[0].startswith('--'):
            raise AdminCommandError(_("Name one role, and --print to print "
                                      "the SQL instead of running it."),
                                    show_usage=True)
        role = positional[0]
        check_role_name(role)
        if dialect(self.env) != 'postgres':
            raise AdminCommandError(_(
                "This environment's database is SQLite, which has no roles "
                "or grants: learning grants is for PostgreSQL (RDS)."))
        with self.env.db_query as db:
            trac_schema, database = db("SELECT current_schema(), "
                                       "current_database()")[0]
        statements = grant_statements(role, trac_schema, database)
        if '--print' in args:
            printout("-- TracLearn: the application role %s and its grants "
                     "(rows, never table definitions)." % role)
            printout("-- Run as the owner of the tables in %s and %s." % (
                trac_schema, PG_SCHEMA))
            printout("BEGIN;")
            for statement in statements:
                printout(statement + ";")
            printout("COMMIT;")
            return
        try:
            with self.env.db_transaction as db:
                for statement in statements:
                    db(statement)
        except self.env.db_exc.DatabaseError as e:
            raise AdminCommandError(_(
                "PostgreSQL refused the grants (%(error)s). Run this as the "
                "owner of the tables (the role that ran trac-admin initenv "
                "or upgrade), or print the SQL with --print for them.",
                error=exception_to_unicode(e).strip()))
        printout(_("Granted %(role)s the rows of the tables in %(trac)s and "
                   "%(learning)s of database %(database)s.", role=role,
                   trac=trac_schema, learning=PG_SCHEMA, database=database))
        can_login = self.env.db_query("SELECT rolcanlogin FROM pg_roles "
                                      "WHERE rolname = %s", (role,))
        if can_login and not can_login[0][0]:
            printout(_("%(role)s cannot log in: connect the application as "
                       "a member, e.g. CREATE ROLE tracl_app LOGIN PASSWORD "
                       "'...' IN ROLE %(role)s;", role=role))

    # Public methods
