"""A learner's own data through Trac's real dispatcher, on SQLite and
PostgreSQL: the download (`GET /api/v1/me/data`), the deletion (`POST
/api/v1/me/data/delete`, My learning's form, `learning user forget`), in
one transaction, another learner's data untouched, the instructors'
decisions kept without the learner and their answers."""

import io
import json
from contextlib import redirect_stdout

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager

from support.api_client import LearnerClient, assert_error, ok
from support.grading_fixtures import graded_alice, teacher  # noqa: F401
from support.providers import grader  # noqa: F401 (fixture)
from support.study import LEDGERS, MERKLE
from tracl.auth.profile import LearnerProfiles
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model import decisions, learner_data
from tracl.schema import TABLES, sql

ALICE, BOB, TEACHER = 'sub-alice', 'sub-bob', 'sub-teacher'
ALICES_ANSWER = 'Alice writes that a ledger is copied to every node.'
BOBS_NOTE = "Bob's own note on his ledger."
CONFIRM = {'confirm': True}

pytestmark = pytest.mark.learning_env(
    default_data=True, provider=True,
    config=[('learning', 'api_rate_limit', '0'),
            ('learning', 'max_foundations', '0')])

#: Per-learner tables: every row names its learner.
PER_LEARNER = ('paths', 'progress', 'attempts', 'disputes', 'follow_ups',
               'review_cards', 'review_log')


@pytest.fixture
def studied(env, alice, teacher, grader):
    """Alice with answers (one decided by the teacher after her dispute,
    one mastering), notes and time spent; Bob with his own path, an
    answer and a note."""
    grader.score = 0.3
    ledgers = alice.concept(LEDGERS)
    ok(alice.submit(ledgers, ALICES_ANSWER))
    ok(alice.submit(ledgers, 'A second try at ledgers, in my words.'))
    ok(alice.api('POST', '/progress/%d/disputes' % ledgers,
                 {'attempt': 1, 'reason': 'Please read it again.'}), 201)
    ok(teacher.api('POST', '/grading/decisions',
                   {'ticket_id': ledgers, 'attempt': 1, 'score': 0.5,
                    'comment': 'Half right.'}), 201)
    ok(alice.notes(ledgers, 'Ledgers: ask about forks.'))
    assert alice.heartbeat(ledgers, 120).status == 204
    grader.score = 0.95
    ok(alice.submit(alice.concept(MERKLE), 'Merkle trees hash pairs.'))
    bob = LearnerClient(env, BOB)
    bob.make_path(fill=False)
    LearnerProfiles(env).update(BOB, name='Bob Builder')
    grader.score = 0.4
    ok(bob.submit(bob.concept(LEDGERS), 'Bob answers about ledgers.'))
    ok(bob.notes(bob.concept(LEDGERS), BOBS_NOTE))
    return alice, bob


def _comparable(value):
    # PostgreSQL reads bytea as a memoryview, whose text is its address.
    return repr(bytes(value)) if isinstance(value, memoryview) else str(value)


def rows(env, statement, args=()):
    return sorted(tuple(_comparable(v) for v in row)
                  for row in env.db_query(sql(env, statement), args))


def learner_snapshot(env, sub):
    """Every row of learner `sub`: their learning rows, their concept
    tickets with fields and changes, and the learning rows of those."""
    snapshot = {table: rows(env, 'SELECT * FROM {%s} WHERE '
                                 'cognito_user_id=%%s' % table, (sub,))
                for table in PER_LEARNER}
    tickets = 'SELECT id FROM ticket WHERE owner=%s AND type=%s'
    args = (sub, CONCEPT_TICKET_TYPE)
    snapshot['ticket'] = rows(env, 'SELECT * FROM ticket WHERE id IN (%s)'
                              % tickets, args)
    for table, column in (('ticket_custom', 'ticket'),
                          ('ticket_change', 'ticket'),
                          ('{concept_metadata}', 'ticket_id'),
                          ('{prerequisites}', 'concept_ticket_id')):
        snapshot[table] = rows(env, 'SELECT * FROM %s WHERE %s IN (%s)'
                               % (table, column, tickets), args)
    snapshot['path_concepts'] = rows(env, """
        SELECT pc.* FROM {path_concepts} pc JOIN {paths} p
        ON p.id = pc.path_id WHERE p.cognito_user_id=%s""", (sub,))
    return snapshot


def everything(env):
    """Every row of every learning table and of Trac's ticket tables."""
    snapshot = {table: rows(env, 'SELECT * FROM {%s}' % table)
                for table in TABLES}
    for table in ('ticket', 'ticket_custom', 'ticket_change', 'milestone',
                  'attachment'):
        snapshot[table] = rows(env, 'SELECT * FROM %s' % table)
    return snapshot


def decisions_export(env):
    out = io.StringIO()
    with redirect_stdout(out):
        AdminCommandManager(env).execute_command('learning', 'decisions',
                                                 'export')
    return out.getvalue()


# Download -------------------------------------------------------------------

def test_download_carries_the_learners_data_and_only_theirs(env, studied):
    alice, bob = studied
    response = alice.api('GET', '/me/data')
    assert response.status == 200, response
    disposition = response.header('Content-Disposition')
    assert disposition.startswith(
        'attachment; filename="tracl-learning-data-')
    assert disposition.endswith('.json"')
    assert response.header('Cache-Control') == 'no-store'
    data = response.json()
    assert data['format'] == 'tracl-learner-data'
    assert data['learner']['name'] == 'Alice Liddell'
    assert [p['id'] for p in data['paths']] == [alice.path['path_id']]
    own = sorted(t['ticket_id'] for t in alice.path['tickets'])
    assert sorted(data['paths'][0]['concepts']) == own
    assert [c['id'] for c in data['concepts']] == own
    concepts = {c['id']: c for c in data['concepts']}
    ledgers = concepts[alice.concept(LEDGERS)]
    assert ledgers['concept'] == LEDGERS and ledgers['question']
    answers = [a['answer'] for a in ledgers['attempts']]
    assert answers[0] == ALICES_ANSWER and len(answers) == 3
    first = ledgers['attempts'][0]
    assert first['score'] == pytest.approx(0.3)
    assert first['feedback'] and first['overridden_by'] == 3
    assert ledgers['progress']['notes'] == 'Ledgers: ask about forks.'
    assert ledgers['progress']['time_spent_minutes'] > 0
    assert [d['status'] for d in ledgers['disputes']] == ['decided']
    assert [(d['attempt'], d['new_score'], d['comment'])
            for d in ledgers['decisions']] == [(1, 0.5, 'Half right.')]
    merkle = concepts[alice.concept(MERKLE)]
    assert merkle['progress']['status'] == 'mastered'
    assert merkle['review_card'] is not None and merkle['review_log']
    assert data['totals']['attempts'] == 4
    text = response.text
    assert 'Bob answers about ledgers.' not in text
    assert BOBS_NOTE not in text
    bobs = {t['ticket_id'] for t in bob.path['tickets']}
    assert not bobs & set(concepts)


def test_an_admin_may_download_a_learners_data_and_a_learner_not(
        env, studied, teacher):
    alice, bob = studied
    data = ok(teacher.api('GET', '/me/data', query='user=%s' % BOB))
    assert data['concepts'][0]['progress']['notes'] == BOBS_NOTE
    assert_error(alice.api('GET', '/me/data', query='user=%s' % BOB), 403)


# Delete ---------------------------------------------------------------------

def test_delete_removes_the_learners_data_and_keeps_another_learners(
        env, studied):
    alice, bob = studied
    bob_before = learner_snapshot(env, BOB)
    questions = rows(env, 'SELECT * FROM {questions}')
    milestones = rows(env, 'SELECT * FROM milestone')
    assert ALICES_ANSWER in decisions_export(env)
    own = [t['ticket_id'] for t in alice.path['tickets']]

    response = alice.api('DELETE', '/me/data', CONFIRM)

    assert response.status == 204, response
    assert response.body == b''
    after = learner_snapshot(env, ALICE)
    assert all(found == [] for found in after.values()), after
    assert rows(env, 'SELECT id FROM ticket WHERE id IN (%s)'
                % ','.join(str(i) for i in own)) == []
    # The audit of the grading stays, without Alice or her answer.
    kept = env.db_query(sql(env, """
        SELECT cognito_user_id, new_score, comment, decided_by
        FROM {decisions}"""))
    assert len(kept) == 1
    marker, score, comment, by = kept[0]
    assert marker.startswith(decisions.ANONYMOUS_LEARNER_PREFIX)
    assert ALICE not in marker
    assert (float(score), comment, by) == (0.5, 'Half right.', TEACHER)
    assert ALICES_ANSWER not in decisions_export(env)
    # Bob, the shared questions and the subjects' milestones: untouched.
    assert learner_snapshot(env, BOB) == bob_before
    assert rows(env, 'SELECT * FROM {questions}') == questions
    assert rows(env, 'SELECT * FROM milestone') == milestones
    # Alice's cached views are retired: she reads an empty account.
    assert ok(alice.api('GET', '/learning-paths'))['paths'] == []
    data = ok(alice.api('GET', '/me/data'))
    assert data['paths'] == [] and data['concepts'] == []
    assert ok(bob.api('GET', '/learning-paths'))['paths']


def test_a_failure_part_way_leaves_everything_as_it_was(
        env, studied, monkeypatch):
    alice, _bob = studied
    before = everything(env)
    delete_rows = learner_data._delete_tickets

    def fail_half_way(env_, db, ids):
        # Some tickets gone, then the connection lost.
        delete_rows(env_, db, ids[:2])
        raise env.db_exc.OperationalError('injected: connection lost')

    monkeypatch.setattr(learner_data, '_delete_tickets', fail_half_way)
    with pytest.raises(env.db_exc.OperationalError):
        learner_data.delete_learner_data(env, ALICE)
    assert everything(env) == before
    response = alice.api('DELETE', '/me/data', CONFIRM)
    assert response.status in (500, 503), response
    assert everything(env) == before
    monkeypatch.setattr(learner_data, '_delete_tickets', delete_rows)
    deleted = learner_data.delete_learner_data(env, ALICE)
    assert deleted == learner_data.Deleted(
        concepts=len(alice.path['tickets']), paths=1, progress=2,
        attempts=4, disputes=1, follow_ups=0, review_cards=1,
        review_log=deleted.review_log, decisions_anonymised=1)
    assert deleted.review_log >= 1


def test_a_visitor_must_sign_in(env):
    from support.web import call
    for method, path, body in (('GET', '/api/v1/me/data', None),
                               ('DELETE', '/api/v1/me/data', CONFIRM)):
        response = call(env, method, path, body=body)
        assert_error(response, 401)


def test_delete_needs_the_confirmation_and_the_csrf_token(env, studied):
    alice, _bob = studied
    before = everything(env)
    for body in (None, {}, {'confirm': 'yes'}, {'confirm': 1},
                 {'confirm': False}):
        assert_error(alice.api('DELETE', '/me/data', body), 400,
                     'confirmation_required')
    from support.web import call
    assert_error(call(env, 'DELETE', '/api/v1/me/data',
                      body=b'{"confirm": tru', cookies=alice.cookies,
                      headers={'Content-Type': 'application/json',
                               'X-CSRF-Token':
                               alice.cookies['trac_form_token']}),
                 400, 'invalid_json')
    assert_error(alice.api('DELETE', '/me/data', CONFIRM, csrf=False),
                 403, 'csrf_token_invalid')
    assert everything(env) == before


def post_form(learner, fields, token=True):
    from support.web import call
    from urllib.parse import urlencode
    fields = dict(fields)
    if token:
        fields['__FORM_TOKEN'] = learner.cookies['trac_form_token']
    return call(learner.env, 'POST', '/learning',
                body=urlencode(fields).encode('ascii'),
                headers={'Content-Type':
                         'application/x-www-form-urlencoded'},
                cookies=learner.cookies)


def test_my_learning_form_deletes_once_confirmed_with_its_token(
        env, studied):
    alice, bob = studied
    page = alice.get('/learning')
    assert page.status == 200
    assert 'href="/api/v1/me/data"' in page.text
    assert 'id="tracl-delete-data"' in page.text
    before = everything(env)
    form = {'delete_learning_data': '1', 'confirm': 'yes'}
    assert post_form(alice, form, token=False).status == 400
    unconfirmed = post_form(alice, {'delete_learning_data': '1'})
    assert unconfirmed.status == 303
    assert everything(env) == before
    bob_before = learner_snapshot(env, BOB)
    done = post_form(alice, form)
    assert done.status == 303
    assert done.header('Location').endswith('/learning')
    assert all(found == [] for found in learner_snapshot(env, ALICE)
               .values())
    assert learner_snapshot(env, BOB) == bob_before
    page = alice.get('/learning')
    assert 'Your learning data was deleted' in page.text


def test_an_admin_forgets_a_learner_by_username(env, studied, capsys):
    alice, bob = studied
    LearnerProfiles(env).update(ALICE, username='alice')
    bob_before = learner_snapshot(env, BOB)
    with pytest.raises(AdminCommandError):
        AdminCommandManager(env).execute_command('learning', 'user',
                                                 'forget', 'nobody')
    AdminCommandManager(env).execute_command('learning', 'user', 'forget',
                                             'alice')
    assert 'Cognito account is unchanged' in capsys.readouterr().out
    assert all(found == [] for found in learner_snapshot(env, ALICE)
               .values())
    assert learner_snapshot(env, BOB) == bob_before


# What the export shows and what the delete takes ----------------------------

def test_export_shows_the_expected_answer_only_as_the_concept_page_does(
        env, studied):
    from html import escape

    from tracl.study.loop import StudyLoop
    alice, _bob = studied
    response = alice.api('GET', '/me/data')
    concepts = {c['id']: c for c in ok(response)['concepts']}
    ledgers, merkle = alice.concept(LEDGERS), alice.concept(MERKLE)
    assert concepts[ledgers]['progress']['status'] != 'mastered'
    unmastered = [c for c in concepts.values()
                  if c['progress']['status'] != 'mastered']
    assert unmastered and all(c['expected_answer'] is None
                              for c in unmastered)
    loop = StudyLoop(env)
    shown = loop.answered_question(ALICE, loop.concept(ALICE, merkle))
    assert shown and shown[1]
    assert concepts[merkle]['expected_answer'] == shown[1]
    page = alice.get('/ticket/%d' % merkle)
    assert page.status == 200
    assert escape(shown[1], quote=False) in page.text
    # Nowhere else in the file either (the stored answer of an
    # unmastered concept).
    text = response.text
    stored = env.db_query(sql(env, """
        SELECT expected_answer FROM {concept_metadata}
        WHERE ticket_id=%s"""), (ledgers,))[0][0]
    assert stored and json.dumps(stored)[1:-1] not in text


def test_export_names_people_never_by_their_sub(env, studied):
    alice, _bob = studied
    LearnerProfiles(env).update(TEACHER, name='Tess Teacher')
    response = alice.api('GET', '/me/data')
    data = response.json()
    assert TEACHER not in response.text
    ledgers = {c['id']: c for c in data['concepts']}[alice.concept(LEDGERS)]
    assert [d['decided_by'] for d in ledgers['decisions']] == \
        ['Tess Teacher']
    decided = [a for a in ledgers['attempts'] if a['grader'] == 'instructor']
    assert [a['instructor'] for a in decided] == ['Tess Teacher']
    authors = {c['author'] for c in ledgers['comments']}
    assert 'Tess Teacher' in authors and 'Alice Liddell' in authors
    assert ALICE not in authors


def test_progress_on_another_learners_ticket_is_not_taken_with_it(
        env, studied):
    alice, bob = studied
    bobs = bob.concept(LEDGERS)
    with env.db_transaction as db:
        db(sql(env, "INSERT INTO {progress} (cognito_user_id, ticket_id, "
                    "status) VALUES (%s, %s, %s)"),
           (ALICE, bobs, 'studying'))
    data = ok(alice.api('GET', '/me/data'))
    assert bobs not in [c['id'] for c in data['concepts']]
    bob_ticket = rows(env, 'SELECT * FROM ticket WHERE id=%s', (bobs,))
    deleted = learner_data.delete_learner_data(env, ALICE)
    assert deleted.concepts == len(alice.path['tickets'])
    assert rows(env, 'SELECT * FROM ticket WHERE id=%s', (bobs,)) == \
        bob_ticket
    assert rows(env, 'SELECT * FROM {progress} WHERE cognito_user_id=%s',
                (ALICE,)) == []
    assert ok(bob.progress(bobs))['notes'] == BOBS_NOTE


def test_delete_forgets_the_active_path(env, studied):
    alice, _bob = studied
    assert ok(alice.api('GET', '/me'))['active_path'] == \
        alice.path['path_id']
    assert alice.api('DELETE', '/me/data', CONFIRM).status == 204
    assert env.db_query("""
        SELECT value FROM session_attribute
        WHERE sid=%s AND authenticated=1 AND name='tracl_active_path'""",
        (ALICE,)) == []
    me = ok(alice.api('GET', '/me'))
    assert me['active_path'] is None and me['name'] == 'Alice Liddell'


@pytest.mark.postgres
@pytest.mark.parametrize('db_uri', ['postgres'], indirect=True)
def test_a_concept_committed_while_deleting_goes_too(env, studied,
                                                     monkeypatch):
    # PostgreSQL only: the stub's in-memory SQLite has one connection for
    # every thread (there the first write locks out other writers).
    import threading

    from trac.ticket.model import Ticket
    read = learner_data.concept_ids
    late = []

    def create_concept():
        ticket = Ticket(env)
        ticket.populate({'type': CONCEPT_TICKET_TYPE, 'owner': ALICE,
                         'reporter': ALICE, 'summary': 'Created late',
                         'status': 'new'})
        late.append(ticket.insert())

    def read_then_create(env_, db, sub):
        found = read(env_, db, sub)
        if not late:
            # Another request's path, committed after this read.
            thread = threading.Thread(target=create_concept)
            thread.start()
            thread.join(60)
        return found

    monkeypatch.setattr(learner_data, 'concept_ids', read_then_create)
    learner_data.delete_learner_data(env, ALICE)
    assert late
    assert rows(env, 'SELECT id FROM ticket WHERE owner=%s AND type=%s',
                (ALICE, CONCEPT_TICKET_TYPE)) == []
