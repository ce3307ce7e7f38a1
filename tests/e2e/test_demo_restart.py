"""`python -m tracl.demo serve` as a person runs it: a user added with
`trac-admin ENV learning user add` still signs in, with the same `sub`,
after the demo restarts; SIGTERM (the first run) and SIGINT (the restart)
each stop the demo, tracd and the Cognito emulator (processes gone, ports
free); a child that dies stops the demo and the other child.

The demo runs on free loopback ports (tracd and the emulator) in a
temporary environment; its first start imports the starter corpus once
(15 to 30 seconds), the restarts reuse it.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tracl.auth.emulator import free_port

pytestmark = [pytest.mark.slow]

#: Seconds the demo may take to serve (the first start embeds the starter
#: corpus).
START_TIMEOUT = 240.0

#: Seconds the demo and its children may take to stop after a signal.
STOP_TIMEOUT = 60.0

ALICE = {'username': 'alice', 'password': 'Secret123', 'name': 'Alice Liddell'}


def script(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def trac_admin(env_path, *args):
    result = subprocess.run([script('trac-admin'), env_path] + list(args),
                            capture_output=True, text=True, timeout=180,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (args[:3], result.stdout, result.stderr)
    return result.stdout


def descendants(pid):
    """The ids of every process below `pid` (children, grandchildren)."""
    parents = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # The command may hold spaces and parentheses: fields follow the
        # last ')'.
        ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(')') + 2] != 'Z'


def port_free(port):
    """Whether a new server could listen on `port` (as tracd and moto do,
    with SO_REUSEADDR: connections closed a moment ago, in TIME_WAIT, do
    not keep it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return False
        return True


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


class Demo(object):
    """One run of `python -m tracl.demo serve` on free ports."""

    def __init__(self, env_path, log_path):
        self.env_path = env_path
        self.log_path = log_path
        self.port = free_port()
        self.emulator_port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        with open(log_path, 'ab') as log:
            self.process = subprocess.Popen(
                [sys.executable, '-m', 'tracl.demo', 'serve', '--env',
                 env_path, '--port', str(self.port), '--emulator-port',
                 str(self.emulator_port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=os.path.dirname(env_path))
        try:
            assert wait_until(self._serving, START_TIMEOUT), self.log()
        except BaseException:
            self.kill()
            raise
        self.children = descendants(self.process.pid)

    def _serving(self):
        assert self.process.poll() is None, self.log()
        try:
            return httpx.get(self.url + '/api/v1/health',
                             timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()[-4000:]

    def stop(self, signum):
        """Send `signum` to the demo alone; its exit status."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail('The demo did not stop on signal %d:\n%s'
                        % (signum, self.log()))

    def kill(self):
        for pid in descendants(self.process.pid) + [self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def assert_all_stopped(self):
        assert wait_until(lambda: not any(alive(pid)
                                          for pid in self.children),
                          STOP_TIMEOUT), self.log()
        assert port_free(self.port), 'tracd still holds its port'
        assert port_free(self.emulator_port), \
            'the emulator still holds its port'
        state = os.path.join(self.env_path, 'conf', 'cognito-emulator.json')
        assert not os.path.exists(state)

    def sign_in(self, username, password):
        """Sign in through the login page: the page shown after, and what
        `GET /api/v1/me` answers in that session (None when refused)."""
        with httpx.Client(base_url=self.url, timeout=30.0,
                          follow_redirects=True) as client:
            client.get('/login')
            token = client.cookies.get('trac_form_token')
            page = client.post('/login', data={
                '__FORM_TOKEN': token, 'username': username,
                'password': password})
            me = client.get('/api/v1/me')
            return page.text, me.json() if me.status_code == 200 else None


@pytest.fixture(scope='module')
def first_run(tmp_path_factory):
    """The first run of the demo: alice added with `learning user add` and
    signed in, then the demo stopped with SIGTERM."""
    base = tmp_path_factory.mktemp('demo-restart')
    env_path = str(base / 'demo')
    demo = Demo(env_path, str(base / 'demo.log'))
    try:
        output = trac_admin(env_path, 'learning', 'user', 'add', 'alice',
                            '--password', ALICE['password'], '--group',
                            'Students', '--name', ALICE['name'])
        sub = re.search(r'\(sub ([0-9a-f-]+)\)', output).group(1)
        page, me = demo.sign_in('alice', ALICE['password'])
    except BaseException:
        demo.kill()
        raise
    status = demo.stop(signal.SIGTERM)
    return {'demo': demo, 'env_path': env_path, 'sub': sub, 'page': page,
            'me': me, 'status': status, 'base': base}


def test_an_added_user_signs_in_as_soon_as_added(first_run):
    assert 'logged in as' in first_run['page']
    assert 'Wrong username or password' not in first_run['page']
    assert first_run['me']['sub'] == first_run['sub']
    assert first_run['me']['username'] == 'alice'


def test_sigterm_stops_the_demo_tracd_and_the_emulator(first_run):
    demo = first_run['demo']
    assert first_run['status'] == 0, demo.log()
    # tracd, the emulator's process and its moto_server ran below the demo.
    assert len(demo.children) >= 3, demo.children
    demo.assert_all_stopped()


def test_an_added_user_keeps_sign_in_and_sub_after_a_restart(first_run):
    """The restarted demo is then stopped with SIGINT (what `kill -INT`
    and Ctrl-C send)."""
    env_path = first_run['env_path']
    users_file = os.path.join(env_path, 'conf', 'demo-users.json')
    assert os.stat(users_file).st_mode & 0o777 == 0o600
    with open(users_file, encoding='utf-8') as f:
        assert 'alice' in [u['username'] for u in json.load(f)]
    demo = Demo(env_path, str(first_run['base'] / 'demo.log'))
    try:
        page, me = demo.sign_in('alice', ALICE['password'])
    finally:
        status = demo.stop(signal.SIGINT)
    assert 'Wrong username or password' not in page
    assert 'logged in as' in page
    assert me['sub'] == first_run['sub']
    # SIGINT stopped the demo, tracd and the emulator.
    assert status == 0, demo.log()
    assert len(demo.children) >= 3, demo.children
    demo.assert_all_stopped()


def test_when_tracd_dies_the_demo_stops_the_emulator_and_fails(first_run):
    demo = Demo(first_run['env_path'], str(first_run['base'] / 'demo.log'))
    tracd = [pid for pid in demo.children
             if b'tracd' in open('/proc/%d/cmdline' % pid, 'rb').read()]
    assert len(tracd) == 1
    os.kill(tracd[0], signal.SIGKILL)
    try:
        status = demo.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        demo.kill()
        pytest.fail('The demo went on without tracd:\n' + demo.log())
    assert status == 1
    demo.assert_all_stopped()
    assert 'tracd stopped' in demo.log()
