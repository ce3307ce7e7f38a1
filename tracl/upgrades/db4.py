"""Learning schema version 4: what a grade rests on, kept with the attempt.

- `attempts.evidence` is JSON text: `points`, each key point of the rubric
  with its status (covered, partial, missing) and the sentences of the
  concept's text it rests on, and `errors`, the misconceptions the answer
  states and the key points it contradicts, each with its correction.
  The sentences are copied, not referenced: a chunk re-imported with new
  text must not change what an old grade was shown to rest on.
- `attempts.confidence` (high, medium, low) and `confidence_reason`: how
  sure the grader was.

All three are empty for attempts graded before this version, and for
graders that do not say.
"""

from tracl.schema import dialect
from tracl.upgrades import statements

_COLUMNS = """
ALTER TABLE {attempts} ADD COLUMN evidence text
---
ALTER TABLE {attempts} ADD COLUMN confidence varchar(16)
---
ALTER TABLE {attempts} ADD COLUMN confidence_reason text
"""


def ddl(dialect_name):
    """The statements that take schema version 3 to 4 in `dialect_name`."""
    return statements(_COLUMNS, dialect_name)


def do_upgrade(env, version, cursor):
    for statement in ddl(dialect(env)):
        cursor.execute(statement)
