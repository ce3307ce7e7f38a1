"""`make demo`'s environment: created once, reused after, people's edits
and the demo users' passwords kept."""

import os

from trac.perm import PermissionSystem
from trac.web.auth import BasicAuthentication
from trac.wiki.model import WikiPage

from tracl.demo import START_PAGE, create_or_open, ensure_users, \
    write_start_page
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
    users, htpasswd = ensure_users(env)
    assert set(users) == {'learner', 'admin'}
    again, _ = ensure_users(env)
    assert again == users
    assert oct(os.stat(os.path.join(env.path, 'conf', 'demo-users.json'))
               .st_mode & 0o777) == '0o600'
    auth = BasicAuthentication(htpasswd, 'TracLearn')
    assert auth.test('learner', users['learner'])
    assert not auth.test('learner', users['admin'])
    assert 'TRAC_ADMIN' in PermissionSystem(env).get_user_permissions('admin')
    assert 'TRAC_ADMIN' not in \
        PermissionSystem(env).get_user_permissions('learner')
    env.shutdown()
