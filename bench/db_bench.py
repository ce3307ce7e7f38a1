#!/usr/bin/env python3
"""Indexed learning queries on SQLite and PostgreSQL with many learners
(goals: progress query < 50 ms, graph data < 200 ms, indexed < 100 ms;
the admin's learners page, one of many, by name, < 500 ms).

Fills an environment with LEARNERS learners of 20 concepts each (tickets,
custom fields, a path, progress and prerequisite links), then times the
queries the product runs per request for one learner.

Usage: .venv/bin/python bench/db_bench.py [LEARNERS]   (default 1000; the
PostgreSQL server of TRACL_TEST_PG_URI, a fresh database dropped at the end)
"""

import os
import random
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests'))

from common import machine, measure, report  # noqa: E402
from support import pg  # noqa: E402
from support.envs import destroy_env, learning_env  # noqa: E402

from tracl.model.learners import (LEARNERS_PAGE_SIZE,  # noqa: E402
                                  learners_page)
from tracl.schema import sql  # noqa: E402

CONCEPTS = 20
PG_SERVER = os.environ.get('TRACL_TEST_PG_URI',
                           'postgres://postgres@127.0.0.1:5432/postgres')


def fill(env, learners):
    rnd = random.Random(7)
    now = 1_700_000_000_000_000
    with env.db_transaction as db:
        cursor = db.cursor()
        (next_id,), = db('SELECT COALESCE(MAX(id), 0) + 1 FROM ticket')
        tickets, custom, paths, members, progress, links = [], [], [], [], [], []
        for learner in range(learners):
            sub = 'sub-%05d' % learner
            path_id = str(uuid.uuid4())
            paths.append((path_id, 'Path of %s' % sub, 'query', sub, now))
            ids = list(range(next_id, next_id + CONCEPTS))
            next_id += CONCEPTS
            for position, ticket_id in enumerate(ids):
                tickets.append((ticket_id, 'learning_concept', now, now, sub,
                                'learning-system', 'Subject %d' % (position % 3),
                                'new', 'Concept %d' % ticket_id, 'content'))
                custom.append((ticket_id, 'question', 'Why %d?' % ticket_id))
                custom.append((ticket_id, 'question_difficulty', '3'))
                members.append((path_id, ticket_id, position, now))
                status = rnd.choice(['not_started', 'studying', 'mastered'])
                progress.append((sub, ticket_id, status, now,
                                 now if status == 'mastered' else None,
                                 rnd.random()))
                if position:
                    links.append((ticket_id, ids[rnd.randrange(position)], now))
        cursor.executemany("""INSERT INTO ticket (id, type, time, changetime,
            owner, reporter, milestone, status, summary, description)
            VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)""", tickets)
        cursor.executemany("""INSERT INTO ticket_custom (ticket, name, value)
            VALUES (%s,%s,%s)""", custom)
        cursor.executemany(sql(env, """INSERT INTO {paths} (id, title,
            query_text, cognito_user_id, created_at) VALUES (%s,%s,%s,%s,%s)"""),
            paths)
        cursor.executemany(sql(env, """INSERT INTO {path_concepts} (path_id,
            ticket_id, position, added_at) VALUES (%s,%s,%s,%s)"""), members)
        cursor.executemany(sql(env, """INSERT INTO {progress} (cognito_user_id,
            ticket_id, status, last_accessed, completed_at, answer_score)
            VALUES (%s,%s,%s,%s,%s,%s)"""), progress)
        cursor.executemany(sql(env, """INSERT INTO {prerequisites}
            (concept_ticket_id, prerequisite_ticket_id, created_at)
            VALUES (%s,%s,%s)"""), links)
        # Two learners in three have a name (the learners' page orders by
        # it, named first); the rest show as "(no name)".
        named = ['sub-%05d' % n for n in range(learners) if n % 3]
        cursor.executemany("""INSERT INTO session (sid, authenticated,
            last_visit) VALUES (%s, 1, 0)""", [(sub,) for sub in named])
        cursor.executemany("""INSERT INTO session_attribute (sid,
            authenticated, name, value) VALUES (%s, 1, 'name', %s)""",
            [(sub, 'Learner %s' % sub[4:]) for sub in named])
    if env.dburi.startswith('postgres'):
        with env.db_transaction as db:
            db.cursor().execute('ANALYZE')
            db('SELECT setval(pg_get_serial_sequence(%s, %s), %s)',
               ('ticket', 'id', next_id))


def queries(env, learners):
    rnd = random.Random(11)

    def learner():
        return 'sub-%05d' % rnd.randrange(learners)

    def run(statement, args):
        with env.db_query as db:
            return db(sql(env, statement), args)

    yield 'progress of one learner (user_progress_view)', lambda: run("""
        SELECT ticket_id, concept, subject, status, answer_score
        FROM {user_progress_view} WHERE cognito_user_id=%s""", (learner(),))
    yield 'paths of one learner (path_summary_view)', lambda: run("""
        SELECT path_id, total_concepts, completion_percentage
        FROM {path_summary_view} WHERE cognito_user_id=%s""", (learner(),))
    yield 'graph data: concepts, status and links of one learner', \
        lambda: run("""
        SELECT t.id, t.summary, t.milestone, p.status, p.best_score,
               r.prerequisite_ticket_id
        FROM ticket t
        LEFT JOIN {progress} p ON p.ticket_id = t.id
             AND p.cognito_user_id = t.owner
        LEFT JOIN {prerequisites} r ON r.concept_ticket_id = t.id
        WHERE t.owner=%s AND t.type='learning_concept'""", (learner(),))

    def one_progress_row():
        sub = learner()
        ticket_id = int(sub[4:]) * CONCEPTS + 1 + rnd.randrange(CONCEPTS)
        return run("""SELECT status, answer_score FROM {progress}
                      WHERE cognito_user_id=%s AND ticket_id=%s""",
                   (sub, ticket_id))
    yield 'progress row of one learner and concept', one_progress_row

    pages = max(1, learners // LEARNERS_PAGE_SIZE)
    yield "admin's learners page (one page, by name, counts)", \
        lambda: learners_page(env, 1 + rnd.randrange(pages))


def bench(label, uri, learners):
    os.environ['TRAC_TEST_DB_URI'] = uri
    env = learning_env()
    try:
        fill(env, learners)
        print('%s: %d learners, %d concept tickets' % (label, learners,
                                                       learners * CONCEPTS))
        for name, query in queries(env, learners):
            report(name, measure(query, 300))
    finally:
        destroy_env(env)


def main():
    learners = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print('Database benchmark on', machine())
    bench('SQLite (in memory)', 'sqlite::memory:', learners)
    name = 'tracl_bench_%s' % uuid.uuid4().hex[:8]
    uri = pg.create_database(PG_SERVER, name)
    try:
        bench('PostgreSQL 15', uri, learners)
    finally:
        pg.drop_database(PG_SERVER, name)


if __name__ == '__main__':
    main()
