"""What the Learning pages of Trac's admin read: every learner with their
counts, the attempts under review with what they answered, the learners
who wait in the grading queue and how many questions each chunk has.

Each list is one query, however many learners there are: the learners'
page reads 50 learners at a time with their paths, mastered and studying
concepts and last activity in one statement, whose per-learner counts run
for the page's rows only and use the primary keys' leading columns.

A learner is shown by name: the `name` of their session, else their
Cognito username (`tracl_username`); never by their `sub`. Their private
notes (`progress.notes`) are never read here.
"""

import statistics
from collections import namedtuple

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.concepts import load_concept
from tracl.model.evidence import evidence_from_row
from tracl.model.questions import rubric_from_json
from tracl.schema import sql

#: Learners the learners' page shows at a time.
LEARNERS_PAGE_SIZE = 50

#: Most learners the queue's learner filter offers.
QUEUE_LEARNERS_LIMIT = 500

#: A learner as the learners' page shows them: `name` is None when they
#: have neither a name nor a username (the page writes "(no name)");
#: `last_activity` is Trac's microseconds or None.
LearnerRow = namedtuple('LearnerRow', [
    'sub', 'name', 'concepts', 'paths', 'mastered', 'studying',
    'last_activity'])

#: A page of learners: its `LearnerRow`s and how many learners there are.
LearnerPage = namedtuple('LearnerPage', ['learners', 'total'])

#: An attempt under review as the instructor reads it: the question it
#: answered and its key points (strings), the learner's answer, its score
#: (0..1) and its `tracl.model.evidence.Evidence`.
AttemptDetail = namedtuple('AttemptDetail', [
    'ticket_id', 'attempt', 'question', 'key_points', 'answer', 'score',
    'evidence'])

#: How many questions the chunks have: `chunks` (of the store), `with_
#: questions` and `without` (chunks with none), `questions` (in all), and
#: the `minimum`, `median` and `maximum` per chunk (None without chunks).
QuestionSpread = namedtuple('QuestionSpread', [
    'chunks', 'with_questions', 'without', 'questions', 'minimum', 'median',
    'maximum'])


def display_name(name, username, sub=None):
    """The name pages show for a person with ID-token name `name`, Cognito
    username `username` and Trac username `sub`: the name, else the
    username, else None; never the `sub` itself."""
    for value in (name, username):
        value = (value or '').strip()
        if value and value != sub:
            return value
    return None


# Learners ------------------------------------------------------------------

# Every learner: whoever has progress, a path or a concept ticket. The
# inner query orders them by name (named ones first) and takes one page;
# the outer one counts for that page's learners only, each count on the
# learner's rows alone (the status is tested inside the sum, so no planner
# reads a status index across every learner instead).
#: Every learner's sub: whoever has progress, a path or a concept.
_SUBS = """
    SELECT cognito_user_id AS sub FROM {progress}
  UNION
    SELECT cognito_user_id FROM {paths}
  UNION
    SELECT owner FROM ticket
    WHERE type = %s AND owner IS NOT NULL AND owner <> ''
"""

_LEARNERS = """
SELECT l.sub, l.name, l.username, l.total,
       (SELECT COUNT(*) FROM ticket c
        WHERE c.owner = l.sub AND c.type = %s),
       (SELECT COUNT(*) FROM {paths} p WHERE p.cognito_user_id = l.sub),
       (SELECT COALESCE(SUM(CASE WHEN g.status = 'mastered' THEN 1
                                 ELSE 0 END), 0)
        FROM {progress} g WHERE g.cognito_user_id = l.sub),
       (SELECT COALESCE(SUM(CASE WHEN g.status = 'studying' THEN 1
                                 ELSE 0 END), 0)
        FROM {progress} g WHERE g.cognito_user_id = l.sub),
       (SELECT MAX(g.last_accessed) FROM {progress} g
        WHERE g.cognito_user_id = l.sub)
FROM (
    SELECT s.sub, n.value AS name, u.value AS username,
           CASE WHEN COALESCE(n.value, u.value) IS NULL THEN 1 ELSE 0 END
               AS unnamed,
           LOWER(COALESCE(n.value, u.value, '')) AS sort_name,
           COUNT(*) OVER () AS total
    FROM (%(learners)s) s
    LEFT JOIN session_attribute n ON n.sid = s.sub
        AND n.authenticated = 1 AND n.name = 'name' AND n.value <> ''
    LEFT JOIN session_attribute u ON u.sid = s.sub
        AND u.authenticated = 1 AND u.name = 'tracl_username'
        AND u.value <> ''
    ORDER BY unnamed, sort_name, s.sub
    LIMIT %s OFFSET %s
) l
ORDER BY l.unnamed, l.sort_name, l.sub
"""
_LEARNERS = _LEARNERS.replace('%(learners)s', _SUBS)


def learners_page(env, page=1, size=LEARNERS_PAGE_SIZE):
    """Page `page` (from 1) of every learner, `size` a page, by name
    (learners without one last): a `LearnerPage`."""
    page = max(1, int(page))
    with env.db_query as db:
        rows = db(sql(env, _LEARNERS), (CONCEPT_TICKET_TYPE,
                                        CONCEPT_TICKET_TYPE, size,
                                        (page - 1) * size))
    total = int(rows[0][3]) if rows else (
        count_learners(env) if page > 1 else 0)
    return LearnerPage([
        LearnerRow(sub, display_name(name, username, sub), int(concepts),
                   int(paths), int(mastered), int(studying),
                   int(last) if last is not None else None)
        for sub, name, username, _total, concepts, paths, mastered,
        studying, last in rows], total)


def count_learners(env):
    """How many learners there are (as `learners_page` counts them)."""
    with env.db_query as db:
        return int(db(sql(env, """
            SELECT COUNT(*) FROM (%s) s""" % _SUBS),
            (CONCEPT_TICKET_TYPE,))[0][0])


# The grading queue ---------------------------------------------------------

def attempt_details(env, keys):
    """`{(ticket_id, attempt): AttemptDetail}` of the concepts' attempts
    `keys` (pairs), in one query: the question each answered (the
    concept's current one for attempts older than stored questions), its
    key points, the answer, the score and the evidence. Attempts that are
    not their concept's learner's are left out."""
    keys = sorted(set((int(t), int(a)) for t, a in keys))
    if not keys:
        return {}
    where = ' OR '.join(['(a.ticket_id = %s AND a.attempt = %s)'] * len(keys))
    args = [value for key in keys for value in key]
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT a.ticket_id, a.attempt, a.answer, a.score, a.evidence,
                   a.confidence, a.confidence_reason, q.question, q.rubric
            FROM {attempts} a
            JOIN ticket t ON t.id = a.ticket_id
                AND t.owner = a.cognito_user_id
            LEFT JOIN {questions} q ON q.id = a.question_id
            WHERE %s""" % where), args)
    details = {}
    for ticket_id, attempt, answer, score, evidence, confidence, reason, \
            question, rubric in rows:
        key_points = []
        if question is None:
            # Asked before questions were stored: the concept's own.
            concept = load_concept(env, ticket_id)
            question = concept.question if concept else ''
            if concept is not None and concept.rubric is not None:
                key_points = [k.point for k in concept.rubric.key_points]
        else:
            try:
                key_points = [k.point for k in
                              rubric_from_json(rubric).key_points]
            except (ValueError, KeyError, TypeError, AttributeError):
                key_points = []
        details[(int(ticket_id), int(attempt))] = AttemptDetail(
            int(ticket_id), int(attempt), question or '', key_points,
            answer or '', float(score),
            evidence_from_row(evidence, confidence, reason))
    return details


def queue_learners(env, limit=QUEUE_LEARNERS_LIMIT):
    """`[(sub, name)]` of the learners with an attempt in the grading
    queue (an open dispute, or a latest attempt graded with low confidence
    and not decided), by name; `name` is None without one."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT s.sub, n.value, u.value
            FROM (
                SELECT d.cognito_user_id AS sub FROM {disputes} d
                WHERE d.status = 'open'
              UNION
                SELECT a.cognito_user_id FROM {attempts} a
                WHERE a.confidence = 'low' AND a.overridden_by IS NULL
                  AND a.attempt = (SELECT MAX(l.attempt) FROM {attempts} l
                                   WHERE l.cognito_user_id = a.cognito_user_id
                                     AND l.ticket_id = a.ticket_id)
            ) s
            LEFT JOIN session_attribute n ON n.sid = s.sub
                AND n.authenticated = 1 AND n.name = 'name'
                AND n.value <> ''
            LEFT JOIN session_attribute u ON u.sid = s.sub
                AND u.authenticated = 1 AND u.name = 'tracl_username'
                AND u.value <> ''
            ORDER BY LOWER(COALESCE(n.value, u.value, '')), s.sub
            LIMIT %s"""), (limit,))
    return [(sub, display_name(name, username, sub))
            for sub, name, username in rows]


def concept_subjects(env):
    """The subjects (milestones) of concept tickets, by name."""
    with env.db_query as db:
        return [subject for subject, in db("""
            SELECT DISTINCT milestone FROM ticket
            WHERE type=%s AND milestone IS NOT NULL AND milestone <> ''
            ORDER BY milestone""", (CONCEPT_TICKET_TYPE,))]


# The corpus ----------------------------------------------------------------

def question_spread(env, chunk_count):
    """The `QuestionSpread` of the stored questions over a store of
    `chunk_count` chunks (the store may live outside the database, so the
    chunks without a question are those the questions do not name)."""
    with env.db_query as db:
        counts = [int(n) for _chunk, n in db(sql(env, """
            SELECT chunk_id, COUNT(*) FROM {questions}
            GROUP BY chunk_id"""))]
    chunks = max(int(chunk_count or 0), len(counts))
    without = chunks - len(counts)
    spread = counts + [0] * without
    if not spread:
        return QuestionSpread(0, 0, 0, 0, None, None, None)
    median = statistics.median(spread)
    if float(median).is_integer():
        median = int(median)
    return QuestionSpread(chunks, len(counts), without, sum(counts),
                          min(spread), median, max(spread))
