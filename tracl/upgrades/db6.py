"""Learning schema version 6: the offline grader's calibrations.

`learning calibrate` refits the map from the grader's probability to a
score on marked answers (instructors' decisions, say) and keeps every fit
here; the newest active one grades, and `learning calibrate --rollback`
deactivates it so the one before grades again. A grade records the
calibration it was given in its grader version, so past attempts keep
theirs.
"""

from tracl.schema import dialect
from tracl.upgrades import statements

_TABLE = """
CREATE TABLE {calibrations} (
    id {serial} PRIMARY KEY,
    decision {real} NOT NULL,
    below {real} NOT NULL,
    above {real} NOT NULL,
    rows_fitted integer NOT NULL,
    rows_held_out integer NOT NULL,
    agreement_before {real},
    agreement_after {real},
    source text NOT NULL,
    author varchar(200) NOT NULL,
    active integer NOT NULL DEFAULT 1,
    created_at bigint NOT NULL
)
"""


def ddl(dialect_name):
    """The statements that take schema version 5 to 6 in `dialect_name`."""
    return statements(_TABLE, dialect_name)


def do_upgrade(env, version, cursor):
    for statement in ddl(dialect(env)):
        cursor.execute(statement)
