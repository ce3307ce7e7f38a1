"""`make demo`'s environment: created once, reused after, people's edits,
the demo users' passwords and the users added with `learning user add`
kept; no Trac samples."""

import os

from trac.perm import PermissionSystem
from trac.wiki.model import WikiPage

from tracl.demo import START_PAGE, create_or_open, ensure_users, \
    remove_trac_samples, start_emulator, write_start_page
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


# -- No Trac samples

def _names(env, table):
    return sorted(name for name, in env.db_query(
        "SELECT name FROM %s" % table))


def test_trac_samples_are_removed_from_a_new_demo_environment(tmp_path):
    env, created = create_or_open(str(tmp_path / 'demo'))
    assert created
    assert _names(env, 'milestone') == ['milestone1', 'milestone2',
                                        'milestone3', 'milestone4']
    removed = remove_trac_samples(env)
    assert len(removed) == 8
    for table in ('milestone', 'component', 'version'):
        assert _names(env, table) == []
    from trac.ticket.api import TicketSystem
    from trac.ticket.model import Milestone
    assert list(Milestone.select(env)) == []
    fields = {f['name']: f for f in TicketSystem(env).fields}
    # Trac leaves out a select field without options.
    assert 'milestone1' not in \
        (fields.get('milestone') or {}).get('options', [])
    assert remove_trac_samples(env) == []  # nothing left to do
    env.shutdown()


def test_samples_a_ticket_uses_or_a_person_changed_are_kept(tmp_path):
    from trac.ticket.model import Component, Ticket, Version
    env, _ = create_or_open(str(tmp_path / 'demo'))
    ticket = Ticket(env)
    ticket.populate({'summary': 'Ours', 'reporter': 'alice',
                     'status': 'new', 'milestone': 'milestone2',
                     'version': '2.0'})
    ticket.insert()
    component = Component(env, 'component1')
    component.description = 'Our own component'
    component.update()
    version = Version(env, '1.0')
    version.description = 'Our first release'
    version.update()
    remove_trac_samples(env)
    assert _names(env, 'milestone') == ['milestone2']
    assert _names(env, 'component') == ['component1']
    assert _names(env, 'version') == ['1.0', '2.0']
    env.shutdown()


# -- Users added with `learning user add` survive a restart

def test_ensure_users_keeps_the_users_added_with_learning_user_add(tmp_path):
    from tracl.auth.emulator import load_users, record_user
    env, _ = create_or_open(str(tmp_path / 'demo'))
    users_file, users = ensure_users(env)
    alice = {'username': 'alice', 'password': 'Secret123',
             'groups': ['Students'], 'sub': 'a-sub'}
    record_user(users_file, alice)
    assert ensure_users(env) == (users_file, users)
    assert [u['username'] for u in load_users(users_file)] == \
        ['learner', 'admin', 'alice']
    assert load_users(users_file)[2] == alice
    assert oct(os.stat(users_file).st_mode & 0o777) == '0o600'
    # Adding alice again replaces her record; the others stay.
    record_user(users_file, dict(alice, password='Secret456'))
    assert [u['password'] for u in load_users(users_file)][2] == 'Secret456'
    assert len(load_users(users_file)) == 3
    assert oct(os.stat(users_file).st_mode & 0o777) == '0o600'
    assert not [name for name in os.listdir(os.path.dirname(users_file))
                if name.endswith('.tmp')]
    env.shutdown()


def _user_add(env, *args):
    from trac.admin.api import AdminCommandManager
    return AdminCommandManager(env).execute_command(
        'learning', 'user', 'add', *args)


def test_a_user_added_to_the_emulator_keeps_sign_in_and_sub_after_restart(
        tmp_path, capsys):
    from trac.admin.api import AdminCommandError
    from tracl.auth.emulator import free_port, load_users
    from tracl.auth.idp import CognitoIdentityProvider
    from tracl.auth.profile import LearnerProfiles
    from tracl.auth.tokens import CognitoTokenVerifier
    path = str(tmp_path / 'demo')
    env, _ = create_or_open(path)
    users_file, _ = ensure_users(env)
    process, _ = start_emulator(env, users_file, free_port())
    try:
        env.config.parse_if_needed(force=True)
        _user_add(env, 'alice', '--password', 'Secret123', '--group',
                  'Students', '--name', 'Alice Liddell', '--email',
                  'alice@example.org')
        out = capsys.readouterr().out
        sub = CognitoIdentityProvider(env).user_sub('alice')
        assert 'Created alice (sub %s).' % sub in out
        record = [u for u in load_users(users_file)
                  if u['username'] == 'alice']
        assert record == [{'username': 'alice', 'password': 'Secret123',
                           'groups': ['Students'], 'name': 'Alice Liddell',
                           'email': 'alice@example.org', 'sub': sub}]
        assert oct(os.stat(users_file).st_mode & 0o777) == '0o600'
        # Admin views can show her name before her first sign-in.
        profile = LearnerProfiles(env).get(sub)
        assert (profile['username'], profile['name'], profile['email']) == \
            ('alice', 'Alice Liddell', 'alice@example.org')
        # Adding her again is refused and changes nothing.
        try:
            _user_add(env, 'alice', '--password', 'Other1234')
        except AdminCommandError as e:
            assert 'already exists' in str(e)
        else:
            raise AssertionError('a second alice was accepted')
        assert [u['password'] for u in load_users(users_file)
                if u['username'] == 'alice'] == ['Secret123']
    finally:
        process.terminate()
        process.wait(timeout=30)
    env.shutdown()
    # The restarted emulator starts empty; the demo gives alice back.
    env, _ = create_or_open(path)
    users_file, _ = ensure_users(env)
    process, provisioned = start_emulator(env, users_file, free_port())
    try:
        env.config.parse_if_needed(force=True)
        assert provisioned['users']['alice'] == sub
        tokens = CognitoIdentityProvider(env).sign_in('alice', 'Secret123')
        claims = CognitoTokenVerifier(env).verify(tokens.id_token)
        assert claims['sub'] == sub
        assert claims['cognito:groups'] == ['Students']
        assert claims['name'] == 'Alice Liddell'
    finally:
        process.terminate()
        process.wait(timeout=30)
    env.shutdown()


def test_learning_user_add_records_no_user_without_its_stable_sub(
        tmp_path, monkeypatch):
    """Every creation in the emulator gave another `sub` than the one a
    restart gives back: the command fails and records nothing."""
    import tracl.auth.emulator as emulator_module
    from trac.admin.api import AdminCommandError
    from tracl.auth.emulator import free_port, load_users
    from tracl.auth.idp import CognitoIdentityProvider
    from tracl.auth.profile import USERNAME_ATTRIBUTE
    env, _ = create_or_open(str(tmp_path / 'demo'))
    users_file, _ = ensure_users(env)
    before = load_users(users_file)
    process, _ = start_emulator(env, users_file, free_port())
    try:
        env.config.parse_if_needed(force=True)
        # As if another request drew from moto's generator every time.
        monkeypatch.setattr(emulator_module, 'expected_sub',
                            lambda username: 'a-sub-never-drawn')
        try:
            _user_add(env, 'alice', '--password', 'Secret123')
        except AdminCommandError as e:
            assert 'Could not create alice with its stable sub' in str(e)
        else:
            raise AssertionError('alice was added with an unstable sub')
        assert load_users(users_file) == before
        pool = CognitoIdentityProvider(env).user_pool
        users = pool.call('list_users', {'UserPoolId': pool.user_pool_id})
        assert 'alice' not in [u['Username'] for u in users['Users']]
        assert env.db_query(
            "SELECT sid FROM session_attribute WHERE name=%s AND value=%s",
            (USERNAME_ATTRIBUTE, 'alice')) == []
    finally:
        process.terminate()
        process.wait(timeout=30)
    env.shutdown()


def test_learning_user_add_outside_an_emulator_records_nothing(
        tmp_path, monkeypatch, capsys):
    """A real Cognito (here moto reached as if it were AWS, with
    credentials from the environment) keeps its own users: nothing is
    written to `conf/`."""
    from tracl.auth.emulator import Emulator, provision, users_path
    from tracl.auth.idp import CognitoIdentityProvider
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'testing')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'testing')
    env, _ = create_or_open(str(tmp_path / 'prod'))
    with Emulator() as emulator:
        provisioned = provision(emulator.endpoint)
        for name, value in (('user_pool_id', provisioned['pool_id']),
                            ('client_id', provisioned['client_id']),
                            ('region', provisioned['region']),
                            ('endpoint_url', emulator.endpoint)):
            env.config.set('cognito', name, value)
        env.config.save()
        _user_add(env, 'bob', '--password', 'Secret123', '--name', 'Bob')
        sub = CognitoIdentityProvider(env).user_sub('bob')
        assert 'Created bob (sub %s).' % sub in capsys.readouterr().out
    assert not os.path.exists(users_path(env.path))
    assert not [name for name in os.listdir(os.path.join(env.path, 'conf'))
                if 'users' in name]
    from tracl.auth.profile import LearnerProfiles
    assert LearnerProfiles(env).get(sub)['name'] == 'Bob'
    env.shutdown()


# -- Stopping: children stopped in one place, whatever signals come

def _sleeper(seconds='60'):
    import subprocess
    import sys
    return subprocess.Popen([sys.executable, '-c',
                             'import time; time.sleep(%s)' % seconds])


def test_wait_for_any_polls_where_os_waitid_is_missing(monkeypatch):
    from tracl.demo import wait_for_any
    monkeypatch.delattr(os, 'waitid')
    slow, quick = _sleeper(), _sleeper('0')
    try:
        assert wait_for_any([slow, quick]) is quick
        assert quick.returncode == 0
        assert slow.poll() is None
    finally:
        slow.kill()
        slow.wait()


def test_a_second_signal_while_stopping_is_ignored_and_both_children_stop(
        monkeypatch):
    import signal
    import time
    import tracl.demo as demo
    children_started = []
    seen = {}

    def fake_serve(args, children):
        children.extend([_sleeper(), _sleeper()])
        children_started.extend(children)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)          # the handler raises Stopped here
        finally:
            # Unwinding: the stop signals are ignored already, so a second
            # Ctrl-C and SIGTERM change nothing.
            seen['handlers'] = [signal.getsignal(signum)
                                for signum in demo.STOP_SIGNALS]
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)

    real_stop_children = demo.stop_children

    def impatient_stop_children(processes):
        os.kill(os.getpid(), signal.SIGINT)     # a third, while stopping
        real_stop_children(processes)

    monkeypatch.setattr(demo, '_serve', fake_serve)
    monkeypatch.setattr(demo, 'stop_children', impatient_stop_children)
    before = [signal.getsignal(signum) for signum in demo.STOP_SIGNALS]

    assert demo.serve(None) == 0

    assert seen['handlers'] == [signal.SIG_IGN] * 2
    assert len(children_started) == 2
    assert [child.poll() is not None for child in children_started] == \
        [True, True]
    # The handlers the demo found are back.
    assert [signal.getsignal(signum) for signum in demo.STOP_SIGNALS] == \
        before


def test_a_child_that_stops_stops_the_other_one(monkeypatch):
    import signal
    import tracl.demo as demo
    started = []

    def fake_serve(args, children):
        children.extend([_sleeper('0'), _sleeper()])
        started.extend(children)
        demo.wait_for_any(children)
        return 1

    monkeypatch.setattr(demo, '_serve', fake_serve)
    before = [signal.getsignal(signum) for signum in demo.STOP_SIGNALS]
    assert demo.serve(None) == 1
    assert all(child.poll() is not None for child in started)
    assert [signal.getsignal(signum) for signum in demo.STOP_SIGNALS] == \
        before
