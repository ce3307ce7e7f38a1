"""Trac's own functional test harness (tracd driven by headless Firefox
through Selenium) with TracLearn enabled.

The harness ships in Trac's source distribution only: `make test` unpacks
it into `.venv/src/Trac-1.6` and runs the suite from there with it on
`PYTHONPATH`. One environment and one browser serve every functional test,
as in Trac's own suite.
"""

import pytest

try:
    from trac.tests.functional import FunctionalTestSuite, tc
    from trac.tests.functional.testenv import FunctionalTestEnvironment
except ImportError as e:  # pragma: no cover - a set-up error, not a skip
    raise ImportError("Trac's functional harness is missing (%s): run the "
                      "suite with `make test`, which installs it" % e)


class LearningFunctionalEnvironment(FunctionalTestEnvironment):
    """Trac's functional environment with TracLearn enabled from creation,
    so `initenv` runs TracLearn's environment setup."""

    def get_enabled_components(self):
        return ['tracl.*']


class LearningFunctionalSuite(FunctionalTestSuite):
    env_class = LearningFunctionalEnvironment


@pytest.fixture(scope='session')
def functional():
    """`(testenv, tester, tc)`: the running tracd, Trac's tester and the
    browser commands."""
    suite = LearningFunctionalSuite()
    suite.setUp()
    try:
        yield suite._testenv, suite._tester, tc
    finally:
        suite.tearDown()
