"""A learner's browser in tests: signed in, sending requests through
Trac's real dispatcher (`support.web.call`) as tracd would, with the
X-CSRF-Token header on writes.

The fixtures `alice` and `bob` (two learners, each with a path of the
starter corpus) and `admin` (an administrator) are imported by the test
modules that use them (`# noqa: F401 (fixture)`); `ok` and `assert_error`
read the API's answers.
"""

import pytest
from trac.cache import CacheManager

from support.sessions import browser_session
from support.study import make_path
from support.web import call

API = '/api/v1'

#: The Cognito subjects of the learners and of the administrator.
ALICE, BOB, ADMIN_SUB = 'sub-alice', 'sub-bob', 'sub-admin'


def next_request(env):
    """What tracd does before each request (`open_environment`): forget
    this thread's view of Trac's cache generations, so a change another
    request made is seen."""
    CacheManager(env).reset_metadata()


class LearnerClient(object):
    """The browser of `sub` (anonymous without), a member of the Cognito
    `groups`. `path` is the learning path it made last (`make_path`)."""

    def __init__(self, env, sub=None, groups=('Students',)):
        self.env = env
        self.sub = sub
        self.cookies = browser_session(env, sub, groups=groups) \
            if sub else None
        self.path = None

    # Any page ---------------------------------------------------------------

    def send(self, method, path, body=None, query='', csrf=True):
        """One request to `path`; `body` is sent as JSON."""
        next_request(self.env)
        headers = None
        if csrf and self.cookies and method not in ('GET', 'HEAD'):
            headers = {'X-CSRF-Token': self.cookies['trac_form_token']}
        return call(self.env, method, path, body=body, query=query,
                    cookies=self.cookies, headers=headers)

    def get(self, path, query=''):
        return self.send('GET', path, query=query)

    def ticket(self, ticket_id):
        """The ticket page of `ticket_id`."""
        return self.get('/ticket/%d' % ticket_id)

    # The JSON API -------------------------------------------------------------

    def api(self, method, path, body=None, query='', csrf=True):
        """A call of `/api/v1` + `path`."""
        return self.send(method, API + path, body=body, query=query,
                         csrf=csrf)

    def read(self, path, query=''):
        """The JSON of GET `/api/v1` + `path`, which must answer 200."""
        response = self.api('GET', path, query=query)
        assert response.status == 200, response
        return response.json()

    def learning_paths(self, path='', query=''):
        """GET `/api/v1/learning-paths` + `path`."""
        return self.api('GET', '/learning-paths' + path, query=query)

    def generate(self, query, **fields):
        return self.api('POST', '/learning-paths/generate',
                        dict(fields, query=query))

    def create(self, query, **fields):
        return self.api('POST', '/learning-paths/create',
                        dict(fields, query=query))

    def chunks(self, query):
        """The chunks `generate` finds for `query`."""
        response = self.generate(query)
        assert response.status == 200, response
        return response.json()['chunks']

    def create_path(self, query, chunk_ids=None, **fields):
        """The created path of `query` (of `chunk_ids` when given)."""
        if chunk_ids is not None:
            fields['chunk_ids'] = list(chunk_ids)
        response = self.create(query, **fields)
        assert response.status == 201, response
        return response.json()

    def make_path(self, **kwargs):
        """Make this learner's path of the starter corpus (arguments of
        `support.study.make_path`) and keep it as `path`."""
        self.path = make_path(self.env, self.sub, **kwargs)
        return self.path

    def concept(self, name):
        """Ticket id of the concept `name` of this learner's path."""
        for ticket in self.path['tickets']:
            if ticket['concept'] == name:
                return ticket['ticket_id']
        raise AssertionError('no concept %r in the path' % name)

    def path_concepts(self, key='concept'):
        """The concepts of GET /learning-paths/{path_id}, by `key` (the
        concept's name or `ticket_id`)."""
        response = self.learning_paths('/' + self.path['path_id'])
        assert response.status == 200, response
        return {c[key]: c for c in response.json()['concepts']}

    def submit(self, ticket_id, answer, **fields):
        return self.api('PUT', '/progress/%d/submit-answer' % ticket_id,
                        dict(fields, answer=answer))

    def answer(self, ticket_id, answer):
        """The JSON of a submitted answer, which must be graded (200)."""
        response = self.submit(ticket_id, answer)
        assert response.status == 200, response
        return response.json()

    def progress(self, ticket_id, query=''):
        return self.api('GET', '/progress/%d' % ticket_id, query=query)

    def notes(self, ticket_id, notes):
        return self.api('PUT', '/progress/%d/notes' % ticket_id,
                        {'notes': notes})

    def heartbeat(self, ticket_id, seconds):
        return self.api('POST', '/progress/%d/heartbeat' % ticket_id,
                        {'seconds': seconds})

    def subjects(self, query=''):
        return self.api('GET', '/progress', query=query)


# Fixtures -------------------------------------------------------------------

@pytest.fixture
def alice(env):
    """Alice, signed in, with her path of the starter corpus."""
    learner = LearnerClient(env, ALICE)
    learner.make_path()
    return learner


@pytest.fixture
def bob(env):
    """Bob, signed in, with his path of the starter corpus."""
    learner = LearnerClient(env, BOB)
    learner.make_path()
    return learner


@pytest.fixture
def admin(env):
    """An administrator (Cognito group Administrators), signed in."""
    return LearnerClient(env, ADMIN_SUB, groups=('Administrators',))


# The API's answers ----------------------------------------------------------

def ok(response, status=200):
    """The JSON of `response`, which must answer `status` (None for 204)."""
    assert response.status == status, response
    return response.json() if status != 204 else None


def assert_error(response, status, code=None):
    """The `error` object of a JSON error answer of `status`: it has a
    message, and `code` when given."""
    assert response.status == status, response
    assert response.header('Content-Type').startswith('application/json')
    error = response.json()['error']
    assert error['message']
    if code is not None:
        assert error['code'] == code, error
    return error
