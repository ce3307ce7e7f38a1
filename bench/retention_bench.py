#!/usr/bin/env python3
"""Spaced review on PostgreSQL (retention goals):

(a) the due list of a learner with 2,000 concepts with review cards,
    `Retention(env).due(sub)`, p95 <= 20 ms (200 calls);
(b) a due review answered with the offline grader through
    `StudyLoop.concept` + `StudyLoop.submit`, in process, p95 <= 100 ms
    (100 submits);
(c) the schema 8 upgrade's backfill, `tracl.upgrades.db8.backfill_cards`,
    over 100,000 mastered progress rows without a card, <= 60 s.

A fresh database on TRACL_TEST_PG_URI's server (dropped at the end) is
filled directly with SQL, one statement per learner: 50 learners with
2,000 mastered concepts each (tickets of type `learning_concept` in five
subjects, progress rows, cards due from 30 days ago to a year ahead, so
about one in thirteen is due now). The measured learner is one of them;
the others are the rest of the table. For (b), another learner makes their
path of the starter corpus through the API and masters three of its
concepts; before each submit (outside the timing) one of them is made due
with `Retention.make_due`, and the answer is a distinct good one (the
grader caches the evaluation of an identical answer). For (c) the cards
are deleted and written again by the backfill in one transaction.

Prints the machine line, the date and the figures; asserts nothing.

Usage: .venv/bin/python bench/retention_bench.py [CALLS]  (default 200)
"""

import datetime
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from common import (fresh_pg_env, machine, measure,  # noqa: E402
                    percentile, report)
from support.study import GOOD_ANSWERS, make_path  # noqa: E402
from trac.util.datefmt import datetime_now, to_utimestamp, utc  # noqa: E402

from tracl.model import reviews  # noqa: E402
from tracl.schema import sql  # noqa: E402
from tracl.study.loop import StudyLoop  # noqa: E402
from tracl.study.retention import Retention, first_review_card  # noqa: E402
from tracl.upgrades.db8 import backfill_cards  # noqa: E402

LEARNERS = 50
CONCEPTS = 2000
SUBJECTS = 5
#: Cards are due from this many days ago ...
OVERDUE_DAYS = 30
#: ... to this many days ahead.
AHEAD_DAYS = 365
SUBMITS = 100

GOAL_DUE_P95_MS = 20.0
GOAL_SUBMIT_P95_MS = 100.0
GOAL_BACKFILL_S = 60.0

DAY_US = 86400 * 1000000

#: The learner whose due list is measured, and the one who answers.
MEASURED = 'sub-000'
REVIEWER = 'sub-reviewer'


def learner(number):
    return 'sub-%03d' % number


def fill(env, now):
    """The 50 learners' tickets, progress rows and cards; returns the
    number of concepts."""
    card = first_review_card()
    span = OVERDUE_DAYS + AHEAD_DAYS
    with env.db_transaction as db:
        for number in range(LEARNERS):
            first = number * CONCEPTS + 1
            last = first + CONCEPTS - 1
            sub = learner(number)
            db("""
                INSERT INTO ticket (id, type, time, changetime, owner,
                    reporter, milestone, status, resolution, summary,
                    description)
                SELECT g, 'learning_concept', %s, %s, %s, 'learning-system',
                       'Subject ' || (g %% %s), 'closed', 'fixed',
                       'Concept ' || g, 'What the concept says.'
                FROM generate_series(%s, %s) g""",
               (now, now, sub, SUBJECTS, first, last))
            db(sql(env, """
                INSERT INTO {progress} (cognito_user_id, ticket_id, status,
                    started_at, last_accessed, completed_at, answer_score,
                    best_score)
                SELECT %s, g, 'mastered', %s, %s, %s, 0.9, 0.9
                FROM generate_series(%s, %s) g"""),
               (sub, now - 400 * DAY_US, now, now - 400 * DAY_US, first,
                last))
            # Due times spread by a fixed scramble of the ticket number.
            db(sql(env, """
                INSERT INTO {review_cards} (cognito_user_id, ticket_id,
                    state, step, stability, difficulty, due, last_review,
                    reviews, lapses)
                SELECT %s, g, 2, NULL, 20.0, %s, due, due - 20 * %s,
                       3, (g %% 7 = 0)::int
                FROM (SELECT g, %s + ((g::bigint * 7919) %% %s - %s) * %s
                                   + (g::bigint %% 86400) * 1000000 AS due
                      FROM generate_series(%s, %s) g) AS cards"""),
               (sub, card.difficulty, DAY_US, now, span, OVERDUE_DAYS,
                DAY_US, first, last))
    with env.db_transaction as db:
        db('SELECT setval(pg_get_serial_sequence(%s, %s), %s)',
           ('ticket', 'id', LEARNERS * CONCEPTS))
        db.cursor().execute('ANALYZE')
    return LEARNERS * CONCEPTS


def bench_due_list(env, calls):
    retention = Retention(env)
    due = retention.due(MEASURED)
    (cards,), = env.db_query(sql(env, """
        SELECT COUNT(*) FROM {review_cards} WHERE cognito_user_id=%s"""),
        (MEASURED,))
    print('(a) due list: %d cards, %d due now (goal p95 <= %.0f ms)'
          % (cards, len(due), GOAL_DUE_P95_MS), flush=True)
    durations = measure(lambda: retention.due(MEASURED), calls)
    report('Retention.due(sub), %d due' % len(due), durations)
    later = datetime_now(utc) + datetime.timedelta(days=60)
    more = len(retention.due(MEASURED, later))
    report('Retention.due(sub, 60 days ahead), %d due' % more,
           measure(lambda: retention.due(MEASURED, later), max(20,
                                                               calls // 4)))
    return percentile(durations, 0.95) <= GOAL_DUE_P95_MS


def mastered_concepts(env):
    """The reviewer's path, three of its concepts mastered: their ids."""
    path = make_path(env, REVIEWER)
    loop = StudyLoop(env)
    ids = {}
    for ticket in path['tickets']:
        name = ticket['concept']
        if name in GOOD_ANSWERS and not ticket['prerequisites']:
            concept = loop.concept(REVIEWER, ticket['ticket_id'])
            result = loop.submit(REVIEWER, concept, GOOD_ANSWERS[name])
            if result.mastered:
                ids[ticket['ticket_id']] = name
    return ids


def bench_review_submit(env):
    ids = mastered_concepts(env)
    print('(b) review submits: %d mastered concepts of the starter corpus, '
          '%d submits (goal p95 <= %.0f ms)'
          % (len(ids), SUBMITS, GOAL_SUBMIT_P95_MS), flush=True)
    if not ids:
        print('  no concept was mastered: not measured')
        return False
    loop, retention = StudyLoop(env), Retention(env)
    order = sorted(ids)
    durations, kinds = [], {}
    for number in range(SUBMITS + 5):
        ticket_id = order[number % len(order)]
        if retention.make_due(ticket_id) is None:
            # A lapse: it is studied again (not a review).
            kinds['not mastered before'] = \
                kinds.get('not mastered before', 0) + 1
        answer = '%s This is my review number %d of it.' % (
            GOOD_ANSWERS[ids[ticket_id]], number)
        start = time.perf_counter()
        result = loop.submit(REVIEWER, loop.concept(REVIEWER, ticket_id),
                             answer)
        elapsed = (time.perf_counter() - start) * 1000
        if number >= 5:     # the first ones warm the grader up
            durations.append(elapsed)
            kind = '%s/%s' % (result.review.kind,
                              {reviews.GOOD: 'good', reviews.AGAIN: 'again'}
                              .get(result.review.rating))
            kinds[kind] = kinds.get(kind, 0) + 1
    report('StudyLoop.concept + submit (due review)', durations)
    print('  answers: %s' % ', '.join('%s %d' % item
                                      for item in sorted(kinds.items())))
    return percentile(durations, 0.95) <= GOAL_SUBMIT_P95_MS


def bench_backfill(env):
    with env.db_transaction as db:
        db(sql(env, 'DELETE FROM {review_cards}'))
    with env.db_transaction as db:
        db.cursor().execute('ANALYZE')
    (rows,), = env.db_query(sql(env, """
        SELECT COUNT(*) FROM {progress} p
        WHERE p.status = 'mastered' AND NOT EXISTS (
            SELECT 1 FROM {review_cards} c
            WHERE c.cognito_user_id = p.cognito_user_id
              AND c.ticket_id = p.ticket_id)"""))
    print('(c) backfill: %d mastered progress rows without a card (goal '
          '<= %.0f s)' % (rows, GOAL_BACKFILL_S), flush=True)
    start = time.perf_counter()
    with env.db_transaction as db:
        backfill_cards(env, db.cursor())
    elapsed = time.perf_counter() - start
    (cards,), = env.db_query(sql(env, 'SELECT COUNT(*) FROM {review_cards}'))
    print('  backfill_cards: %.2f s, %d cards written (%.0f rows/s)'
          % (elapsed, cards, cards / elapsed if elapsed else 0), flush=True)
    start = time.perf_counter()
    with env.db_transaction as db:
        backfill_cards(env, db.cursor())
    print('  again (every card there): %.2f s' % (time.perf_counter() -
                                                  start))
    return elapsed <= GOAL_BACKFILL_S and cards == rows


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print('Retention benchmark on %s (load average %.1f), %s'
          % (machine(), os.getloadavg()[0],
             datetime.datetime.now(datetime.timezone.utc).strftime(
                 '%Y-%m-%d %H:%M UTC')), flush=True)
    with fresh_pg_env(default_data=True,
                      config=[('learning', 'max_foundations', '0')]) as env:
        started = time.perf_counter()
        concepts = fill(env, to_utimestamp(datetime_now(utc)))
        print('PostgreSQL: %d learners, %d mastered concepts with cards, '
              'filled in %.1f s' % (LEARNERS, concepts,
                                    time.perf_counter() - started),
              flush=True)
        met = {'due list': bench_due_list(env, calls),
               'review submit': bench_review_submit(env),
               'backfill': bench_backfill(env)}
        print('Goals: %s.' % ', '.join('%s %s' % (goal, 'met' if ok
                                                  else 'MISSED')
                                       for goal, ok in met.items()))

if __name__ == '__main__':
    main()
