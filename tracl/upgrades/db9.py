"""Learning schema version 9: an instructor's decision outlives the answer
it decided.

A learner may delete their learning data (`tracl.model.learner_data`):
their concepts, attempts and everything hanging off them go, but the
instructors' decisions stay as an audit of the grading, with the learner
replaced by an anonymous marker. A decision therefore no longer references
its attempt: the foreign key to `attempts` (with its `ON DELETE CASCADE`)
is dropped. Everything else about the table is unchanged; the decisions of
an attempt still present are found by the same columns as before.

SQLite cannot drop a constraint, so there the table is rebuilt with the
same rows; PostgreSQL drops the constraint by the name it gave it.
"""

from tracl.schema import PG_SCHEMA, dialect
from tracl.upgrades import statements

_SQLITE = """
CREATE TABLE {decisions}_v9 (
    id integer PRIMARY KEY,
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL,
    attempt integer NOT NULL,
    decision_attempt integer NOT NULL,
    kind varchar(16) NOT NULL
        CONSTRAINT chk_decision_kind CHECK (kind IN ('disputed', 'uncertain')),
    old_score real NOT NULL,
    new_score real NOT NULL
        CONSTRAINT chk_decision_score CHECK (new_score BETWEEN 0 AND 1),
    comment text NOT NULL,
    decided_by varchar(128) NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT uq_decision UNIQUE (cognito_user_id, ticket_id, attempt)
)
---
INSERT INTO {decisions}_v9 (id, cognito_user_id, ticket_id, attempt,
    decision_attempt, kind, old_score, new_score, comment, decided_by,
    created_at)
SELECT id, cognito_user_id, ticket_id, attempt, decision_attempt, kind,
       old_score, new_score, comment, decided_by, created_at
FROM {decisions}
---
DROP TABLE {decisions}
---
ALTER TABLE {decisions}_v9 RENAME TO {decisions}
"""


def ddl(dialect_name):
    """The statements that take schema version 8 to 9 in SQLite (on
    PostgreSQL, see `do_upgrade`)."""
    return statements(_SQLITE, dialect_name)


def do_upgrade(env, version, cursor):
    if dialect(env) == 'postgres':
        cursor.execute("""
            SELECT c.conname FROM pg_constraint c
            JOIN pg_class r ON r.oid = c.conrelid
            JOIN pg_namespace n ON n.oid = r.relnamespace
            WHERE n.nspname = %s AND r.relname = 'decisions'
              AND c.contype = 'f'""", (PG_SCHEMA,))
        for (name,) in cursor.fetchall():
            cursor.execute('ALTER TABLE %s.decisions DROP CONSTRAINT "%s"'
                           % (PG_SCHEMA, name.replace('"', '""')))
        return
    for statement in ddl('sqlite'):
        cursor.execute(statement)
