"""The JSON API frame: routing, errors, authentication, CSRF, CORS, rate
limiting and body handling, through Trac's real request dispatcher."""

import pytest
from trac.core import Component, implements

from support.sessions import browser_session
from support.web import call
from tracl.api import IApiEndpointProvider
from tracl.web.api import ApiError, Endpoint


class ProbeApi(Component):
    """Endpoints that show what the frame handed them."""

    implements(IApiEndpointProvider)

    def get_api_endpoints(self):
        yield Endpoint('GET', '/probe', self.who, 'who is calling')
        yield Endpoint('POST', '/probe', self.echo, 'echo the body')
        yield Endpoint('GET', '/probe/public', lambda req, c: {'ok': True},
                       'anyone', auth=False)
        yield Endpoint('GET', '/probe/items/{item_id:int}', self.item, 'item')
        yield Endpoint('DELETE', '/probe/items/{item_id:int}',
                       lambda req, c: None, 'delete item')
        yield Endpoint('DELETE', '/probe/confirmed', self.echo,
                       'delete with a confirmation',
                       request_schema={'type': 'object'})
        yield Endpoint('POST', '/probe/boom', self.boom, 'fails')
        yield Endpoint('POST', '/probe/conflict', self.conflict, 'refuses')

    def who(self, req, call):
        return {'sub': call.sub, 'method': call.auth_method}

    def echo(self, req, call):
        return 201, {'body': call.body}

    def item(self, req, call):
        return {'item_id': call.params['item_id']}

    def boom(self, req, call):
        raise RuntimeError('secret internals')

    def conflict(self, req, call):
        raise ApiError(409, 'Not now.', code='locked', blockers=[1, 2])


pytestmark = pytest.mark.learning_env(enable=[ProbeApi], config=[
    ('learning', 'cors_origins', 'https://app.example.org'),
    ('learning', 'api_rate_limit', '1000')])


@pytest.fixture
def learner(env):
    return browser_session(env, 'sub-learner-1')


def csrf(cookies):
    return {'X-CSRF-Token': cookies['trac_form_token']}


def test_unknown_path_is_404_json(env):
    response = call(env, 'GET', '/api/v1/nothing-here')
    assert response.status == 404
    assert response.header('Content-Type').startswith('application/json')
    assert response.json()['error']['code'] == 'not_found'


def test_wrong_method_is_405_with_allow(env, learner):
    response = call(env, 'PUT', '/api/v1/probe', cookies=learner)
    assert response.status == 405
    assert response.header('Allow') == 'GET, OPTIONS, POST'


def test_missing_credentials_is_401_with_www_authenticate(env):
    response = call(env, 'GET', '/api/v1/probe')
    assert response.status == 401
    assert response.header('WWW-Authenticate').startswith('Bearer')
    assert response.json()['error']['code'] == 'unauthorized'


def test_public_endpoint_needs_no_credentials(env):
    assert call(env, 'GET', '/api/v1/probe/public').json() == {'ok': True}


def test_session_cookie_identifies_the_learner(env, learner):
    response = call(env, 'GET', '/api/v1/probe', cookies=learner)
    assert response.status == 200
    assert response.json() == {'sub': 'sub-learner-1', 'method': 'cookie'}
    assert response.header('Cache-Control') == 'no-store'


def test_invalid_bearer_token_is_401_even_with_a_valid_cookie(env, learner):
    response = call(env, 'GET', '/api/v1/probe', cookies=learner,
                    headers={'Authorization': 'Bearer not.a.token'})
    assert response.status == 401
    assert response.json()['error']['code'] == 'invalid_token'
    assert 'error="invalid_token"' in response.header('WWW-Authenticate')


def test_cookie_write_without_csrf_header_is_403(env, learner):
    response = call(env, 'POST', '/api/v1/probe', body={'a': 1},
                    cookies=learner)
    assert response.status == 403
    assert response.json()['error']['code'] == 'csrf_token_invalid'


def test_cookie_write_with_wrong_csrf_header_is_403(env, learner):
    response = call(env, 'POST', '/api/v1/probe', body={'a': 1},
                    cookies=learner, headers={'X-CSRF-Token': 'guess'})
    assert response.status == 403


def test_cookie_write_with_the_form_token_passes(env, learner):
    response = call(env, 'POST', '/api/v1/probe', body={'a': [1, 'x']},
                    cookies=learner, headers=csrf(learner))
    assert response.status == 201
    assert response.json() == {'body': {'a': [1, 'x']}}


def test_body_over_the_limit_is_413(make_env):
    env = make_env(enable=[ProbeApi],
                   config=[('learning', 'api_max_body_size', '100')])
    cookies = browser_session(env, 'sub-big')
    response = call(env, 'POST', '/api/v1/probe', body={'x': 'y' * 200},
                    cookies=cookies, headers=csrf(cookies))
    assert response.status == 413


def test_non_json_body_is_415(env, learner):
    response = call(env, 'POST', '/api/v1/probe', body=b'a=1',
                    cookies=learner, headers=dict(csrf(learner), **{
                        'Content-Type': 'text/plain'}))
    assert response.status == 415


def test_form_post_is_415_json_not_trac_error_page(env, learner):
    response = call(env, 'POST', '/api/v1/probe', body=b'a=1',
                    cookies=learner, headers={
                        'Content-Type': 'application/x-www-form-urlencoded'})
    assert response.status == 415
    assert response.json()['error']['code'] == 'unsupported_media_type'


@pytest.mark.parametrize('raw', [b'{"a": ', b'[1, 2]', b'"text"',
                                 b'\xff\xfe'])
def test_body_that_is_not_a_json_object_is_400(env, learner, raw):
    response = call(env, 'POST', '/api/v1/probe', body=raw, cookies=learner,
                    headers=dict(csrf(learner),
                                 **{'Content-Type': 'application/json'}))
    assert response.status == 400
    assert response.json()['error']['code'] == 'invalid_json'


def test_integer_path_parameter_is_converted_and_checked(env, learner):
    response = call(env, 'GET', '/api/v1/probe/items/42', cookies=learner)
    assert response.json() == {'item_id': 42}
    assert call(env, 'GET', '/api/v1/probe/items/abc',
                cookies=learner).status == 404


def test_handler_answering_none_is_204(env, learner):
    response = call(env, 'DELETE', '/api/v1/probe/items/1', cookies=learner,
                    headers=csrf(learner))
    assert response.status == 204 and response.body == b''


def test_delete_body_is_read_and_checked_when_the_endpoint_declares_one(
        make_env):
    env = make_env(enable=[ProbeApi],
                   config=[('learning', 'api_max_body_size', '100')])
    cookies = browser_session(env, 'sub-deleter')
    json_headers = dict(csrf(cookies), **{'Content-Type': 'application/json'})
    response = call(env, 'DELETE', '/api/v1/probe/confirmed',
                    body={'confirm': True}, cookies=cookies,
                    headers=csrf(cookies))
    assert response.status == 201
    assert response.json() == {'body': {'confirm': True}}
    assert call(env, 'DELETE', '/api/v1/probe/confirmed', cookies=cookies,
                headers=csrf(cookies)).json() == {'body': {}}
    assert call(env, 'DELETE', '/api/v1/probe/confirmed',
                body={'x': 'y' * 200}, cookies=cookies,
                headers=csrf(cookies)).status == 413
    assert call(env, 'DELETE', '/api/v1/probe/confirmed', body=b'a=1',
                cookies=cookies, headers=dict(csrf(cookies), **{
                    'Content-Type': 'text/plain'})).status == 415
    for raw in (b'{"confirm": tru', b'[true]'):
        response = call(env, 'DELETE', '/api/v1/probe/confirmed', body=raw,
                        cookies=cookies, headers=json_headers)
        assert response.status == 400
        assert response.json()['error']['code'] == 'invalid_json'
    # Without a declared body, a DELETE's body is not read at all.
    response = call(env, 'DELETE', '/api/v1/probe/items/1', body=b'[1]',
                    cookies=cookies, headers=json_headers)
    assert response.status == 204


def test_handler_error_carries_code_and_extra_fields(env, learner):
    response = call(env, 'POST', '/api/v1/probe/conflict', cookies=learner,
                    headers=csrf(learner))
    assert response.status == 409
    assert response.json() == {'error': {'code': 'locked',
                                         'message': 'Not now.',
                                         'blockers': [1, 2]}}


def test_unexpected_failure_is_500_json_without_internals(env, learner):
    response = call(env, 'POST', '/api/v1/probe/boom', cookies=learner,
                    headers=csrf(learner))
    assert response.status == 500
    assert response.json()['error']['code'] == 'internal_error'
    assert 'secret internals' not in response.text
    assert ('ERROR', 'API POST /api/v1/probe/boom failed') in \
        env.log_messages


def test_rate_limit_answers_429_with_retry_after(make_env):
    env = make_env(enable=[ProbeApi],
                   config=[('learning', 'api_rate_limit', '3')])
    cookies = browser_session(env, 'sub-rate')
    other = browser_session(env, 'sub-other')
    statuses = [call(env, 'GET', '/api/v1/probe', cookies=cookies).status
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = call(env, 'GET', '/api/v1/probe', cookies=cookies)
    assert 1 <= int(response.header('Retry-After')) <= 61
    # Limits are per learner.
    assert call(env, 'GET', '/api/v1/probe', cookies=other).status == 200


def test_cors_allows_the_configured_origin_only(env):
    allowed = call(env, 'GET', '/api/v1/probe/public',
                   headers={'Origin': 'https://app.example.org'})
    assert allowed.header('Access-Control-Allow-Origin') == \
        'https://app.example.org'
    other = call(env, 'GET', '/api/v1/probe/public',
                 headers={'Origin': 'https://evil.example.com'})
    assert other.header('Access-Control-Allow-Origin') is None


def test_cors_preflight(env):
    response = call(env, 'OPTIONS', '/api/v1/probe',
                    headers={'Origin': 'https://app.example.org',
                             'Access-Control-Request-Method': 'POST'})
    assert response.status == 204
    assert 'POST' in response.header('Access-Control-Allow-Methods')
    assert 'Authorization' in response.header('Access-Control-Allow-Headers')
    refused = call(env, 'OPTIONS', '/api/v1/probe',
                   headers={'Origin': 'https://evil.example.com'})
    assert refused.status == 403
