"""Reading and writing learning data: one place for the SQL on the learning
tables. Statements name tables as `{paths}`, ... (see `tracl.schema.sql`)
and pass every value as a `%s` parameter.

- `paths`: learning paths, their concepts, and creating them.
"""

from tracl.model.paths import PathSummary, path_summaries  # noqa: F401
