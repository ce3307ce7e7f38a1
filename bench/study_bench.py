#!/usr/bin/env python3
"""Answering a concept's question (issue 7 goals): submit-answer with the
offline grader on PostgreSQL, in process, p95 <= 100 ms; and 20 learners
submitting at once over HTTP to a real tracd on PostgreSQL with every
response a 200 and no attempt lost or counted twice.

In process (a fresh database on TRACL_TEST_PG_URI's server, dropped at the
end; then SQLite in memory, for comparison): 5 learners, signed in with
browser sessions, create their paths from the starter corpus through the
API, then answer the questions of their concepts without prerequisites.
Every answer is distinct (the grader caches the evaluation of an identical
answer), in turn weak, partial and close to the expected answer. Printed:
- `PUT /progress/{id}/submit-answer` through Trac's real dispatcher
  (`tests/support/web.py`: authentication, CSRF, the API frame, the
  handler), what a learner waits for; the goal's figure;
- `StudyLoop.concept` + `StudyLoop.submit` alone;
- the grading alone (`AnswerGrader.evaluate`, not cached);
- the API again with answers graded before (evaluation cached);
- the API followed by a full `gc.collect()`, as tracd and every server
  that is not run-once do at the end of each request
  (`trac.web.main.dispatch_request`), with the number of objects it scans.

Over HTTP: a file-based environment on a fresh PostgreSQL database, with
`[learning] api_rate_limit = 0` (no request refused with 429), the starter
corpus in its chunk store, and `tracd --single-env` on a free loopback
port. 20 learners are signed in as `tests/support/sessions.py` does (the
rows a Cognito sign-in leaves; cookie + X-CSRF-Token) and create their
paths with `POST /api/v1/learning-paths/create`, and a 21st warms the
grader up, before the clock starts. Printed: 20 submits one at a time;
then every learner answers from two threads at once (two browser tabs: 40
threads, connected beforehand), 10 answers each: both threads open and
close on the same concept at the same moment, in between each answers
concepts of its own. Throughput, latency and tracd's CPU time per submit
are printed. Afterwards the database must hold, per (learner, concept),
attempts numbered 1..n with no gap or repeat, n = the 200 responses; the
progress row's answer_score = the last attempt's score, best_score = the
best; the ticket closed exactly when the concept is mastered.

Usage: .venv/bin/python bench/study_bench.py [SUBMISSIONS]   (default 200
in process)
"""

import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

import httpx  # noqa: E402
from common import machine, summary  # noqa: E402
from support import pg  # noqa: E402
from support.corpus import fill_store  # noqa: E402
from support.envs import destroy_env, learning_env  # noqa: E402
from support.sessions import browser_session  # noqa: E402
from support.web import call  # noqa: E402
from trac.cache import CacheManager  # noqa: E402
from trac.env import Environment  # noqa: E402

import tracl.search.local_store  # noqa: E402,F401  (not an entry point yet)
from tracl.admin.questions import QuestionAdminCommands  # noqa: E402
from tracl.auth.emulator import free_port  # noqa: E402
from tracl.llm.grading import AnswerGrader  # noqa: E402
from tracl.schema import sql  # noqa: E402
from tracl.study.loop import StudyLoop  # noqa: E402

PG_SERVER = os.environ.get('TRACL_TEST_PG_URI',
                           'postgres://postgres@127.0.0.1:5432/postgres')

PATHS_API = '/api/v1/learning-paths'
SUBMIT = '/api/v1/progress/%d/submit-answer'

#: Queries of the starter corpus, one per learner in turn.
QUERIES = ('I want to understand blockchain technology',
           'I want to learn machine learning',
           'teach me about computer networks',
           'linear algebra', 'quantum computing',
           'molecular and cell biology')

#: Learners answering in process, and the submissions timed per measure.
IN_PROCESS_LEARNERS = 5
LOOP_SUBMISSIONS = 100
CACHED_SUBMISSIONS = 50
GC_SUBMISSIONS = 30
WARMUP = 10

#: The HTTP run: learners, answers per learner (from two threads).
HTTP_LEARNERS = 20
HTTP_ANSWERS = 10
SEQUENTIAL_SUBMISSIONS = 20

#: Seconds tracd may take to answer `/api/v1/health` after it starts.
TRACD_START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 120.0

GOAL_P95_MS = 100.0


class Answers(object):
    """Distinct answers to a concept's question, in turn weak (scores about
    0.1), partial (half the expected answer: caught as copied, capped
    below mastery) and close to the expected answer (every third word
    left out: mastered)."""

    def __init__(self):
        self.made = 0
        self.lock = threading.Lock()

    def next(self, concept_name, expected):
        with self.lock:
            self.made += 1
            n = self.made
        words = expected.split()
        kind = n % 3
        if kind == 0 or len(words) < 8:
            text = ("I am not sure, but I think %s has something to do "
                    "with computers and data in general." % concept_name)
        elif kind == 1:
            text = 'As far as I understand it, %s' % ' '.join(
                words[:len(words) // 2])
        else:
            text = ' '.join(w for i, w in enumerate(words) if i % 3 != 2)
        return '%s (answer %d)' % (text, n)


def percentile(durations, fraction):
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report_max(label, durations, width=44):
    cpu = getattr(durations, 'cpu', None)
    print('  %-*s %s  max %.1f ms%s' % (
        width, label, summary(durations), max(durations),
        '  (CPU median %.1f ms)' % statistics.median(cpu) if cpu else ''),
        flush=True)


# In process ---------------------------------------------------------------

class InProcess(object):
    """Learners with paths in an `EnvironmentStub`, answering through the
    dispatcher or the study loop."""

    def __init__(self, env):
        self.env = env
        self.answers = Answers()
        self.targets = []  # (sub, cookies, Concept)

    def prepare(self, learners):
        loop = StudyLoop(self.env)
        for n in range(learners):
            sub = 'sub-bench-%02d-%s' % (n, uuid.uuid4().hex[:6])
            cookies = browser_session(self.env, sub)
            created = self.request(cookies, 'POST', PATHS_API + '/create',
                                   {'query': QUERIES[n % len(QUERIES)]})
            if created.status != 201:
                raise RuntimeError('create answered %r' % created)
            for ticket in created.json()['tickets']:
                if not ticket['prerequisites']:
                    concept = loop.concept(sub, ticket['ticket_id'])
                    self.targets.append((sub, cookies, concept))
        return len(self.targets)

    def request(self, cookies, method, path, body):
        # What tracd does before each request (open_environment).
        CacheManager(self.env).reset_metadata()
        return call(self.env, method, path, body=body, cookies=cookies,
                    headers={'X-CSRF-Token': cookies['trac_form_token']})

    def target(self, n):
        return self.targets[n % len(self.targets)]

    def submit_api(self, n, answer=None):
        _sub, cookies, concept = self.target(n)
        answer = answer or self.answers.next(concept.concept,
                                             concept.expected_answer)
        response = self.request(cookies, 'PUT', SUBMIT % concept.ticket_id,
                                {'answer': answer, 'time_spent_seconds': 30})
        if response.status != 200:
            raise RuntimeError('submit answered %r' % response)
        return answer

    def submit_loop(self, n):
        sub, _cookies, concept = self.target(n)
        loop = StudyLoop(self.env)
        answer = self.answers.next(concept.concept, concept.expected_answer)
        concept = loop.concept(sub, concept.ticket_id)
        loop.submit(sub, concept, answer, 30)

    def grade(self, n):
        _sub, _cookies, concept = self.target(n)
        answer = self.answers.next(concept.concept, concept.expected_answer)
        AnswerGrader(self.env).evaluate(concept.question,
                                        concept.expected_answer, answer,
                                        concept.context)


class Timings(list):
    """Durations in ms, with the CPU time this process spent in each (the
    database server's is not counted): on a busy machine the wall clock
    grows with the load, the CPU time much less."""

    def __init__(self):
        super().__init__()
        self.cpu = []


def timed(function, count, warmup=WARMUP):
    """`Timings` of `count` calls `function(n)`, after `warmup` untimed
    ones, and what the calls returned."""
    for n in range(warmup):
        function(n)
    durations, results = Timings(), []
    for n in range(count):
        start, cpu = time.perf_counter(), time.process_time()
        results.append(function(warmup + n))
        durations.append((time.perf_counter() - start) * 1000)
        durations.cpu.append((time.process_time() - cpu) * 1000)
    return durations, results


def in_process(label, submissions, detail=True):
    env = learning_env(config=[('learning', 'api_rate_limit', '0')])
    try:
        started = time.perf_counter()
        chunks = fill_store(env)
        # As `learning import --starter` does: concepts ask the starter
        # questions and are graded against their hand-written rubrics
        # (and their chunks' other questions' misconceptions).
        QuestionAdminCommands(env).import_starter()
        bench = InProcess(env)
        concepts = bench.prepare(IN_PROCESS_LEARNERS)
        print('%s: %d starter chunks stored, %d learners with %d concepts '
              'without prerequisites, in %.1f s'
              % (label, len(chunks), IN_PROCESS_LEARNERS, concepts,
                 time.perf_counter() - started), flush=True)
        api, answers = timed(bench.submit_api, submissions)
        report_max('submit-answer through the API', api)
        if not detail:
            return api
        report_max('StudyLoop.concept + submit', timed(
            bench.submit_loop, LOOP_SUBMISSIONS)[0])
        report_max('grading alone (AnswerGrader, uncached)', timed(
            bench.grade, LOOP_SUBMISSIONS)[0])
        # The same answers to the same concepts again: graded from cache.
        cached = min(CACHED_SUBMISSIONS, len(answers))
        report_max('submit-answer through the API, grade cached', timed(
            lambda n: bench.submit_api(WARMUP + n, answers[n]), cached,
            warmup=0)[0])
        # tracd (and any server with wsgi.run_once false) ends every
        # request with a full gc.collect() (trac.web.main.dispatch_request);
        # `call` does not.
        report_max('submit-answer through the API + gc.collect()', timed(
            lambda n: (bench.submit_api(n), gc.collect()), GC_SUBMISSIONS,
            warmup=0)[0])
        print('  gc.collect() scans %d objects (%d modules loaded, %d of '
              'them anthropic.*)' % (
                  len(gc.get_objects()), len(sys.modules),
                  sum(1 for m in sys.modules if m.split('.')[0] ==
                      'anthropic')))
        threshold = StudyLoop(env).mastery_threshold
        (attempts, passed), = env.db_query(sql(env, """
            SELECT COUNT(*), SUM(CASE WHEN score >= %s THEN 1 ELSE 0 END)
            FROM {attempts}"""), (threshold,))
        print('  %d attempts recorded, %d of them scored >= %.2f (mastery)'
              % (attempts, passed, threshold))
        return api
    finally:
        destroy_env(env)


# Over HTTP ----------------------------------------------------------------

def start_tracd(env_path, port, log_path):
    tracd = os.path.join(os.path.dirname(sys.executable), 'tracd')
    with open(log_path, 'ab') as log:
        process = subprocess.Popen(
            [tracd, '--single-env', '--hostname', '127.0.0.1', '--port',
             str(port), env_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    health = 'http://127.0.0.1:%d/api/v1/health' % port
    deadline = time.monotonic() + TRACD_START_TIMEOUT
    while True:
        try:
            if httpx.get(health, timeout=2.0).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError('tracd did not start:\n%s'
                               % tail_of(log_path))
        time.sleep(0.2)


def tail_of(path, chars=3000):
    try:
        with open(path, errors='replace') as f:
            return f.read()[-chars:]
    except OSError:
        return '(no log at %s)' % path


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Learner(object):
    """A signed-in learner of the HTTP run and their concepts."""

    def __init__(self, env, n):
        self.sub = 'sub-http-%02d-%s' % (n, uuid.uuid4().hex[:6])
        self.query = QUERIES[n % len(QUERIES)]
        self.cookies = browser_session(env, self.sub)
        self.headers = {'X-CSRF-Token': self.cookies['trac_form_token']}
        self.concepts = []  # (ticket_id, name, expected answer)

    def client(self, base):
        # Connections opened before the clock stay open however long the
        # other threads take to get ready (httpx drops idle ones after 5 s
        # by default): tracd's listen backlog is 5, and 40 connects at
        # once overflow it while it is busy.
        return httpx.Client(base_url=base, cookies=self.cookies,
                            headers=self.headers, timeout=HTTP_TIMEOUT,
                            limits=httpx.Limits(
                                keepalive_expiry=HTTP_TIMEOUT))

    def create_path(self, base, env):
        with self.client(base) as client:
            response = client.post(PATHS_API + '/create',
                                   json={'query': self.query})
        if response.status_code != 201:
            raise RuntimeError('create answered %d: %s'
                               % (response.status_code, response.text[:300]))
        loop = StudyLoop(env)
        for ticket in response.json()['tickets']:
            if not ticket['prerequisites']:
                concept = loop.concept(self.sub, ticket['ticket_id'])
                self.concepts.append((concept.ticket_id, concept.concept,
                                      concept.expected_answer))

    def plans(self, answers):
        """Two lists of (ticket_id, answer), one per thread: both open and
        close on the learner's first concept, each answers others of its
        own in between."""
        shared, others = self.concepts[0], self.concepts[1:] or \
            self.concepts
        own = (HTTP_ANSWERS - 4) // 2
        plans = []
        for side in (0, 1):
            middle = [others[(side * own + i) % len(others)]
                      for i in range(own)]
            plans.append([(c[0], answers.next(c[1], c[2]))
                          for c in [shared] + middle + [shared]])
        return plans


def answer_from(learner, plan, base, start, results, lock):
    with learner.client(base) as client:
        client.get('/api/v1/health')  # connected before the clock starts
        start.wait()
        for ticket_id, answer in plan:
            began = time.perf_counter()
            try:
                response = client.put(SUBMIT % ticket_id,
                                      json={'answer': answer,
                                            'time_spent_seconds': 20})
                status = response.status_code
                body = response.json() if status == 200 else \
                    response.text[:300]
            except httpx.HTTPError as e:
                status, body = 'error', repr(e)
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                results.append((learner.sub, ticket_id, status, elapsed,
                                body))


def cpu_seconds(process, children=False):
    """CPU time (user + system) `process` has used so far, in seconds;
    with `children`, also that of its children that have ended (the `dot`
    processes that drew graphs)."""
    with open('/proc/%d/stat' % process.pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf('SC_CLK_TCK')


def check_database(env, subs, results):
    """What is wrong in the database after the run: a list of messages
    (empty: nothing), and the number of attempts stored."""
    answered = defaultdict(list)  # (sub, ticket) -> attempts in responses
    for sub, ticket_id, status, _elapsed, body in results:
        if status == 200:
            answered[sub, ticket_id].append(body['attempt'])
    placeholders = ','.join(['%s'] * len(subs))
    stored = defaultdict(list)
    for sub, ticket_id, attempt, score in env.db_query(sql(env, """
            SELECT cognito_user_id, ticket_id, attempt, score
            FROM {attempts} WHERE cognito_user_id IN (%s)
            ORDER BY cognito_user_id, ticket_id, attempt""" % placeholders),
            subs):
        stored[sub, ticket_id].append((attempt, float(score)))
    progress = {}
    for sub, ticket_id, score, best, status, ticket_status in env.db_query(
            sql(env, """
            SELECT p.cognito_user_id, p.ticket_id, p.answer_score,
                   p.best_score, p.status, t.status
            FROM {progress} p JOIN ticket t ON t.id = p.ticket_id
            WHERE p.cognito_user_id IN (%s)""" % placeholders), subs):
        progress[sub, ticket_id] = (score, best, status, ticket_status)
    problems = []
    for key in sorted(set(answered) | set(stored)):
        where = '%s #%d' % key
        numbers = [a for a, _s in stored[key]]
        expected = list(range(1, len(answered[key]) + 1))
        if numbers != expected:
            problems.append('%s: attempts %r stored, %d answered 200'
                            % (where, numbers, len(expected)))
        if sorted(answered[key]) != expected:
            problems.append('%s: responses numbered %r'
                            % (where, sorted(answered[key])))
        if not stored[key]:
            continue
        score, best, status, ticket_status = progress.get(
            key, (None, None, None, None))
        last = stored[key][-1][1]
        highest = max(s for _a, s in stored[key])
        if score is None or abs(float(score) - last) > 1e-9:
            problems.append('%s: answer_score %r, last attempt scored %r'
                            % (where, score, last))
        if best is None or abs(float(best) - highest) > 1e-9:
            problems.append('%s: best_score %r, best attempt scored %r'
                            % (where, best, highest))
        if (status == 'mastered') != (ticket_status == 'closed'):
            problems.append('%s: progress %s, ticket %s'
                            % (where, status, ticket_status))
    return problems, sum(len(v) for v in stored.values())


def over_http():
    database = 'tracl_bench_%s' % uuid.uuid4().hex[:8]
    uri = pg.create_database(PG_SERVER, database)
    root = tempfile.mkdtemp(prefix='tracl-study-bench-')
    env = tracd = None
    try:
        started = time.perf_counter()
        env_path = os.path.join(root, 'env')
        env = Environment(env_path, create=True, options=[
            ('trac', 'database', uri),
            ('project', 'name', 'TracLearn study bench'),
            ('components', 'tracl.*', 'enabled'),
            ('learning', 'api_rate_limit', '0'),
            ('logging', 'log_type', 'file'),
            ('logging', 'log_level', 'WARNING')])
        fill_store(env)
        learners = [Learner(env, n) for n in range(HTTP_LEARNERS + 1)]
        warm, learners = learners[0], learners[1:]
        port = free_port()
        base = 'http://127.0.0.1:%d' % port
        tracd = start_tracd(env_path, port, os.path.join(root, 'tracd.log'))
        for learner in [warm] + learners:
            learner.create_path(base, env)
        # The first grades in tracd load the grader's model: not timed.
        answers = Answers()
        with warm.client(base) as client:
            for n in range(WARMUP):
                ticket_id, name, expected = \
                    warm.concepts[n % len(warm.concepts)]
                client.put(SUBMIT % ticket_id,
                           json={'answer': answers.next(name, expected)})
        print('tracd on PostgreSQL (api_rate_limit = 0): %d learners '
              'signed in, paths created over HTTP, in %.1f s'
              % (len(learners), time.perf_counter() - started), flush=True)
        one = []
        with warm.client(base) as client:
            for n in range(SEQUENTIAL_SUBMISSIONS):
                ticket_id, name, expected = \
                    warm.concepts[n % len(warm.concepts)]
                began = time.perf_counter()
                response = client.put(SUBMIT % ticket_id, json={
                    'answer': answers.next(name, expected)})
                one.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    raise RuntimeError('submit answered %d: %s' % (
                        response.status_code, response.text[:300]))
        report_max('submit-answer over HTTP, one at a time', one)

        answers = Answers()
        results, lock = [], threading.Lock()
        start = threading.Barrier(2 * len(learners) + 1)
        threads = []
        for learner in learners:
            for plan in learner.plans(answers):
                thread = threading.Thread(
                    target=answer_from,
                    args=(learner, plan, base, start, results, lock))
                thread.start()
                threads.append(thread)
        start.wait()
        began, cpu = time.perf_counter(), cpu_seconds(tracd)
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        cpu = cpu_seconds(tracd) - cpu

        ok = [r for r in results if r[2] == 200]
        failed = [r for r in results if r[2] != 200]
        print('  %d learners x %d answers from 2 threads each (%d threads):'
              ' %d submits in %.1f s, %.1f submits/s'
              % (len(learners), HTTP_ANSWERS, len(threads), len(results),
                 wall, len(ok) / wall))
        report_max('submit-answer over HTTP, %d threads' % len(threads),
                   [r[3] for r in results])
        same = [r[3] for r in results
                if r[1] in {lr.concepts[0][0] for lr in learners}]
        report_max('  of which two threads on one concept', same)
        print('  tracd used %.1f s of CPU: %.0f ms per submit'
              % (cpu, cpu * 1000 / max(1, len(results))))
        problems, attempts = check_database(
            env, [lr.sub for lr in learners], results)
        print('  responses: %d x 200, %d other%s' % (
            len(ok), len(failed), ''.join(
                '\n    %s #%s: %s %s' % (r[0], r[1], r[2], r[4])
                for r in failed[:5])))
        print('  database: %d attempts on %d concepts; lost or duplicated '
              'attempts, gaps, answer_score != last score: %d%s'
              % (attempts, len({(r[0], r[1]) for r in ok}), len(problems),
                 ''.join('\n    ' + p for p in problems[:10])), flush=True)
        if failed:
            print('  tracd log (end):\n%s' % tail_of(
                os.path.join(root, 'tracd.log')))
        return not failed and not problems
    finally:
        if tracd is not None:
            stop(tracd)
        if env is not None:
            env.shutdown()
        pg.drop_database(PG_SERVER, database)
        shutil.rmtree(root, ignore_errors=True)


def main():
    submissions = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    begun = time.perf_counter()
    print('Study loop benchmark on %s (load average %.1f)'
          % (machine(), os.getloadavg()[0]), flush=True)
    print('Submit-answer in process, offline grader, distinct answers '
          '(goal on PostgreSQL: p95 <= %.0f ms):' % GOAL_P95_MS)
    name = 'tracl_bench_%s' % uuid.uuid4().hex[:8]
    uri = pg.create_database(PG_SERVER, name)
    os.environ['TRAC_TEST_DB_URI'] = uri
    try:
        durations = in_process('PostgreSQL', submissions)
    finally:
        pg.drop_database(PG_SERVER, name)
    p95 = percentile(durations, 0.95)
    print('  goal p95 <= %.0f ms: %s (%.1f ms)' % (
        GOAL_P95_MS, 'met' if p95 <= GOAL_P95_MS else 'MISSED', p95))
    os.environ['TRAC_TEST_DB_URI'] = 'sqlite::memory:'
    in_process('SQLite (in memory)', submissions, detail=False)
    consistent = over_http()
    print('  goal no lost or duplicated attempt, every response 200: %s'
          % ('met' if consistent else 'MISSED'))
    print('Benchmark took %.0f s' % (time.perf_counter() - begun))


if __name__ == '__main__':
    main()
