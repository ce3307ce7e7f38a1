"""ConceptStudyGuard: what Trac's ticket form may change on a concept.

A learner (alice) has the blockchain path, where 'Digital Signatures'
needs 'Cryptographic Hash Functions'. Through Trac's real ticket form she
may comment on her concepts but not move them (accept, resolve, ...) nor
rewrite their learning fields: grading does that. An admin may edit them,
but nobody opens or closes a concept whose prerequisites are not mastered.
"""

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
# Trac's default permission policies live in the modules of the pages: a
# stub knows only the components whose modules are imported.
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.test import MockRequest
from trac.ticket.model import Ticket
from trac.util.datefmt import to_utimestamp

from support.sessions import browser_session
from support.study import gated_pair, make_path
from support.web import call
from tracl.llm import Evaluation
from tracl.model.concepts import load_concept
from tracl.model.progress import record_attempt
from tracl.study.guard import ConceptStudyGuard

ALICE, ADMIN_SUB = 'sub-alice', 'sub-admin'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
GRADING = 'grading moves this concept forward'


# Trac's policies, and learners given TICKET_MODIFY as Trac's own defaults
# would (TracLearn's defaults give them TICKET_APPEND alone; an admin may
# give more): the whole form is open to the learner, TracLearn's guards
# are what stops her.
# The guard is tested on the concepts the search finds, without the
# foundations it adds (test_foundations tests those).
pytestmark = pytest.mark.learning_env(
    default_data=True, trac_policies=True,
    grant=[('learner', 'TICKET_MODIFY')],
    config=[('learning', 'max_foundations', '0')])


@pytest.fixture
def path(env):
    return make_path(env, ALICE)


@pytest.fixture
def pair(path):
    """`(prerequisite, concept)`: a concept and one it needs."""
    return gated_pair(path)


@pytest.fixture
def admin(env):
    """The admin has signed in (Cognito group Administrators)."""
    browser_session(env, ADMIN_SUB, groups=('Administrators',))
    return ADMIN_SUB


def name_of(path, ticket_id):
    return next(t['concept'] for t in path['tickets']
                if t['ticket_id'] == ticket_id)


class FormReader(HTMLParser):
    """The values a browser submits with the form `form_id`: inputs
    (checked ones for radios and checkboxes), selects and textareas."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'form':
            self.inside = attrs.get('id') == self.form_id
        if not self.inside or 'disabled' in attrs:
            return
        name = attrs.get('name')
        if tag == 'input' and name and attrs.get('type') != 'submit':
            if attrs.get('type') not in ('radio', 'checkbox') or \
                    'checked' in attrs:
                self.fields[name] = attrs.get('value', '')
        elif tag == 'select':
            self._select = name
        elif tag == 'option' and self._select and (
                'selected' in attrs or self._select not in self.fields):
            self.fields[self._select] = attrs.get('value', '')
        elif tag == 'textarea':
            self._textarea = name
            self.fields[name] = ''

    def handle_endtag(self, tag):
        if tag == 'form':
            self.inside = False
        elif tag == 'select':
            self._select = None
        elif tag == 'textarea':
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


def form_fields(html, form_id):
    reader = FormReader(form_id)
    reader.feed(html)
    return reader.fields


def post(env, sub, ticket_id, groups=('Students',), **fields):
    """Submit Trac's ticket form for `ticket_id` as `sub`'s browser."""
    cookies = browser_session(env, sub, groups=groups)
    changetime = str(to_utimestamp(Ticket(env, ticket_id)['changetime']))
    fields = dict({'submit': 'Submit changes', 'view_time': changetime,
                   'start_time': changetime,
                   '__FORM_TOKEN': cookies['trac_form_token']}, **fields)
    return call(env, 'POST', '/ticket/%d' % ticket_id, cookies=cookies,
                body=urlencode(fields).encode('utf-8'), headers=FORM)


def post_as_admin(env, ticket_id, **fields):
    return post(env, ADMIN_SUB, ticket_id, groups=('Administrators',),
                **fields)


def snapshot(env, ticket_id):
    """The ticket's values and its change rows."""
    return (dict(Ticket(env, ticket_id).values),
            env.db_query("""SELECT time, author, field, oldvalue, newvalue
                            FROM ticket_change WHERE ticket=%s
                            ORDER BY time, field""", (ticket_id,)))


def master(env, sub, ticket_id):
    """`sub` masters the concept, as a graded answer of 1.0 does."""
    record_attempt(env, sub, load_concept(env, ticket_id),
                   'A hash maps any input to a fixed-size digest.',
                   Evaluation(1.0, 'Right.', 'test', '1'), 1.0, 'Right.',
                   None, 0, 0.8, lambda *args: 'Mastered in a test.')


def validate(env, ticket, username=None):
    """The guard's complaints about `ticket` as changed by `username`
    (None: no request at all)."""
    req = None if username is None else MockRequest(env, authname=username)
    return list(ConceptStudyGuard(env).validate_ticket(req, ticket))


# The learner, through the ticket form

@pytest.mark.parametrize('action', [
    {'action': 'resolve', 'action_resolve_resolve_resolution': 'fixed'},
    {'action': 'accept'},
], ids=['resolve', 'accept'])
def test_learner_cannot_move_her_own_concept_and_it_stays_unchanged(
        env, path, action):
    concept = path['tickets'][0]['ticket_id']
    before = snapshot(env, concept)
    response = post(env, ALICE, concept, **action)
    assert response.status == 200, response      # the form, with warnings
    assert GRADING in response.text
    assert snapshot(env, concept) == before
    assert Ticket(env, concept)['status'] == 'new'


def test_learner_cannot_rewrite_her_question(env, path):
    concept = path['tickets'][0]['ticket_id']
    before = snapshot(env, concept)
    response = post(env, ALICE, concept, action='leave',
                    field_question='What is two plus two?',
                    field_question_difficulty='5')
    assert response.status == 200, response
    assert 'only a learning admin edits it' in response.text
    assert '<strong>question</strong>' in response.text
    assert '<strong>question_difficulty</strong>' in response.text
    assert snapshot(env, concept) == before


def test_learner_comment_from_her_ticket_page_is_saved(env, path):
    concept = path['tickets'][0]['ticket_id']
    cookies = browser_session(env, ALICE)
    page = call(env, 'GET', '/ticket/%d' % concept, cookies=cookies)
    fields = form_fields(page.text, 'propertyform')
    assert fields['action'] == 'leave'
    fields.update(comment='I keep mixing up preimage resistance.',
                  submit='Submit changes')
    response = call(env, 'POST', '/ticket/%d' % concept, cookies=cookies,
                    body=urlencode(fields).encode('utf-8'), headers=FORM)
    assert response.status == 303, response
    comments = [new for field, new in env.db_query(
        "SELECT field, newvalue FROM ticket_change WHERE ticket=%s",
        (concept,)) if field == 'comment']
    assert comments == ['I keep mixing up preimage resistance.']
    assert Ticket(env, concept)['status'] == 'new'


# Prerequisite gating, admins included

def test_admin_resolving_a_concept_with_unmastered_prerequisites_is_refused(
        env, path, pair):
    prerequisite, concept = pair
    before = snapshot(env, concept)
    response = post_as_admin(env, concept, action='resolve',
                             action_resolve_resolve_resolution='fixed')
    assert response.status == 200, response
    assert '#%d %s (not started)' % (prerequisite, name_of(
        path, prerequisite)) in response.text
    assert GRADING not in response.text   # the admin may move concepts
    assert snapshot(env, concept) == before


def test_admin_may_resolve_the_concept_once_its_prerequisites_are_mastered(
        env, pair):
    prerequisite, concept = pair
    master(env, ALICE, prerequisite)
    response = post_as_admin(env, concept, action='resolve',
                             action_resolve_resolve_resolution='fixed')
    assert response.status == 303, response
    ticket = Ticket(env, concept)
    assert (ticket['status'], ticket['resolution']) == ('closed', 'fixed')
    assert ticket['owner'] == ALICE


def test_admin_may_edit_a_concepts_learning_fields(env, path):
    concept = path['tickets'][0]['ticket_id']
    response = post_as_admin(env, concept, action='leave',
                             field_question='Why do hashes chain blocks?')
    assert response.status == 303, response
    assert Ticket(env, concept)['question'] == 'Why do hashes chain blocks?'


def test_every_blocker_is_named_with_the_learners_status(env, path, admin):
    concept = next(t for t in path['tickets']
                   if len(t['prerequisites']) == 2)
    studied, untouched = sorted(concept['prerequisites'])
    record_attempt(env, ALICE, load_concept(env, studied),
                   'Not quite sure yet.', Evaluation(0.2, 'No.', 'test', '1'),
                   0.2, 'No.', None, 0, 0.8, lambda *args: 'Tried.')
    ticket = Ticket(env, concept['ticket_id'])
    ticket['status'] = 'assigned'
    assert validate(env, ticket, ADMIN_SUB) == [
        (None, "This concept cannot become assigned before its "
               "prerequisites are mastered: #%d %s (studying), "
               "#%d %s (not started)."
               % (studied, name_of(path, studied), untouched,
                  name_of(path, untouched)))]


# The manipulator on its own

def test_admin_may_move_a_concept_without_prerequisites(env, path, admin):
    free = next(t['ticket_id'] for t in path['tickets']
                if not t['prerequisites'])
    ticket = Ticket(env, free)
    ticket['status'] = 'accepted'
    assert validate(env, ticket, ADMIN_SUB) == []


def test_without_a_request_the_learners_rules_and_the_gate_apply(
        env, path, pair):
    prerequisite, concept = pair
    ticket = Ticket(env, concept)
    ticket['status'] = 'closed'
    ticket['resolution'] = 'fixed'
    ticket['summary'] = 'Something else'
    problems = validate(env, ticket, None)
    assert [field for field, _message in problems] == [
        'status', 'summary', None]
    assert '#%d %s (not started)' % (
        prerequisite, name_of(path, prerequisite)) in problems[-1][1]


def test_learner_cannot_reopen_a_mastered_concept(env, pair):
    prerequisite, _concept = pair
    master(env, ALICE, prerequisite)
    ticket = Ticket(env, prerequisite)
    assert ticket['status'] == 'closed'
    ticket['status'] = 'reopened'
    ticket['resolution'] = ''
    assert [field for field, _message in validate(env, ticket, ALICE)] == [
        'status']


def test_other_tickets_are_left_alone(env):
    ticket = Ticket(env)
    ticket.populate({'type': 'defect', 'summary': 'A bug', 'status': 'new',
                     'reporter': 'someone'})
    ticket.insert()
    ticket['status'] = 'closed'
    ticket['summary'] = 'A fixed bug'
    assert validate(env, ticket, ALICE) == []
    assert validate(env, ticket, None) == []
