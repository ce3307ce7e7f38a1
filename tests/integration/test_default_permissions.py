"""The permissions environment setup gives each group, on a new
environment and on one upgraded from Trac's defaults.

Learners (Cognito's Students) read the wiki, study and comment on their own
concepts; they neither edit wiki pages nor create tickets nor batch-modify.
Anonymous users only read. Admins and instructors (Administrators and
Instructors, Trac group `admin`) edit the wiki and tickets and
batch-modify. An upgrade revokes Trac's stock write grants to signed-in
users once, only while they are still Trac's untouched set, prints what it
revoked with the commands that restore it, and leaves what an admin
granted alone (with a warning when it lets everyone write), then and
afterwards.
"""

from urllib.parse import urlencode

import pytest
# Trac's wiki, ticket, query, batch modify, search and timeline pages and
# the policies in their modules: a stub knows only the components whose
# modules are imported.
import trac.search.web_ui  # noqa: F401
import trac.ticket.batch  # noqa: F401
import trac.ticket.query  # noqa: F401
import trac.ticket.web_ui  # noqa: F401
import trac.timeline.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.db.api import DatabaseManager
from trac.env import Environment
from trac.perm import (DefaultPermissionPolicy, PermissionCache,
                       PermissionSystem)
from trac.ticket.model import Ticket
from trac.util.datefmt import to_utimestamp
from trac.wiki.model import WikiPage

from support.sessions import browser_session
from support.study import make_path
from support.web import call
from tracl.auth.default_permissions import (
    DEFAULT_GRANTS, PERMISSIONS_VERSION, PERMISSIONS_VERSION_NAME,
    STOCK_WRITE_ACTIONS, Outcome, apply_defaults)
from tracl.environment import LearningEnvironmentSetup

ALICE, INSTRUCTOR, ADMIN_SUB = 'sub-alice', 'sub-instructor', 'sub-admin'
GROUPS = {ALICE: ('Students',), INSTRUCTOR: ('Instructors',),
          ADMIN_SUB: ('Administrators',)}
EDITORS = (INSTRUCTOR, ADMIN_SUB)
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
START_PAGE = "= Welcome =\n[[LearningPath]]\n"

#: What signed-in users could do with Trac's defaults and learners may not.
WRITES = [('wiki', 'WikiStart', 'WIKI_MODIFY'),
          ('wiki', 'NewPage', 'WIKI_CREATE'),
          ('ticket', None, 'TICKET_CREATE'),
          ('ticket', None, 'TICKET_MODIFY'),
          ('ticket', None, 'TICKET_CHGPROP'),
          ('ticket', None, 'TICKET_BATCH_MODIFY')]

#: Trac's `initenv` grants, the write ones TracLearn revokes among them.
STOCK_GRANTS = [('authenticated', action) for action in STOCK_WRITE_ACTIONS]

#: What an admin granted before the upgrade: to a user, to a group of
#: their own, and more to the learners.
ADMINS_OWN = [('sub-carol', 'WIKI_MODIFY'), ('editors', 'TICKET_MODIFY'),
              ('editors', 'WIKI_CREATE'), ('learner', 'WIKI_CREATE')]

# Trac's default data (its permissions) and policies, as `trac-admin
# initenv` leaves them before TracLearn's setup runs.
pytestmark = pytest.mark.learning_env(
    default_data=True, trac_policies=True,
    config=[('learning', 'max_foundations', '0')])


@pytest.fixture
def start_page(env):
    """The start page the admins wrote."""
    page = WikiPage(env, 'WikiStart')
    page.text = START_PAGE
    page.save(ADMIN_SUB, 'The start page.')
    return page


@pytest.fixture
def defect(env):
    """A ticket that is no concept, visible to everyone."""
    ticket = Ticket(env)
    ticket.populate({'type': 'defect', 'summary': 'A typo on the start page',
                     'status': 'new', 'reporter': ADMIN_SUB})
    ticket.insert()
    return ticket.id


def signed_in(env, sub):
    return browser_session(env, sub, groups=GROUPS[sub])


def perm(env, sub):
    if sub in GROUPS:
        signed_in(env, sub)          # the profile holds the Cognito groups
    return PermissionCache(env, sub)


def post(env, sub, path, fields):
    """Post a form to `path` as `sub`'s browser (anonymous: none)."""
    cookies = signed_in(env, sub) if sub in GROUPS else \
        {'trac_form_token': 'form-token-anonymous'}
    fields = dict(fields, __FORM_TOKEN=cookies['trac_form_token'])
    return call(env, 'POST', path, cookies=cookies,
                body=urlencode(fields).encode('utf-8'), headers=FORM)


def edit_start_page(env, sub, text):
    return post(env, sub, '/wiki/WikiStart',
                {'action': 'edit', 'version': '1', 'text': text,
                 'save': 'Submit changes'})


def batch_comment(env, sub, ticket_id, comment):
    return post(env, sub, '/batchmodify',
                {'selected_tickets': str(ticket_id), 'query_href': '/query',
                 'action': 'leave', 'batchmod_value_comment': comment,
                 'batchmod_submit': 'Change tickets'})


def comment_on(env, sub, ticket_id, comment, **fields):
    changetime = str(to_utimestamp(Ticket(env, ticket_id)['changetime']))
    return post(env, sub, '/ticket/%d' % ticket_id,
                dict({'action': 'leave', 'comment': comment,
                      'view_time': changetime, 'start_time': changetime,
                      'submit': 'Submit changes'}, **fields))


def comments(env, ticket_id):
    return [new for new, in env.db_query(
        "SELECT newvalue FROM ticket_change WHERE ticket=%s "
        "AND field='comment' AND newvalue != ''", (ticket_id,))]


def as_before_the_defaults(env, admins_own=(), admin_revoked=()):
    """Turn `env` into an environment set up before TracLearn had default
    permissions: Trac's stock grants, no record of the defaults, and what
    an admin granted (and revoked) meanwhile."""
    store = PermissionSystem(env).store
    with env.db_transaction as db:
        for subject, action in DEFAULT_GRANTS:
            store.revoke_permission(subject, action)
        for subject, action in STOCK_GRANTS + list(admins_own):
            store.grant_permission(subject, action)
        for subject, action in admin_revoked:
            store.revoke_permission(subject, action)
        db("DELETE FROM system WHERE name=%s", (PERMISSIONS_VERSION_NAME,))


def warnings_logged(env):
    return [message for level, message in env.log_messages
            if level == 'WARNING']


# A new environment

def test_new_environment_has_the_defaults_recorded(env):
    assert DatabaseManager(env).get_database_version(
        PERMISSIONS_VERSION_NAME) == PERMISSIONS_VERSION
    assert not LearningEnvironmentSetup(env).environment_needs_upgrade()
    granted = set(PermissionSystem(env).get_all_permissions())
    assert not granted & set(STOCK_GRANTS)
    assert set(DEFAULT_GRANTS) <= granted


@pytest.mark.parametrize('realm,resource_id,action', WRITES)
def test_learner_may_not_write(env, realm, resource_id, action):
    assert action not in perm(env, ALICE)(realm, resource_id)


@pytest.mark.parametrize('realm,resource_id,action', WRITES + [
    ('ticket', None, 'TICKET_APPEND')])
def test_anonymous_and_groupless_users_may_not_write(
        env, realm, resource_id, action):
    for username in ('anonymous', 'sub-nobody'):
        assert action not in perm(env, username)(realm, resource_id), \
            username


@pytest.mark.parametrize('sub', EDITORS)
@pytest.mark.parametrize('realm,resource_id,action', WRITES)
def test_admins_and_instructors_may_write(env, sub, realm, resource_id,
                                          action):
    assert action in perm(env, sub)(realm, resource_id)


def test_what_everyone_still_reads(env):
    for username in ('anonymous', ALICE):
        cache = perm(env, username)
        for action in ('WIKI_VIEW', 'TICKET_VIEW', 'ROADMAP_VIEW',
                       'SEARCH_VIEW', 'TIMELINE_VIEW'):
            assert action in cache, (username, action)
    assert 'LEARNING_STUDY' in perm(env, ALICE)
    assert 'TICKET_APPEND' in perm(env, ALICE)('ticket', None)
    for sub in EDITORS:
        assert 'LEARNING_ADMIN' in perm(env, sub)


def test_initenv_leaves_everyone_but_the_admin_group_read_only(tmp_path):
    # `trac-admin initenv`: Trac's default data, then TracLearn's setup.
    env = Environment(str(tmp_path / 'env'), create=True, options=[
        ('components', 'tracl.*', 'enabled')])
    try:
        granted = set(PermissionSystem(env).get_all_permissions())
        writers = {subject for subject, action in granted
                   if not action.endswith('_VIEW')}
        assert writers == {'learner', 'admin'}
        assert {action for subject, action in granted
                if subject == 'learner'} == {'LEARNING_STUDY',
                                             'TICKET_APPEND'}
        assert ('anonymous', 'WIKI_VIEW') in granted
        assert not LearningEnvironmentSetup(env).environment_needs_upgrade()
    finally:
        env.shutdown()


# Through the pages

def test_learners_edit_of_the_start_page_is_refused(env, start_page):
    response = edit_start_page(env, ALICE, "(edited by the learner account)")
    assert response.status == 403, response
    assert WikiPage(env, 'WikiStart').text == START_PAGE
    assert WikiPage(env, 'WikiStart').version == 1


def test_anonymous_edit_of_the_start_page_is_refused(env, start_page):
    response = edit_start_page(env, 'anonymous', "Defaced.")
    assert response.status == 403, response
    assert WikiPage(env, 'WikiStart').text == START_PAGE


def test_learners_start_page_offers_no_edit(env, start_page):
    page = call(env, 'GET', '/wiki/WikiStart', cookies=signed_in(env, ALICE))
    assert page.status == 200, page
    assert 'Welcome' in page.text
    assert 'name="action" value="edit"' not in page.text


@pytest.mark.parametrize('sub', EDITORS)
def test_admins_and_instructors_edit_the_start_page(env, start_page, sub):
    response = edit_start_page(env, sub, "= Welcome, again =\n")
    assert response.status == 303, response
    page = WikiPage(env, 'WikiStart')
    assert (page.text, page.version, page.author) == \
        ("= Welcome, again =\n", 2, sub)


def test_learner_may_not_create_a_ticket(env):
    cookies = signed_in(env, ALICE)
    assert call(env, 'GET', '/newticket', cookies=cookies).status == 403
    response = post(env, ALICE, '/newticket',
                    {'field_type': 'defect', 'field_summary': 'Mine',
                     'submit': 'Create ticket'})
    assert response.status == 403, response
    assert env.db_query("SELECT COUNT(*) FROM ticket")[0][0] == 0


def test_admin_creates_a_ticket(env):
    cookies = signed_in(env, ADMIN_SUB)
    assert call(env, 'GET', '/newticket', cookies=cookies).status == 200


def test_learners_query_page_offers_no_batch_modify(env, defect):
    page = call(env, 'GET', '/query', cookies=signed_in(env, ALICE),
                query='type=defect')
    assert page.status == 200, page
    assert 'href="/ticket/%d"' % defect in page.text
    assert 'batchmod_form' not in page.text


def test_admins_query_page_offers_batch_modify(env, defect):
    page = call(env, 'GET', '/query', cookies=signed_in(env, ADMIN_SUB),
                query='type=defect')
    assert page.status == 200, page
    assert 'id="batchmod_form"' in page.text


def test_learners_batch_modify_is_refused(env, defect):
    response = batch_comment(env, ALICE, defect, 'From the learner.')
    assert response.status == 403, response
    assert comments(env, defect) == []


@pytest.mark.parametrize('sub', EDITORS)
def test_admins_and_instructors_batch_modify(env, defect, sub):
    response = batch_comment(env, sub, defect, 'Fixed in the next build.')
    assert response.status == 303, response
    assert comments(env, defect) == ['Fixed in the next build.']


def test_learner_comments_on_her_concept_but_not_on_its_fields(env):
    concept = make_path(env, ALICE)['tickets'][0]['ticket_id']
    response = comment_on(env, ALICE, concept, 'I mix up the two.')
    assert response.status == 303, response
    assert comments(env, concept) == ['I mix up the two.']
    # Changing a field needs TICKET_CHGPROP, which learners lack.
    response = comment_on(env, ALICE, concept, 'And a keyword.',
                          field_keywords='mine')
    assert response.status == 200, response          # the form, refused
    assert Ticket(env, concept)['keywords'] == ''
    assert comments(env, concept) == ['I mix up the two.']


# An existing environment upgraded

def test_upgrade_revokes_the_stock_grants_and_keeps_the_admins_own(
        env, start_page):
    as_before_the_defaults(env, ADMINS_OWN)
    setup = LearningEnvironmentSetup(env)
    assert setup.environment_needs_upgrade()
    assert 'WIKI_MODIFY' in perm(env, ALICE)('wiki', 'WikiStart')

    setup.upgrade_environment()
    forget_checked_permissions(env)

    granted = set(PermissionSystem(env).get_all_permissions())
    assert not granted & set(STOCK_GRANTS)
    assert set(ADMINS_OWN) <= granted
    assert set(DEFAULT_GRANTS) <= granted
    assert not setup.environment_needs_upgrade()
    assert 'WIKI_MODIFY' not in perm(env, ALICE)('wiki', 'WikiStart')
    assert 'TICKET_BATCH_MODIFY' not in perm(env, ALICE)('ticket', None)
    # The admin's grants still work: carol edits, learners create pages.
    assert 'WIKI_MODIFY' in perm(env, 'sub-carol')('wiki', 'WikiStart')
    assert 'WIKI_CREATE' in perm(env, ALICE)('wiki', 'NewPage')
    assert edit_start_page(env, ALICE, "Defaced.").status == 403
    assert edit_start_page(env, ADMIN_SUB, "= Hello =\n").status == 303


def test_upgrade_prints_what_it_revoked_and_how_to_restore_it(env, capsys):
    as_before_the_defaults(env, ADMINS_OWN)
    capsys.readouterr()
    LearningEnvironmentSetup(env).upgrade_environment()
    out = capsys.readouterr().out
    for subject, action in STOCK_GRANTS:
        assert '%s %s' % (subject, action) in out
    command = 'trac-admin %s permission add authenticated %s' % (
        env.path, ' '.join(STOCK_WRITE_ACTIONS))
    assert command in out.splitlines()[-1]
    # Nothing left that lets everyone write: no warning.
    assert warnings_logged(env) == []


def test_upgrade_leaves_a_tuned_grant_to_signed_in_users_and_warns(env,
                                                                   capsys):
    # The admin kept only wiki editing for everyone signed in (a class
    # wiki) and took ticket writing away: no longer Trac's stock set.
    tuned = [('authenticated', action) for action in
             ('WIKI_CREATE', 'TICKET_CREATE', 'TICKET_MODIFY')]
    as_before_the_defaults(env, admin_revoked=tuned)
    capsys.readouterr()
    LearningEnvironmentSetup(env).upgrade_environment()
    forget_checked_permissions(env)

    granted = set(PermissionSystem(env).get_all_permissions())
    assert ('authenticated', 'WIKI_MODIFY') in granted
    assert set(DEFAULT_GRANTS) <= granted
    assert 'WIKI_MODIFY' in perm(env, ALICE)('wiki', 'WikiStart')
    assert 'TICKET_CREATE' not in perm(env, ALICE)('ticket', None)
    warnings = warnings_logged(env)
    assert len(warnings) == 1
    assert 'authenticated WIKI_MODIFY' in warnings[0]
    assert 'trac-admin %s permission remove authenticated WIKI_MODIFY' % \
        env.path in warnings[0]
    out = capsys.readouterr().out
    assert 'revoked' not in out
    assert 'authenticated WIKI_MODIFY' in out
    assert not LearningEnvironmentSetup(env).environment_needs_upgrade()


def test_upgrade_leaves_an_anonymous_write_grant_and_warns(env, capsys):
    # Trac never grants anonymous a write action: an admin did.
    as_before_the_defaults(env, [('anonymous', 'TICKET_CREATE')])
    LearningEnvironmentSetup(env).upgrade_environment()
    forget_checked_permissions(env)

    granted = set(PermissionSystem(env).get_all_permissions())
    assert ('anonymous', 'TICKET_CREATE') in granted
    assert not granted & set(STOCK_GRANTS)          # still pristine
    assert 'TICKET_CREATE' in perm(env, 'anonymous')('ticket', None)
    assert 'WIKI_MODIFY' not in perm(env, ALICE)('wiki', 'WikiStart')
    warnings = warnings_logged(env)
    assert len(warnings) == 1 and 'anonymous TICKET_CREATE' in warnings[0]
    out = capsys.readouterr().out
    assert 'permission add authenticated' in out
    assert 'permission remove anonymous TICKET_CREATE' in out


def test_upgrade_keeps_an_admins_grant_to_the_admin_group(env):
    # The admin already gave the group an action the defaults give: no
    # second row, no error.
    as_before_the_defaults(env, [('admin', 'WIKI_MODIFY')])
    LearningEnvironmentSetup(env).upgrade_environment()
    rows = [g for g in PermissionSystem(env).get_all_permissions()
            if g == ('admin', 'WIKI_MODIFY')]
    assert rows == [('admin', 'WIKI_MODIFY')]


def test_upgrade_is_done_once_and_an_admins_later_grants_stand(env):
    as_before_the_defaults(env)
    setup = LearningEnvironmentSetup(env)
    setup.upgrade_environment()
    # The admin decides signed-in users may edit the wiki after all, and
    # takes batch modify from instructors.
    perms = PermissionSystem(env)
    perms.grant_permission('authenticated', 'WIKI_MODIFY')
    perms.revoke_permission('admin', 'TICKET_BATCH_MODIFY')
    before = sorted(perms.get_all_permissions())

    assert not setup.environment_needs_upgrade()
    setup.upgrade_environment()
    assert apply_defaults(env) == Outcome()

    assert sorted(perms.get_all_permissions()) == before
    assert 'WIKI_MODIFY' in perm(env, ALICE)('wiki', 'WikiStart')
    assert 'TICKET_BATCH_MODIFY' not in perm(env, INSTRUCTOR)('ticket', None)


def test_upgrade_is_one_transaction(env):
    as_before_the_defaults(env, ADMINS_OWN)
    before = permission_rows(env)
    store = PermissionSystem(env).store
    real_grant = store.grant_permission
    calls = []

    def failing_grant(subject, action):
        # Fails after the revocations and a first grant are written.
        calls.append((subject, action))
        if len(calls) == 2:
            raise RuntimeError('the database went away')
        real_grant(subject, action)
    store.grant_permission = failing_grant
    try:
        with pytest.raises(RuntimeError):
            apply_defaults(env)
    finally:
        del store.grant_permission
    assert len(calls) == 2
    assert permission_rows(env) == before
    assert LearningEnvironmentSetup(env).environment_needs_upgrade()


def forget_checked_permissions(env):
    # Trac's default policy remembers a user's actions for five seconds.
    DefaultPermissionPolicy(env).permission_cache = {}


def permission_rows(env):
    return sorted(env.db_query("SELECT username, action FROM permission"))
