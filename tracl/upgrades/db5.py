"""Learning schema version 5: disputes and instructors' decisions.

- `disputes`: a learner asks for a review of one graded attempt, with a
  reason. At most one open dispute per concept (a partial unique index;
  PostgreSQL and SQLite both have them). A dispute is open, withdrawn by
  the learner, or decided by an instructor; closed ones are kept.
- `decisions`: an instructor's verdict on an attempt (disputed, or graded
  with low confidence): the score before and after, the comment, who and
  when, and the attempt that records it (the decision is itself an
  attempt, graded `instructor:<sub>`). One decision per attempt: the
  first wins.
- `attempts.overridden_by`: the number of the decision attempt that
  replaced this one's grade; overridden attempts stay in the history but
  no longer count towards the score, the best score or mastery.
"""

from tracl.schema import dialect
from tracl.upgrades import statements

_STATEMENTS = """
CREATE TABLE {disputes} (
    id {serial} PRIMARY KEY,
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL,
    attempt integer NOT NULL,
    reason text NOT NULL,
    status varchar(16) NOT NULL
        CONSTRAINT chk_dispute_status
        CHECK (status IN ('open', 'withdrawn', 'decided')),
    created_at bigint NOT NULL,
    closed_at bigint,
    FOREIGN KEY (cognito_user_id, ticket_id, attempt)
        REFERENCES {attempts} (cognito_user_id, ticket_id, attempt)
        ON DELETE CASCADE
)
---
CREATE UNIQUE INDEX uq_open_dispute ON {disputes} (cognito_user_id, ticket_id)
    WHERE status = 'open'
---
CREATE INDEX idx_disputes_queue
    ON {disputes} (status, created_at, ticket_id, attempt)
---
CREATE INDEX idx_disputes_learner ON {disputes} (cognito_user_id, created_at)
---
CREATE TABLE {decisions} (
    id {serial} PRIMARY KEY,
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL,
    attempt integer NOT NULL,
    decision_attempt integer NOT NULL,
    kind varchar(16) NOT NULL
        CONSTRAINT chk_decision_kind CHECK (kind IN ('disputed', 'uncertain')),
    old_score {real} NOT NULL,
    new_score {real} NOT NULL
        CONSTRAINT chk_decision_score CHECK (new_score BETWEEN 0 AND 1),
    comment text NOT NULL,
    decided_by varchar(128) NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT uq_decision UNIQUE (cognito_user_id, ticket_id, attempt),
    FOREIGN KEY (cognito_user_id, ticket_id, attempt)
        REFERENCES {attempts} (cognito_user_id, ticket_id, attempt)
        ON DELETE CASCADE
)
---
ALTER TABLE {attempts} ADD COLUMN overridden_by integer
---
CREATE INDEX idx_attempts_uncertain
    ON {attempts} (confidence, created_at, ticket_id, attempt)
"""


def ddl(dialect_name):
    """The statements that take schema version 4 to 5 in `dialect_name`."""
    return statements(_STATEMENTS, dialect_name)


def do_upgrade(env, version, cursor):
    for statement in ddl(dialect(env)):
        cursor.execute(statement)
