"""Shared fixtures: Trac environments on SQLite and on the real PostgreSQL
server, and the real Redis server.

One family of environments, each torn down after the test:

- `make_env(...)`: TracLearn set up on SQLite (in memory) and again on
  PostgreSQL; its options say what else the test needs (see there);
- `env`: one `make_env` environment, shaped for a module or a test by
  `pytestmark = pytest.mark.learning_env(**make_env's options)`;
- `make_file_env(...)`: the same on an SQLite file, for threads and for
  two environments on one database;
- `make_stub_env(*settings)`: a bare stub without TracLearn's tables, for
  components that keep nothing in the database.

PostgreSQL: a fresh database per test run on `TRACL_TEST_PG_URI`'s server
(default `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end.
Redis: `TRACL_TEST_REDIS_URL` (default `redis://127.0.0.1:6379/15`) with a
key prefix of its own per test.
"""

import os
import sys
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / 'tests'))

from support import pg  # noqa: E402
from support.chromium import chromium  # noqa: E402,F401 (a fixture)

DEFAULT_PG_URI = 'postgres://postgres@127.0.0.1:5432/postgres'
DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/15'


@pytest.fixture(scope='session')
def pg_database():
    """The URI of a database created for this test run."""
    server_uri = os.environ.get('TRACL_TEST_PG_URI', DEFAULT_PG_URI)
    name = 'tracl_test_%s' % uuid.uuid4().hex[:12]
    uri = pg.create_database(server_uri, name)
    yield uri
    pg.drop_database(server_uri, name)


@pytest.fixture(scope='session')
def redis_url():
    return os.environ.get('TRACL_TEST_REDIS_URL', DEFAULT_REDIS_URL)


@pytest.fixture(params=['sqlite', pytest.param('postgres',
                                               marks=pytest.mark.postgres)])
def db_uri(request):
    """Run the test once on SQLite (in memory) and once on PostgreSQL."""
    if request.param == 'sqlite':
        return 'sqlite::memory:'
    return request.getfixturevalue('pg_database')


def build_env(enable=(), config=(), default_data=False, trac_policies=False,
              provider=False, grant=(), starter_chunks=False):
    """An environment of `make_env`'s options (see there)."""
    from support.corpus import fill_store
    from support.envs import learning_env
    env = learning_env(**learning_env_options(enable, config, default_data,
                                              trac_policies, provider))
    if grant:
        from trac.perm import PermissionSystem
        for subject, action in grant:
            PermissionSystem(env).grant_permission(subject, action)
    if starter_chunks:
        fill_store(env)
    return env


def learning_env_options(enable, config, default_data, trac_policies,
                         provider):
    """`learning_env`'s arguments: the components to enable besides
    Trac's and TracLearn's, the configuration, and the shortcuts."""
    from support.envs import ENABLED
    from support.providers import ScriptedLLMProvider
    enable, config = ENABLED + list(enable), list(config)
    if trac_policies:
        # Trac 1.6's own policies (the stub's are shorter); TracLearn's
        # setup puts ConceptOwnerPolicy in front of them.
        from trac.perm import PermissionSystem
        config.insert(0, ('trac', 'permission_policies',
                          PermissionSystem.policies.default))
    if provider:
        enable.append(ScriptedLLMProvider)
        config.insert(0, ('learning', 'llm_provider',
                          ScriptedLLMProvider.__name__))
    return {'enable': enable, 'config': config,
            'default_data': default_data}


@pytest.fixture
def make_env(db_uri, monkeypatch):
    """Build `EnvironmentStub`s on the parametrised database with TracLearn
    set up; every learning table and Trac table is gone afterwards.

    `make_env(enable=[components], config=[(section, name, value)],
    default_data=False, trac_policies=False, provider=False, grant=[],
    starter_chunks=False)`:

    - `enable`: test components to enable besides Trac's and TracLearn's;
    - `default_data`: Trac's default data, as `trac-admin initenv` writes
      it (resolutions, priorities, permissions, milestones);
    - `trac_policies`: Trac 1.6's permission policies instead of the
      stub's shorter list;
    - `provider`: the scripted provider (`support.providers`) enabled and
      chosen as `[learning] llm_provider`;
    - `grant`: `(user or group, action)` permissions to grant;
    - `starter_chunks`: the embedded starter corpus in the chunk store.
    """
    yield from env_factory(monkeypatch, db_uri, build_env)


def env_factory(monkeypatch, db_uri, build):
    """Yield a function making environments with `build` on `db_uri`;
    every one of them is destroyed afterwards."""
    from support.envs import destroy_env
    envs = []
    monkeypatch.setenv('TRAC_TEST_DB_URI', db_uri)

    def make(*args, **kwargs):
        envs.append(build(*args, **kwargs))
        return envs[-1]
    yield make
    for env in envs:
        destroy_env(env)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'learning_env(**options): the `make_env` options of the '
        '`env` fixture, for a module (`pytestmark`) or a test')


@pytest.fixture
def env(make_env, request):
    """An environment of `make_env`, shaped by the closest
    `@pytest.mark.learning_env(...)` of the test, its class or its module
    (a plain TracLearn environment without)."""
    marker = request.node.get_closest_marker('learning_env')
    return make_env(**(marker.kwargs if marker else {}))


@pytest.fixture
def make_file_env(tmp_path, monkeypatch):
    """Build environments (`make_env`'s options) on an SQLite database
    file: unlike the stub's in-memory database, each thread gets a
    connection of its own, and a second `EnvironmentStub` opens the same
    database, as a second server process would."""
    yield from env_factory(monkeypatch, 'sqlite:' + str(tmp_path / 'trac.db'),
                           build_env)


@pytest.fixture
def make_stub_env(monkeypatch):
    """Build `EnvironmentStub`s with TracLearn enabled on an in-memory
    SQLite database, without TracLearn's tables: for components that keep
    nothing in the database (caches, embedders, the token verifier), so
    quick to make and not worth running on PostgreSQL too.
    `make_stub_env((section, name, value), ...)`."""
    from trac.test import EnvironmentStub

    from support.envs import ENABLED

    def stub(*config):
        return EnvironmentStub(enable=ENABLED, config=list(config))
    yield from env_factory(monkeypatch, 'sqlite::memory:', stub)


@pytest.fixture
def clock(env):
    """The environment's review clock (`tracl.clock.LearningClock`), back
    on the wall clock after the test."""
    from tracl.clock import LearningClock
    clock = LearningClock(env)
    yield clock
    clock.set(None)
