"""A real local Cognito (moto's server) for tests: started once per test
session on a free loopback port, with a provisioned pool."""

import pytest

from tracl.auth.emulator import Emulator, cognito_options, provision

#: Users of the test pool: username -> (password, groups).
TEST_USERS = {
    'alice': ('AlicePass123', ['Students']),
    'bob': ('BobPass123', ['Students']),
    'root': ('RootPass123', ['Administrators']),
}


@pytest.fixture(scope='session')
def cognito():
    """What `provision()` returned, plus `options`: the `[cognito]`
    settings for an environment."""
    emulator = Emulator()
    emulator.start()
    try:
        provisioned = provision(emulator.endpoint, [
            {'username': name, 'password': password, 'groups': groups,
             'email': '%s@example.org' % name, 'name': name.title()}
            for name, (password, groups) in TEST_USERS.items()])
        yield dict(provisioned, options=cognito_options(provisioned))
    finally:
        emulator.stop()
