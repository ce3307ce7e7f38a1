"""Where the learning tables live, in each database dialect.

PostgreSQL keeps them in the schema `learning`, beside Trac's tables; SQLite
has no schemas, so the same tables are named `learning_<table>`. SQL in
TracLearn names tables as `{paths}`, `{progress}`, ... and `sql()` fills in
the dialect's name. Table names are never user input: values always go
through `%s` parameters.

The DDL itself lives in the upgrade modules (`tracl/upgrades/dbN.py`): a new
environment runs the same chain of upgrades as an old one, so both end with
the same schema.
"""

import re

from trac.db.api import DatabaseManager, parse_connection_uri

#: The entry in Trac's `system` table that holds the learning schema version.
SCHEMA_VERSION_NAME = 'learning_database_version'

#: The newest learning schema version: the highest `tracl/upgrades/dbN.py`.
SCHEMA_VERSION = 9

#: The PostgreSQL schema holding the learning tables.
PG_SCHEMA = 'learning'

TABLES = ('paths', 'path_concepts', 'concept_metadata', 'prerequisites',
          'progress', 'attempts', 'cognito_sessions', 'chunks', 'questions',
          'disputes', 'decisions', 'calibrations', 'follow_ups',
          'review_cards', 'review_log')

VIEWS = ('user_progress_view', 'path_summary_view')


def dialect(env):
    """Return `'postgres'` or `'sqlite'` for the environment's database."""
    scheme, _ = parse_connection_uri(DatabaseManager(env).connection_uri)
    if scheme not in ('postgres', 'sqlite'):
        raise ValueError("TracLearn supports PostgreSQL and SQLite, not %r"
                         % scheme)
    return scheme


def table_name(dialect_name, name):
    """The name of learning table or view `name` in `dialect_name`."""
    if name not in TABLES and name not in VIEWS:
        raise KeyError(name)
    if dialect_name == 'postgres':
        return '%s.%s' % (PG_SCHEMA, name)
    return 'learning_' + name


def table_names(dialect_name):
    """A mapping of every learning table and view to its name."""
    return {name: table_name(dialect_name, name) for name in TABLES + VIEWS}


_NAME_RE = re.compile(r'\{(%s)\}' % '|'.join(TABLES + VIEWS))


def sql(env_or_dialect, text):
    """Fill `{table}` placeholders in `text` with the dialect's names.

    Only the known table names are replaced, so braces elsewhere in a
    statement are left alone.
    """
    if isinstance(env_or_dialect, str):
        dialect_name = env_or_dialect
    else:
        dialect_name = dialect(env_or_dialect)
    return _NAME_RE.sub(lambda m: table_name(dialect_name, m.group(1)), text)
