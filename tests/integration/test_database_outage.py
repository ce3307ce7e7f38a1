"""The API while the database does not answer: every endpoint answers a
JSON 503 `database_unavailable` (never Trac's HTML error page), whether
the failure comes in one of Trac's request filters (the repository manager
reads the database before any handler runs) or in the handler; health
still reports; other errors raised outside a handler are JSON too; pages
other than the API keep Trac's error page. The outage is made by the
connection pool or the cursor failing as they do when PostgreSQL is down
(`bench/fault_drills.py` restarts a real one)."""

import sqlite3

import pytest
import trac.db.pool
import trac.db.util
from trac.core import Component, implements
from trac.web.api import HTTPForbidden, IRequestFilter

from support.envs import ENABLED
from support.study import learner_headers, make_path
from support.web import call

ALICE = 'sub-alice'


def driver_error(env):
    """The error the database driver raises for a lost connection."""
    if env.dburi.startswith('postgres'):
        import psycopg2
        return psycopg2.OperationalError(
            'server closed the connection unexpectedly')
    return sqlite3.OperationalError('database is locked')


def refuse_connections(patch, env):
    """The pool finds no connection, as when the server is down."""
    cause = driver_error(env)

    def get_cnx(self, *args, **kwargs):
        raise trac.db.pool.TimeoutError(
            'Unable to get database connection within 0 seconds.') \
            from cause
    patch.setattr(trac.db.pool.ConnectionPool, 'get_cnx', get_cnx)


def lose_connections(patch, env):
    """Every statement fails on a connection the server dropped."""
    error = driver_error(env)

    def execute(self, *args, **kwargs):
        raise error
    patch.setattr(trac.db.util.IterableCursor, 'execute', execute)


OUTAGES = {'connections refused': refuse_connections,
           'connection lost': lose_connections}


@pytest.fixture
def world(make_env):
    env = make_env(default_data=True,
                   config=[('learning', 'api_rate_limit', '0')])
    path = make_path(env, ALICE)
    cookies, headers = learner_headers(env, ALICE)
    return env, path['tickets'][0]['ticket_id'], cookies, headers


def requests(ticket_id):
    answer = {'answer': 'A Merkle tree hashes pairs of hashes up to a root.'}
    return [('GET', '/api/v1/me', None),
            ('GET', '/api/v1/learning-paths', None),
            ('GET', '/api/v1/progress', None),
            ('GET', '/api/v1/progress/%d' % ticket_id, None),
            ('PUT', '/api/v1/progress/%d/submit-answer' % ticket_id, answer),
            ('PUT', '/api/v1/progress/%d/notes' % ticket_id,
             {'notes': 'mine'}),
            ('POST', '/api/v1/learning-paths/generate',
             {'query': 'merkle trees and hashing'}),
            ('POST', '/api/v1/learning-paths/create',
             {'query': 'merkle trees and hashing'})]


def send(world, method, path, body):
    env, _ticket, cookies, headers = world
    return call(env, method, path, body=body, cookies=cookies,
                headers=None if method == 'GET' else headers)


def assert_database_unavailable(response):
    assert response.status == 503, response
    assert response.header('Content-Type').startswith('application/json')
    error = response.json()['error']
    assert error['code'] == 'database_unavailable'
    assert 'database' in error['message']
    assert response.header('Retry-After')


@pytest.mark.parametrize('outage', sorted(OUTAGES))
def test_every_endpoint_answers_json_503_while_the_database_is_down(
        world, monkeypatch, outage):
    env, ticket_id = world[0], world[1]
    with monkeypatch.context() as patch:
        OUTAGES[outage](patch, env)
        for method, path, body in requests(ticket_id):
            assert_database_unavailable(send(world, method, path, body))


def test_the_api_answers_again_once_the_database_is_back(world, monkeypatch):
    env, ticket_id = world[0], world[1]
    with monkeypatch.context() as patch:
        refuse_connections(patch, env)
        assert_database_unavailable(send(world, 'GET', '/api/v1/progress',
                                         None))
    assert send(world, 'GET', '/api/v1/progress', None).status == 200
    assert send(world, 'GET', '/api/v1/progress/%d' % ticket_id,
                None).json()['attempts'] == []


@pytest.mark.parametrize('outage', sorted(OUTAGES))
def test_health_reports_the_database_down_with_its_checks(
        world, monkeypatch, outage):
    env = world[0]
    with monkeypatch.context() as patch:
        OUTAGES[outage](patch, env)
        response = call(env, 'GET', '/api/v1/health')
    assert response.status == 503
    body = response.json()
    assert body['status'] == 'degraded'
    assert body['checks']['database'] == 'unavailable'
    assert body['checks']['cache'] == 'ok'


def test_an_outage_inside_a_handler_is_503_not_500(world, monkeypatch):
    """The filters pass; the handler's first read meets the outage."""
    from tracl.study.loop import StudyLoop
    env, ticket_id = world[0], world[1]

    def progress(*args, **kwargs):
        raise trac.db.pool.TimeoutError('Unable to get database connection '
                                        'within 0 seconds.')
    with monkeypatch.context() as patch:
        patch.setattr(StudyLoop(env), 'progress', progress)
        assert_database_unavailable(send(world, 'GET', '/api/v1/progress/%d'
                                         % ticket_id, None))


def test_other_pages_keep_trac_s_error_page(world, monkeypatch):
    env = world[0]
    with monkeypatch.context() as patch:
        refuse_connections(patch, env)
        response = call(env, 'GET', '/wiki/WikiStart', cookies=world[2])
    assert response.status == 500
    assert response.header('Content-Type').startswith('text/html')


class FailingFilter(Component):
    """A request filter that fails on API requests while `failure` is
    set, as a broken plugin would."""

    implements(IRequestFilter)

    failure = None

    def pre_process_request(self, req, handler):
        if self.failure is not None and req.path_info.startswith('/api/'):
            raise self.failure
        return handler

    def post_process_request(self, req, template, data, metadata):
        return template, data, metadata


@pytest.fixture
def failing_filter_env(make_env):
    env = make_env(enable=ENABLED + [FailingFilter])
    yield env, FailingFilter(env)
    FailingFilter(env).failure = None


def test_a_failure_outside_the_handler_is_a_json_500_without_details(
        failing_filter_env):
    env, failing = failing_filter_env
    failing.failure = RuntimeError('secret internal detail')
    response = call(env, 'GET', '/api/v1/health')
    assert response.status == 500
    assert response.json()['error']['code'] == 'internal_error'
    assert 'secret' not in response.text


def test_an_http_error_outside_the_handler_keeps_its_status_in_json(
        failing_filter_env):
    env, failing = failing_filter_env
    failing.failure = HTTPForbidden('Not from this address.')
    response = call(env, 'GET', '/api/v1/openapi.json')
    assert response.status == 403
    assert response.json()['error'] == {'code': 'forbidden',
                                        'message': 'Not from this address.'}
