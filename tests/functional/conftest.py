"""Trac's own functional test harness (tracd driven by headless Firefox
through Selenium) with TracLearn enabled and signing in through the local
Cognito emulator.

The harness ships in Trac's source distribution only: `make test` unpacks
it into `.venv/src/Trac-1.6` and runs the suite from there with it on
`PYTHONPATH`. One environment and one browser serve every functional test,
as in Trac's own suite.
"""

import socket
import subprocess
import sys
import time

import pytest

try:
    from trac.tests.functional import FunctionalTestSuite, tc
    from trac.tests.functional.testenv import FunctionalTestEnvironment
    from trac.tests.functional.tester import FunctionalTester
except ImportError as e:  # pragma: no cover - a set-up error, not a skip
    raise ImportError("Trac's functional harness is missing (%s): run the "
                      "suite with `make test`, which installs it" % e)

from trac.perm import PermissionSystem
from trac.tests.functional import better_twill

# The harness puts a recording reverse proxy between the browser and tracd
# that forwards HEAD, GET and POST only, and answers 501 to anything else:
# TracLearn's pages also send PUT and DELETE to its API.
_proxy_handler = better_twill.ReverseProxyRequestHandler
_proxy_handler.do_PUT = _proxy_handler.do_DELETE = _proxy_handler._do

from support.functional_users import USERS
from tracl.auth.emulator import Emulator, provision, write_settings


class LearningFunctionalEnvironment(FunctionalTestEnvironment):
    """Trac's functional environment with TracLearn enabled from creation
    (so `initenv` runs TracLearn's setup) and a Cognito emulator whose
    users are the harness's users."""

    emulator = None
    subs = {}

    def get_enabled_components(self):
        return ['tracl.*']

    def post_create(self, env):
        self.emulator = Emulator()
        self.emulator.start()
        provisioned = provision(self.emulator.endpoint, [
            dict(user, username=name, email='%s@example.org' % name)
            for name, user in USERS.items()])
        write_settings(env, provisioned)
        self.subs = provisioned['users']
        PermissionSystem(env).grant_permission(self.subs['admin'],
                                               'TRAC_ADMIN')

    def start(self):
        """Start tracd as the harness does, without its basic-auth login
        (which would answer /login before TracLearn's page)."""
        self.server = subprocess.Popen(
            [sys.executable, '-m', 'trac.web.standalone',
             '--port=%s' % self.port, '--single-env', '--hostname=127.0.0.1',
             self.tracdir], stdout=self.logfile, stderr=self.logfile,
            close_fds=True, cwd=self.command_cwd)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise Exception('Timed out waiting for tracd to start.')
                time.sleep(0.2)
        tc.go(self.url)
        tc.url(self.url, regexp=False)

    def close(self):
        super().close()
        if self.emulator is not None:
            self.emulator.stop()


class LearningTester(FunctionalTester):
    """Trac's tester, signing in through TracLearn's Cognito login page."""

    def login(self, username):
        tc.go(self.url + '/login')
        tc.formvalue('login-form', 'username', username)
        tc.formvalue('login-form', 'password', USERS[username]['password'])
        tc.submit('signin', 'login-form')
        tc.find('logged in as[ \t\n]+<span class="trac-author-user">%s'
                '</span>' % USERS[username]['name'])

    def logout(self):
        tc.go(self.url)
        if b'logged in as' in tc.get_source():
            tc.submit('logout', 'logout')
        tc.notfind('logged in as')


class LearningFunctionalSuite(FunctionalTestSuite):
    env_class = LearningFunctionalEnvironment
    tester_class = LearningTester


@pytest.fixture(scope='session')
def functional():
    """`(testenv, tester, tc)`: the running tracd, the tester and the
    browser commands."""
    suite = LearningFunctionalSuite()
    suite.setUp()
    try:
        yield suite._testenv, suite._tester, tc
    finally:
        suite.tearDown()
