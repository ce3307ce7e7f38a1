"""Health, the OpenAPI document, the learner's profile and preferences."""

import inspect

import pytest

from support.sessions import browser_session
from support.web import call
from tracl.web.api import ApiModule


def csrf(cookies):
    return {'X-CSRF-Token': cookies['trac_form_token']}


def test_health_reports_database_and_cache_without_credentials(env):
    response = call(env, 'GET', '/api/v1/health')
    assert response.status == 200
    body = response.json()
    assert body['status'] == 'degraded'
    assert body['checks']['database'] == 'ok'
    assert body['checks']['cache'] == 'ok'
    # The chunk store of a new environment is empty: it says so.
    assert 'no chunks' in body['checks']['chunk_store']


def test_health_is_degraded_when_redis_is_down(make_env):
    env = make_env(config=[('learning', 'cache', 'RedisCache'),
                           ('redis', 'url', 'redis://127.0.0.1:9/0')])
    body = call(env, 'GET', '/api/v1/health').json()
    assert body['status'] == 'degraded'
    assert body['checks']['database'] == 'ok'
    assert 'does not answer' in body['checks']['cache']


def test_openapi_document_describes_every_endpoint(env):
    response = call(env, 'GET', '/api/v1/openapi.json')
    document = response.json()
    assert document['openapi'] == '3.1.0'
    assert {'/health', '/openapi.json', '/me', '/me/preferences'} <= \
        set(document['paths'])
    me = document['paths']['/me']['get']
    assert '401' in me['responses'] and me['security']
    assert document['paths']['/health']['get']['security'] == []


def test_the_document_lists_the_csrf_403_on_writes_only(env):
    paths = call(env, 'GET', '/api/v1/openapi.json').json()['paths']
    assert '403' not in paths['/me']['get']['responses']
    assert '403' in paths['/me/preferences']['put']['responses']
    # A write that also refuses for its own reason names both.
    decide = paths['/grading/decisions']['post']['responses']['403']
    assert 'CSRF' in decide['description'] and \
        'LEARNING_ADMIN' in decide['description']
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method != 'get' and operation['security']:
                assert '403' in operation['responses'], (method, path)


def test_reads_of_another_learner_are_documented_where_answered(env):
    """Each learner's read without path parameters, called by a learner
    with `?user=` naming someone else: it answers 403 exactly where the
    document lists the `user` parameter and that 403."""
    paths = call(env, 'GET', '/api/v1/openapi.json').json()['paths']
    cookies = browser_session(env, 'sub-me', groups=['Students'])
    checked = set()
    for path, operations in paths.items():
        operation = operations.get('get')
        if not operation or '{' in path or not operation['security']:
            continue
        if call(env, 'GET', '/api/v1' + path,
                cookies=cookies).status == 403:
            continue    # an instructor's read, whoever it names
        status = call(env, 'GET', '/api/v1' + path, cookies=cookies,
                      query='user=sub-other').status
        named = {p['name'] for p in operation.get('parameters', [])
                 if p['in'] == 'query'}
        documented = 'user' in named and '403' in operation['responses']
        assert (status == 403) == documented, (path, status)
        if documented:
            checked.add(path)
    assert {'/learning-paths', '/me/data', '/reviews'} <= checked


def test_every_handler_that_reads_another_learner_is_marked(env):
    """A handler calling `reader_sub` takes `?user=`: the document learns
    it only from the handler's mark, so none may go without one."""
    reading = []
    for endpoint, _regex, _converters in ApiModule(env).endpoints():
        if 'reader_sub(' in inspect.getsource(endpoint.handler):
            reading.append(endpoint.path)
            assert getattr(endpoint.handler, 'reads_a_learner', False), \
                endpoint
    assert {'/progress/{ticket_id:int}', '/learning-paths/{path_id}',
            '/learning-paths', '/reviews', '/me/data'} <= set(reading)


def test_the_document_lists_the_query_parameters_each_read_takes(env):
    paths = call(env, 'GET', '/api/v1/openapi.json').json()['paths']

    def query(path):
        return {p['name'] for p in paths[path]['get'].get('parameters', [])
                if p['in'] == 'query'}
    assert query('/grading/queue') == {'subject', 'user', 'kind', 'limit',
                                       'before'}
    assert query('/reviews') == {'until', 'user'}
    assert query('/me') == set()


def test_me_answers_the_signed_in_learners_profile(env):
    cookies = browser_session(env, 'sub-me', groups=['Students'])
    body = call(env, 'GET', '/api/v1/me', cookies=cookies).json()
    assert body['sub'] == 'sub-me'
    assert body['groups'] == ['Students']
    assert 'LEARNING_STUDY' in body['permissions']
    assert 'LEARNING_ADMIN' not in body['permissions']
    assert body['preferences'] == {}


def test_administrators_group_gets_learning_admin(env):
    cookies = browser_session(env, 'sub-boss', groups=['Administrators'])
    body = call(env, 'GET', '/api/v1/me', cookies=cookies).json()
    assert 'LEARNING_ADMIN' in body['permissions']


def test_preferences_are_saved_and_read_back(env):
    cookies = browser_session(env, 'sub-prefs')
    preferences = {'theme': 'dark', 'daily_goal': 3, 'sound': False}
    response = call(env, 'PUT', '/api/v1/me/preferences',
                    body={'preferences': preferences}, cookies=cookies,
                    headers=csrf(cookies))
    assert response.status == 200
    assert response.json() == {'preferences': preferences}
    assert call(env, 'GET', '/api/v1/me',
                cookies=cookies).json()['preferences'] == preferences


@pytest.mark.parametrize('preferences', [
    'dark', [1], {'nested': {'a': 1}}, {'empty': None}, {'': 'x'},
    {'k%d' % i: i for i in range(51)}, {'long': 'x' * 1001}])
def test_invalid_preferences_are_400_and_change_nothing(env, preferences):
    cookies = browser_session(env, 'sub-bad')
    response = call(env, 'PUT', '/api/v1/me/preferences',
                    body={'preferences': preferences}, cookies=cookies,
                    headers=csrf(cookies))
    assert response.status == 400
    assert call(env, 'GET', '/api/v1/me',
                cookies=cookies).json()['preferences'] == {}
