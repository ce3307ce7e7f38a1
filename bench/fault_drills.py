#!/usr/bin/env python3
"""Fault drills (issue 9 goals), on a PostgreSQL 15 and a redis-server this
script starts on spare loopback ports (never the machine's shared servers),
with tracd serving a file-based environment (`[learning] cache =
RedisCache`, `api_rate_limit = 0`, the starter corpus), and a small steady
load: LOAD_THREADS learners, each looping over submit-answer, progress,
search and now and then a path creation, with a short pause.

a) Redis killed (SIGKILL) mid-load and started again on its port after
   OUTAGE seconds: failed requests (goal: none, the database could answer
   them all) and the time from the restart until keys are written again
   and `/api/v1/health` says the cache is ok.
b) PostgreSQL restarted (`pg_ctl restart -m fast`) mid-load: what the
   requests during the outage got (goal: API errors are 5xx with a JSON
   body, none slower than the client timeout), time until requests succeed
   again; then the database is checked for half-written work: every path
   has path_concepts rows and their tickets, every concept ticket its
   concept_metadata, every attempt its progress row, and each concept's
   ticket has one change comment per attempt.
c) LLM timeouts: `[learning] llm_provider = AnthropicLLMProvider` with
   `[anthropic] base_url` on a local fake of the Messages API
   (ANTHROPIC_API_KEY=dummy), `timeout` 1 s, `max_retries` 1,
   `circuit_failures` 3, `circuit_reset` 5 s. Paths are created while the
   fake answers (tool calls shaped as tests/fixtures/anthropic/); then it
   accepts and never answers: submits time out until the circuit opens
   (`/api/v1/health` shows it), after which they get 503 quickly; then it
   answers again, and after the reset time a submit succeeds and the
   circuit is closed.

Usage: .venv/bin/python bench/fault_drills.py
"""

import http.server
import json
import os
import shutil
import socketserver
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
from common import machine  # noqa: E402
from study_bench import (Answers, Learner, start_tracd, stop,  # noqa: E402
                         tail_of)
from support.corpus import fill_store  # noqa: E402
from support.redis_servers import RedisServer, free_port  # noqa: E402
from trac.env import Environment  # noqa: E402

import tracl.search.local_store  # noqa: E402,F401  (not an entry point yet)
from tracl.schema import sql  # noqa: E402

PG_BIN = '/usr/lib/postgresql/15/bin'
FIXTURES = os.path.join(HERE, '..', 'tests', 'fixtures', 'anthropic')

LOAD_THREADS = 4
PAUSE = 0.1
CLIENT_TIMEOUT = 15.0
OUTAGE = 5.0
SEARCHES = ('I want to understand blockchain technology',
            'neural networks basics', 'how does TCP work', 'linear algebra',
            'quantum computing', 'DNA replication')


# Servers of the drill's own ----------------------------------------------

class Postgres(object):
    """A PostgreSQL 15 cluster in a temporary folder, trust authentication,
    on a free loopback port; run as the `postgres` user when this script
    runs as root (initdb refuses root)."""

    def __init__(self, directory):
        self.directory = directory
        self.data = os.path.join(directory, 'data')
        self.port = free_port()
        self.log = os.path.join(directory, 'postgres.log')

    def _run(self, *args, check=True):
        command = [os.path.join(PG_BIN, args[0])] + list(args[1:])
        if os.geteuid() == 0:
            command = ['runuser', '-u', 'postgres', '--'] + command
        return subprocess.run(command, check=check, capture_output=True,
                              text=True)

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.directory, 'postgres')
        self._run('initdb', '-D', self.data, '-U', 'postgres',
                  '--auth=trust', '-E', 'UTF8', '--no-sync')
        self.pg_ctl('start')

    def pg_ctl(self, action, *extra):
        return self._run('pg_ctl', '-D', self.data, '-l', self.log, '-w',
                         '-o', '-p %d -k %s -c listen_addresses=127.0.0.1 '
                         '-c fsync=off' % (self.port, self.directory),
                         action, *extra)

    def stop(self):
        self._run('pg_ctl', '-D', self.data, '-m', 'immediate', '-w',
                  'stop', check=False)

    def uri(self, database):
        return 'postgres://postgres@127.0.0.1:%d/%s' % (self.port, database)


class FakeAnthropic(object):
    """A local stand-in for the Messages API: in mode `answer` it returns
    the recorded tool call the request forces (record_sentences,
    record_question, record_evaluation); in mode `hang` it reads the
    request and says nothing until the mode changes."""

    TOOLS = {'record_sentences': 'tool_use_sentences.json',
             'record_question': 'tool_use_question.json',
             'record_evaluation': 'tool_use_evaluation.json'}

    def __init__(self):
        self.mode = 'answer'
        self.requests = 0
        fake = self
        bodies = {}
        for tool, name in self.TOOLS.items():
            with open(os.path.join(FIXTURES, name)) as f:
                bodies[tool] = json.load(f)['body']

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get('content-length') or 0)
                request = json.loads(self.rfile.read(length) or b'{}')
                fake.requests += 1
                while fake.mode == 'hang':
                    time.sleep(0.05)
                tool = (request.get('tool_choice') or {}).get('name')
                body = dict(bodies.get(tool, bodies['record_evaluation']),
                            id='msg_%s' % uuid.uuid4().hex,
                            model=request.get('model', 'claude'))
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header('content-type', 'application/json')
                self.send_header('content-length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.mode = 'answer'
        self.server.shutdown()


# The load -----------------------------------------------------------------

class Load(object):
    """LOAD_THREADS learners requesting in a loop until stopped; every
    request kept as (started, kind, status, ms, content-type, detail)."""

    def __init__(self, base, learners, kinds=('submit', 'progress',
                                               'search', 'submit',
                                               'progress', 'create')):
        self.base, self.learners, self.kinds = base, learners, kinds
        self.records, self.lock = [], threading.Lock()
        self.submits = []  # (sub, ticket_id, attempt)
        self.running = False
        self.answers = Answers()
        self.threads = []

    def start(self):
        self.running = True
        self.began = time.monotonic()
        for learner in self.learners:
            thread = threading.Thread(target=self._loop, args=(learner,))
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join()

    def _loop(self, learner):
        n = 0
        client = httpx.Client(base_url=self.base, cookies=learner.cookies,
                              headers=learner.headers,
                              timeout=CLIENT_TIMEOUT)
        while self.running:
            kind = self.kinds[n % len(self.kinds)]
            ticket_id, name, expected = learner.concepts[
                n % len(learner.concepts)]
            n += 1
            if kind == 'submit':
                method, path, body = 'PUT', \
                    '/api/v1/progress/%d/submit-answer' % ticket_id, {
                        'answer': self.answers.next(name, expected)}
            elif kind == 'progress':
                method, path, body = 'GET', '/api/v1/progress/%d' \
                    % ticket_id, None
            elif kind == 'search':
                method, path, body = 'POST', \
                    '/api/v1/learning-paths/generate', \
                    {'query': SEARCHES[n % len(SEARCHES)]}
            else:
                method, path, body = 'POST', \
                    '/api/v1/learning-paths/create', \
                    {'query': SEARCHES[n % len(SEARCHES)]}
            began = time.monotonic()
            try:
                response = client.request(method, path, json=body)
                status = response.status_code
                ctype = response.headers.get('content-type', '')
                detail = response.text[:150] if status >= 400 else ''
                if kind == 'submit' and status == 200:
                    with self.lock:
                        self.submits.append((learner.sub, ticket_id,
                                             response.json()['attempt']))
            except httpx.HTTPError as e:
                status, ctype, detail = 'error', '', repr(e)[:150]
                client.close()
                client = httpx.Client(
                    base_url=self.base, cookies=learner.cookies,
                    headers=learner.headers, timeout=CLIENT_TIMEOUT)
            elapsed = (time.monotonic() - began) * 1000
            with self.lock:
                self.records.append((began - self.began, kind, status,
                                     elapsed, ctype, detail))
            time.sleep(PAUSE)
        client.close()

    def between(self, start, end):
        return [r for r in self.records if start <= r[0] < end]


def failed(records):
    return [r for r in records if not (isinstance(r[2], int) and
                                       r[2] < 400)]


def describe(records):
    counts = defaultdict(int)
    for r in records:
        counts['%s %s' % (r[1], r[2])] += 1
    return ', '.join('%s x %d' % kv for kv in sorted(counts.items())) \
        or 'none'


def health(base):
    try:
        return httpx.get(base + '/api/v1/health', timeout=5.0).json()
    except (httpx.HTTPError, ValueError):
        return {}


# Environments -------------------------------------------------------------

def make_env(root, uri, redis_url, extra=()):
    env = Environment(os.path.join(root, 'env-%s' % uuid.uuid4().hex[:6]),
                      create=True, options=[
        ('trac', 'database', uri),
        ('project', 'name', 'TracLearn fault drills'),
        ('components', 'tracl.*', 'enabled'),
        ('learning', 'api_rate_limit', '0'),
        ('learning', 'cache', 'RedisCache'),
        ('redis', 'url', redis_url),
        ('redis', 'key_prefix', 'tracl-drill:'),
        ('logging', 'log_type', 'file'),
        ('logging', 'log_level', 'WARNING')] + list(extra))
    fill_store(env)
    return env


def create_database(postgres, name):
    import psycopg2
    cnx = psycopg2.connect(host='127.0.0.1', port=postgres.port,
                           user='postgres', dbname='postgres')
    cnx.autocommit = True
    cnx.cursor().execute('CREATE DATABASE "%s" ENCODING \'UTF8\' '
                         'TEMPLATE template0' % name)
    cnx.close()
    return postgres.uri(name)


def signed_in(env, base, count):
    learners = [Learner(env, n) for n in range(count)]
    for learner in learners:
        learner.create_path(base, env)
    return learners


def integrity(env):
    """Half-written paths and attempts: a list of messages."""
    problems = []
    checks = (
        ('paths without path_concepts', """
            SELECT COUNT(*) FROM {paths} p WHERE NOT EXISTS (
                SELECT 1 FROM {path_concepts} pc WHERE pc.path_id = p.id)"""),
        ('path_concepts without their ticket', """
            SELECT COUNT(*) FROM {path_concepts} pc WHERE NOT EXISTS (
                SELECT 1 FROM ticket t WHERE t.id = pc.ticket_id)"""),
        ('concept tickets without concept_metadata', """
            SELECT COUNT(*) FROM ticket t WHERE t.type = 'learning_concept'
            AND NOT EXISTS (SELECT 1 FROM {concept_metadata} m
                            WHERE m.ticket_id = t.id)"""),
        ('concept tickets in no path', """
            SELECT COUNT(*) FROM ticket t WHERE t.type = 'learning_concept'
            AND NOT EXISTS (SELECT 1 FROM {path_concepts} pc
                            WHERE pc.ticket_id = t.id)"""),
        ('attempts without a progress row', """
            SELECT COUNT(*) FROM {attempts} a WHERE NOT EXISTS (
                SELECT 1 FROM {progress} p WHERE p.ticket_id = a.ticket_id
                AND p.cognito_user_id = a.cognito_user_id)"""),
        ('concepts whose change comments != attempts', """
            SELECT COUNT(*) FROM (
                SELECT t.id, (SELECT COUNT(*) FROM {attempts} a
                              WHERE a.ticket_id = t.id) AS attempts,
                       (SELECT COUNT(*) FROM ticket_change c
                        WHERE c.ticket = t.id AND c.field = 'comment')
                        AS comments
                FROM ticket t WHERE t.type = 'learning_concept') x
            WHERE attempts != comments"""),
    )
    for label, query in checks:
        (count,), = env.db_query(sql(env, query))
        if count:
            problems.append('%d %s' % (count, label))
    return problems


# Drills -------------------------------------------------------------------

def drill_redis(env, base, redis_server, learners):
    load = Load(base, learners)
    load.start()
    time.sleep(5)
    keys_before = redis_server.client().dbsize()
    killed = time.monotonic() - load.began
    redis_server.process.kill()
    redis_server.process.wait()
    time.sleep(OUTAGE)
    restarted_at = time.monotonic()
    restarted = restarted_at - load.began
    redis_server.start()
    keys_at, healthy_at = None, None
    while time.monotonic() - restarted_at < 30 and \
            (keys_at is None or healthy_at is None):
        if keys_at is None and redis_server.client().dbsize() > 0:
            keys_at = time.monotonic() - restarted_at
        if healthy_at is None and \
                health(base).get('checks', {}).get('cache') == 'ok':
            healthy_at = time.monotonic() - restarted_at
        time.sleep(0.05)
    time.sleep(3)
    load.stop()
    during = load.between(killed, restarted + 2)
    bad = failed(load.records)
    print('a) Redis killed at %.1f s for %.0f s (%d keys before): %d '
          'requests, %d during the outage, %d failed (%s); after the '
          'restart keys written again in %s s, health cache ok in %s s'
          % (killed, OUTAGE, keys_before, len(load.records), len(during),
             len(bad), describe(bad), '%.2f' % keys_at if keys_at is not None
             else 'never', '%.2f' % healthy_at if healthy_at is not None
             else 'never'), flush=True)
    slow = max(r[3] for r in during) if during else 0
    print('   slowest request during the outage %.0f ms; p50 during %.0f ms'
          % (slow, sorted(r[3] for r in during)[len(during) // 2]
             if during else 0))
    for r in bad[:5]:
        print('   %s' % (r,))
    ok = not bad and keys_at is not None
    print('DRILL a (Redis killed and restarted): %s' % (
        'PASS' if ok else 'FAIL'), flush=True)
    return ok


def drill_postgres(env, base, postgres, learners):
    load = Load(base, learners)
    load.start()
    time.sleep(5)
    began = time.monotonic() - load.began
    restart = postgres.pg_ctl('restart', '-m', 'fast')
    ended = time.monotonic() - load.began
    # Requests succeed again: the first success of each kind after.
    time.sleep(8)
    load.stop()
    after = [r for r in load.records if r[0] >= ended]
    first_ok = min((r[0] for r in after if isinstance(r[2], int) and
                    r[2] < 400), default=None)
    bad = failed(load.records)
    api_bad = [r for r in bad if r[1] != 'graph']
    not_json = [r for r in api_bad if not (
        isinstance(r[2], int) and r[2] >= 500 and
        'json' in r[4])]
    hangs = [r for r in load.records if r[3] >= CLIENT_TIMEOUT * 1000]
    late = [r for r in bad if r[0] > ended + 3]
    print('b) PostgreSQL restarted at %.1f s, pg_ctl took %.1f s (rc %d): '
          '%d requests, %d failed (%s); failures not a 5xx JSON body: %d; '
          'requests at the client timeout (%.0f s): %d; slowest %.0f ms; '
          'first success %.2f s after pg_ctl returned; failures later than '
          '3 s after: %d' % (
              began, ended - began, restart.returncode, len(load.records),
              len(bad), describe(bad), len(not_json), CLIENT_TIMEOUT,
              len(hangs), max(r[3] for r in load.records),
              (first_ok - ended) if first_ok is not None else -1,
              len(late)), flush=True)
    for r in (not_json or bad)[:4]:
        print('   %s' % (r,))
    problems = integrity(env)
    answered = defaultdict(list)
    for sub, ticket_id, attempt in load.submits:
        answered[sub, ticket_id].append(attempt)
    (attempts,), = env.db_query(sql(env, "SELECT COUNT(*) FROM {attempts}"))
    print('   database: %d attempts, %d answered 200 by this drill; '
          'half-written: %s' % (attempts, len(load.submits),
                                '; '.join(problems) or 'none'), flush=True)
    ok = not not_json and not hangs and first_ok is not None and \
        not late and not problems
    print('DRILL b (PostgreSQL restarted): %s' % ('PASS' if ok else 'FAIL'),
          flush=True)
    return ok


def drill_llm(root, postgres, redis_server):
    fake = FakeAnthropic()
    os.environ['ANTHROPIC_API_KEY'] = 'dummy'
    uri = create_database(postgres, 'drill_llm')
    env = make_env(root, uri, redis_server.url, extra=[
        ('learning', 'llm_provider', 'AnthropicLLMProvider'),
        ('anthropic', 'base_url', fake.url),
        ('anthropic', 'timeout', '1.0'),
        ('anthropic', 'max_retries', '1'),
        ('anthropic', 'circuit_failures', '3'),
        ('anthropic', 'circuit_reset', '5')])
    port = free_port()
    base = 'http://127.0.0.1:%d' % port
    log = os.path.join(root, 'tracd-llm.log')
    tracd = start_tracd(env.path, port, log)
    try:
        learners = signed_in(env, base, 2)
        learner = learners[0]
        answers = Answers()
        client = httpx.Client(base_url=base, cookies=learner.cookies,
                              headers=learner.headers,
                              timeout=CLIENT_TIMEOUT)

        def submit():
            ticket_id, name, expected = learner.concepts[0]
            began = time.monotonic()
            try:
                response = client.put(
                    '/api/v1/progress/%d/submit-answer' % ticket_id,
                    json={'answer': answers.next(name, expected)})
                status = response.status_code
                text = response.text[:120]
            except httpx.HTTPError as e:
                status, text = 'error', repr(e)
            return status, (time.monotonic() - began) * 1000, text

        status, ms, text = submit()
        print('c) answering fake: submit %s in %.0f ms; circuit %s'
              % (status, ms, health(base).get('circuits')), flush=True)
        fake.mode = 'hang'
        timeouts = []
        opened = None
        for _ in range(8):
            timeouts.append(submit())
            state = health(base).get('circuits', {}).get('llm', {})
            if state.get('state') == 'open':
                opened = state
                break
        print('   fake hangs: %d submits until open: %s; circuit %s'
              % (len(timeouts), ', '.join('%s %.0f ms' % (s, m)
                                          for s, m, _t in timeouts),
                 opened), flush=True)
        quick = [submit() for _ in range(5)]
        print('   circuit open: %s (%s)' % (
            ', '.join('%s %.0f ms' % (s, m) for s, m, _t in quick),
            quick[0][2][:100]), flush=True)
        fake.mode = 'answer'
        wait_from = time.monotonic()
        closed, recovery = None, []
        while time.monotonic() - wait_from < 20:
            time.sleep(0.5)
            recovery.append(submit())
            state = health(base).get('circuits', {}).get('llm', {})
            if recovery[-1][0] == 200 and state.get('state') == 'closed':
                closed = time.monotonic() - wait_from
                break
        print('   fake answers again: circuit closed and submit 200 after '
              '%s s (%d submits: %s)' % (
                  '%.1f' % closed if closed is not None else 'never',
                  len(recovery), describe([(0, 'submit', s) for s, _m, _t
                                           in recovery])), flush=True)
        print('   fake saw %d requests' % fake.requests)
        ok = opened is not None and all(
            s == 503 and m < 500 for s, m, _t in quick) and \
            closed is not None
        print('DRILL c (LLM timeouts, circuit): %s' % ('PASS' if ok
                                                      else 'FAIL'),
              flush=True)
        if not ok:
            print(tail_of(log, 2000))
        client.close()
        return ok
    finally:
        stop(tracd)
        env.shutdown()
        fake.close()


def main():
    begun = time.perf_counter()
    print('Fault drills on %s (load average %.1f)'
          % (machine(), os.getloadavg()[0]), flush=True)
    root = tempfile.mkdtemp(prefix='tracl-drills-')
    os.chmod(root, 0o755)
    postgres = Postgres(os.path.join(root, 'pg'))
    os.makedirs(postgres.directory)
    redis_server = RedisServer(os.path.join(root, 'redis'))
    os.makedirs(redis_server.directory)
    tracd = env = None
    results = {}
    try:
        postgres.start()
        redis_server.start()
        print('own PostgreSQL on 127.0.0.1:%d, own Redis on 127.0.0.1:%d'
              % (postgres.port, redis_server.port), flush=True)
        env = make_env(root, create_database(postgres, 'drills'),
                       redis_server.url)
        port = free_port()
        base = 'http://127.0.0.1:%d' % port
        log = os.path.join(root, 'tracd.log')
        tracd = start_tracd(env.path, port, log)
        learners = signed_in(env, base, LOAD_THREADS)
        for name, drill in (('a', drill_redis), ('b', drill_postgres)):
            try:
                results[name] = drill(env, base, redis_server if name == 'a'
                                      else postgres, learners)
            except Exception as e:
                print('DRILL %s: FAIL (%r)' % (name, e), flush=True)
                results[name] = False
        stop(tracd)
        tracd = None
        try:
            results['c'] = drill_llm(root, postgres, redis_server)
        except Exception as e:
            print('DRILL c: FAIL (%r)' % (e,), flush=True)
            results['c'] = False
    finally:
        if tracd is not None:
            stop(tracd)
        if env is not None:
            env.shutdown()
        redis_server.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    print('Drills: %s; took %.0f s' % (', '.join(
        '%s %s' % (k, 'PASS' if v else 'FAIL')
        for k, v in sorted(results.items())),
        time.perf_counter() - begun))


if __name__ == '__main__':
    main()
