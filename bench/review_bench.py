#!/usr/bin/env python3
"""The instructor's side of the review of grades (issue 15 goals): the
queue with 10,000 pending attempts and the learners panel with 5,000
learners answer in p95 <= 100 ms on PostgreSQL.

A fresh PostgreSQL database on TRACL_TEST_PG_URI's server (dropped at the
end) is filled directly: 5,000 learners with 4 concepts each (tickets of
type `learning_concept` in three subjects, progress rows), 2 graded
attempts per concept; 10,000 of the latest attempts are pending: 8,000
graded with low confidence and 2,000 disputed. Then, through the same code
the admin panel and `GET /api/v1/grading/queue` run:
- the queue's first page, a later page (keyset cursor), a subject and a
  learner filter (`GradingReview.queue`);
- the learners panel's first and a later page (`tracl.model.learners`,
  when installed);
- deciding an attempt (`GradingReview.decide`: one transaction).

Usage: .venv/bin/python bench/review_bench.py [RUNS]  (default 50)
"""

import os
import random
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from common import (fresh_pg_env, machine, measure,  # noqa: E402
                    percentile, report)
from tracl.schema import sql  # noqa: E402
from tracl.study.review import GradingReview  # noqa: E402

LEARNERS = 5000
CONCEPTS = 4
DISPUTED = 2000
UNCERTAIN = 8000
GOAL_P95_MS = 100.0


def fill(env):
    rnd = random.Random(15)
    now = 1_700_000_000_000_000
    tickets, progress, attempts, disputes, names, paths = \
        [], [], [], [], [], []
    ticket_id = 1
    pending = []
    for learner in range(LEARNERS):
        sub = 'sub-%05d' % learner
        names.append((sub, 1, 'name', 'Learner %05d' % learner))
        paths.append((str(uuid.uuid4()), 'Path of learner %d' % learner,
                      'query', sub, now))
        for position in range(CONCEPTS):
            tickets.append((ticket_id, 'learning_concept', now, now, sub,
                            'learning-system', 'Subject %d' % (position % 3),
                            'assigned', 'Concept %d' % ticket_id, 'content'))
            progress.append((sub, ticket_id, 'studying', now, 0.5))
            for attempt in (1, 2):
                created = now + (learner * CONCEPTS + position) * 1000 + \
                    attempt
                attempts.append((sub, ticket_id, attempt, 'An answer.',
                                 rnd.random(), 'Feedback.', 'offline',
                                 'offline-grader-4', created, 'medium',
                                 'A reason.'))
            pending.append((sub, ticket_id))
            ticket_id += 1
    rnd.shuffle(pending)
    uncertain = set(pending[:UNCERTAIN])
    attempts = [a[:9] + (('low', 'A close call.') if (a[0], a[1]) in
                         uncertain and a[2] == 2 else a[9:])
                for a in attempts]
    for sub, tid in pending[UNCERTAIN:UNCERTAIN + DISPUTED]:
        disputes.append((sub, tid, 2, 'I think the grade is wrong here.',
                         'open', now + tid * 1000 + 5))
    with env.db_transaction as db:
        cursor = db.cursor()
        cursor.executemany("""INSERT INTO ticket (id, type, time, changetime,
            owner, reporter, milestone, status, summary, description)
            VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)""", tickets)
        cursor.executemany("""INSERT INTO session (sid, authenticated,
            last_visit) VALUES (%s, 1, 0)""", [(n[0],) for n in names])
        cursor.executemany("""INSERT INTO session_attribute (sid,
            authenticated, name, value) VALUES (%s,%s,%s,%s)""", names)
        cursor.executemany(sql(env, """INSERT INTO {paths} (id, title,
            query_text, cognito_user_id, created_at)
            VALUES (%s,%s,%s,%s,%s)"""), paths)
        cursor.executemany(sql(env, """INSERT INTO {progress}
            (cognito_user_id, ticket_id, status, last_accessed, answer_score)
            VALUES (%s,%s,%s,%s,%s)"""), progress)
        cursor.executemany(sql(env, """INSERT INTO {attempts}
            (cognito_user_id, ticket_id, attempt, answer, score, feedback,
             grader, grader_version, created_at, confidence,
             confidence_reason)
            VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"""), attempts)
        cursor.executemany(sql(env, """INSERT INTO {disputes}
            (cognito_user_id, ticket_id, attempt, reason, status, created_at)
            VALUES (%s,%s,%s,%s,%s,%s)"""), disputes)
    with env.db_transaction as db:
        db.cursor().execute('ANALYZE')
        db('SELECT setval(pg_get_serial_sequence(%s, %s), %s)',
           ('ticket', 'id', ticket_id))
    return ticket_id - 1


def learners_panel():
    """The learners panel's page function, if the panel is installed."""
    try:
        from tracl.model import learners
    except ImportError:
        return None
    for name in ('learners_page', 'learner_rows', 'list_learners',
                 'learners'):
        if callable(getattr(learners, name, None)):
            return getattr(learners, name)
    return None


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print('Review benchmark on %s (load average %.1f)'
          % (machine(), os.getloadavg()[0]), flush=True)
    met = True
    with fresh_pg_env() as env:
        started = time.perf_counter()
        tickets = fill(env)
        (pending,), = env.db_query(sql(env, """SELECT (SELECT COUNT(*)
            FROM {disputes} WHERE status='open') + (SELECT COUNT(*)
            FROM {attempts} WHERE confidence='low')"""))
        print('PostgreSQL: %d learners, %d concepts, %d pending attempts '
              '(%d disputed), filled in %.1f s (goal p95 <= %.0f ms)'
              % (LEARNERS, tickets, pending, DISPUTED,
                 time.perf_counter() - started, GOAL_P95_MS), flush=True)
        review = GradingReview(env)
        middle = review.queue(limit=1000)[-1].cursor
        rnd = random.Random(3)
        checks = [
            ('queue: first page (50)', lambda: review.queue(limit=50)),
            ('queue: page after 1,000 items',
             lambda: review.queue(limit=50, after=tuple(
                 int(p) for p in middle.split('.')))),
            ('queue: one subject', lambda: review.queue(
                subject='Subject 1', limit=50)),
            ('queue: one learner', lambda: review.queue(
                learner='sub-%05d' % rnd.randrange(LEARNERS), limit=50)),
            ('queue: disputed only', lambda: review.queue(kind='disputed',
                                                          limit=50)),
        ]
        panel = learners_panel()
        if panel is not None:
            checks.append(('learners panel: first page',
                           lambda: panel(env)))
        else:
            print('  (learners panel not installed: not measured)')
        for label, check in checks:
            durations = measure(check, runs)
            report(label, durations)
            met &= percentile(durations, 0.95) <= GOAL_P95_MS
        items = review.queue(limit=runs + 10)

        def decide():
            item = items.pop(0)
            review.decide('sub-teacher', item.ticket_id, item.attempt, 0.9,
                          'Checked by hand.')
        report('decide an attempt (one transaction)',
               measure(decide, runs, warmup=5))
        print('Goal %s.' % ('met' if met else 'MISSED'))


if __name__ == '__main__':
    main()
