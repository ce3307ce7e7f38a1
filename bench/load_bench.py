#!/usr/bin/env python3
"""Load test (issue 9 goals): 50 simulated learners for 60 s against the
production server (gunicorn, `docker/gunicorn.conf.py` defaults) and then
against tracd, on PostgreSQL and Redis with the offline provider. Goals
under gunicorn: zero 5xx, zero lost attempts, p95 of submit and search
<= 300 ms; the throughput of both servers as a ratio.

Set-up, not timed: a file-based environment on a fresh PostgreSQL database
(TRACL_TEST_PG_URI's server, dropped at the end), `[learning] cache =
RedisCache` on the machine's Redis (`[redis] url`, default
127.0.0.1:6379/0) under a key prefix of its own (its keys deleted at the
end), `[learning] api_rate_limit = 0`, the starter corpus in the chunk
store. The learners are signed in as `bench/study_bench.py` does (the rows
a Cognito sign-in leaves) and create one path each over HTTP.

The load comes from a separate process (this script run with `--client`):
one asyncio task per learner with its own connection, looping for the
duration over a mix of requests, each followed by a think time drawn
uniformly from [0, 2 x THINK] seconds (a learner reading; THINK defaults
to 1 s: about 50 requests per second offered, a closed loop when the
server is slower than that):

    search    35%  POST /api/v1/learning-paths/generate, one of 24 queries
    submit    30%  PUT /api/v1/progress/{id}/submit-answer, a distinct
                   answer to one of the learner's concepts without
                   prerequisites (weak, partial or close, as study_bench)
    progress  20%  GET /api/v1/progress/{id}, and GET /api/v1/progress
    graph     12%  GET /learning/graph.png?path_id= (the learner's path,
                   drawn by graphviz)
    create     3%  POST /api/v1/learning-paths/create with another query

Printed per server and endpoint: requests, throughput, p50/p95/max and the
responses other than 2xx; the server's CPU time. Afterwards the database is
checked as study_bench does: per (learner, concept) attempts numbered
1..n with no gap or repeat, n = the 200 responses, progress scores = the
last/best attempt, ticket closed exactly when mastered.

Usage: .venv/bin/python bench/load_bench.py [SECONDS [LEARNERS [THINK]]]
       (defaults 60, 50, 1.0)
"""

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

import httpx  # noqa: E402

#: The requests of the mix and their weights.
MIX = (('search', 35), ('submit', 30), ('progress', 20), ('graph', 12),
       ('create', 3))

#: What learners search for: the starter corpus's subjects, worded in
#: several ways (a repeated query of a learner is answered from the cache).
SEARCHES = (
    'I want to understand blockchain technology', 'how do blockchains work',
    'proof of work and mining', 'smart contracts on ethereum',
    'I want to learn machine learning', 'neural networks basics',
    'supervised learning and overfitting', 'gradient descent explained',
    'teach me about computer networks', 'how does TCP work',
    'routing and IP addresses', 'DNS and the web',
    'linear algebra', 'matrices and vectors', 'eigenvalues',
    'quantum computing', 'qubits and superposition', 'quantum gates',
    'molecular and cell biology', 'how do cells divide', 'DNA replication',
    'protein synthesis', 'cryptographic hash functions',
    'public key cryptography')

HTTP_TIMEOUT = 30.0
GOAL_P95_MS = 300.0


def percentile(durations, fraction):
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# The client process -------------------------------------------------------

class Answers(object):
    """Distinct answers, as `study_bench.Answers`, without its lock (one
    thread) and unique across runs."""

    def __init__(self, tag):
        self.tag, self.made = tag, 0

    def next(self, name, expected):
        self.made += 1
        n, words = self.made, expected.split()
        if n % 3 == 0 or len(words) < 8:
            text = ("I am not sure, but I think %s has something to do "
                    "with computers and data in general." % name)
        elif n % 3 == 1:
            text = 'As far as I understand it, %s' % ' '.join(
                words[:len(words) // 2])
        else:
            text = ' '.join(w for i, w in enumerate(words) if i % 3 != 2)
        return '%s (answer %s-%d)' % (text, self.tag, n)


async def learner_loop(base, learner, deadline, think, records, rng):
    answers = Answers('%s-%s' % (learner['sub'][-6:], uuid.uuid4().hex[:4]))
    kinds = [k for k, w in MIX for _ in range(w)]
    async with httpx.AsyncClient(
            base_url=base, cookies=learner['cookies'],
            headers={'X-CSRF-Token': learner['cookies']['trac_form_token']},
            timeout=HTTP_TIMEOUT) as client:
        await asyncio.sleep(rng.uniform(0, think * 2))  # not all at once
        while time.monotonic() < deadline:
            kind = rng.choice(kinds)
            ticket_id, name, expected = rng.choice(learner['concepts'])
            if kind == 'search':
                request = ('POST', '/api/v1/learning-paths/generate',
                           {'query': rng.choice(SEARCHES)})
            elif kind == 'create':
                request = ('POST', '/api/v1/learning-paths/create',
                           {'query': rng.choice(SEARCHES)})
            elif kind == 'submit':
                request = ('PUT', '/api/v1/progress/%d/submit-answer'
                           % ticket_id,
                           {'answer': answers.next(name, expected),
                            'time_spent_seconds': 20})
            elif kind == 'progress':
                request = ('GET', '/api/v1/progress/%d' % ticket_id
                           if rng.random() < 0.7 else '/api/v1/progress',
                           None)
            else:
                request = ('GET', '/learning/graph.png?path_id=%s'
                           % learner['path_id'], None)
            method, path, body = request
            began = time.perf_counter()
            attempt = None
            try:
                response = await client.request(method, path, json=body)
                status = response.status_code
                if kind == 'submit' and status == 200:
                    attempt = response.json()['attempt']
                detail = '' if status < 400 else response.text[:200]
            except httpx.HTTPError as e:
                status, detail = 'error', repr(e)
            records.append((kind, status, (time.perf_counter() - began)
                            * 1000, time.monotonic(), learner['sub'],
                            ticket_id if kind == 'submit' else None,
                            attempt, detail))
            await asyncio.sleep(rng.uniform(0, think * 2))


async def client_main(spec):
    records = []
    rng = random.Random(spec.get('seed', 1))
    start = time.monotonic()
    deadline = start + spec['seconds']
    await asyncio.gather(*[
        learner_loop(spec['base'], learner, deadline, spec['think'],
                     records, random.Random(rng.random()))
        for learner in spec['learners']])
    wall = time.monotonic() - start
    return {'wall': wall, 'records': [
        r[:3] + (r[3] - start,) + r[4:] for r in records]}


def run_client(spec_path, out_path):
    with open(spec_path) as f:
        spec = json.load(f)
    result = asyncio.run(client_main(spec))
    with open(out_path, 'w') as f:
        json.dump(result, f)


# The bench ----------------------------------------------------------------

def start_gunicorn(env_path, port, log_path):
    gunicorn = os.path.join(os.path.dirname(sys.executable), 'gunicorn')
    config = os.path.join(HERE, '..', 'docker', 'gunicorn.conf.py')
    environ = dict(os.environ, TRAC_ENV=env_path, PORT=str(port),
                   LOG_FORMAT='text')
    with open(log_path, 'ab') as log:
        process = subprocess.Popen(
            [gunicorn, '-c', config, '-b', '127.0.0.1:%d' % port,
             'tracl.wsgi:application'],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=environ,
            cwd=os.path.join(HERE, '..'))
    wait_for_health(process, port, log_path, 'gunicorn')
    return process


def wait_for_health(process, port, log_path, what, timeout=90.0):
    from study_bench import stop, tail_of
    health = 'http://127.0.0.1:%d/api/v1/health' % port
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(health, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError('%s did not start:\n%s'
                               % (what, tail_of(log_path)))
        time.sleep(0.2)


def server_cpu_seconds(process):
    """CPU time of `process` and its children still running (gunicorn's
    workers), with the children they have reaped (`dot`), in seconds."""
    from study_bench import cpu_seconds

    class Pid(object):
        def __init__(self, pid):
            self.pid = pid
    total = cpu_seconds(process, children=True)
    try:
        children = open('/proc/%d/task/%d/children'
                        % (process.pid, process.pid)).read().split()
    except OSError:
        children = []
    for child in children:
        try:
            total += cpu_seconds(Pid(int(child)), children=True)
        except OSError:
            pass
    return total


def load(label, process, base, learners, seconds, think, root):
    """Run the client process against `base`; print and return the
    figures."""
    spec_path = os.path.join(root, 'spec-%s.json' % label)
    out_path = os.path.join(root, 'out-%s.json' % label)
    with open(spec_path, 'w') as f:
        json.dump({'base': base, 'seconds': seconds, 'think': think,
                   'learners': learners, 'seed': hash(label) & 0xffff}, f)
    cpu = server_cpu_seconds(process)
    subprocess.run([sys.executable, os.path.abspath(__file__), '--client',
                    spec_path, out_path], check=True)
    cpu = server_cpu_seconds(process) - cpu
    with open(out_path) as f:
        result = json.load(f)
    records, wall = result['records'], result['wall']
    print('%s: %d learners, %.0f s, think time mean %.1f s: %d requests, '
          '%.1f requests/s; server CPU %.1f s (%.0f%% of 2 cores)' % (
              label, len(learners), wall, think, len(records),
              len(records) / wall, cpu, cpu * 100 / wall / 2), flush=True)
    figures = {'throughput': len(records) / wall}
    by_kind = defaultdict(list)
    for record in records:
        by_kind[record[0]].append(record)
    for kind, _weight in MIX:
        rows = by_kind.get(kind, [])
        if not rows:
            continue
        durations = [r[2] for r in rows]
        statuses = defaultdict(int)
        for r in rows:
            if not (isinstance(r[1], int) and r[1] < 400):
                statuses[r[1]] += 1
        print('  %-9s %5d  %5.1f/s  p50 %6.1f ms  p95 %7.1f ms  max %7.1f '
              'ms  non-2xx: %s' % (
                  kind, len(rows), len(rows) / wall,
                  percentile(durations, 0.5), percentile(durations, 0.95),
                  max(durations), ', '.join(
                      '%s x %d' % kv for kv in sorted(
                          statuses.items(), key=str)) or 'none'),
              flush=True)
        figures[kind] = (len(rows) / wall, percentile(durations, 0.95))
    failures = [r for r in records
                if not (isinstance(r[1], int) and r[1] < 500)]
    for r in failures[:5]:
        print('    %s %s: %s' % (r[0], r[1], r[7]))
    figures['5xx'] = len(failures)
    figures['records'] = records
    return figures


def main(seconds, learner_count, think):
    from common import machine
    from study_bench import Learner, check_database, stop, tail_of
    from support import pg
    from support.corpus import fill_store
    from trac.env import Environment
    import redis
    import tracl.search.local_store  # noqa: F401  (not an entry point yet)
    from tracl.auth.emulator import free_port

    pg_server = os.environ.get(
        'TRACL_TEST_PG_URI', 'postgres://postgres@127.0.0.1:5432/postgres')
    redis_url = os.environ.get('TRACL_BENCH_REDIS_URL',
                               'redis://127.0.0.1:6379/0')
    begun = time.perf_counter()
    print('Load benchmark on %s (load average %.1f)'
          % (machine(), os.getloadavg()[0]), flush=True)
    database = 'tracl_load_%s' % uuid.uuid4().hex[:8]
    prefix = 'tracl-load-%s:' % uuid.uuid4().hex[:8]
    uri = pg.create_database(pg_server, database)
    root = tempfile.mkdtemp(prefix='tracl-load-bench-')
    env = server = None
    runs = {}
    try:
        env_path = os.path.join(root, 'env')
        env = Environment(env_path, create=True, options=[
            ('trac', 'database', uri),
            ('project', 'name', 'TracLearn load bench'),
            ('components', 'tracl.*', 'enabled'),
            ('learning', 'api_rate_limit', '0'),
            ('learning', 'cache', 'RedisCache'),
            ('redis', 'url', redis_url),
            ('redis', 'key_prefix', prefix),
            ('logging', 'log_type', 'file'),
            ('logging', 'log_level', 'WARNING')])
        fill_store(env)
        learners = [Learner(env, n) for n in range(learner_count)]
        subs = [lr.sub for lr in learners]
        specs = None
        for label in ('gunicorn', 'tracd'):
            port = free_port()
            base = 'http://127.0.0.1:%d' % port
            log_path = os.path.join(root, '%s.log' % label)
            started = time.perf_counter()
            try:
                if label == 'gunicorn':
                    server = start_gunicorn(env_path, port, log_path)
                else:
                    from study_bench import start_tracd
                    server = start_tracd(env_path, port, log_path)
            except RuntimeError as e:
                print('%s: could not be started, not measured: %s'
                      % (label, e), flush=True)
                continue
            if specs is None:
                specs = []
                for learner in learners:
                    learner.create_path(base, env)
                    with learner.client(base) as client:
                        paths = client.get('/api/v1/learning-paths').json()
                    specs.append({'sub': learner.sub,
                                  'cookies': learner.cookies,
                                  'concepts': learner.concepts,
                                  'path_id': paths['paths'][0]['path_id']})
            # Warm up: each endpoint once per learner, untimed (models,
            # templates, graphviz, connections of every worker).
            warm = load('%s warm-up' % label, server, base, specs,
                        min(10, seconds), think, root)
            print('%s started and warmed up in %.1f s' % (
                label, time.perf_counter() - started), flush=True)
            runs[label] = load(label, server, base, specs, seconds, think,
                               root)
            runs[label]['records'] += warm['records']
            stop(server)
            server = None
            if runs[label]['5xx']:
                print('  %s log (end):\n%s' % (label, tail_of(log_path)))

        results = [(r[4], r[5], r[1], r[2], {'attempt': r[6]})
                   for run in runs.values() for r in run['records']
                   if r[0] == 'submit']
        problems, attempts = check_database(env, subs, results)
        answered = sum(1 for r in results if r[2] == 200)
        print('Database after both runs: %d submits answered 200, %d '
              'attempts stored; lost or duplicated attempts, gaps, scores '
              'or ticket out of step: %d%s' % (
                  answered, attempts, len(problems),
                  ''.join('\n    ' + p for p in problems[:10])))
        print('Goals:')
        if 'gunicorn' in runs:
            g = runs['gunicorn']
            for kind in ('submit', 'search'):
                if kind in g:
                    p95 = g[kind][1]
                    print('  p95 of %s under gunicorn <= %.0f ms: %s '
                          '(%.1f ms)' % (kind, GOAL_P95_MS, 'met' if
                                         p95 <= GOAL_P95_MS else 'MISSED',
                                         p95))
        for label, run in runs.items():
            print('  zero 5xx (or transport errors) under %s: %s (%d)' % (
                label, 'met' if not run['5xx'] else 'MISSED', run['5xx']))
        print('  zero lost attempts: %s' % ('met' if not problems and
                                             attempts == answered
                                             else 'MISSED'))
        if len(runs) == 2:
            print('  throughput gunicorn / tracd: %.2f (%.1f / %.1f '
                  'requests/s; per endpoint: %s)' % (
                      runs['gunicorn']['throughput'] /
                      runs['tracd']['throughput'],
                      runs['gunicorn']['throughput'],
                      runs['tracd']['throughput'], ', '.join(
                          '%s %.2f' % (k, runs['gunicorn'][k][0] /
                                       runs['tracd'][k][0])
                          for k, _w in MIX if k in runs['gunicorn'] and
                          k in runs['tracd'])))
        print('Benchmark took %.0f s' % (time.perf_counter() - begun))
    finally:
        if server is not None:
            stop(server)
        if env is not None:
            env.shutdown()
        pg.drop_database(pg_server, database)
        try:
            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(prefix + '*', count=1000))
            for n in range(0, len(keys), 500):
                client.delete(*keys[n:n + 500])
        except redis.RedisError:
            pass
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--client':
        run_client(sys.argv[2], sys.argv[3])
    else:
        args = sys.argv[1:]
        main(int(args[0]) if args else 60,
             int(args[1]) if len(args) > 1 else 50,
             float(args[2]) if len(args) > 2 else 1.0)
