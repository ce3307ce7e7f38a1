#!/usr/bin/env python3
"""Creating a learning path end to end, in process through the API, on
PostgreSQL (goals: a 20-concept path with the offline provider, median and
p95 <= 800 ms; 20 questions from a provider taking 1 s each, in <= 4 s
thanks to `[learning] question_concurrency`).

A fresh database on TRACL_TEST_PG_URI's server (dropped at the end) gets
TracLearn's schema and the embedded starter corpus (`LocalChunkStore`).
Every path is created by a learner of its own, signed in with a browser
session, through Trac's real request dispatcher (`tests/support/web.py`):
authentication, CSRF, rate limiting (off here), the search pipeline and
the one-transaction write, as under tracd. A new learner has no concept to
reuse, so every path writes its 20 concept tickets, their metadata, the
path, its concepts and the prerequisite links.

Printed:
- `POST /learning-paths/create`, search uncached: create without a prior
  generate, so the search (5 sentences, embedding, store search) runs
  inside it;
- `POST /learning-paths/create`, search cached: the learner's generate
  ran first (untimed), as in the browser;
- `POST /learning-paths/generate` alone, uncached, for comparison;
- with a provider sleeping 1 s per question (`SleepyQuestionProvider`,
  bench-only): the create of a 20-concept path (search cached) with the
  default `question_concurrency` and with 1 (questions one after another).

Usage: .venv/bin/python bench/path_bench.py [PATHS]   (default 15 per
measurement)
"""

import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from common import machine, measure, report  # noqa: E402
from support import pg  # noqa: E402
from support.corpus import fill_store  # noqa: E402
from support.envs import ENABLED, destroy_env, learning_env  # noqa: E402
from support.sessions import browser_session  # noqa: E402
from support.web import call  # noqa: E402
from trac.cache import CacheManager  # noqa: E402
from trac.core import Component, implements  # noqa: E402

import tracl.search.local_store  # noqa: E402,F401  (not an entry point yet)
from tracl.api import ILLMProvider  # noqa: E402
from tracl.llm.offline import OfflineLLMProvider  # noqa: E402
from tracl.study.paths import LearningPaths  # noqa: E402

PG_SERVER = os.environ.get('TRACL_TEST_PG_URI',
                           'postgres://postgres@127.0.0.1:5432/postgres')

API = '/api/v1/learning-paths'

#: Queries finding 20 chunks each in the starter corpus, taken in turn.
QUERIES = ('I want to understand blockchain technology',
           'I want to learn machine learning',
           'teach me about computer networks',
           'linear algebra', 'quantum computing',
           'molecular and cell biology')

PATH_SIZE = 20
WARMUP = 2
SLOW_PATHS = 3

#: Seconds the slow provider takes per question.
QUESTION_SECONDS = 1.0


class SleepyQuestionProvider(Component):
    """The offline provider's text, each question taking a second, as a
    remote model does (bench only)."""

    implements(ILLMProvider)

    def academic_sentences(self, query):
        return OfflineLLMProvider(self.env).academic_sentences(query)

    def generate_question(self, concept, content, difficulty, query):
        time.sleep(QUESTION_SECONDS)
        return OfflineLLMProvider(self.env).generate_question(
            concept, content, difficulty, query)

    def evaluate(self, question, expected_answer, answer, context,
                 rubric=None):
        return OfflineLLMProvider(self.env).evaluate(
            question, expected_answer, answer, context, rubric=rubric)

    def concurrent_calls(self):
        return 32   # as a remote model: it waits, it does not compute

    def describe(self):
        return 'offline provider, 1 s per question (bench)'


class Learners(object):
    """A new signed-in learner for every path, and the requests they
    send."""

    def __init__(self, env):
        self.env = env
        self.made = 0

    def new(self):
        self.made += 1
        sub = 'sub-bench-%04d-%s' % (self.made, uuid.uuid4().hex[:6])
        cookies = browser_session(self.env, sub)
        return sub, cookies, QUERIES[self.made % len(QUERIES)]

    def post(self, cookies, path, body):
        # What tracd does before each request (open_environment).
        CacheManager(self.env).reset_metadata()
        response = call(self.env, 'POST', API + path, body=body,
                        cookies=cookies,
                        headers={'X-CSRF-Token': cookies['trac_form_token']})
        expected = 201 if path == '/create' else 200
        if response.status != expected:
            raise RuntimeError('%s answered %s' % (path, response))
        return response.json()


def create_uncached(learners):
    _sub, cookies, query = learners.new()

    def run():
        created = learners.post(cookies, '/create', {'query': query})
        check(created, query)
    return run


def create_cached(learners):
    _sub, cookies, query = learners.new()
    found = learners.post(cookies, '/generate', {'query': query})
    assert found['cached'] is False and len(found['chunks']) == PATH_SIZE

    def run():
        created = learners.post(cookies, '/create', {'query': query})
        check(created, query)
    return run


def generate_uncached(learners):
    _sub, cookies, query = learners.new()

    def run():
        found = learners.post(cookies, '/generate', {'query': query})
        assert found['cached'] is False
    return run


def check(created, query):
    if len(created['tickets']) != PATH_SIZE or created['skipped'] or \
            any(t['reused'] for t in created['tickets']):
        raise RuntimeError('%r made %d new concepts, not %d: %r'
                           % (query, len(created['tickets']), PATH_SIZE,
                              created['skipped']))


def timed(prepare, learners, repeat, warmup):
    """Durations in ms of `repeat` runs, each prepared (untimed) for a
    learner of its own."""
    durations = []
    for n in range(warmup + repeat):
        run = prepare(learners)
        start = time.perf_counter()
        run()
        if n >= warmup:
            durations.append((time.perf_counter() - start) * 1000)
    return durations


def main():
    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    begun = time.perf_counter()
    print('Learning path creation benchmark on %s (load average %.1f)'
          % (machine(), os.getloadavg()[0]), flush=True)
    name = 'tracl_bench_%s' % uuid.uuid4().hex[:8]
    uri = pg.create_database(PG_SERVER, name)
    os.environ['TRAC_TEST_DB_URI'] = uri
    try:
        env = learning_env(enable=ENABLED + [SleepyQuestionProvider],
                           config=[('learning', 'api_rate_limit', '0')])
        try:
            run(env, paths)
        finally:
            destroy_env(env)
    finally:
        pg.drop_database(PG_SERVER, name)
    print('Benchmark took %.0f s' % (time.perf_counter() - begun))


def run(env, paths):
    started = time.perf_counter()
    chunks = fill_store(env)
    print('PostgreSQL: %d starter chunks embedded and stored in %.1f s'
          % (len(chunks), time.perf_counter() - started), flush=True)
    learners = Learners(env)

    print('Offline provider (questions written in turn), %d-concept paths, '
          'one new learner per path:' % PATH_SIZE)
    report('create, search uncached',
           timed(create_uncached, learners, paths, WARMUP))
    report('create, search cached (generate ran first)',
           timed(create_cached, learners, paths, WARMUP))
    report('generate alone, uncached',
           timed(generate_uncached, learners, paths, WARMUP))
    # The same numbers through common.measure, for one learner re-reading:
    # creating the same path again reuses all 20 concepts.
    _sub, cookies, query = learners.new()
    learners.post(cookies, '/create', {'query': query})
    report('create again, all 20 concepts reused', measure(
        lambda: learners.post(cookies, '/create', {'query': query}),
        paths, warmup=2))

    env.config.set('learning', 'llm_provider', 'SleepyQuestionProvider')
    concurrency = LearningPaths(env).question_concurrency
    print('Provider taking %.0f s per question, %d questions per path '
          '(search cached):' % (QUESTION_SECONDS, PATH_SIZE))
    report('create, question_concurrency = %d (default)' % concurrency,
           timed(create_cached, learners, SLOW_PATHS, 0))
    env.config.set('learning', 'question_concurrency', str(PATH_SIZE))
    report('create, question_concurrency = %d' % PATH_SIZE,
           timed(create_cached, learners, SLOW_PATHS, 0))
    env.config.set('learning', 'question_concurrency', '1')
    report('create, question_concurrency = 1 (in turn)',
           timed(create_cached, learners, 1, 0))


if __name__ == '__main__':
    main()
