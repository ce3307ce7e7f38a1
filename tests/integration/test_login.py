"""Signing in with Cognito (`tracl.auth.login`): the login page, the browser
session whose tokens stay on the server, its refresh before expiry and its
end, logout with GlobalSignOut, and bearer tokens on the API.

Every request goes through Trac's real dispatcher (`support.web.call`) of an
environment on SQLite and on PostgreSQL, against a real moto server (the
local Cognito emulator) started once on a free loopback port. Each test
signs in a user of its own, so a GlobalSignOut in one test cannot disturb
another.
"""

import base64
import gzip
import json
import re
import time
import uuid
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import moto
import pytest

from support.sessions import browser_session
from support.web import call

from trac.util.datefmt import datetime_now, to_utimestamp, utc
from trac.web.session import DetachedSession

from tracl.auth.emulator import (REGION, Emulator, cognito_options,
                                 free_port, provision)
from tracl.auth.idp import (CognitoError, CognitoIdentityProvider, UserPool,
                            make_client)
from tracl.cache import LearningCache, session_key
from tracl.schema import sql

SECOND = 1000000  # Trac times are microseconds

FORM_TOKEN = 'a1b2c3d4e5f6a1b2c3d4e5f6'
PASSWORD = 'Learner-Passw0rd'
WRONG = "Wrong username or password."
UNAVAILABLE = "Sign-in is unavailable"
MISSING = "Enter your username and password."

#: What a JWT looks like: three base64url parts, the first a JSON object.
JWT_RE = re.compile(r'eyJ[\w-]+\.[\w-]+\.[\w-]*')


# -- Fixtures

@pytest.fixture(scope='session')
def cognito():
    """The local Cognito emulator, started and provisioned once: pool,
    app client and groups."""
    with Emulator() as running:
        yield provision(running.endpoint)


@pytest.fixture(scope='session')
def stopped_cognito():
    """Settings of an emulator that was provisioned and then stopped: the
    pool is right, but nothing answers at its endpoint."""
    with Emulator() as running:
        provisioned = provision(running.endpoint)
    return provisioned


@pytest.fixture(scope='session')
def user_pool(cognito):
    client = make_client(REGION, cognito['endpoint'], 10.0, emulator=True)
    return UserPool(client, cognito['pool_id'], cognito['client_id'],
                    emulator=True)


def new_user(user_pool, groups=('Students',)):
    username = 'user-%s' % uuid.uuid4().hex[:12]
    sub = user_pool.create_user(username, PASSWORD,
                                email='%s@example.org' % username,
                                name='Lee %s' % username[-4:], groups=groups)
    return {'username': username, 'password': PASSWORD, 'sub': sub,
            'email': '%s@example.org' % username,
            'name': 'Lee %s' % username[-4:]}


@pytest.fixture
def learner(user_pool):
    """A user of this test's own, in the Students group."""
    return new_user(user_pool)


@pytest.fixture
def cenv(make_env, cognito):
    """An environment signing in with the emulator."""
    return make_env(config=cognito_options(cognito))


# -- Helpers

def now():
    return to_utimestamp(datetime_now(utc))


def post_form(env, path, fields, cookies=None, token=FORM_TOKEN, query=''):
    """A form post as a browser sends it, with Trac's form token."""
    cookies = dict({'trac_form_token': FORM_TOKEN}, **(cookies or {}))
    if token is not None:
        fields = dict(fields, __FORM_TOKEN=token)
    return call(env, 'POST', path, body=urlencode(fields).encode('utf-8'),
                headers={'Content-Type':
                         'application/x-www-form-urlencoded'},
                cookies=cookies, query=query)


def sign_in(env, user, **fields):
    """POST /login with `user`'s credentials; the response and the cookies
    a browser would keep."""
    response = post_form(env, '/login', dict({
        'username': user['username'], 'password': user['password']},
        **fields))
    cookies = {'trac_form_token': FORM_TOKEN}
    if response.cookies.get('trac_auth'):
        cookies['trac_auth'] = response.cookies['trac_auth']
    return response, cookies


def signed_in(env, user):
    response, cookies = sign_in(env, user)
    assert response.status == 303, response
    assert 'trac_auth' in cookies
    return cookies


def session_row(env, sub):
    """The learner's `cognito_sessions` row as a dict, or None."""
    rows = env.db_query(sql(env, """
        SELECT access_token, id_token, refresh_token, token_expires,
               trac_session_id
        FROM {cognito_sessions} WHERE cognito_sub=%s"""), (sub,))
    if not rows:
        return None
    return dict(zip(('access_token', 'id_token', 'refresh_token',
                     'token_expires', 'trac_session_id'), rows[0]))


def session_count(env):
    return env.db_query(sql(env, "SELECT COUNT(*) FROM {cognito_sessions}"
                            ))[0][0]


def set_session(env, sub, **values):
    assignments = ', '.join('%s=%%s' % name for name in values)
    with env.db_transaction as db:
        db(sql(env, "UPDATE {cognito_sessions} SET %s WHERE cognito_sub=%%s"
                    % assignments), list(values.values()) + [sub])


def auth_cookies(env, sub=None):
    if sub is None:
        return [c for c, in env.db_query("SELECT cookie FROM auth_cookie")]
    return [c for c, in env.db_query(
        "SELECT cookie FROM auth_cookie WHERE name=%s", (sub,))]


def set_cookie_headers(response):
    return [value for name, value in response.headers
            if name.lower() == 'set-cookie']


def auth_cookie_expired(response):
    """Whether the response tells the browser to drop `trac_auth`: an empty
    value that expired in the past."""
    for value in set_cookie_headers(response):
        jar = SimpleCookie()
        jar.load(value)
        morsel = jar.get('trac_auth')
        if morsel is not None:
            expires = morsel['expires']
            return morsel.value == '' and bool(expires) and \
                parsedate_to_datetime(expires) < datetime.now(timezone.utc)
    return False


def me(env, cookies=None, headers=None):
    return call(env, 'GET', '/api/v1/me', cookies=cookies, headers=headers)


def idp(env):
    return CognitoIdentityProvider(env)


def b64(data):
    if isinstance(data, dict):
        data = json.dumps(data, separators=(',', ':')).encode('utf-8')
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def unb64(part):
    return json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))


def emulator_signing_key():
    """The emulator's private key, which ships inside moto (why tracl
    trusts the emulator only with `allow_emulator`)."""
    path = Path(moto.__file__).parent / 'cognitoidp' / 'resources' / \
        'jwks-private.json.gz'
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        data = json.load(f)
    return jwt.PyJWK(data, algorithm='RS256')


def forged(token, **changes):
    """`token`'s claims with `changes`, signed with the emulator's key."""
    header, payload = unb64(token.split('.')[0]), unb64(token.split('.')[1])
    payload.update(changes)
    key = emulator_signing_key()
    return jwt.encode(payload, key.key, algorithm='RS256',
                      headers={'kid': header['kid']})


def tampered(token):
    """`token` with its payload changed and its signature kept."""
    header, payload, signature = token.split('.')
    claims = unb64(payload)
    claims['cognito:groups'] = ['Administrators']
    return '.'.join((header, b64(claims), signature))


def unsigned(token):
    """`token` without its signature."""
    header, payload, _signature = token.split('.')
    return '%s.%s.' % (header, payload)


def alg_none(token):
    """`token` re-encoded as an unsecured JWT (`alg: none`)."""
    header, payload, _signature = token.split('.')
    return '%s.%s.' % (b64(dict(unb64(header), alg='none')), payload)


def expired(token):
    """`token` signed with the pool's own (emulator) key, but expired an
    hour ago."""
    past = int(time.time()) - 7200
    return forged(token, iat=past, auth_time=past, exp=past + 3600)


# -- The login page

def test_login_page_is_a_labelled_form_carrying_the_form_token(cenv):
    response = call(cenv, 'GET', '/login',
                    cookies={'trac_form_token': FORM_TOKEN})

    assert response.status == 200
    page = response.text
    assert re.search(r'<form[^>]*method="post"[^>]*action="/login"', page)
    assert '<label for="username">' in page
    assert '<label for="password">' in page
    assert re.search(r'<input type="text" id="username" name="username"',
                     page)
    assert re.search(r'<input type="password" id="password" '
                     r'name="password"', page)
    assert 'name="__FORM_TOKEN" value="%s"' % FORM_TOKEN in page


def test_login_page_gives_a_new_browser_a_form_token_cookie(cenv):
    response = call(cenv, 'GET', '/login')

    assert response.status == 200
    token = response.cookies['trac_form_token']
    assert token
    assert 'name="__FORM_TOKEN" value="%s"' % token in response.text


def test_login_page_warns_that_sign_in_is_a_local_emulator(cenv):
    page = call(cenv, 'GET', '/login').text
    assert 'LOCAL COGNITO EMULATOR' in page


# -- Signing in

def test_right_credentials_redirect_with_a_trac_auth_cookie(cenv, learner):
    response, cookies = sign_in(cenv, learner)

    assert response.status == 303
    assert urlsplit(response.header('Location')).path == '/learning'
    assert cookies['trac_auth']
    assert auth_cookies(cenv, learner['sub']) == [cookies['trac_auth']]
    assert 'httponly' in [v for v in set_cookie_headers(response)
                          if v.startswith('trac_auth=')][0].lower()


def test_sign_in_keeps_the_tokens_on_the_server_only(cenv, learner):
    started = now()
    response, cookies = sign_in(cenv, learner)

    row = session_row(cenv, learner['sub'])
    assert row is not None
    assert row['trac_session_id'] == learner['sub']
    assert unb64(row['id_token'].split('.')[1])['sub'] == learner['sub']
    assert unb64(row['access_token'].split('.')[1])['token_use'] == 'access'
    assert row['refresh_token']
    # moto's tokens live an hour
    assert started + 3500 * SECOND < row['token_expires'] < \
        now() + 3700 * SECOND
    sent = response.body.decode('utf-8') + '\n'.join(
        value for _name, value in response.headers)
    for token in (row['id_token'], row['access_token'],
                  row['refresh_token']):
        assert token not in sent
    assert not JWT_RE.search(sent)
    assert set(response.cookies) <= {'trac_auth', 'trac_form_token',
                                     'trac_session'}


def test_signed_in_learner_has_name_email_and_groups_in_the_session(
        cenv, learner):
    cookies = signed_in(cenv, learner)

    response = me(cenv, cookies=cookies)
    assert response.status == 200
    body = response.json()
    assert body['sub'] == learner['sub']
    assert body['username'] == learner['username']
    assert body['email'] == learner['email']
    assert body['name'] == learner['name']
    assert body['groups'] == ['Students']
    session = DetachedSession(cenv, learner['sub'])
    assert session['name'] == learner['name']
    assert session['email'] == learner['email']


def test_students_group_gives_learning_study_but_not_admin(cenv, learner):
    cookies = signed_in(cenv, learner)

    permissions = me(cenv, cookies=cookies).json()['permissions']
    assert 'LEARNING_STUDY' in permissions
    assert 'LEARNING_ADMIN' not in permissions


def test_administrators_group_gives_learning_admin(cenv, user_pool):
    admin = new_user(user_pool, groups=('Administrators',))
    cookies = signed_in(cenv, admin)

    body = me(cenv, cookies=cookies).json()
    assert body['groups'] == ['Administrators']
    assert 'LEARNING_ADMIN' in body['permissions']


def test_sign_in_returns_to_the_page_named_in_referer(cenv, learner):
    response, _cookies = sign_in(cenv, learner, referer='/wiki/Start')

    assert response.status == 303
    assert response.header('Location') == 'http://localhost/wiki/Start'


def test_sign_in_never_redirects_to_another_site(cenv, learner):
    response, _cookies = sign_in(cenv, learner,
                                 referer='https://evil.example/phish')

    assert response.status == 303
    assert urlsplit(response.header('Location')).hostname == 'localhost'


def test_signed_in_learner_opening_the_login_page_is_sent_on(cenv, learner):
    cookies = signed_in(cenv, learner)

    response = call(cenv, 'GET', '/login', cookies=cookies)
    assert response.status in (302, 303)
    assert session_row(cenv, learner['sub']) is not None


@pytest.mark.parametrize('who', ['wrong password', 'unknown user'])
def test_wrong_credentials_get_one_message_and_no_session(cenv, learner,
                                                           who):
    user = dict(learner)
    if who == 'wrong password':
        user['password'] = 'Not-The-Passw0rd'
    else:
        user['username'] = 'nobody-%s' % uuid.uuid4().hex[:8]

    response, cookies = sign_in(cenv, user)

    assert response.status == 200
    assert WRONG in response.text
    assert 'value="%s"' % user['username'] in response.text
    assert user['password'] not in response.text
    assert 'trac_auth' not in response.cookies
    assert session_count(cenv) == 0
    assert auth_cookies(cenv) == []


def test_username_shown_again_after_a_refusal_is_escaped(cenv):
    username = '"><script>alert(1)</script>'
    response = post_form(cenv, '/login', {'username': username,
                                          'password': 'Whatever-1'})

    assert response.status == 200
    assert WRONG in response.text
    assert '<script>alert(1)' not in response.text
    assert session_count(cenv) == 0


def test_new_sign_in_picks_up_group_changes_made_in_cognito(
        cenv, learner, user_pool):
    signed_in(cenv, learner)
    user_pool.add_to_group(learner['username'], 'Administrators')

    cookies = signed_in(cenv, learner)

    body = me(cenv, cookies=cookies).json()
    assert body['groups'] == ['Administrators', 'Students']
    assert 'LEARNING_ADMIN' in body['permissions']


def test_sign_in_when_the_pool_keys_cannot_be_fetched_stores_nothing(
        make_env, cognito, learner):
    dead = 'http://127.0.0.1:%d/%s/.well-known/jwks.json' % (
        free_port(), cognito['pool_id'])
    env = make_env(config=cognito_options(cognito) +
                   [('cognito', 'jwks_uri', dead)])

    response, _cookies = sign_in(env, learner)

    assert response.status == 200
    assert 'tracl-error' in response.text
    assert 'trac_auth' not in response.cookies
    assert session_count(env) == 0
    assert auth_cookies(env) == []


@pytest.mark.parametrize('fields', [
    {'username': '', 'password': PASSWORD},
    {'username': 'learner', 'password': ''},
    {'username': '   ', 'password': PASSWORD},
    {'username': 'learner'},
    {'password': PASSWORD},
    {},
], ids=['empty username', 'empty password', 'blank username',
        'no password field', 'no username field', 'no fields'])
def test_missing_fields_ask_for_username_and_password(cenv, fields):
    response = post_form(cenv, '/login', fields)

    assert response.status == 200
    assert MISSING in response.text
    assert 'trac_auth' not in response.cookies
    assert session_count(cenv) == 0
    assert auth_cookies(cenv) == []


def test_overlong_password_is_refused_without_a_session(cenv, learner):
    response, _cookies = sign_in(cenv, dict(learner, password='Aa1' * 100))

    assert response.status == 200
    assert MISSING in response.text
    assert session_count(cenv) == 0


def test_sign_in_while_cognito_is_down_says_it_is_unavailable(
        make_env, stopped_cognito, learner):
    env = make_env(config=cognito_options(stopped_cognito))

    response, _cookies = sign_in(env, learner)

    assert response.status == 200
    assert UNAVAILABLE in response.text
    assert WRONG not in response.text
    assert 'trac_auth' not in response.cookies
    assert session_count(env) == 0
    assert auth_cookies(env) == []


def test_sign_in_without_the_form_token_is_refused(cenv, learner):
    response = post_form(cenv, '/login', {'username': learner['username'],
                                          'password': learner['password']},
                         token=None)

    assert response.status == 400
    assert 'trac_auth' not in response.cookies
    assert session_count(cenv) == 0


def test_sign_in_from_a_plain_text_post_signs_no_one_in(cenv, learner):
    # A cross-site form may post `enctype="text/plain"`, for which Trac
    # checks no form token: credentials in its query must not sign in.
    response = call(cenv, 'POST', '/login', body=b'x=y',
                    headers={'Content-Type': 'text/plain'},
                    query=urlencode({'username': learner['username'],
                                     'password': learner['password']}))

    assert 'trac_auth' not in response.cookies
    assert session_count(cenv) == 0


# -- Refreshing before expiry (FR-AU-1.5)

def test_token_about_to_expire_is_refreshed_on_the_next_request(
        cenv, learner):
    cookies = signed_in(cenv, learner)
    before = session_row(cenv, learner['sub'])
    set_session(cenv, learner['sub'], token_expires=now() + 60 * SECOND)

    response = me(cenv, cookies=cookies)

    assert response.status == 200
    assert response.json()['sub'] == learner['sub']
    after = session_row(cenv, learner['sub'])
    assert after['token_expires'] > now() + 3000 * SECOND
    assert after['access_token'] != before['access_token']
    assert after['id_token'] != before['id_token']
    assert after['refresh_token'] == before['refresh_token']
    assert unb64(after['access_token'].split('.')[1])['sub'] == \
        learner['sub']
    assert 'trac_auth' not in response.cookies


def test_token_far_from_expiry_is_left_alone(cenv, learner):
    cookies = signed_in(cenv, learner)
    before = session_row(cenv, learner['sub'])

    assert me(cenv, cookies=cookies).status == 200
    assert session_row(cenv, learner['sub']) == before


def test_refreshed_tokens_are_the_ones_logout_signs_out_with(cenv, learner):
    cookies = signed_in(cenv, learner)
    set_session(cenv, learner['sub'], token_expires=now() + 60 * SECOND)
    assert me(cenv, cookies=cookies).status == 200
    refresh_token = session_row(cenv, learner['sub'])['refresh_token']

    post_form(cenv, '/logout', {}, cookies=cookies)

    with pytest.raises(CognitoError) as raised:
        idp(cenv).refresh(refresh_token)
    assert raised.value.code == 'not_authorized'


def test_cognito_outage_before_expiry_keeps_the_learner_signed_in(
        make_env, stopped_cognito):
    env = make_env(config=cognito_options(stopped_cognito))
    sub = str(uuid.uuid4())
    cookies = browser_session(env, sub, expires_in=60 * SECOND)
    before = session_row(env, sub)

    response = me(env, cookies=cookies)

    assert response.status == 200
    assert response.json()['sub'] == sub
    assert session_row(env, sub) == before
    assert auth_cookies(env, sub) == [cookies['trac_auth']]


# -- A refused refresh ends the session (FR-AU-2.5)

def end_refresh(env, sub):
    set_session(env, sub, refresh_token='not-a-refresh-token',
                token_expires=now() - 60 * SECOND)


def test_refused_refresh_sends_a_page_request_to_the_login_page(
        cenv, learner):
    cookies = signed_in(cenv, learner)
    end_refresh(cenv, learner['sub'])

    response = call(cenv, 'GET', '/wiki/WikiStart', cookies=cookies)

    assert response.status in (302, 303)
    location = urlsplit(response.header('Location'))
    assert location.path == '/login'
    query = parse_qs(location.query)
    assert query['expired'] == ['1']
    assert query['referer'] == ['/wiki/WikiStart']
    assert session_row(cenv, learner['sub']) is None
    assert auth_cookies(cenv, learner['sub']) == []
    assert auth_cookie_expired(response)


def test_login_page_after_expiry_says_the_session_ended(cenv, learner):
    cookies = signed_in(cenv, learner)
    end_refresh(cenv, learner['sub'])
    location = call(cenv, 'GET', '/wiki/WikiStart',
                    cookies=cookies).header('Location')

    parts = urlsplit(location)
    page = call(cenv, 'GET', parts.path, query=parts.query,
                cookies={'trac_form_token': FORM_TOKEN})

    assert page.status == 200
    assert "Your session has ended. Please sign in again." in page.text
    assert 'name="referer" value="/wiki/WikiStart"' in page.text


def test_refused_refresh_answers_401_to_an_api_request(cenv, learner):
    cookies = signed_in(cenv, learner)
    end_refresh(cenv, learner['sub'])

    response = me(cenv, cookies=cookies)

    assert response.status == 401
    assert response.json()['error']['code'] == 'unauthorized'
    assert response.header('WWW-Authenticate')
    assert session_row(cenv, learner['sub']) is None
    assert auth_cookies(cenv, learner['sub']) == []
    assert auth_cookie_expired(response)


def test_ended_session_stays_ended(cenv, learner):
    cookies = signed_in(cenv, learner)
    end_refresh(cenv, learner['sub'])
    me(cenv, cookies=cookies)

    assert me(cenv, cookies=cookies).status == 401
    response = call(cenv, 'GET', '/wiki/WikiStart', cookies=cookies)
    assert not (response.header('Location') or '').startswith(
        'http://localhost/login')


# -- Logging out (FR-AU-2.4)

def test_logout_ends_the_session_and_signs_out_of_cognito(cenv, learner):
    cookies = signed_in(cenv, learner)
    refresh_token = session_row(cenv, learner['sub'])['refresh_token']
    assert LearningCache(cenv).get(session_key(learner['sub'])) is not None

    response = post_form(cenv, '/logout', {}, cookies=cookies)

    assert response.status == 303
    assert session_row(cenv, learner['sub']) is None
    assert auth_cookies(cenv, learner['sub']) == []
    assert auth_cookie_expired(response)
    assert LearningCache(cenv).get(session_key(learner['sub'])) is None
    with pytest.raises(CognitoError) as raised:
        idp(cenv).refresh(refresh_token)
    assert raised.value.code == 'not_authorized'
    assert me(cenv, cookies=cookies).status == 401


def test_logout_ends_the_learners_other_browser_sessions(cenv, learner):
    here = signed_in(cenv, learner)
    there = signed_in(cenv, learner)
    assert here['trac_auth'] != there['trac_auth']

    post_form(cenv, '/logout', {}, cookies=here)

    assert auth_cookies(cenv, learner['sub']) == []
    assert me(cenv, cookies=there).status == 401


def test_get_logout_changes_nothing(cenv, learner):
    cookies = signed_in(cenv, learner)
    before = session_row(cenv, learner['sub'])

    response = call(cenv, 'GET', '/logout', cookies=cookies)

    assert response.status in (302, 303)
    assert session_row(cenv, learner['sub']) == before
    assert auth_cookies(cenv, learner['sub']) == [cookies['trac_auth']]
    assert not auth_cookie_expired(response)
    assert me(cenv, cookies=cookies).status == 200
    assert idp(cenv).refresh(before['refresh_token']).access_token


def test_logout_without_the_form_token_changes_nothing(cenv, learner):
    cookies = signed_in(cenv, learner)
    before = session_row(cenv, learner['sub'])

    response = post_form(cenv, '/logout', {}, cookies=cookies, token=None)

    assert response.status == 400
    assert session_row(cenv, learner['sub']) == before
    assert me(cenv, cookies=cookies).status == 200


def test_logout_posted_as_plain_text_without_form_token_changes_nothing(
        cenv, learner):
    cookies = signed_in(cenv, learner)
    before = session_row(cenv, learner['sub'])

    call(cenv, 'POST', '/logout', body=b'x=y',
         headers={'Content-Type': 'text/plain'},
         cookies={'trac_auth': cookies['trac_auth']})

    assert session_row(cenv, learner['sub']) == before
    assert me(cenv, cookies=cookies).status == 200


# -- Bearer tokens on the API (FR-AU-2.3)

@pytest.mark.parametrize('use', ['id_token', 'access_token'])
def test_real_cognito_token_authenticates_the_api_without_a_session(
        cenv, learner, use):
    token = getattr(idp(cenv).sign_in(learner['username'],
                                      learner['password']), use)

    response = me(cenv, headers={'Authorization': 'Bearer ' + token})

    assert response.status == 200
    body = response.json()
    assert body['sub'] == learner['sub']
    assert body['groups'] == ['Students']
    assert 'LEARNING_STUDY' in body['permissions']
    assert 'trac_auth' not in response.cookies
    assert session_count(cenv) == 0
    assert auth_cookies(cenv) == []


def test_bearer_write_needs_no_csrf_token(cenv, learner):
    # Only cookie calls need X-CSRF-Token: this one is a bearer call.
    token = idp(cenv).sign_in(learner['username'],
                              learner['password']).access_token

    response = call(cenv, 'PUT', '/api/v1/me/preferences',
                    body={'preferences': {'theme': 'dark'}},
                    headers={'Authorization': 'Bearer ' + token})

    assert response.status == 200
    assert response.json() == {'preferences': {'theme': 'dark'}}
    assert session_count(cenv) == 0


INVALID_BEARERS = {
    'tampered': lambda t: 'Bearer ' + tampered(t),
    'signature removed': lambda t: 'Bearer ' + unsigned(t),
    'alg none': lambda t: 'Bearer ' + alg_none(t),
    'expired': lambda t: 'Bearer ' + expired(t),
    'not a jwt': lambda t: 'Bearer not-a-token',
    'no token': lambda t: 'Bearer',
    'blank token': lambda t: 'Bearer    ',
    'basic': lambda t: 'Basic bGVhcm5lcjpwYXNzd29yZA==',
    'token without scheme': lambda t: t,
}


@pytest.mark.parametrize('kind', sorted(INVALID_BEARERS))
def test_invalid_authorization_is_401_and_creates_no_session(
        cenv, learner, kind):
    token = idp(cenv).sign_in(learner['username'],
                              learner['password']).id_token
    header = INVALID_BEARERS[kind](token)

    response = me(cenv, headers={'Authorization': header})

    assert response.status == 401
    assert response.header('WWW-Authenticate').startswith('Bearer ')
    assert response.json()['error']['code'] in ('invalid_token',
                                                'unauthorized')
    assert 'trac_auth' not in response.cookies
    assert session_count(cenv) == 0
    assert auth_cookies(cenv) == []
    assert token not in response.text


def test_expired_token_is_refused_although_its_signature_is_right(
        cenv, learner):
    # The forged token is otherwise valid: the same token unexpired passes.
    token = idp(cenv).sign_in(learner['username'],
                              learner['password']).id_token
    assert me(cenv, headers={
        'Authorization': 'Bearer ' + forged(token)}).status == 200

    response = me(cenv, headers={'Authorization': 'Bearer ' + expired(token)})

    assert response.status == 401
    assert 'error="invalid_token"' in response.header('WWW-Authenticate')


def test_bearer_is_503_when_the_pool_keys_cannot_be_fetched(
        make_env, cognito, learner):
    dead = 'http://127.0.0.1:%d/%s/.well-known/jwks.json' % (
        free_port(), cognito['pool_id'])
    env = make_env(config=cognito_options(cognito) +
                   [('cognito', 'jwks_uri', dead)])
    token = idp(env).sign_in(learner['username'], learner['password']).id_token

    response = me(env, headers={'Authorization': 'Bearer ' + token})

    assert response.status == 503
    assert response.json()['error']['code'] == 'auth_unavailable'
    assert response.header('Retry-After')
    assert session_count(env) == 0


def test_invalid_bearer_with_a_valid_cookie_is_still_401(cenv, learner):
    cookies = signed_in(cenv, learner)
    token = session_row(cenv, learner['sub'])['id_token']

    response = me(cenv, cookies=cookies,
                  headers={'Authorization': 'Bearer ' + tampered(token)})

    assert response.status == 401
    assert response.json()['error']['code'] == 'invalid_token'
    # The browser session itself is untouched.
    assert session_row(cenv, learner['sub']) is not None
    assert me(cenv, cookies=cookies).status == 200


# -- Sessions ended elsewhere

def test_cookie_without_stored_tokens_is_anonymous(cenv, learner):
    cookies = signed_in(cenv, learner)
    with cenv.db_transaction as db:
        db(sql(cenv, "DELETE FROM {cognito_sessions} WHERE cognito_sub=%s"),
           (learner['sub'],))

    response = me(cenv, cookies=cookies)

    assert response.status == 401
    assert auth_cookies(cenv, learner['sub']) == []
    assert auth_cookie_expired(response)
    page = call(cenv, 'GET', '/wiki/WikiStart', cookies=cookies)
    assert 'logged in as' not in page.text.lower()
