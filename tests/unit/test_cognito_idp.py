"""Cognito calls (`tracl.auth.idp`) and the local emulator
(`tracl.auth.emulator`), against a real `moto_server` started on a free
loopback port and always stopped at the end.

What moto does, on which these tests rely (and real Cognito does too):
GlobalSignOut revokes every refresh token of the user; moto does so only for
pools in us-east-1, where the emulator's pool lives. Where moto differs from
Cognito, the test says so.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid

import pytest

import support.envs  # noqa: F401  (loads the plugin modules)

from trac.config import Configuration
from trac.test import EnvironmentStub

from tracl.auth.emulator import (GROUPS, Emulator, EmulatorError, answers,
                                 cognito_options, provision, read_settings,
                                 wait_for_state, write_settings)
from tracl.auth.idp import CognitoError, CognitoIdentityProvider, Tokens

ENABLED = ['trac.*', 'tracl.*']

LEARNER = {'username': 'learner', 'password': 'Learner-Passw0rd',
           'email': 'learner@example.org', 'name': 'Lee Learner',
           'groups': ['Students']}
ADMIN = {'username': 'admin', 'password': 'Admin-Passw0rd',
         'email': 'admin@example.org', 'name': 'Ada Admin',
         'groups': ['Administrators']}
USERS = [LEARNER, ADMIN]


# -- Helpers and fixtures

def decode_part(token, index):
    part = token.split('.')[index]
    return json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))


def claims(token):
    """A JWT's payload, decoded without checking its signature."""
    return decode_part(token, 1)


def header(token):
    return decode_part(token, 0)


def new_username():
    return 'user-%s' % uuid.uuid4().hex[:12]


def make_idp(provisioned, **options):
    config = cognito_options(provisioned)
    config += [('cognito', name, str(value))
               for name, value in options.items()]
    env = EnvironmentStub(enable=ENABLED, config=config)
    return CognitoIdentityProvider(env)


@pytest.fixture(scope='module')
def emulator():
    """One emulator for the module, provisioned with `USERS`."""
    with Emulator() as running:
        yield running, provision(running.endpoint, USERS)


@pytest.fixture
def provisioned(emulator):
    return emulator[1]


@pytest.fixture
def idp(provisioned):
    return make_idp(provisioned)


@pytest.fixture
def own_emulator():
    """An emulator of the test's own, which it may stop and start."""
    running = Emulator()
    yield running
    running.stop()


# -- Signing in

def test_sign_in_with_the_right_password_gives_tokens_of_the_user(
        idp, provisioned):
    tokens = idp.sign_in('learner', LEARNER['password'])

    id_claims = claims(tokens.id_token)
    assert id_claims['token_use'] == 'id'
    assert id_claims['aud'] == provisioned['client_id']
    assert id_claims['sub'] == provisioned['users']['learner']
    assert id_claims['cognito:username'] == 'learner'
    assert id_claims['iss'].endswith('/' + provisioned['pool_id'])
    access_claims = claims(tokens.access_token)
    assert access_claims['token_use'] == 'access'
    assert access_claims['client_id'] == provisioned['client_id']
    assert tokens.refresh_token
    assert tokens.expires_in > 0


def test_threads_share_one_client(idp):
    barrier = threading.Barrier(8)
    pools = []

    def get_pool():
        barrier.wait()
        pools.append(idp.user_pool)
    threads = [threading.Thread(target=get_pool) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(pools) == 8 and len({id(pool) for pool in pools}) == 1


def test_tokens_are_not_shown_by_repr(idp):
    tokens = idp.sign_in('learner', LEARNER['password'])

    text = repr(tokens)
    for token in (tokens.id_token, tokens.access_token,
                  tokens.refresh_token):
        assert token not in text
    assert 'expires_in' in text


def test_sign_in_with_a_wrong_password_is_not_authorized(idp):
    with pytest.raises(CognitoError) as raised:
        idp.sign_in('learner', 'Wrong-Passw0rd')

    assert raised.value.code == 'not_authorized'
    assert raised.value.message == "The username or password is wrong."
    assert 'Wrong-Passw0rd' not in str(raised.value)


def test_sign_in_with_an_empty_password_is_refused_without_a_call(idp):
    with pytest.raises(CognitoError) as raised:
        idp.sign_in('learner', '')

    assert raised.value.code == 'not_authorized'
    assert raised.value.aws_code is None


def test_sign_in_of_an_unknown_user_is_user_not_found_with_the_same_message(
        idp):
    """moto ignores the app client's PreventUserExistenceErrors and always
    answers UserNotFoundException; the message for a person is the one of
    a wrong password, so the page does not tell who has an account."""
    with pytest.raises(CognitoError) as raised:
        idp.sign_in('nobody-' + uuid.uuid4().hex, 'Some-Passw0rd')

    assert raised.value.code == 'user_not_found'
    assert raised.value.message == "The username or password is wrong."


# -- Refreshing and signing out

def test_refresh_gives_new_tokens_and_keeps_the_refresh_token(
        idp, provisioned):
    tokens = idp.sign_in('learner', LEARNER['password'])

    refreshed = idp.refresh(tokens.refresh_token)

    assert isinstance(refreshed, Tokens)
    assert refreshed.refresh_token == tokens.refresh_token
    assert refreshed.id_token != tokens.id_token
    assert refreshed.access_token != tokens.access_token
    assert claims(refreshed.id_token)['sub'] == \
        provisioned['users']['learner']
    assert refreshed.expires_in > 0


def test_a_garbage_refresh_token_is_not_authorized(idp):
    with pytest.raises(CognitoError) as raised:
        idp.refresh('not-a-refresh-token')

    assert raised.value.code == 'not_authorized'
    assert 'not-a-refresh-token' not in str(raised.value)


def test_refresh_after_sign_out_is_not_authorized(idp):
    """GlobalSignOut revokes the user's refresh tokens, in Cognito and in
    moto (for us-east-1 pools only: moto looks for the access token in
    the backend of the request's region, and GlobalSignOut is unsigned, so
    that region is moto's default, us-east-1)."""
    tokens = idp.sign_in('learner', LEARNER['password'])
    other_device = idp.sign_in('learner', LEARNER['password'])

    assert idp.sign_out(tokens.access_token) is True

    for refresh_token in (tokens.refresh_token, other_device.refresh_token):
        with pytest.raises(CognitoError) as raised:
            idp.refresh(refresh_token)
        assert raised.value.code == 'not_authorized'
        assert raised.value.message == ("The sign-in has expired or was "
                                        "revoked: sign in again.")


def test_sign_out_failure_answers_false_and_logs_no_token(idp):
    """moto puts the access token in its NotAuthorizedException message;
    that text must not reach the log."""
    token = 'garbage-access-token-%s' % uuid.uuid4().hex

    assert idp.sign_out(token) is False

    logged = [message for level, message in idp.env.log_messages
              if 'sign-out' in message]
    assert logged and all(token not in message for message in logged)


# -- Users and groups

def test_created_user_signs_in_with_its_groups_and_attributes(idp):
    username = new_username()

    sub = idp.create_user(username, 'New-Passw0rd', email='new@example.org',
                          name='New Person',
                          groups=['Instructors', 'Students'])

    id_claims = claims(idp.sign_in(username, 'New-Passw0rd').id_token)
    assert id_claims['sub'] == sub
    assert sorted(id_claims['cognito:groups']) == ['Instructors', 'Students']
    assert id_claims['email'] == 'new@example.org'
    assert id_claims['email_verified'] == 'true'
    assert id_claims['name'] == 'New Person'
    assert idp.user_sub(username) == sub


def test_create_user_creates_a_missing_group(idp):
    username = new_username()
    group = 'Group-%s' % uuid.uuid4().hex[:8]

    idp.create_user(username, 'New-Passw0rd', groups=[group])

    id_claims = claims(idp.sign_in(username, 'New-Passw0rd').id_token)
    assert id_claims['cognito:groups'] == [group]
    assert idp.ensure_group(group) is False


def test_ensure_group_creates_a_group_once(idp):
    group = 'Group-%s' % uuid.uuid4().hex[:8]

    assert idp.ensure_group(group) is True
    assert idp.ensure_group(group) is False


def test_creating_an_existing_user_is_user_exists(idp, provisioned):
    with pytest.raises(CognitoError) as raised:
        idp.create_user('learner', 'Other-Passw0rd')

    assert raised.value.code == 'user_exists'
    assert 'learner' in raised.value.message
    # The existing user is untouched.
    assert idp.user_sub('learner') == provisioned['users']['learner']
    idp.sign_in('learner', LEARNER['password'])


def test_a_password_against_the_policy_is_refused_and_no_user_is_left(idp):
    username = new_username()

    with pytest.raises(CognitoError) as raised:
        idp.create_user(username, 'short', groups=['Students'])

    assert raised.value.code == 'invalid_password'
    assert 'short' not in raised.value.message
    with pytest.raises(CognitoError) as raised:
        idp.user_sub(username)
    assert raised.value.code == 'user_not_found'


def test_user_sub_of_an_unknown_user_is_user_not_found(idp):
    with pytest.raises(CognitoError) as raised:
        idp.user_sub('nobody-' + uuid.uuid4().hex)

    assert raised.value.code == 'user_not_found'


# -- Failures of the service and of the settings

def test_a_stopped_emulator_is_unavailable(own_emulator):
    own_emulator.start()
    provisioned = provision(own_emulator.endpoint, [LEARNER])
    idp = make_idp(provisioned, timeout=2)
    idp.sign_in('learner', LEARNER['password'])

    own_emulator.stop()

    with pytest.raises(CognitoError) as raised:
        idp.sign_in('learner', LEARNER['password'])
    assert raised.value.code == 'unavailable'
    assert raised.value.message == (
        "Cognito at %s does not answer: is the local emulator running? "
        "`make demo` starts it." % own_emulator.endpoint)
    assert idp.sign_out('any-token') is False


def test_a_cognito_that_never_answers_is_unavailable_after_the_timeout(
        provisioned):
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(8)
        endpoint = 'http://127.0.0.1:%d' % silent.getsockname()[1]
        idp = make_idp(dict(provisioned, endpoint=endpoint), timeout=0.3)

        with pytest.raises(CognitoError) as raised:
            idp.sign_in('learner', LEARNER['password'])

    assert raised.value.code == 'unavailable'
    assert raised.value.message.startswith(
        "Cognito at %s did not answer within 0.3 seconds: " % endpoint)


def test_an_unknown_app_client_is_misconfigured(provisioned):
    idp = make_idp(dict(provisioned, client_id='nosuchclient'))

    with pytest.raises(CognitoError) as raised:
        idp.sign_in('learner', LEARNER['password'])

    assert raised.value.code == 'misconfigured'
    assert '`make demo`' in raised.value.message


def test_missing_pool_settings_are_misconfigured():
    env = EnvironmentStub(enable=ENABLED)

    with pytest.raises(CognitoError) as raised:
        CognitoIdentityProvider(env).sign_in('learner', 'Some-Passw0rd')

    assert raised.value.code == 'misconfigured'
    assert 'user_pool_id' in raised.value.message


# -- The emulator

def test_subs_and_ids_survive_a_restart_of_the_emulator(own_emulator):
    own_emulator.start()
    first = provision(own_emulator.endpoint, USERS)
    own_emulator.stop()
    assert not answers(own_emulator.endpoint)

    own_emulator.start()
    second = provision(own_emulator.endpoint, USERS)

    assert second == first
    assert len(set(first['users'].values())) == len(USERS)
    # The settings written before the restart still sign in.
    make_idp(first).sign_in('admin', ADMIN['password'])


def test_a_user_keeps_its_sub_whatever_users_come_before_it(own_emulator):
    own_emulator.start()
    first = provision(own_emulator.endpoint, USERS)
    own_emulator.stop()

    own_emulator.start()
    extra = {'username': 'instructor', 'password': 'Instructor-Passw0rd',
             'groups': ['Instructors']}
    second = provision(own_emulator.endpoint, [extra, ADMIN, LEARNER])

    assert second['users']['learner'] == first['users']['learner']
    assert second['users']['admin'] == first['users']['admin']
    assert second['users']['instructor'] not in first['users'].values()


def started_pool_and_alice(own_emulator):
    """Start `own_emulator` and provision its pool: the pool, and Alice
    (not created yet) as `provision_user` takes a user."""
    from tracl.auth.emulator import make_client
    from tracl.auth.idp import UserPool
    own_emulator.start()
    provisioned = provision(own_emulator.endpoint)
    pool = UserPool(make_client('us-east-1', own_emulator.endpoint,
                                emulator=True),
                    provisioned['pool_id'], provisioned['client_id'],
                    emulator=True)
    return pool, {'username': 'alice', 'password': 'Alice-Passw0rd',
                  'groups': ['Students']}


def test_a_user_keeps_its_sub_when_a_request_comes_between_seed_and_creation(
        own_emulator, monkeypatch):
    """`learning user add` while the demo serves: a sign-in may reach the
    emulator between the seed and the creation and draw from moto's
    generator; the user is created again, so a restart gives the same
    `sub`."""
    import tracl.auth.emulator as emulator_module
    from tracl.auth.emulator import expected_sub, provision_user, user_seed
    pool, user = started_pool_and_alice(own_emulator)
    real_seed = emulator_module._seed
    interleaved = []

    def seed_then_someone_else(endpoint, seed):
        real_seed(endpoint, seed)
        if seed == user_seed('alice') and not interleaved:
            interleaved.append(pool.call('list_user_pools',
                                         {'MaxResults': 1}))

    monkeypatch.setattr(emulator_module, '_seed', seed_then_someone_else)
    sub = provision_user(pool, user, existing=False)
    assert interleaved
    assert sub == expected_sub('alice')
    assert pool.user_sub('alice') == sub
    monkeypatch.setattr(emulator_module, '_seed', real_seed)
    own_emulator.stop()
    own_emulator.start()
    assert provision(own_emulator.endpoint, [user])['users']['alice'] == sub


def test_a_user_that_never_gets_its_sub_is_an_error_and_not_kept(
        own_emulator, monkeypatch):
    """Requests reach the emulator between the seed and the creation on
    every attempt: the user would get a `sub` a restart does not give
    back, so it is an error, and no user is left behind."""
    import tracl.auth.emulator as emulator_module
    from tracl.auth.emulator import (CREATE_ATTEMPTS, provision_user,
                                     user_seed)
    pool, user = started_pool_and_alice(own_emulator)
    real_seed = emulator_module._seed
    interleaved = []

    def seed_then_someone_else(endpoint, seed):
        real_seed(endpoint, seed)
        if seed == user_seed('alice'):
            interleaved.append(pool.call('list_user_pools',
                                         {'MaxResults': 1}))

    monkeypatch.setattr(emulator_module, '_seed', seed_then_someone_else)
    with pytest.raises(EmulatorError) as raised:
        provision_user(pool, user, existing=False)
    assert len(interleaved) == CREATE_ATTEMPTS
    assert 'alice' in str(raised.value)
    assert 'No user was created' in str(raised.value)
    with pytest.raises(CognitoError) as missing:
        pool.user_sub('alice')
    assert missing.value.code == 'user_not_found'
    # Once the emulator is quiet again, adding her works.
    monkeypatch.setattr(emulator_module, '_seed', real_seed)
    assert provision_user(pool, user, existing=False) == \
        pool.user_sub('alice')


def test_refresh_tokens_of_a_former_run_are_refused_after_a_restart(
        own_emulator):
    """Without a random seed after provisioning, the second run would hand
    out the same refresh tokens as the first, to whoever signs in first."""
    own_emulator.start()
    provisioned = provision(own_emulator.endpoint, USERS)
    old = make_idp(provisioned).sign_in('learner', LEARNER['password'])
    own_emulator.stop()

    own_emulator.start()
    provisioned = provision(own_emulator.endpoint, USERS)
    idp = make_idp(provisioned)
    new = idp.sign_in('admin', ADMIN['password'])

    assert new.refresh_token != old.refresh_token
    with pytest.raises(CognitoError) as raised:
        idp.refresh(old.refresh_token)
    assert raised.value.code == 'not_authorized'


def test_provisioning_twice_changes_nothing(emulator, idp):
    running, provisioned = emulator

    again = provision(running.endpoint, USERS)

    assert again == provisioned
    pool = idp.user_pool
    pools = pool.call('list_user_pools', {'MaxResults': 60})['UserPools']
    assert [p['Name'] for p in pools] == ['tracl-demo']
    clients = pool.call('list_user_pool_clients', {
        'UserPoolId': provisioned['pool_id'], 'MaxResults': 60,
    })['UserPoolClients']
    assert [c['ClientName'] for c in clients] == ['tracl']
    groups = pool.call('admin_list_groups_for_user', {
        'UserPoolId': provisioned['pool_id'], 'Username': 'learner'})
    assert [g['GroupName'] for g in groups['Groups']] == ['Students']
    idp.sign_in('learner', LEARNER['password'])


def test_provisioning_creates_the_groups_and_serves_the_key_set(
        emulator, idp):
    running, provisioned = emulator
    pool = idp.user_pool

    names = {g['GroupName'] for g in pool.call('list_groups', {
        'UserPoolId': provisioned['pool_id']})['Groups']}

    assert set(GROUPS) <= names
    assert provisioned['region'] == 'us-east-1'
    assert provisioned['endpoint'] == running.endpoint
    with urllib.request.urlopen(provisioned['jwks_uri'], timeout=5) as r:
        keys = json.load(r)['keys']
    token = idp.sign_in('learner', LEARNER['password']).id_token
    assert [k['kid'] for k in keys] == [header(token)['kid']]


def test_starting_on_a_port_in_use_is_refused(emulator):
    running, _ = emulator

    with pytest.raises(EmulatorError) as raised:
        Emulator(running.port).start()

    assert 'in use' in str(raised.value)


def test_settings_written_to_trac_ini_are_read_back_and_sign_in(
        provisioned, tmp_path):
    path = str(tmp_path / 'trac.ini')
    open(path, 'w').close()

    assert write_settings(Configuration(path), provisioned) is True
    assert write_settings(Configuration(path), provisioned) is False

    settings = read_settings(Configuration(path))
    expected = {k: v for k, v in provisioned.items() if k != 'users'}
    assert settings == dict(expected, allow_emulator=True)
    env = EnvironmentStub(enable=ENABLED, config=[
        ('cognito', name, value)
        for name, value in Configuration(path).options('cognito')])
    CognitoIdentityProvider(env).sign_in('learner', LEARNER['password'])


def test_serve_command_provisions_writes_its_state_and_stops_on_sigterm(
        tmp_path):
    state_path = tmp_path / 'emulator.json'
    users_path = tmp_path / 'users.json'
    users_path.write_text(json.dumps([LEARNER]))
    port = Emulator().port
    process = subprocess.Popen(
        [sys.executable, '-m', 'tracl.auth.emulator', 'serve', '--port',
         str(port), '--state', str(state_path), '--users', str(users_path),
         '--log', str(tmp_path / 'moto.log')],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        state = wait_for_state(str(state_path), process)
        assert state['endpoint'] == 'http://127.0.0.1:%d' % port
        assert state['pid'] == process.pid
        make_idp(state).sign_in('learner', LEARNER['password'])
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()

    assert process.returncode == 0, output
    assert not os.path.exists(state_path)
    assert not answers(state['endpoint'])
