"""Learning schema version 7: follow-up questions.

When a grade is a close call and the grader is unsure, the learner is
asked one follow-up question aimed at the doubtful key point; their reply
is an attempt of its own, graded together with the answer it follows.
A follow-up is open until it is answered, or lapses when the learner
submits a fresh answer or after 24 hours.
"""

from tracl.schema import dialect
from tracl.upgrades import statements

_TABLE = """
CREATE TABLE {follow_ups} (
    id {serial} PRIMARY KEY,
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL,
    attempt integer NOT NULL,
    question text NOT NULL,
    key_point text NOT NULL,
    status varchar(16) NOT NULL
        CONSTRAINT chk_follow_up_status
        CHECK (status IN ('open', 'answered', 'lapsed')),
    answered_attempt integer,
    created_at bigint NOT NULL,
    FOREIGN KEY (cognito_user_id, ticket_id, attempt)
        REFERENCES {attempts} (cognito_user_id, ticket_id, attempt)
        ON DELETE CASCADE
)
---
CREATE INDEX idx_follow_ups_concept
    ON {follow_ups} (cognito_user_id, ticket_id, status)
"""


def ddl(dialect_name):
    """The statements that take schema version 6 to 7 in `dialect_name`."""
    return statements(_TABLE, dialect_name)


def do_upgrade(env, version, cursor):
    for statement in ddl(dialect(env)):
        cursor.execute(statement)
