#!/usr/bin/env python3
"""Load test (issue 9 goals) and capacity search: simulated learners over
HTTP against the production server (gunicorn, `docker/gunicorn.conf.py`
defaults) and then against tracd, on PostgreSQL and Redis with the offline
provider. Two modes share the environment, the learners, the servers, the
request mix and the database check.

Closed loop (the default): 50 learners for 60 s. Goals under gunicorn:
zero 5xx, zero lost attempts, p95 of submit and search <= 300 ms; the
throughput of both servers as a ratio. Each learner waits for an answer
before the next request, so the load offered is at most what the server
answers: it says how fast requests are answered at that load, not how much
load the server can take.

Open loop (`--open-loop`): capacity. Requests arrive on a Poisson clock
(exponential gaps at the step's rate) that never waits for an answer, so a
slow server cannot slow the load it is offered; each arrival goes to a
learner drawn at random, with a request drawn from the same mix. The rate
starts at 2 requests/s and grows x1.4 per step of 15 s, until two steps in
a row have missed the goals (14 steps at most: 159 requests/s). A step
meets the goals when the p95 of submit and of search are <= 300 ms and no
request erred: a 5xx, a transport error, an answer later than 2 s after
the step's end (late requests are still awaited, so the server has drained
before the next step and their attempts are in the database check), or an
arrival dropped because 400 requests were already waiting. Answers 4xx are
the application's own (a concept that a path created since has given a
prerequisite is refused with 409): counted apart, not as errors. Latencies
count from the time a request was due, so a client that falls behind
cannot hide the server's queue. Printed per server: a row per step
(offered rate, arrivals and answers in time per second, p95 per endpoint,
the server's CPU, 4xx, errors) and the capacity: the highest offered rate
that met the goals, in requests/s and in learners at a realistic pace of
one request every 20 s (learners = rate x 20). The client shares the
machine with the server: on a small machine, read the server's CPU column
too.

Set-up, not timed: a file-based environment on a fresh PostgreSQL database
(TRACL_TEST_PG_URI's server, dropped at the end), `[learning] cache =
RedisCache` on the machine's Redis (`[redis] url`, default
127.0.0.1:6379/0) under a key prefix of its own (its keys deleted at the
end), `[learning] api_rate_limit = 0`, the starter corpus in the chunk
store. The learners are signed in as `bench/study_bench.py` does (the rows
a Cognito sign-in leaves) and create one path each over HTTP. Both servers
listen on 127.0.0.1 only, and the client refuses any other address.

The load comes from a separate process (this script run with `--client`,
once per run or step). In the closed loop, one asyncio task per learner
with its own connection loops for the duration over the mix, each request
followed by a think time drawn uniformly from [0, 2 x THINK] seconds (a
learner reading; THINK defaults to 1 s: about 50 requests per second
offered, a closed loop when the server is slower than that). The mix:

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
       .venv/bin/python bench/load_bench.py --open-loop [STEP_SECONDS
       [LEARNERS]]   (defaults 15, 50; about 10 minutes on 2 cores)
"""

import asyncio
import contextlib
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
from common import percentile  # noqa: E402

#: The requests of the mix and their weights.
MIX = (('search', 35), ('submit', 30), ('progress', 20), ('graph', 12),
       ('create', 3))
#: The mix as one list to draw from.
KINDS = [kind for kind, weight in MIX for _ in range(weight)]

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
#: The endpoints whose p95 the goals bound.
GOAL_KINDS = ('submit', 'search')

#: Open loop: the first step's rate (requests/s), the factor between
#: steps, the most steps, and how many missed steps in a row end the
#: search (one miss may be a neighbour's burst on a shared machine).
OPEN_START_RATE = 2.0
OPEN_STEP_FACTOR = 1.4
OPEN_STEP_SECONDS = 15
OPEN_MAX_STEPS = 14
OPEN_MISSES = 2
#: A request answered later than this after its step's end is late: an
#: error, because the step could not absorb it.
LATE_AFTER = 2.0
#: Requests waiting for an answer at most; an arrival beyond that is
#: dropped (an error) rather than sent, so an overwhelmed server cannot
#: make the client hold thousands of connections.
MAX_IN_FLIGHT = 400
#: Seconds between steps, for what a step left behind (dot processes,
#: cache writes) not to be counted against the next one.
STEP_PAUSE = 2.0
#: A learner's realistic pace: one request every this many seconds.
LEARNER_PACE = 20.0


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


def answers_for(learner):
    return Answers('%s-%s' % (learner['sub'][-6:], uuid.uuid4().hex[:4]))


def learner_client(base, learner):
    """An HTTP client signed in as `learner`."""
    return httpx.AsyncClient(
        base_url=base, cookies=learner['cookies'],
        headers={'X-CSRF-Token': learner['cookies']['trac_form_token']},
        timeout=HTTP_TIMEOUT)


def request_for(kind, learner, answers, rng):
    """(method, path, JSON body, concept) of one request of `kind` by
    `learner`."""
    ticket_id, name, expected = rng.choice(learner['concepts'])
    if kind == 'search':
        return ('POST', '/api/v1/learning-paths/generate',
                {'query': rng.choice(SEARCHES)}, ticket_id)
    if kind == 'create':
        return ('POST', '/api/v1/learning-paths/create',
                {'query': rng.choice(SEARCHES)}, ticket_id)
    if kind == 'submit':
        return ('PUT', '/api/v1/progress/%d/submit-answer' % ticket_id,
                {'answer': answers.next(name, expected),
                 'time_spent_seconds': 20}, ticket_id)
    if kind == 'progress':
        return ('GET', '/api/v1/progress/%d' % ticket_id
                if rng.random() < 0.7 else '/api/v1/progress', None,
                ticket_id)
    return ('GET', '/learning/graph.png?path_id=%s' % learner['path_id'],
            None, ticket_id)


async def send(client, learner, kind, answers, rng, records, due=None):
    """Send one request of `kind` for `learner` and append its record:
    (kind, status, ms, answered at, sub, concept of a submit, attempt,
    detail). The time runs from `due` (`time.monotonic()`), when the open
    loop's clock wanted the request out, or else from now."""
    method, path, body, ticket_id = request_for(kind, learner, answers, rng)
    began = time.monotonic() if due is None else due
    attempt = None
    try:
        response = await client.request(method, path, json=body)
        status = response.status_code
        if kind == 'submit' and status == 200:
            attempt = response.json()['attempt']
        detail = '' if status < 400 else response.text[:200]
    except httpx.HTTPError as e:
        status, detail = 'error', repr(e)
    answered = time.monotonic()
    records.append((kind, status, (answered - began) * 1000, answered,
                    learner['sub'], ticket_id if kind == 'submit' else None,
                    attempt, detail))


async def learner_loop(base, learner, deadline, think, records, rng):
    """Closed loop: one learner's requests, each sent once the previous one
    is answered and a think time has passed."""
    answers = answers_for(learner)
    async with learner_client(base, learner) as client:
        await asyncio.sleep(rng.uniform(0, think * 2))  # not all at once
        while time.monotonic() < deadline:
            await send(client, learner, rng.choice(KINDS), answers, rng,
                       records)
            await asyncio.sleep(rng.uniform(0, think * 2))


async def arrivals(spec, clients, start, records, rng):
    """Open loop: requests due on a Poisson clock at `spec['rate']` per
    second for `spec['seconds']` from `start`, each by a learner drawn at
    random (with their client of `clients`), sent without waiting for
    earlier answers; then wait for the last answers (at most
    HTTP_TIMEOUT)."""
    learners, rate = spec['learners'], spec['rate']
    answers = [answers_for(learner) for learner in learners]
    end = start + spec['seconds']
    waiting = set()
    due = start + rng.expovariate(rate)
    while due < end:
        await asyncio.sleep(due - time.monotonic())
        n, kind = rng.randrange(len(learners)), rng.choice(KINDS)
        if len(waiting) >= MAX_IN_FLIGHT:
            records.append((kind, 'dropped', 0.0, time.monotonic(),
                            learners[n]['sub'], None, None,
                            '%d requests were waiting' % len(waiting)))
        else:
            task = asyncio.ensure_future(send(
                clients[n], learners[n], kind, answers[n], rng, records,
                due=due))
            waiting.add(task)
            task.add_done_callback(waiting.discard)
        due += rng.expovariate(rate)
    if waiting:
        await asyncio.wait(waiting)


async def client_main(spec):
    if not spec['base'].startswith('http://127.0.0.1:'):
        raise SystemExit('load_bench sends its load to 127.0.0.1 only, '
                         'not to %s' % spec['base'])
    records = []
    rng = random.Random(spec.get('seed', 1))
    async with contextlib.AsyncExitStack() as stack:
        if spec.get('rate'):
            # The clients are made before the clock starts: each loads the
            # TLS certificates, 50 of them take about two seconds, and the
            # first arrivals would count that as the server's time.
            clients = [await stack.enter_async_context(
                learner_client(spec['base'], learner))
                for learner in spec['learners']]
            start = time.monotonic()
            await arrivals(spec, clients, start, records, rng)
        else:
            start = time.monotonic()
            await asyncio.gather(*[
                learner_loop(spec['base'], learner, start + spec['seconds'],
                             spec['think'], records,
                             random.Random(rng.random()))
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
             'tracl.server.wsgi:application'],
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


def run_load(label, process, base, spec, root):
    """Run the client process on `spec` against `base`: its records and
    wall time, and the server's CPU seconds meanwhile."""
    spec_path = os.path.join(root, 'spec-%s.json' % label)
    out_path = os.path.join(root, 'out-%s.json' % label)
    with open(spec_path, 'w') as f:
        json.dump(dict(spec, base=base, seed=hash(label) & 0xffff), f)
    cpu = server_cpu_seconds(process)
    subprocess.run([sys.executable, os.path.abspath(__file__), '--client',
                    spec_path, out_path], check=True)
    cpu = server_cpu_seconds(process) - cpu
    with open(out_path) as f:
        result = json.load(f)
    return result['records'], result['wall'], cpu


def by_endpoint(records):
    """(kind, its records) in the mix's order, for the kinds requested."""
    rows = defaultdict(list)
    for record in records:
        rows[record[0]].append(record)
    return [(kind, rows[kind]) for kind, _weight in MIX if rows[kind]]


def answered(record):
    """Whether the server answered the request without an error."""
    return isinstance(record[1], int) and record[1] < 400


def server_failed(record):
    """Whether the request met a 5xx, a transport error or was dropped."""
    return not (isinstance(record[1], int) and record[1] < 500)


def cpu_share(cpu, wall):
    return '%.0f%% of %d cores' % (cpu * 100 / wall / os.cpu_count(),
                                   os.cpu_count())


def load(label, process, base, learners, seconds, think, root):
    """Closed loop: run the client process against `base`; print and
    return the figures."""
    records, wall, cpu = run_load(label, process, base, {
        'seconds': seconds, 'think': think, 'learners': learners}, root)
    print('%s: %d learners, %.0f s, think time mean %.1f s: %d requests, '
          '%.1f requests/s; server CPU %.1f s (%s)' % (
              label, len(learners), wall, think, len(records),
              len(records) / wall, cpu, cpu_share(cpu, wall)), flush=True)
    figures = {'throughput': len(records) / wall}
    for kind, rows in by_endpoint(records):
        durations = [r[2] for r in rows]
        statuses = defaultdict(int)
        for r in rows:
            if not answered(r):
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
    failures = [r for r in records if server_failed(r)]
    for r in failures[:5]:
        print('    %s %s: %s' % (r[0], r[1], r[7]))
    figures['failures'] = len(failures)
    figures['records'] = records
    return figures


def open_step(rate, seconds, records, wall, cpu):
    """The figures of one open-loop step at `rate` requests/s. A 4xx is
    the application's own answer (a concept that a path created since has
    given a prerequisite is refused with 409): counted apart, not as an
    error of the server."""
    errors, refused = defaultdict(int), 0
    for r in records:
        if server_failed(r):
            errors[r[1]] += 1
        elif r[3] > seconds + LATE_AFTER:
            errors['late'] += 1
        elif not answered(r):
            refused += 1
    p95 = {kind: percentile([r[2] for r in rows], 0.95)
           for kind, rows in by_endpoint(records)}
    return {'rate': rate, 'arrived': len(records) / seconds,
            'in_time': (len(records) - sum(errors.values())) / seconds,
            'p95': p95, 'cpu': cpu_share(cpu, wall), 'refused': refused,
            'errors': dict(errors),
            'met': not errors and all(p95.get(kind, 0) <= GOAL_P95_MS
                                      for kind in GOAL_KINDS)}


def print_step(step):
    print('  %7.1f  %7.1f  %7.1f  %s  %-18s %4d  %-18s %s' % (
        step['rate'], step['arrived'], step['in_time'], ' '.join(
            '%8s' % ('%.0f' % step['p95'][kind] if kind in step['p95']
                     else '-') for kind, _weight in MIX),
        step['cpu'], step['refused'], ', '.join(
            '%s x %d' % kv for kv in sorted(step['errors'].items(),
                                            key=str)) or 'none',
        'met' if step['met'] else 'MISSED'), flush=True)


def ramp(label, process, base, learners, seconds, root):
    """Open loop: offer `process` rising rates, `seconds` a step, until
    OPEN_MISSES steps in a row have missed the goals; print a row a step;
    return the steps, the capacity (the best step that met the goals) and
    the records."""
    print('%s, open loop, %d learners, %d s steps, p95 in ms:\n'
          '  offered  arrived  in time  %s  %-18s  4xx  %-18s goals' % (
              label, len(learners), seconds, ' '.join(
                  '%8s' % kind for kind, _weight in MIX), 'server CPU',
              'errors'), flush=True)
    steps, records, rate = [], [], OPEN_START_RATE
    while len(steps) < OPEN_MAX_STEPS:
        rows, wall, cpu = run_load('%s %.1f' % (label, rate), process, base,
                                   {'seconds': seconds, 'rate': rate,
                                    'learners': learners}, root)
        steps.append(open_step(rate, seconds, rows, wall, cpu))
        records += rows
        print_step(steps[-1])
        if len(steps) >= OPEN_MISSES and not any(
                step['met'] for step in steps[-OPEN_MISSES:]):
            break
        rate *= OPEN_STEP_FACTOR
        time.sleep(STEP_PAUSE)
    met = [step for step in steps if step['met']]
    failures = [r for r in records if server_failed(r)]
    for r in failures[:5]:
        print('    %s %s: %s' % (r[0], r[1], r[7]))
    return {'steps': steps, 'records': records, 'failures': len(failures),
            'capacity': max(met, key=lambda step: step['rate'])
            if met else None}


def closed_goals(runs, lost_line):
    """The closed loop's goals: p95 and errors under each server, the
    throughput of both."""
    if 'gunicorn' in runs:
        g = runs['gunicorn']
        for kind in GOAL_KINDS:
            if kind in g:
                p95 = g[kind][1]
                print('  p95 of %s under gunicorn <= %.0f ms: %s '
                      '(%.1f ms)' % (kind, GOAL_P95_MS, 'met' if
                                     p95 <= GOAL_P95_MS else 'MISSED',
                                     p95))
    for label, run in runs.items():
        print('  zero 5xx (or transport errors) under %s: %s (%d)' % (
            label, 'met' if not run['failures'] else 'MISSED',
            run['failures']))
    print(lost_line)
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


def open_goals(runs, lost_line):
    """The open loop's answer: each server's capacity within the goals."""
    print(lost_line)
    print('Capacity: the highest offered rate with p95 of %s <= %.0f ms '
          'and no errors' % (' and '.join(GOAL_KINDS), GOAL_P95_MS))
    for label, run in runs.items():
        best = run['capacity']
        if best is None:
            print('  %s: no step met the goals, not even %.1f requests/s'
                  % (label, OPEN_START_RATE))
            continue
        print('  %s: %.1f requests/s offered (%.1f answered in time/s), '
              'about %d learners at one request every %.0f s%s' % (
                  label, best['rate'], best['in_time'],
                  best['rate'] * LEARNER_PACE, LEARNER_PACE,
                  ' (the highest rate tried: it may take more)'
                  if best is run['steps'][-1] else ''))
    if all(runs.get(label, {}).get('capacity') for label in
           ('gunicorn', 'tracd')):
        print('  capacity gunicorn / tracd: %.2f' % (
            runs['gunicorn']['capacity']['rate'] /
            runs['tracd']['capacity']['rate']))


def main(seconds, learner_count, think, open_loop=False):
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
    print('Load benchmark%s on %s (load average %.1f)'
          % (', open loop' if open_loop else '', machine(),
             os.getloadavg()[0]), flush=True)
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
            if open_loop:
                runs[label] = ramp(label, server, base, specs, seconds, root)
            else:
                runs[label] = load(label, server, base, specs, seconds,
                                   think, root)
            runs[label]['records'] += warm['records']
            stop(server)
            server = None
            if runs[label]['failures']:
                print('  %s log (end):\n%s' % (label, tail_of(log_path)))

        results = [(r[4], r[5], r[1], r[2], {'attempt': r[6]})
                   for run in runs.values() for r in run['records']
                   if r[0] == 'submit']
        problems, attempts = check_database(env, subs, results)
        answered_200 = sum(1 for r in results if r[2] == 200)
        print('Database after both runs: %d submits answered 200, %d '
              'attempts stored; lost or duplicated attempts, gaps, scores '
              'or ticket out of step: %d%s' % (
                  answered_200, attempts, len(problems),
                  ''.join('\n    ' + p for p in problems[:10])))
        print('Goals:')
        (open_goals if open_loop else closed_goals)(
            runs, '  zero lost attempts: %s' % (
                'met' if not problems and attempts == answered_200
                else 'MISSED'))
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
    args = sys.argv[1:]
    if args[:1] == ['--client']:
        run_client(args[1], args[2])
    elif args[:1] == ['--open-loop']:
        args = args[1:]
        main(int(args[0]) if args else OPEN_STEP_SECONDS,
             int(args[1]) if len(args) > 1 else 50, 1.0, open_loop=True)
    else:
        main(int(args[0]) if args else 60,
             int(args[1]) if len(args) > 1 else 50,
             float(args[2]) if len(args) > 2 else 1.0)
