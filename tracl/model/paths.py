"""Reading and writing learning data: one place for the SQL on the learning
tables. Statements name tables as `{paths}`, ... (see `tracl.schema.sql`)
and pass every value as a `%s` parameter."""

from collections import namedtuple

from trac.util.datefmt import from_utimestamp

from tracl.schema import sql

PathSummary = namedtuple('PathSummary', [
    'path_id', 'title', 'created', 'total', 'mastered', 'studying',
    'completion'])


def path_summaries(env, sub):
    """The learner's paths, newest first, with their progress counts (the
    spec's path summary view, 11.2)."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT path_id, path_title, created_at, total_concepts,
                   mastered_concepts, studying_concepts,
                   completion_percentage
            FROM {path_summary_view}
            WHERE cognito_user_id=%s
            ORDER BY created_at DESC, path_id
            """), (sub,))
    return [PathSummary(str(path_id), title, from_utimestamp(created),
                        int(total), int(mastered), int(studying),
                        float(completion or 0))
            for path_id, title, created, total, mastered, studying,
            completion in rows]
