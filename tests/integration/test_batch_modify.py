"""Trac's batch modify and concept tickets.

The query page offers the batch modify panel only to TICKET_BATCH_MODIFY
holders (Trac 1.6's template shows it under any results, without the
script it needs). Through Trac's real dispatcher, a batch request may not
move a concept nor change its owner, type or learning fields, for a
learner or an admin: grading moves a concept. Other tickets, and a
concept's comments, still batch-modify.
"""

from urllib.parse import urlencode

import pytest
# Trac's query page, batch modify and default permission policies live in
# the modules of the pages: a stub knows only the imported components.
import trac.ticket.batch  # noqa: F401
import trac.ticket.query  # noqa: F401
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.perm import PermissionSystem
from trac.ticket.model import Ticket

from support.sessions import browser_session
from support.study import make_path
from support.web import call

ALICE, BOB, ADMIN_SUB = 'sub-alice', 'sub-bob', 'sub-admin'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
REFUSAL = 'Batch modify does not change the'


# Trac's default permissions and policies, and an admin who holds
# TRAC_ADMIN (so TICKET_BATCH_MODIFY) as the demo's does.
pytestmark = pytest.mark.learning_env(default_data=True, trac_policies=True,
                                      grant=[(ADMIN_SUB, 'TRAC_ADMIN')])


@pytest.fixture
def concepts(env):
    """Alice's concept tickets."""
    return [t['ticket_id'] for t in make_path(env, ALICE)['tickets']]


@pytest.fixture
def defect(env):
    ticket = Ticket(env)
    ticket.populate({'type': 'defect', 'summary': 'A typo on the start page',
                     'status': 'new', 'reporter': 'someone',
                     'milestone': 'milestone1'})
    ticket.insert()
    return ticket.id


def groups_of(sub):
    return ('Administrators',) if sub == ADMIN_SUB else ('Students',)


def batch(env, sub, tickets, **fields):
    """Post Trac's batch modify form for `tickets` as `sub`'s browser."""
    cookies = browser_session(env, sub, groups=groups_of(sub))
    fields = dict({'__FORM_TOKEN': cookies['trac_form_token'],
                   'selected_tickets': ','.join(str(t) for t in tickets),
                   'query_href': '/query', 'action': 'leave',
                   'batchmod_value_comment': '',
                   'batchmod_submit': 'Change tickets'}, **fields)
    return call(env, 'POST', '/batchmodify', cookies=cookies,
                body=urlencode(fields).encode('utf-8'), headers=FORM)


def query_page(env, sub):
    cookies = browser_session(env, sub, groups=groups_of(sub))
    return call(env, 'GET', '/query', cookies=cookies,
                query='type=learning_concept')


def snapshot(env, ticket_ids):
    """The tickets' values and change rows."""
    return [(dict(Ticket(env, t).values),
             env.db_query("""SELECT time, author, field, oldvalue, newvalue
                             FROM ticket_change WHERE ticket=%s
                             ORDER BY time, field""", (t,)))
            for t in ticket_ids]


RESOLVE = {'action': 'resolve', 'action_resolve_resolve_resolution': 'fixed'}
CHANGES = {
    'resolve': RESOLVE,
    'accept': {'action': 'accept'},
    'reassign': {'action': 'reassign',
                 'action_reassign_reassign_owner': 'sub-bob'},
    'milestone': {'batchmod_value_milestone': 'milestone2'},
    'question_difficulty': {'batchmod_value_question_difficulty': '5'},
    'question_context': {'batchmod_value_question_context': 'Cooking'},
    'type': {'batchmod_value_type': 'defect'},
}


# The query page

def test_learner_is_not_offered_batch_modify_on_the_query_page(
        env, concepts):
    page = query_page(env, ALICE)
    assert page.status == 200, page
    assert 'batchmod_form' not in page.text
    assert 'Batch Modify' not in page.text
    # Her concepts are still listed, and counted.
    for ticket_id in concepts:
        assert 'href="/ticket/%d"' % ticket_id in page.text
    assert '(%d matches)' % len(concepts) in page.text


def test_admin_is_offered_batch_modify_with_its_script(env, concepts):
    page = query_page(env, ADMIN_SUB)
    assert page.status == 200, page
    assert 'id="batchmod_form"' in page.text
    # The panel's inline script calls showOnPreview, from auto_preview.js.
    assert '/chrome/common/js/auto_preview.js' in page.text


# Batch requests on concepts are refused, for learners and admins

@pytest.mark.parametrize('change', sorted(CHANGES))
def test_admin_batch_change_of_a_concepts_protected_field_is_refused(
        env, concepts, change):
    before = snapshot(env, concepts)
    response = batch(env, ADMIN_SUB, concepts, **CHANGES[change])
    assert response.status == 403, response
    assert REFUSAL in response.text
    assert 'grading moves a concept' in response.text
    assert snapshot(env, concepts) == before


def test_refusal_names_the_fields_and_the_concepts(env, concepts):
    response = batch(env, ADMIN_SUB, concepts[:2],
                     batchmod_value_milestone='milestone2', **RESOLVE)
    assert response.status == 403, response
    assert 'status, resolution, owner, milestone of concept tickets ' \
           '(#%d, #%d)' % tuple(concepts[:2]) in response.text


def test_one_concept_in_a_selection_refuses_the_whole_batch(
        env, concepts, defect):
    before = snapshot(env, [defect] + concepts)
    response = batch(env, ADMIN_SUB, [defect, concepts[0]], **RESOLVE)
    assert response.status == 403, response
    assert snapshot(env, [defect] + concepts) == before


@pytest.mark.parametrize('change', ['resolve', 'question_difficulty'])
def test_learner_batch_change_of_her_concept_is_refused(
        env, concepts, change):
    before = snapshot(env, concepts)
    response = batch(env, ALICE, concepts, **CHANGES[change])
    assert response.status == 403, response
    assert REFUSAL in response.text
    assert snapshot(env, concepts) == before


def test_learner_holding_batch_modify_still_cannot_move_her_concepts(
        env, concepts):
    # Should learners one day be given batch modify, grading still
    # alone moves their concepts.
    PermissionSystem(env).grant_permission('learner', 'TICKET_BATCH_MODIFY')
    before = snapshot(env, concepts)
    response = batch(env, ALICE, concepts, **RESOLVE)
    assert response.status == 403, response
    assert REFUSAL in response.text
    assert snapshot(env, concepts) == before


def test_another_learners_concept_in_a_batch_does_not_exist(env, concepts):
    PermissionSystem(env).grant_permission('learner', 'TICKET_BATCH_MODIFY')
    before = snapshot(env, concepts)
    response = batch(env, BOB, concepts[:1],
                     batchmod_value_comment='Hello from Bob.')
    assert response.status == 404, response
    assert 'Ticket %d does not exist' % concepts[0] in response.text
    assert REFUSAL not in response.text      # nothing told about it
    assert snapshot(env, concepts) == before


# What batch modify still does

def test_admin_batch_modifies_a_non_concept_ticket(env, defect):
    response = batch(env, ADMIN_SUB, [defect],
                     batchmod_value_milestone='milestone2', **RESOLVE)
    assert response.status == 303, response
    ticket = Ticket(env, defect)
    assert (ticket['status'], ticket['resolution'], ticket['milestone']) \
        == ('closed', 'fixed', 'milestone2')


def test_admin_may_batch_comment_on_concepts_without_moving_them(
        env, concepts):
    response = batch(env, ADMIN_SUB, concepts[:2],
                     batchmod_value_comment='New sources were added.')
    assert response.status == 303, response
    for ticket_id in concepts[:2]:
        ticket = Ticket(env, ticket_id)
        assert (ticket['status'], ticket['owner']) == ('new', ALICE)
        comments = [new for field, new in env.db_query(
            "SELECT field, newvalue FROM ticket_change WHERE ticket=%s",
            (ticket_id,)) if field == 'comment']
        assert comments == ['New sources were added.']
