"""Pages name people by the ID token's name, else their Cognito username,
never by their `sub` (the Trac username): the header, a ticket's owner and
reporter, the query's filters and columns, the timeline, the concept page
an administrator reads; and one emulator banner per page. Through Trac's
real request dispatcher, on SQLite and PostgreSQL."""

import re
from html import unescape

import pytest
import trac.ticket.query  # noqa: F401
import trac.ticket.web_ui  # noqa: F401
import trac.timeline.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.util.datefmt import format_datetime, utc
from trac.web.chrome import Chrome

import tracl.search.local_store  # noqa: F401
from support.api_client import LearnerClient
from support.providers import ScriptedLLMProvider, grader  # noqa: F401
from support.study import make_path
from tracl.auth.names import person_name
from tracl.auth.profile import LearnerProfiles
from tracl.model.learners import display_name

#: Alice has a name in her ID token; Bob has none, so his Cognito
#: username shows.
ALICE, BOB, ADMIN_SUB = 'sub-alice-0c8e', 'sub-bob-77d1', 'sub-admin-5e2a'
ALICE_NAME = 'Alice <b>Smith</b> & co'
ALICE_USERNAME, BOB_USERNAME = 'alice-user', 'bob-user'

pytestmark = pytest.mark.learning_env(
    config=[('learning', 'api_rate_limit', '0'),
            ('cognito', 'allow_emulator', 'true')],
    default_data=True, trac_policies=True, provider=True)


def text_of(html):
    """The page's text as a reader sees it: scripts and tags dropped,
    entities decoded."""
    html = re.sub(r'<script\b.*?</script>', ' ', html, flags=re.S)
    return unescape(re.sub(r'<[^>]*>', ' ', html))


def header_name(response):
    found = re.search(r'logged in as <span class="[^"]*">(.*?)</span>',
                      response.text)
    assert found, 'no "logged in as" in the header'
    return unescape(found.group(1))


def owner_filter(response):
    """The values of the query's owner filter boxes."""
    return [unescape(v) for v in re.findall(
        r'<input type="text" name="\d+_owner"\s+value="([^"]*)"',
        response.text)]


def authors_filter(response):
    """The value of the timeline's author filter box."""
    found = re.search(r'<input type="text" size="16" name="authors" '
                      r'value="([^"]*)"', response.text)
    return unescape(found.group(1)) if found else None


def ticket_ids(response):
    return sorted({int(n) for n in re.findall(
        r'<td class="id"><a href="/ticket/(\d+)"', response.text)})


@pytest.fixture
def people(env, grader):
    """Alice (named) and Bob (nameless) with a path each, and an admin."""
    alice = LearnerClient(env, ALICE)
    bob = LearnerClient(env, BOB)
    admin = LearnerClient(env, ADMIN_SUB, groups=('Administrators',))
    alice.path = make_path(env, ALICE)
    bob.path = make_path(env, BOB)
    # As sign-in leaves them (`CognitoLoginModule.start_session`).
    LearnerProfiles(env).update(ALICE, username=ALICE_USERNAME,
                                name=ALICE_NAME)
    nameless(env, BOB, BOB_USERNAME)
    # Each comments on a concept: the timeline names the author.
    from trac.ticket.model import Ticket
    for client in (alice, bob):
        ticket = Ticket(env, client.path['tickets'][0]['ticket_id'])
        ticket.save_changes(client.sub, 'A comment of mine.')
    return alice, bob, admin


def nameless(env, sub, username):
    """The session of a Cognito user without a `name` attribute, as
    sign-in leaves it."""
    from trac.web.session import DetachedSession
    session = DetachedSession(env, sub)
    session.pop('name', None)
    session.save()
    LearnerProfiles(env).forget(sub)
    LearnerProfiles(env).update(sub, username=username)
    assert DetachedSession(env, sub)['name'] == username


def test_sign_in_names_a_person_without_a_name_by_username(env):
    profiles = LearnerProfiles(env)
    profiles.update(BOB, username=BOB_USERNAME)
    chrome = Chrome(env)
    assert chrome.format_author(None, BOB) == BOB_USERNAME
    assert person_name(env, BOB) == BOB_USERNAME
    # A name given later in Cognito shows at once (Trac's cached list of
    # known users is refreshed).
    profiles.update(BOB, username=BOB_USERNAME, name='Bob Builder')
    assert chrome.format_author(None, BOB) == 'Bob Builder'
    assert profiles.get(BOB)['name'] == 'Bob Builder'
    # Signing in again without a name keeps the one given.
    profiles.update(BOB, username=BOB_USERNAME)
    assert chrome.format_author(None, BOB) == 'Bob Builder'


def test_a_person_without_name_or_username_has_no_name(env):
    assert person_name(env, 'sub-unknown') is None


@pytest.mark.parametrize('name, username, shown', [
    ('  Ann Lee ', 'ann', 'Ann Lee'),
    ('   ', 'ann', 'ann'),
    # A pool that signs in by email gives users a UUID username: the same
    # text as the sub, so no name at all rather than the sub.
    (None, ALICE, None),
    (' %s ' % ALICE, ALICE, None),
])
def test_the_name_shown_is_never_the_sub(name, username, shown):
    assert display_name(name, username, ALICE) == shown


@pytest.mark.parametrize('who', ['alice', 'bob'])
def test_views_name_the_learner(env, people, who):
    alice, bob, admin = people
    client, name = (alice, ALICE_NAME) if who == 'alice' \
        else (bob, BOB_USERNAME)
    ticket_id = client.path['tickets'][0]['ticket_id']
    own = sorted(t['ticket_id'] for t in client.path['tickets'])

    # The header and the ticket's owner (the reporter is the system that
    # made the concept).
    page = client.ticket(ticket_id)
    assert page.status == 200
    assert header_name(page) == name
    found = re.search(r'<td headers="h_owner"><a class="[^"]*" href="[^"]*">'
                      r'(.*?)</a>', page.text)
    assert found and unescape(found.group(1)) == name

    # View Tickets' query: the filter and the owner column say the name;
    # the query still finds the learner's concepts.
    query = client.get('/query', query='status=!closed&owner=$USER'
                       '&col=id&col=owner&col=reporter&max=100')
    assert query.status == 200
    assert owner_filter(query) == [name]
    assert ticket_ids(query) == own
    cells = re.findall(r'<td class="owner">\s*'
                       r'<span class="[^"]*">(.*?)</span>', query.text)
    assert len(cells) == len(own) and {unescape(c) for c in cells} == {name}
    # The name in the filter box reads back as the learner; so does the
    # sub itself.
    for value in (name, client.sub):
        again = client.get('/query', query='0_owner=' + _quote(value) +
                           '&0_status=closed&0_status_mode=!&max=100')
        assert ticket_ids(again) == own, value
        assert owner_filter(again) == [name]

    # The timeline, and its author filter, which reads the name back.
    timeline = client.get('/timeline', query='ticket=on&ticket_details=on'
                          '&daysback=2')
    assert timeline.status == 200
    assert re.search(r' by %s\b' % re.escape(name),
                     ' '.join(text_of(timeline.text).split()))
    events = []
    for authors in (client.sub, '"%s"' % name):
        found = client.get('/timeline', query='ticket=on&ticket_details=on'
                           '&daysback=2&authors=' + _quote(authors))
        assert authors_filter(found) == '"%s"' % name \
            if ' ' in name else name
        events.append(re.findall(r'<dt class="[^"]*">', found.text))
    assert events[0] and events[0] == events[1]

    for page in (page, query, timeline):
        assert client.sub not in text_of(page.text)

    # An administrator reading the learner's concept reads the name.
    read = admin.ticket(ticket_id)
    assert read.status == 200
    panel = script_panel(read)
    assert 'You are viewing the progress of learner %s' % name in \
        text_of(panel)
    assert client.sub not in text_of(panel)
    assert header_name(read) != ADMIN_SUB


def test_a_learner_does_not_see_another_learners_name(env, people):
    alice, bob, _admin = people
    query = alice.get('/query', query='owner=%s&max=100' % BOB)
    assert query.status == 200
    assert ALICE_NAME not in owner_filter(query)
    assert BOB_USERNAME not in text_of(query.text)
    assert ticket_ids(query) == []


def test_an_admin_filters_by_a_username(env, people):
    alice, bob, admin = people
    query = admin.get('/query', query='owner=%s&max=100' % BOB)
    assert owner_filter(query) == [BOB_USERNAME]
    again = admin.get('/query', query='owner=' + BOB_USERNAME + '&max=100')
    assert ticket_ids(again) == sorted(t['ticket_id']
                                       for t in bob.path['tickets'])


def test_one_emulator_banner_on_a_concept_page(env, people):
    alice = people[0]
    page = alice.ticket(alice.path['tickets'][0]['ticket_id'])
    assert page.text.count('LOCAL COGNITO EMULATOR') == 1
    assert page.text.count('tracl-emulator-banner') == 1


def test_times_are_written_as_the_page_writes_them(env):
    client = LearnerClient(env, ALICE)
    iso = '2026-12-06T20:05:46Z'
    answer = client.get('/learning/times', query='t=' + iso +
                        '&t=not-a-time')
    assert answer.status == 200
    times = answer.json()['times']
    from datetime import datetime
    when = datetime(2026, 12, 6, 20, 5, 46, tzinfo=utc)
    assert list(times) == [iso]
    # Without preferences, the server's time zone and Trac's format.
    from trac.util.datefmt import localtz
    assert times[iso] == format_datetime(when, tzinfo=localtz)


def script_panel(response):
    import json
    found = re.search(r'^\s*var tracl_concept=(.*);$', response.text, re.M)
    assert found, 'no study panel'
    return json.loads(found.group(1))['panel']


def _quote(value):
    from urllib.parse import quote
    return quote(value, safe='$')



# Signing in with the Cognito emulator ---------------------------------------

@pytest.fixture(scope='module')
def cognito():
    from tracl.auth.emulator import Emulator, provision
    with Emulator() as running:
        yield provision(running.endpoint)


@pytest.fixture(scope='module')
def user_pool(cognito):
    from tracl.auth.emulator import REGION
    from tracl.auth.idp import UserPool, make_client
    client = make_client(REGION, cognito['endpoint'], 10.0, emulator=True)
    return UserPool(client, cognito['pool_id'], cognito['client_id'],
                    emulator=True)


PASSWORD = 'Learner-Passw0rd'
FORM_TOKEN = 'a1b2c3d4e5f6a1b2c3d4e5f6'


def sign_in(env, username):
    """POST /login as a browser does; the cookies it keeps."""
    from urllib.parse import urlencode
    from support.web import call
    response = call(env, 'POST', '/login', body=urlencode({
        'username': username, 'password': PASSWORD,
        '__FORM_TOKEN': FORM_TOKEN}).encode('utf-8'),
        headers={'Content-Type': 'application/x-www-form-urlencoded'},
        cookies={'trac_form_token': FORM_TOKEN})
    assert response.status == 303, response
    return {'trac_form_token': FORM_TOKEN,
            'trac_auth': response.cookies['trac_auth']}


def test_sign_in_keeps_the_name_current(make_env, cognito, user_pool):
    import uuid
    from support.api_client import next_request
    from support.web import call
    from trac.web.session import DetachedSession
    from tracl.auth.emulator import cognito_options
    env = make_env(config=cognito_options(cognito))
    username = 'nameless-%s' % uuid.uuid4().hex[:8]
    sub = user_pool.create_user(username, PASSWORD, groups=('Students',))

    # Without a name in Cognito, the username names the learner.
    cookies = sign_in(env, username)
    next_request(env)
    page = call(env, 'GET', '/wiki/WikiStart', cookies=cookies)
    assert header_name(page) == username
    assert sub not in text_of(page.text)
    assert DetachedSession(env, sub)['name'] == username

    # A name given in Cognito shows from the next sign-in, everywhere
    # Trac names the learner (its cached list of known users is renewed).
    Chrome(env).format_author(None, sub)  # the list is cached now
    user_pool.client.admin_update_user_attributes(
        UserPoolId=cognito['pool_id'], Username=username,
        UserAttributes=[{'Name': 'name', 'Value': 'Noor Named'}])
    cookies = sign_in(env, username)
    next_request(env)
    page = call(env, 'GET', '/wiki/WikiStart', cookies=cookies)
    assert header_name(page) == 'Noor Named'
    assert Chrome(env).format_author(None, sub) == 'Noor Named'
    assert DetachedSession(env, sub)['name'] == 'Noor Named'
