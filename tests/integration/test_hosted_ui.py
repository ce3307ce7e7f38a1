"""Signing in through the Cognito hosted UI: authorization code with PKCE.

No machine here reaches Cognito's hosted UI, so its token endpoint is
played by a local HTTP server that checks the PKCE verifier as Cognito does
and answers with real tokens of the local emulator (the shape Cognito's
`/oauth2/token` returns)."""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from support.cognito import TEST_USERS, cognito  # noqa: F401 (fixture)
from support.web import call
from tracl.auth.idp import CognitoIdentityProvider


class TokenEndpoint(object):
    """Cognito's `/oauth2/token` for one expected authorization code."""

    def __init__(self):
        self.expected = {}  # code -> (challenge, tokens)
        self.requests = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers['Content-Length'])
                form = {k: v[0] for k, v in parse_qs(
                    self.rfile.read(length).decode()).items()}
                endpoint.requests.append(form)
                challenge, tokens = endpoint.expected.get(
                    form.get('code'), (None, None))
                verifier = form.get('code_verifier', '')
                digest = base64.urlsafe_b64encode(hashlib.sha256(
                    verifier.encode()).digest()).rstrip(b'=').decode()
                if tokens is None or digest != challenge or \
                        form.get('grant_type') != 'authorization_code':
                    status, body = 400, {'error': 'invalid_grant'}
                else:
                    status, body = 200, tokens
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_endpoint():
    endpoint = TokenEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def cognito_env(make_env, cognito, token_endpoint):
    """An environment signing in with the local Cognito, whose hosted UI
    answers at `token_endpoint`."""
    return make_env(config=cognito['options'] + [
        ('cognito', 'hosted_ui_url', token_endpoint.url)])


def start_flow(cognito_env):
    """GET /login/hosted: returns the authorize URL's query and the
    browser's session cookie."""
    response = call(cognito_env, 'GET', '/login/hosted')
    assert response.status in (302, 303)
    location = urlsplit(response.header('Location'))
    return {k: v[0] for k, v in parse_qs(location.query).items()}, \
        response.cookies, location


def test_hosted_ui_redirect_carries_state_and_s256_challenge(cognito_env, cognito):
    query, cookies, location = start_flow(cognito_env)
    assert location.path == '/oauth2/authorize'
    assert query['response_type'] == 'code'
    assert query['client_id'] == cognito['client_id']
    assert query['code_challenge_method'] == 'S256'
    assert len(query['state']) >= 32 and len(query['code_challenge']) == 43
    assert query['redirect_uri'].endswith('/login/callback')
    assert 'trac_session' in cookies


def test_callback_exchanges_code_with_verifier_and_signs_in(
        cognito_env, cognito, token_endpoint):
    query, cookies, _ = start_flow(cognito_env)
    tokens = CognitoIdentityProvider(cognito_env).sign_in('alice',
                                                  TEST_USERS['alice'][0])
    token_endpoint.expected['the-code'] = (query['code_challenge'], {
        'id_token': tokens.id_token, 'access_token': tokens.access_token,
        'refresh_token': tokens.refresh_token, 'expires_in': 3600,
        'token_type': 'Bearer'})
    response = call(cognito_env, 'GET', '/login/callback', cookies=cookies,
                    query='code=the-code&state=' + query['state'])
    assert response.status in (302, 303), response.text
    assert response.header('Location').endswith('/learning')
    session = dict(cookies, trac_auth=response.cookies['trac_auth'])
    me = call(cognito_env, 'GET', '/api/v1/me', cookies=session).json()
    assert me['username'] == 'alice' and me['groups'] == ['Students']
    assert token_endpoint.requests[0]['redirect_uri'] == \
        query['redirect_uri']


def test_callback_with_a_forged_state_is_refused(cognito_env, token_endpoint):
    query, cookies, _ = start_flow(cognito_env)
    response = call(cognito_env, 'GET', '/login/callback', cookies=cookies,
                    query='code=x&state=forged')
    assert response.status == 400
    assert 'trac_auth' not in response.cookies
    assert token_endpoint.requests == []


def test_state_cannot_be_replayed(cognito_env, token_endpoint):
    query, cookies, _ = start_flow(cognito_env)
    first = call(cognito_env, 'GET', '/login/callback', cookies=cookies,
                 query='code=unknown&state=' + query['state'])
    assert first.status == 400  # the token endpoint refused the code
    again = call(cognito_env, 'GET', '/login/callback', cookies=cookies,
                 query='code=unknown&state=' + query['state'])
    assert again.status == 400
    assert len(token_endpoint.requests) == 1


def test_callback_without_a_started_flow_is_refused(cognito_env):
    response = call(cognito_env, 'GET', '/login/callback', query='code=x&state=y')
    assert response.status == 400


def test_hosted_ui_is_not_found_when_not_configured(make_env):
    assert call(make_env(), 'GET', '/login/hosted').status == 404
