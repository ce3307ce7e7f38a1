#!/usr/bin/env python3
"""The product's timing targets: JWT validation with a
warm key cache <= 1 ms (spec: < 50 ms), session lookup <= 5 ms (spec:
< 10 ms), progress query <= 20 ms (spec: < 50 ms), graph data query
<= 50 ms (spec: < 200 ms). A goal is met when its p95 on PostgreSQL is
within it; SQLite (in memory) is printed beside, for comparison.

The local Cognito emulator (`tracl.auth.emulator`, moto) runs on a free
loopback port with a user of its own. On PostgreSQL (a fresh database on
TRACL_TEST_PG_URI's server, dropped at the end), then SQLite:

- the user signs in through `/login` (Trac's real dispatcher): Cognito's
  tokens land in `cognito_sessions`, the browser gets `trac_auth`;
- with that cookie the learner creates 5 paths from the starter corpus
  through the API (about 100 concepts with their prerequisite links) and
  answers every unlocked concept's question with `StudyLoop.submit` in
  rounds, weakly or well, so concepts are mastered, studying, untouched
  and locked, most with several attempts; 3 other learners have a path
  each, and the graph learner of `bench/graph_bench.py` 100 concepts and
  150 links. PostgreSQL then gets `ANALYZE`, as autovacuum does in a
  database in use (without statistics the planner expects 5 rows per
  learner and picks nested loops: the uncached subject summaries take
  about three times as long).

Printed, each as median / p95 / max, with the median CPU time this process
spent (the rest is waiting: for PostgreSQL or Redis, or for a core when
other processes share the machine's; each section says the load average):
- JWT validation: `CognitoTokenVerifier.verify` of the emulator's real
  RS256 ID and access tokens, the key set already fetched (by `/login`,
  which verifies the ID token it gets); and a bearer request's
  `CognitoLoginModule.authenticate` (validation + the learner's groups);
- session lookup, what every browser request does to know its learner:
  `CognitoLoginModule.authenticate` on a request carrying the `trac_auth`
  cookie (the `auth_cookie` and `cognito_sessions` rows), Trac's
  `Session` load, and the session data (`LearnerProfiles.get`: cached,
  and a miss read from the database); the goal's figure is the three
  together; beside them one `SELECT 1` through `env.db_query` (a pool
  checkout, which pings PostgreSQL, the query, the rollback on return),
  the floor of any query;
- progress queries: `StudyLoop.progress` uncached (its cache entry
  deleted first) and cached, `StudyLoop.subjects` (`GET /progress`)
  uncached (progress version bumped first) and cached, `path_detail` of a
  20-concept path; and, for context, `GET /api/v1/progress`,
  `/api/v1/progress/{id}` and `/api/v1/learning-paths/{id}` through the
  dispatcher (a whole request: authentication, the API frame, JSON);
- graph data: `learner_graph` (2 queries) for the graph learner (100
  concepts, 150 links; the goal's figure) and for the learner above.

Cached figures are printed with MemoryCache and with RedisCache (the real
server on TRACL_TEST_REDIS_URL, keys under a prefix of this run, removed
at the end).

Usage: .venv/bin/python bench/targets_bench.py [RUNS]   (default 200 per
measure; JWT validation 5 times as many)
"""

import os
import statistics
import sys
import time
import uuid
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from common import machine, summary  # noqa: E402
from support import pg  # noqa: E402
from support.corpus import fill_store  # noqa: E402
from support.envs import destroy_env, learning_env  # noqa: E402
from support.sessions import browser_session  # noqa: E402
from support.web import call  # noqa: E402
from trac.cache import CacheManager  # noqa: E402
from trac.test import MockRequest  # noqa: E402
from trac.web.session import Session  # noqa: E402

import tracl.search.local_store  # noqa: E402,F401  (not an entry point yet)
from graph_bench import SUB as GRAPH_SUB, make_graph  # noqa: E402
from tracl.auth.emulator import Emulator, cognito_options, provision  # noqa
from tracl.auth.idp import UserPool, make_client  # noqa: E402
from tracl.auth.login import CognitoLoginModule  # noqa: E402
from tracl.auth.profile import LearnerProfiles  # noqa: E402
from tracl.auth.tokens import CognitoTokenVerifier  # noqa: E402
from tracl.cache import LearningCache, progress_key, session_key  # noqa
from tracl.graph.model import learner_graph  # noqa: E402
from tracl.model.paths import path_detail  # noqa: E402
from tracl.schema import dialect  # noqa: E402
from tracl.study.loop import ConceptLocked, StudyLoop  # noqa: E402

PG_SERVER = os.environ.get('TRACL_TEST_PG_URI',
                           'postgres://postgres@127.0.0.1:5432/postgres')
REDIS_URL = os.environ.get('TRACL_TEST_REDIS_URL',
                           'redis://127.0.0.1:6379/15')

PATHS_API = '/api/v1/learning-paths'

#: The learner's queries: 5 paths of 20 concepts in different subjects.
QUERIES = ('I want to understand blockchain technology',
           'I want to learn machine learning',
           'teach me about computer networks',
           'linear algebra', 'quantum computing')
OTHER_QUERY = 'molecular and cell biology'
OTHER_LEARNERS = 3

#: Rounds of answers over the learner's unlocked, unmastered concepts.
ANSWER_ROUNDS = 4

#: The Cognito user of the run, and Trac's form token of its browser.
USERNAME = 'targets-bench'
PASSWORD = 'TargetsBench123'
FORM_TOKEN = 'b1c2d3e4f5a6b1c2d3e4f5a6'

GOAL_JWT_MS = 1.0
GOAL_SESSION_MS = 5.0
GOAL_PROGRESS_MS = 20.0
GOAL_GRAPH_MS = 50.0


# Timing --------------------------------------------------------------------

WARMUP = 10


class Timings(list):
    """Durations in ms, with the CPU time this process spent in each (the
    database server's is not counted): on a busy machine the wall clock
    grows with the load, the CPU time much less."""

    def __init__(self):
        super().__init__()
        self.cpu = []


def timed(function, runs, setup=None, warmup=WARMUP):
    """`Timings` of `runs` calls `function(n)`, each after an untimed
    `setup(n)` (what makes the call a cache miss, say)."""
    durations = Timings()
    for n in range(warmup + runs):
        if setup is not None:
            setup(n)
        start, cpu = time.perf_counter(), time.process_time()
        function(n)
        if n >= warmup:
            durations.append((time.perf_counter() - start) * 1000)
            durations.cpu.append((time.process_time() - cpu) * 1000)
    return durations


def percentile(durations, fraction):
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(label, durations, width=50):
    print('  %-*s %s  max %.3f ms  (CPU median %.3f ms)'
          % (width, label, summary(durations), max(durations),
             statistics.median(durations.cpu)), flush=True)
    return durations


class Goals(object):
    """The goals' verdicts of the PostgreSQL run."""

    def __init__(self):
        self.verdicts = []

    def check(self, label, durations, goal):
        p95 = percentile(durations, 0.95)
        met = p95 <= goal
        self.verdicts.append((label, goal, met, statistics.median(durations),
                              p95, max(durations),
                              percentile(durations.cpu, 0.95)))
        return met

    def print(self):
        print('Goals (PostgreSQL, p95; CPU: this process\'s own time):')
        for label, goal, met, median, p95, most, cpu in self.verdicts:
            print('  %-54s <= %2.0f ms: %-6s (median %.3f, p95 %.3f, max '
                  '%.3f, CPU p95 %.3f ms)' % (label, goal, 'met' if met
                                              else 'MISSED', median, p95,
                                              most, cpu))
        return all(v[2] for v in self.verdicts)


class NoGoals(Goals):
    """SQLite: figures only."""

    def check(self, label, durations, goal):
        return True


# Signing in ----------------------------------------------------------------

def start_cognito():
    """The emulator, started, with the bench's user: `(emulator,
    provisioned)`."""
    emulator = Emulator().start()
    try:
        provisioned = provision(emulator.endpoint, [{
            'username': USERNAME, 'password': PASSWORD,
            'email': 'targets@example.org', 'name': 'Targets Bench',
            'groups': ['Students']}])
    except Exception:
        emulator.stop()
        raise
    return emulator, provisioned


def emulator_tokens(provisioned):
    """Fresh ID and access tokens of the bench's user, from Cognito's
    `InitiateAuth` as a sign-in gets them."""
    client = make_client(provisioned['region'], provisioned['endpoint'],
                         10.0, emulator=True)
    pool = UserPool(client, provisioned['pool_id'],
                    provisioned['client_id'], emulator=True)
    return pool.sign_in(USERNAME, PASSWORD)


def sign_in(env):
    """POST /login as a browser does; the browser's cookies afterwards."""
    body = urlencode({'username': USERNAME, 'password': PASSWORD,
                      '__FORM_TOKEN': FORM_TOKEN}).encode('utf-8')
    response = call(env, 'POST', '/login', body=body, headers={
        'Content-Type': 'application/x-www-form-urlencoded'},
        cookies={'trac_form_token': FORM_TOKEN})
    auth = response.cookies.get('trac_auth')
    if response.status != 303 or not auth:
        raise RuntimeError('/login answered %r' % response)
    return {'trac_auth': auth, 'trac_form_token': FORM_TOKEN}


# The learners ---------------------------------------------------------------

class Learner(object):
    """The signed-in Cognito user with ~100 concepts, their paths and the
    outcome of their answers."""

    def __init__(self, env, sub, cookies):
        self.env = env
        self.sub = sub
        self.cookies = cookies
        self.paths = []
        self.concepts = []

    def request(self, method, path, body=None):
        # What tracd does before each request (open_environment).
        CacheManager(self.env).reset_metadata()
        return call(self.env, method, path, body=body, cookies=self.cookies,
                    headers={'X-CSRF-Token': self.cookies['trac_form_token']})

    def create_paths(self, queries):
        for query in queries:
            response = self.request('POST', PATHS_API + '/create',
                                    {'query': query})
            if response.status != 201:
                raise RuntimeError('create answered %r' % response)
            self.paths.append(response.json()['path_id'])
            for ticket in response.json()['tickets']:
                if ticket['ticket_id'] not in self.concepts:
                    self.concepts.append(ticket['ticket_id'])

    def answer(self, rounds):
        """Answer the unlocked concepts not mastered yet, `rounds` times:
        well for one concept in three (mastered, unlocking others),
        weakly otherwise. Returns the number of answers."""
        loop = StudyLoop(self.env)
        answers = 0
        for round_ in range(rounds):
            for ticket_id in self.concepts:
                concept = loop.concept(self.sub, ticket_id)
                if loop.progress(self.sub, ticket_id)['status'] == \
                        'mastered':
                    continue
                words = concept.expected_answer.split()
                if (ticket_id + round_) % 3 == 0 and len(words) >= 8:
                    text = ' '.join(w for i, w in enumerate(words)
                                    if i % 3 != 2)
                else:
                    text = ("I am not sure, but I think %s has something "
                            "to do with computers and data in general."
                            % concept.concept)
                try:
                    loop.submit(self.sub, concept,
                                '%s (round %d)' % (text, round_), 30)
                except ConceptLocked:
                    continue
                answers += 1
        return answers

    def statuses(self):
        counts = {}
        for ticket_id in self.concepts:
            status = StudyLoop(self.env).progress(self.sub,
                                                  ticket_id)['status']
            counts[status] = counts.get(status, 0) + 1
        return counts


def prepare(env, sub, cookies):
    """The learners of the run; returns the learner with ~100 concepts."""
    started = time.perf_counter()
    fill_store(env)
    learner = Learner(env, sub, cookies)
    learner.create_paths(QUERIES)
    answers = learner.answer(ANSWER_ROUNDS)
    for n in range(OTHER_LEARNERS):
        other = 'sub-targets-other-%d' % n
        Learner(env, other, browser_session(env, other)).create_paths(
            [OTHER_QUERY])
    make_graph(env)
    if dialect(env) == 'postgres':
        # The planner's statistics, as autovacuum keeps them in a database
        # in use: without them it expects 5 rows per learner, not 100.
        with env.db_transaction as db:
            db('ANALYZE')
    graph = learner_graph(env, sub)
    print('  learner: %d concepts in %d paths, %d links, %d answers (%s); '
          '%d other learners with a path; graph learner: 100 concepts, '
          '150 links. Made in %.1f s'
          % (len(learner.concepts), len(learner.paths), len(graph.edges),
             answers, ', '.join('%d %s' % (n, s) for s, n in
                                sorted(learner.statuses().items())),
             OTHER_LEARNERS, time.perf_counter() - started), flush=True)
    return learner


# Measures ------------------------------------------------------------------

def jwt_validation(env, provisioned, runs, goals):
    """`CognitoTokenVerifier.verify` of real tokens with the keys cached,
    and a bearer request's authentication."""
    tokens = emulator_tokens(provisioned)
    verifier = CognitoTokenVerifier(env)
    # The key set was fetched when /login verified the learner's ID token.
    claims = verifier.verify(tokens.id_token)
    assert claims['sub'] == provisioned['users'][USERNAME], claims
    durations = report('verify ID token, key set cached', timed(
        lambda n: verifier.verify(tokens.id_token), runs))
    goals.check('JWT validation (ID token, warm keys)', durations,
                GOAL_JWT_MS)
    durations = report('verify access token, key set cached', timed(
        lambda n: verifier.verify(tokens.access_token), runs))
    goals.check('JWT validation (access token, warm keys)', durations,
                GOAL_JWT_MS)
    login = CognitoLoginModule(env)

    requests = []
    for _ in range(WARMUP + runs // 5):
        req = MockRequest(env)
        req.environ['HTTP_AUTHORIZATION'] = 'Bearer ' + tokens.access_token
        requests.append(req)
    report('authenticate, Bearer access token (+ session data)',
           timed(lambda n: login.authenticate(requests[n]), runs // 5))


def session_lookup(env, learner, runs, goals, cache_label):
    """What a browser request does to know its learner, from the cookie."""
    login = CognitoLoginModule(env)
    profiles = LearnerProfiles(env)
    cache = LearningCache(env)
    cookie = 'trac_auth=%s' % learner.cookies['trac_auth']
    sub = learner.sub

    # One request per call, made before the clock starts: a request
    # authenticates and loads its session once.
    requests = [MockRequest(env, authname=sub, cookie=cookie)
                for _ in range(WARMUP + runs)]

    def authenticate(n):
        assert login.authenticate(requests[n]) == sub

    def trac_session(n):
        Session(env, requests[n])

    def whole(n):
        # What the dispatcher does: `req.authname` (authenticate),
        # `req.session` (Trac's session), `req.perm` (the session data's
        # groups, LearningPermissions).
        req = requests[n]
        name = login.authenticate(req)
        assert name == sub
        Session(env, req)
        profiles.get(name)

    report('one query round trip (SELECT 1, env.db_query)',
           timed(lambda n: env.db_query('SELECT 1'), runs))
    report('authenticate, trac_auth cookie (2 queries)',
           timed(authenticate, runs))
    report('Trac Session load (2 queries)', timed(trac_session, runs))
    profiles.get(sub)
    report('session data, cached (%s)' % cache_label,
           timed(lambda n: profiles.get(sub), runs))
    report('session data, cache miss (from the database)',
           timed(lambda n: profiles.get(sub), runs,
                 setup=lambda n: cache.delete(session_key(sub))))
    durations = report('session lookup: all three, cached data', timed(
        whole, runs))
    goals.check('session lookup (%s)' % cache_label, durations,
                GOAL_SESSION_MS)


def progress_queries(env, learner, runs, goals, cache_label, whole=True):
    loop = StudyLoop(env)
    cache = LearningCache(env)
    sub = learner.sub
    concepts = learner.concepts

    def concept(n):
        return concepts[n % len(concepts)]

    if whole:
        durations = report('StudyLoop.progress, uncached (2 queries)', timed(
            lambda n: loop.progress(sub, concept(n)), runs,
            setup=lambda n: cache.delete(progress_key(sub, concept(n)))))
        goals.check('progress query: StudyLoop.progress uncached',
                    durations, GOAL_PROGRESS_MS)
    for ticket_id in concepts:
        loop.progress(sub, ticket_id)
    durations = report('StudyLoop.progress, cached (%s)' % cache_label,
                       timed(lambda n: loop.progress(sub, concept(n)), runs))
    goals.check('progress query: StudyLoop.progress cached (%s)'
                % cache_label, durations, GOAL_PROGRESS_MS)
    if whole:
        durations = report('StudyLoop.subjects (GET /progress), uncached',
                           timed(lambda n: loop.subjects(sub), runs,
                                 setup=lambda n:
                                 cache.bump_progress_version(sub)))
        goals.check('progress query: subject summaries uncached',
                    durations, GOAL_PROGRESS_MS)
    loop.subjects(sub)
    durations = report('StudyLoop.subjects, cached (%s)' % cache_label,
                       timed(lambda n: loop.subjects(sub), runs))
    goals.check('progress query: subject summaries cached (%s)'
                % cache_label, durations, GOAL_PROGRESS_MS)
    paths = learner.paths
    if whole:
        durations = report('path_detail, 20-concept path (3 queries)', timed(
            lambda n: path_detail(env, sub, paths[n % len(paths)]), runs))
        goals.check('progress query: path_detail', durations,
                    GOAL_PROGRESS_MS)

    def get(path):
        response = learner.request('GET', path)
        assert response.status == 200, response

    report('GET /api/v1/progress (dispatcher, cached)',
           timed(lambda n: get('/api/v1/progress'), runs // 2))
    report('GET /api/v1/progress/{id} (dispatcher, cached)',
           timed(lambda n: get('/api/v1/progress/%d' % concept(n)),
                 runs // 2))
    report('GET /api/v1/learning-paths/{id} (dispatcher)',
           timed(lambda n: get('%s/%s' % (PATHS_API, paths[n % len(paths)])),
                 runs // 2))


def graph_queries(env, learner, runs, goals):
    durations = report('learner_graph, 100 concepts, 150 links', timed(
        lambda n: learner_graph(env, GRAPH_SUB), runs))
    goals.check('graph data query: learner_graph', durations, GOAL_GRAPH_MS)
    graph = learner_graph(env, learner.sub)
    report('learner_graph, the learner (%d concepts, %d links)'
           % (len(graph.nodes), len(graph.edges)),
           timed(lambda n: learner_graph(env, learner.sub), runs))


def section(title):
    """Print a section's title with the machine's load: the other
    processes' share of 2 cores shows in the tails."""
    print(' %s (load average %.1f):' % (title, os.getloadavg()[0]),
          flush=True)


def use_redis(env, prefix):
    for option, value in (('url', REDIS_URL), ('key_prefix', prefix)):
        env.config.set('redis', option, value)
    env.config.set('learning', 'cache', 'RedisCache')
    cache = LearningCache(env)
    cache.set('targets-bench-probe', 1, 60)
    if cache.get('targets-bench-probe') != 1:
        raise RuntimeError('RedisCache at %s keeps nothing' % REDIS_URL)


def bench(label, provisioned, runs, goals, redis_prefix, jwt=False):
    env = learning_env(config=cognito_options(provisioned) + [
        ('learning', 'api_rate_limit', '0')])
    try:
        print('%s:' % label, flush=True)
        cookies = sign_in(env)
        sub = provisioned['users'][USERNAME]
        learner = prepare(env, sub, cookies)
        if jwt:
            section('JWT validation, real RS256 tokens of the emulator')
            jwt_validation(env, provisioned, runs * 5, goals)
        section('Session lookup, MemoryCache')
        session_lookup(env, learner, runs, goals, 'MemoryCache')
        section('Progress queries, MemoryCache')
        progress_queries(env, learner, runs, goals, 'MemoryCache')
        section('Graph data')
        graph_queries(env, learner, runs, goals)
        use_redis(env, redis_prefix)
        section('Session lookup, RedisCache at %s' % REDIS_URL)
        session_lookup(env, learner, runs, goals, 'RedisCache')
        section('Progress queries, RedisCache')
        progress_queries(env, learner, runs, goals, 'RedisCache',
                         whole=False)
    finally:
        destroy_env(env)


def clear_redis(prefix):
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(prefix + '*'):
        client.delete(key)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    begun = time.perf_counter()
    print('Timing targets on %s (load average %.1f)'
          % (machine(), os.getloadavg()[0]), flush=True)
    print('Goals, p95 on PostgreSQL: JWT validation <= %.0f ms, session '
          'lookup <= %.0f ms, progress query <= %.0f ms, graph data query '
          '<= %.0f ms; %d runs per measure'
          % (GOAL_JWT_MS, GOAL_SESSION_MS, GOAL_PROGRESS_MS, GOAL_GRAPH_MS,
             runs))
    prefix = 'tracl-targets-bench-%s:' % uuid.uuid4().hex[:8]
    emulator, provisioned = start_cognito()
    goals = Goals()
    try:
        name = 'tracl_bench_%s' % uuid.uuid4().hex[:8]
        uri = pg.create_database(PG_SERVER, name)
        os.environ['TRAC_TEST_DB_URI'] = uri
        try:
            bench('PostgreSQL', provisioned, runs, goals, prefix, jwt=True)
        finally:
            pg.drop_database(PG_SERVER, name)
            clear_redis(prefix)
        os.environ['TRAC_TEST_DB_URI'] = 'sqlite::memory:'
        try:
            bench('SQLite (in memory)', provisioned, runs, NoGoals(),
                  prefix + 'sqlite:')
        finally:
            clear_redis(prefix)
    finally:
        emulator.stop()
    met = goals.print()
    print('Goals %s. Benchmark took %.0f s (load average at the end %.1f)'
          % ('met' if met else 'MISSED', time.perf_counter() - begun,
             os.getloadavg()[0]))


if __name__ == '__main__':
    main()
