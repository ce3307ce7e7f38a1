"""`make demo`'s environment: created once, reused after, people's edits
and the demo users' passwords kept."""

import os

from trac.perm import PermissionSystem
from trac.wiki.model import WikiPage

from tracl.demo import START_PAGE, create_or_open, ensure_users, \
    start_emulator, write_start_page
from tracl.schema import SCHEMA_VERSION, SCHEMA_VERSION_NAME


def test_demo_environment_is_created_with_tracl_then_reused(tmp_path):
    path = str(tmp_path / 'demo')
    env, created = create_or_open(path)
    assert created
    from trac.db.api import DatabaseManager
    assert DatabaseManager(env).get_database_version(SCHEMA_VERSION_NAME) \
        == SCHEMA_VERSION
    env.shutdown()
    env, created = create_or_open(path)
    assert not created
    env.shutdown()


def test_start_page_is_written_but_a_persons_edit_is_kept(tmp_path):
    env, _ = create_or_open(str(tmp_path / 'demo'))
    assert write_start_page(env)
    assert WikiPage(env, 'WikiStart').text == START_PAGE
    assert not write_start_page(env)  # already current
    page = WikiPage(env, 'WikiStart')
    page.text = 'Our own start page'
    page.save('alice', 'ours now')
    assert not write_start_page(env)
    assert WikiPage(env, 'WikiStart').text == 'Our own start page'
    env.shutdown()


def test_demo_users_keep_their_passwords_across_restarts(tmp_path):
    env, _ = create_or_open(str(tmp_path / 'demo'))
    users_file, users = ensure_users(env)
    assert [u['username'] for u in users] == ['learner', 'admin']
    for user in users:
        password = user['password']
        assert len(password) >= 8 and any(c.isupper() for c in password) \
            and any(c.islower() for c in password) \
            and any(c.isdigit() for c in password)
    assert ensure_users(env) == (users_file, users)
    assert oct(os.stat(users_file).st_mode & 0o777) == '0o600'
    env.shutdown()


def test_demo_signs_in_through_the_emulator_with_stable_subs(tmp_path):
    from tracl.auth.emulator import free_port
    from tracl.auth.idp import CognitoIdentityProvider
    from tracl.auth.tokens import CognitoTokenVerifier
    env, _ = create_or_open(str(tmp_path / 'demo'))
    users_file, users = ensure_users(env)
    subs = []
    for _ in range(2):  # a restart of `make demo` keeps the subs
        port = free_port()
        process, provisioned = start_emulator(env, users_file, port)
        try:
            env.config.parse_if_needed(force=True)
            tokens = CognitoIdentityProvider(env).sign_in(
                'learner', users[0]['password'])
            claims = CognitoTokenVerifier(env).verify(tokens.id_token)
            assert claims['cognito:groups'] == ['Students']
            subs.append(claims['sub'])
            assert provisioned['users']['learner'] == claims['sub']
            admin = provisioned['users']['admin']
            assert 'TRAC_ADMIN' in \
                PermissionSystem(env).get_user_permissions(admin)
        finally:
            process.terminate()
            process.wait(timeout=30)
        env.shutdown()
        env, _ = create_or_open(str(tmp_path / 'demo'))
    assert subs[0] == subs[1]
    assert env.config.getbool('cognito', 'allow_emulator')
    env.shutdown()
