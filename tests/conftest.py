"""Shared fixtures: Trac environments on SQLite and on the real PostgreSQL
server, and the real Redis server.

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


@pytest.fixture
def make_env(db_uri, monkeypatch):
    """Build `EnvironmentStub`s on the parametrised database with TracLearn
    set up; every learning table and Trac table is gone afterwards."""
    from support.envs import learning_env, destroy_env
    envs = []
    monkeypatch.setenv('TRAC_TEST_DB_URI', db_uri)

    def make(**kwargs):
        env = learning_env(**kwargs)
        envs.append(env)
        return env
    yield make
    for env in envs:
        destroy_env(env)


@pytest.fixture
def env(make_env):
    return make_env()
