"""End-to-end tests: TracLearn over HTTP, as a learner meets it.

One server serves the whole test session, made of real processes started
here and always stopped at the end:

- a fresh Trac environment (SQLite) in a temporary directory, created as
  `make demo` creates its own (`tracl.demo.create_or_open`);
- the local Cognito emulator (`moto_server` on a free loopback port) with
  the pool, app client and groups provisioned, and the environment's
  `[cognito]` section pointing at it;
- the starter corpus in the environment's chunk store, imported with
  `trac-admin ENV learning import --starter` (so learning paths find
  chunks);
- a wiki page, `GRAPH_PAGE`, showing the reader's knowledge graph twice
  (`[[KnowledgeGraph]]` as SVG, then as PNG with its image map);
- API rate limiting turned off (`[learning] api_rate_limit = 0`): the fuzz
  tests send hundreds of requests as one learner within a minute, and must
  reach the endpoints rather than 429s; no test here checks the limit
  (unit tests do);
- `tracd --single-env` serving the environment at the site root on a free
  loopback port, so the API is at `http://127.0.0.1:PORT/api/v1/...`.

Users are made the way an administrator makes them, with `trac-admin ENV
learning user add`, and tokens come from `trac-admin ENV learning token`.

The run ends with the fuzzing figures (cases sent per operation, statuses
received) when the fuzz tests ran.
"""

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest
from trac.wiki.model import WikiPage

from tracl.auth.emulator import Emulator, free_port, provision, \
    write_settings
from tracl.demo import create_or_open

#: Seconds tracd may take to answer `/api/v1/health` after it starts.
TRACD_START_TIMEOUT = 60.0

#: Seconds a process we started may take to stop before it is killed.
STOP_TIMEOUT = 10.0

#: Seconds one `trac-admin` command may take (importing the starter corpus
#: embeds 156 chunks: 15 to 30 seconds).
TRAC_ADMIN_TIMEOUT = 180.0

#: Lines of a log file shown when a process misbehaves.
LOG_TAIL_LINES = 40

#: The wiki page showing the reader's knowledge graph, and its text.
GRAPH_PAGE = 'MyKnowledgeGraph'
GRAPH_PAGE_TEXT = '''= My knowledge graph =
[[KnowledgeGraph]]

== As an image ==
[[KnowledgeGraph(format=png)]]
'''


def script(name):
    """A console script installed beside this Python (`tracd`,
    `trac-admin`): the installed TracLearn, not the source tree."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise RuntimeError("%s is not installed beside %s: install TracLearn "
                           "into this environment (`make install-test`)."
                           % (name, sys.executable))
    return path


def log_tail(path, lines=LOG_TAIL_LINES):
    """The last `lines` lines of the file at `path`, for error messages."""
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return '(no log at %s)' % path


@dataclass
class LiveServer:
    """The running product: where it answers and how to administer it."""

    url: str
    env_path: str
    emulator_endpoint: str
    log_dir: str
    graph_page: str = GRAPH_PAGE

    @property
    def api(self):
        """The base URL of the JSON API, without a trailing slash."""
        return self.url + '/api/v1'

    def trac_admin(self, *args):
        """Run `trac-admin ENV ARGS...` and return its standard output;
        a non-zero exit fails the test with everything it printed."""
        return trac_admin(self.env_path, *args)

    def add_user(self, username, password, group='Students'):
        """`trac-admin ENV learning user add USERNAME --password P --group
        G`: a Cognito user of the emulator's pool."""
        return self.trac_admin('learning', 'user', 'add', username,
                               '--password', password, '--group', group)

    def token(self, username, password):
        """`trac-admin ENV learning token USERNAME PASSWORD`: the ID token,
        alone on the last line of the output."""
        output = self.trac_admin('learning', 'token', username, password)
        return output.strip().splitlines()[-1].strip()


def trac_admin(env_path, *args):
    """Run `trac-admin ENV_PATH ARGS...` and return its standard output; a
    non-zero exit fails the test with everything it printed."""
    command = [script('trac-admin'), env_path] + list(args)
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=TRAC_ADMIN_TIMEOUT,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        pytest.fail("trac-admin %s failed (exit status %d):\n%s%s"
                    % (' '.join(args[:3]), result.returncode,
                       result.stdout, result.stderr))
    return result.stdout


def start_tracd(env_path, port, log_path):
    """Start tracd serving `env_path` alone at the site root and wait until
    its API answers. Returns the process."""
    log = open(log_path, 'ab')
    try:
        process = subprocess.Popen(
            [script('tracd'), '--single-env', '--hostname', '127.0.0.1',
             '--port', str(port), env_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    finally:
        log.close()  # the child has its own copy
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
            raise RuntimeError(
                "tracd did not answer %s within %d seconds (exit status "
                "%s). Its output:\n%s" % (health, TRACD_START_TIMEOUT,
                                          process.returncode,
                                          log_tail(log_path)))
        time.sleep(0.2)


def stop(process):
    """Stop a process we started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope='session')
def live_server(tmp_path_factory):
    """The product running for this test session (see the module's
    docstring). Everything it started is stopped at the end, whatever
    happened."""
    root = tmp_path_factory.mktemp('e2e')
    env_path = str(root / 'env')
    log_dir = str(root / 'logs')
    os.makedirs(log_dir)
    env, _created = create_or_open(env_path)
    emulator = Emulator(log_path=os.path.join(log_dir, 'cognito.log'))
    tracd = None
    try:
        try:
            emulator.start()
            write_settings(env, provision(emulator.endpoint))
            env.config.set('learning', 'api_rate_limit', '0')
            env.config.save()
            page = WikiPage(env, GRAPH_PAGE)
            page.text = GRAPH_PAGE_TEXT
            page.save('admin', 'The knowledge graph of whoever reads it')
        finally:
            env.shutdown()  # tracd and trac-admin open it themselves
        trac_admin(env_path, 'learning', 'import', '--starter')
        port = free_port()
        tracd = start_tracd(env_path, port,
                            os.path.join(log_dir, 'tracd.log'))
        yield LiveServer(url='http://127.0.0.1:%d' % port,
                         env_path=env_path,
                         emulator_endpoint=emulator.endpoint,
                         log_dir=log_dir)
    finally:
        if tracd is not None:
            stop(tracd)
        emulator.stop()


# Fuzzing figures

class FuzzStats(object):
    """The cases the fuzz tests sent and the statuses they got, per
    operation, shown at the end of the run (the figures a reviewer asks
    for: did the fuzzing reach the endpoints' successful answers?)."""

    def __init__(self):
        self.answers = Counter()    # (run, operation, status) -> answers

    def record(self, run, case, response):
        self.answers[run, case.operation.label, response.status_code] += 1

    def summary(self):
        lines = []
        for run in sorted({run for run, _op, _s in self.answers}):
            mine = {(op, status): n for (r, op, status), n
                    in self.answers.items() if r == run}
            lines.append('%s: %d cases (statuses %s)' % (
                run, sum(mine.values()), self._statuses(
                    (status, n) for (_op, status), n in mine.items())))
            for operation in sorted({op for op, _s in mine}):
                answers = [(status, n) for (op, status), n in mine.items()
                           if op == operation]
                lines.append('  %-40s %4d (%s)' % (
                    operation, sum(n for _s, n in answers),
                    self._statuses(answers)))
        return lines

    @staticmethod
    def _statuses(answers):
        total = Counter()
        for status, n in answers:
            total[status] += n
        return ', '.join('%d: %d' % item for item in sorted(total.items()))


_FUZZ_STATS = pytest.StashKey()


@pytest.fixture(scope='session')
def fuzz_stats(request):
    """Where the fuzz tests record what they sent."""
    return request.config.stash.setdefault(_FUZZ_STATS, FuzzStats())


def pytest_terminal_summary(terminalreporter, config):
    stats = config.stash.get(_FUZZ_STATS, None)
    if stats is not None and stats.answers:
        terminalreporter.section('API fuzzing (schemathesis)')
        for line in stats.summary():
            terminalreporter.write_line(line)
