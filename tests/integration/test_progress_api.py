"""The progress API (contract "HTTP API", `/progress`): answering a
concept's question, reading progress, notes, study time and the per-subject
summary, through Trac's real request dispatcher, on SQLite and PostgreSQL.

Learners get their concepts the way a learner does, from a learning path of
the starter corpus created through the API, and are signed in with browser
sessions, so every write carries the X-CSRF-Token header. Answers are graded
by the offline provider; a grader that is down is a test-only
`ILLMProvider` chosen with `[learning] llm_provider`, as an administrator
chooses a real one.
"""

import time

import pytest
from trac.ticket.model import Ticket

from support.api_client import (  # noqa: F401 (fixtures)
    ADMIN_SUB, ALICE, BOB, LearnerClient, admin, alice, assert_error, bob,
    next_request, ok)
from support.cognito import TEST_USERS, cognito  # noqa: F401 (fixture)
from support.faults import FailingTicketListener
from support.providers import ScriptedLLMProvider
from support.study import (BLOCKS, GOOD_ANSWERS, LEDGERS, MERKLE,
                           WEAK_ANSWER)
from support.web import call
from tracl.auth.idp import CognitoIdentityProvider
from tracl.llm import MASTERY_THRESHOLD
from tracl.model.concepts import concept_text, load_concept
from tracl.model.questions import rubric_json
from tracl.model.rubrics import Misconception, Rubric
from tracl.schema import sql
from tracl.study.loop import StudyLoop

API = '/api/v1'

SUBJECT = 'Blockchain Fundamentals'

#: The fields of each response (contract).
SUBMIT_FIELDS = {'ticket_id', 'attempt', 'score', 'best_score', 'feedback',
                 'status', 'mastered', 'ticket_status', 'question_id',
                 'evidence', 'errors', 'confidence', 'follow_up',
                 'review'}
PROGRESS_FIELDS = {'ticket_id', 'status', 'score', 'best_score',
                   'time_spent_minutes', 'notes', 'started_at',
                   'last_accessed', 'completed_at', 'attempts', 'review'}
ATTEMPT_FIELDS = {'attempt', 'answer', 'score', 'feedback', 'grader',
                  'created_at', 'evidence', 'errors', 'confidence'}
SUBJECT_FIELDS = {'subject', 'total', 'not_started', 'studying', 'mastered',
                  'completion'}

#: Notes a learner may keep: wiki markup, HTML and JSON-looking text are
#: text, kept and returned as they are.
HOSTILE_NOTES = (
    "<script>alert('notes')</script> [[Image(http://evil.example/x.png)]]\n"
    "}}}\n{{{#!html\n<img src=x onerror=alert(1)>\n}}}\n"
    '"}, {"injected": true} \\u0000 caf\u00e9 \u2014 \U0001F600')


# Fixtures and helpers -----------------------------------------------------

# Trac's default data, as a new environment has it: without the resolution
# 'fixed', Trac has no resolution field to set. The scripted provider
# grades as the offline one until a test takes the grader down; the
# failing listener is idle until a test turns it on.
pytestmark = pytest.mark.learning_env(
    default_data=True, provider=True, enable=[FailingTicketListener],
    # Many calls per learner in one test: no rate limit. The lock rule is
    # tested on the concepts the search finds, without the foundations it
    # adds (test_learning_paths_api and test_foundations test those).
    config=[('learning', 'api_rate_limit', '0'),
            ('learning', 'max_foundations', '0')])


def recorded(env, sub, ticket_id):
    """Everything an answer writes for `sub` on the concept: the attempt
    rows, the progress row, the ticket's status and its change rows."""
    with env.db_query as db:
        attempts = db(sql(env, """
            SELECT attempt, answer, score FROM {attempts}
            WHERE cognito_user_id=%s AND ticket_id=%s ORDER BY attempt"""),
            (sub, ticket_id))
        progress = db(sql(env, """
            SELECT status, answer_score, best_score, time_spent_minutes,
                   last_answer, answer_feedback, started_at, last_accessed,
                   completed_at
            FROM {progress} WHERE cognito_user_id=%s AND ticket_id=%s"""),
            (sub, ticket_id))
        status = db("SELECT status, resolution FROM ticket WHERE id=%s",
                    (ticket_id,))
        changes = db("SELECT time, author, field, oldvalue, newvalue "
                     "FROM ticket_change WHERE ticket=%s ORDER BY time, field",
                     (ticket_id,))
    return {'attempts': attempts, 'progress': progress, 'ticket': status,
            'changes': changes}


def all_attempts(env):
    (n,), = env.db_query(sql(env, 'SELECT COUNT(*) FROM {attempts}'))
    return n


def new_defect(env, owner):
    ticket = Ticket(env)
    ticket.populate({'type': 'defect', 'summary': 'A defect, not a concept',
                     'owner': owner, 'reporter': owner, 'status': 'new'})
    return ticket.insert()


def missing_ticket(env):
    (largest,), = env.db_query("SELECT COALESCE(MAX(id), 0) FROM ticket")
    return largest + 1000


def grader(env):
    return ScriptedLLMProvider(env)


# submit-answer: the answer is graded and recorded ---------------------------

def test_a_weak_answer_is_recorded_as_studying_and_assigns_the_ticket(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    assert Ticket(env, ticket_id)['status'] == 'new'

    result = ok(alice.submit(ticket_id, WEAK_ANSWER, time_spent_seconds=90))

    assert set(result) == SUBMIT_FIELDS
    assert result['ticket_id'] == ticket_id
    assert result['attempt'] == 1
    assert 0 <= result['score'] < MASTERY_THRESHOLD
    assert result['best_score'] == result['score']
    assert result['feedback']
    assert result['status'] == 'studying'
    assert result['mastered'] is False
    assert result['ticket_status'] == 'assigned'
    ticket = Ticket(env, ticket_id)
    assert ticket['status'] == 'assigned'
    assert ticket['owner'] == ALICE
    rows = recorded(env, ALICE, ticket_id)
    assert rows['attempts'] == [(1, WEAK_ANSWER, pytest.approx(
        result['score']))]
    assert rows['progress'][0][0] == 'studying'
    # The change is in Trac's timeline, by the learner.
    assert {(author, field) for _t, author, field, _o, _n
            in rows['changes']} == {(ALICE, 'status'), (ALICE, 'comment')}
    comment = [n for _t, _a, field, _o, n in rows['changes']
               if field == 'comment'][0]
    assert 'Answer attempt 1 scored' in comment


def test_a_good_answer_in_own_words_masters_and_closes_the_concept(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    weak = ok(alice.submit(ticket_id, WEAK_ANSWER))

    result = ok(alice.submit(ticket_id, GOOD_ANSWERS[LEDGERS]))

    assert result['attempt'] == 2
    assert result['score'] >= MASTERY_THRESHOLD
    assert result['best_score'] == result['score'] > weak['score']
    assert result['status'] == 'mastered'
    assert result['mastered'] is True
    assert result['ticket_status'] == 'closed'
    ticket = Ticket(env, ticket_id)
    assert (ticket['status'], ticket['resolution']) == ('closed', 'fixed')
    comments = [n for _t, _a, field, _o, n
                in recorded(env, ALICE, ticket_id)['changes']
                if field == 'comment']
    assert 'Concept mastered.' in comments[-1]

    # Mastery is kept: a weaker answer afterwards is recorded, the best
    # score and the status stay.
    later = ok(alice.submit(ticket_id, WEAK_ANSWER + ' Really.'))
    assert later['attempt'] == 3
    assert later['score'] < MASTERY_THRESHOLD
    assert later['best_score'] == result['score']
    assert (later['status'], later['mastered'], later['ticket_status']) == \
        ('mastered', True, 'closed')


def test_a_pasted_copy_of_the_concept_text_is_recorded_but_not_mastered(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    pasted = concept_text(Ticket(env, ticket_id)['description'])
    assert 10 <= len(pasted) <= 5000

    result = ok(alice.submit(ticket_id, pasted))

    assert result['score'] < MASTERY_THRESHOLD
    assert (result['status'], result['mastered'],
            result['ticket_status']) == ('studying', False, 'assigned')
    assert 'own words' in result['feedback']
    attempts = recorded(env, ALICE, ticket_id)['attempts']
    assert [(n, answer) for n, answer, _s in attempts] == [(1, pasted)]


def test_a_gated_concept_unlocks_once_all_its_prerequisites_are_mastered(
        env, alice):
    ledgers, merkle, blocks = (alice.concept(LEDGERS), alice.concept(MERKLE),
                               alice.concept(BLOCKS))
    assert alice.path_concepts()[BLOCKS]['prerequisites'] == \
        sorted([ledgers, merkle])
    assert alice.path_concepts()[BLOCKS]['locked'] is True

    ok(alice.submit(ledgers, GOOD_ANSWERS[LEDGERS]))
    # One of two prerequisites mastered: still locked, and the 409 names
    # the one left.
    assert alice.path_concepts()[BLOCKS]['locked'] is True
    error = assert_error(alice.submit(blocks, GOOD_ANSWERS[LEDGERS]), 409,
                         'prerequisites_not_mastered')
    assert error['prerequisites'] == [
        {'ticket_id': merkle, 'concept': MERKLE, 'status': 'not_started'}]

    ok(alice.submit(merkle, WEAK_ANSWER))
    error = assert_error(alice.submit(blocks, GOOD_ANSWERS[LEDGERS]), 409)
    assert error['prerequisites'] == [
        {'ticket_id': merkle, 'concept': MERKLE, 'status': 'studying'}]

    assert ok(alice.submit(merkle, GOOD_ANSWERS[MERKLE]))['mastered']
    assert alice.path_concepts()[BLOCKS]['locked'] is False
    result = ok(alice.submit(blocks, WEAK_ANSWER))
    assert (result['attempt'], result['status']) == (1, 'studying')


def test_a_locked_concept_answers_409_with_its_blockers_and_records_nothing(
        env, alice):
    ledgers, merkle, blocks = (alice.concept(LEDGERS), alice.concept(MERKLE),
                               alice.concept(BLOCKS))
    before = recorded(env, ALICE, blocks)

    response = alice.submit(blocks, WEAK_ANSWER, time_spent_seconds=60)

    error = assert_error(response, 409, 'prerequisites_not_mastered')
    assert sorted(error['prerequisites'], key=lambda p: p['ticket_id']) == \
        sorted([{'ticket_id': ledgers, 'concept': LEDGERS,
                 'status': 'not_started'},
                {'ticket_id': merkle, 'concept': MERKLE,
                 'status': 'not_started'}], key=lambda p: p['ticket_id'])
    assert recorded(env, ALICE, blocks) == before
    assert before['attempts'] == [] and before['progress'] == []
    assert Ticket(env, blocks)['status'] == 'new'
    assert all_attempts(env) == 0


def test_time_spent_is_counted_with_the_answer(env, alice):
    ticket_id = alice.concept(LEDGERS)
    ok(alice.submit(ticket_id, WEAK_ANSWER, time_spent_seconds=120))
    progress = ok(alice.progress(ticket_id))
    # The first report on a concept is taken as it is (at most
    # [learning] max_reported_seconds).
    assert progress['time_spent_minutes'] == 2.0


# submit-answer: refused ---------------------------------------------------

@pytest.mark.parametrize('body', [
    {},
    {'answer': None},
    {'answer': ''},
    {'answer': 'too short'},
    {'answer': '   too short   \n'},
    {'answer': 'x' * 5001},
    {'answer': 42},
    {'answer': ['an answer in a list']},
    {'answer': {'text': 'an answer in an object'}},
], ids=['missing', 'null', 'empty', 'nine-characters', 'nine-after-strip',
        '5001-characters', 'number', 'list', 'object'])
def test_submit_refuses_an_answer_that_is_not_text_of_10_to_5000(
        env, alice, body):
    ticket_id = alice.concept(LEDGERS)
    response = alice.api('PUT', '/progress/%d/submit-answer' % ticket_id,
                          body)
    assert_error(response, 400, 'invalid_answer')
    assert recorded(env, ALICE, ticket_id)['attempts'] == []


def test_submit_accepts_answers_of_10_and_of_5000_characters(env, alice):
    ticket_id = alice.concept(LEDGERS)
    assert ok(alice.submit(ticket_id, '  abcdefghij  '))['attempt'] == 1
    long_answer = ((GOOD_ANSWERS[LEDGERS] + ' ') * 30)[:4999] + '.'
    assert len(long_answer) == 5000
    assert ok(alice.submit(ticket_id, long_answer))['attempt'] == 2
    answers = [a for _n, a, _s in recorded(env, ALICE, ticket_id)['attempts']]
    # The answer is kept without the blanks around it.
    assert answers == ['abcdefghij', long_answer]


@pytest.mark.parametrize('seconds', [-1, True, 1.5, 86401, '60', [60]],
                         ids=['negative', 'true', 'fraction', 'over-a-day',
                              'string', 'list'])
def test_submit_refuses_a_time_spent_that_is_not_0_to_86400(
        env, alice, seconds):
    ticket_id = alice.concept(LEDGERS)
    response = alice.submit(ticket_id, WEAK_ANSWER,
                            time_spent_seconds=seconds)
    assert_error(response, 400, 'invalid_time')
    assert recorded(env, ALICE, ticket_id)['attempts'] == []


@pytest.mark.parametrize('seconds', [0, 86400, None],
                         ids=['zero', 'a-day', 'null'])
def test_submit_accepts_a_time_spent_of_0_to_86400_or_null(
        env, alice, seconds):
    ticket_id = alice.concept(LEDGERS)
    ok(alice.submit(ticket_id, WEAK_ANSWER, time_spent_seconds=seconds))


def test_submit_for_another_learners_concept_is_404_and_records_nothing(
        env, alice, bob):
    theirs = alice.concept(LEDGERS)
    before = recorded(env, ALICE, theirs)
    assert_error(bob.submit(theirs, GOOD_ANSWERS[LEDGERS]), 404, 'not_found')
    assert recorded(env, ALICE, theirs) == before
    assert recorded(env, BOB, theirs)['progress'] == []
    assert all_attempts(env) == 0


def test_submit_for_a_ticket_that_is_not_a_concept_or_missing_is_404(
        env, alice):
    defect = new_defect(env, ALICE)
    assert_error(alice.submit(defect, GOOD_ANSWERS[LEDGERS]), 404,
                 'not_found')
    assert_error(alice.submit(missing_ticket(env), GOOD_ANSWERS[LEDGERS]),
                 404, 'not_found')
    assert Ticket(env, defect)['status'] == 'new'
    assert all_attempts(env) == 0


def test_an_admin_cannot_answer_for_a_learner(env, alice, admin):
    ticket_id = alice.concept(LEDGERS)
    before = recorded(env, ALICE, ticket_id)
    assert_error(admin.submit(ticket_id, GOOD_ANSWERS[LEDGERS]), 404)
    # Naming the learner does not make the write theirs.
    response = admin.api('PUT', '/progress/%d/submit-answer' % ticket_id,
                          {'answer': GOOD_ANSWERS[LEDGERS]},
                          query='user=' + ALICE)
    assert_error(response, 404)
    assert recorded(env, ALICE, ticket_id) == before
    assert all_attempts(env) == 0


@pytest.mark.parametrize('method, path, body', [
    ('PUT', '/progress/%d/submit-answer', {'answer': WEAK_ANSWER}),
    ('GET', '/progress/%d', None),
    ('PUT', '/progress/%d/notes', {'notes': 'mine'}),
    ('POST', '/progress/%d/heartbeat', {'seconds': 30}),
    ('GET', '/progress', None),
], ids=['submit', 'read', 'notes', 'heartbeat', 'subjects'])
def test_progress_api_without_credentials_is_401(env, alice, method, path,
                                                 body):
    ticket_id = alice.concept(LEDGERS)
    if '%d' in path:
        path %= ticket_id
    response = call(env, method, API + path, body=body)
    assert_error(response, 401, 'unauthorized')
    assert response.header('WWW-Authenticate').startswith('Bearer')
    assert recorded(env, ALICE, ticket_id)['progress'] == []


@pytest.mark.parametrize('method, path, body', [
    ('PUT', '/progress/%d/submit-answer', {'answer': WEAK_ANSWER}),
    ('PUT', '/progress/%d/notes', {'notes': 'mine'}),
    ('POST', '/progress/%d/heartbeat', {'seconds': 30}),
], ids=['submit', 'notes', 'heartbeat'])
def test_a_cookie_write_without_the_csrf_token_is_403(env, alice, method,
                                                      path, body):
    ticket_id = alice.concept(LEDGERS)
    response = alice.api(method, path % ticket_id, body, csrf=False)
    assert_error(response, 403, 'csrf_token_invalid')
    response = call(env, method, API + path % ticket_id, body=body,
                    cookies=alice.cookies,
                    headers={'X-CSRF-Token': 'not-the-form-token'})
    assert_error(response, 403, 'csrf_token_invalid')
    assert recorded(env, ALICE, ticket_id)['progress'] == []


# submit-answer: nothing recorded when something is down -------------------

def test_when_the_grader_is_down_the_answer_comes_back_and_nothing_changes(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    ok(alice.submit(ticket_id, WEAK_ANSWER, time_spent_seconds=60))
    ok(alice.notes(ticket_id, 'my notes'))
    before = recorded(env, ALICE, ticket_id)
    progress_before = ok(alice.progress(ticket_id))
    grader(env).grader_down, grader(env).retry_after = True, 30
    answer = ("Ledgers \u2014 replicated on many machines,\n"
              "<b>not</b> held by one central authority.")

    response = alice.submit(ticket_id, answer, time_spent_seconds=600)

    error = assert_error(response, 503, 'grader_unavailable')
    assert error['answer'] == answer
    assert response.header('Retry-After') == '30'
    assert recorded(env, ALICE, ticket_id) == before
    assert ok(alice.progress(ticket_id)) == progress_before
    assert Ticket(env, ticket_id)['status'] == 'assigned'

    # Without a hint from the provider, clients are still told to wait.
    grader(env).retry_after = None
    response = alice.submit(ticket_id, answer)
    assert_error(response, 503, 'grader_unavailable')
    assert int(response.header('Retry-After')) > 0

    # Back up: the same answer is graded as the second attempt.
    grader(env).grader_down = False
    assert ok(alice.submit(ticket_id, answer))['attempt'] == 2


def test_a_first_answer_while_the_grader_is_down_leaves_no_trace(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    grader(env).grader_down = True
    response = alice.submit(ticket_id, GOOD_ANSWERS[LEDGERS])
    error = assert_error(response, 503, 'grader_unavailable')
    assert error['answer'] == GOOD_ANSWERS[LEDGERS]
    assert recorded(env, ALICE, ticket_id) == {
        'attempts': [], 'progress': [], 'ticket': [('new', None)],
        'changes': []}
    assert ok(alice.progress(ticket_id))['status'] == 'not_started'


def test_a_database_failure_while_recording_comes_back_with_the_answer(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    ok(alice.submit(ticket_id, WEAK_ANSWER, time_spent_seconds=60))
    before = recorded(env, ALICE, ticket_id)
    subjects_before = ok(alice.subjects())
    FailingTicketListener(env).failing = True

    response = alice.submit(ticket_id, GOOD_ANSWERS[LEDGERS],
                            time_spent_seconds=60)

    error = assert_error(response, 503, 'database_unavailable')
    assert error['answer'] == GOOD_ANSWERS[LEDGERS]
    assert response.header('Retry-After')
    # The attempt and progress rows written before the failure were rolled
    # back with the ticket change.
    assert recorded(env, ALICE, ticket_id) == before
    assert Ticket(env, ticket_id)['status'] == 'assigned'
    progress = ok(alice.progress(ticket_id))
    assert (progress['status'], len(progress['attempts'])) == ('studying', 1)
    assert ok(alice.subjects()) == subjects_before

    # Nothing is left half-done: the same answer is recorded afterwards.
    FailingTicketListener(env).failing = False
    result = ok(alice.submit(ticket_id, GOOD_ANSWERS[LEDGERS]))
    assert (result['attempt'], result['status']) == (2, 'mastered')


def test_a_database_failure_on_a_first_answer_leaves_no_progress_row(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    FailingTicketListener(env).failing = True
    response = alice.submit(ticket_id, WEAK_ANSWER)
    error = assert_error(response, 503, 'database_unavailable')
    assert error['answer'] == WEAK_ANSWER
    assert recorded(env, ALICE, ticket_id) == {
        'attempts': [], 'progress': [], 'ticket': [('new', None)],
        'changes': []}


# bearer tokens ------------------------------------------------------------

def test_bearer_calls_need_no_csrf_token(make_env, cognito):  # noqa: F811
    env = make_env(default_data=True, config=cognito['options'] +
                   [('learning', 'api_rate_limit', '0')])
    username = 'alice'
    sub = cognito['users'][username]
    learner = LearnerClient(env, sub)
    learner.make_path()
    ticket_id = learner.concept(LEDGERS)
    token = CognitoIdentityProvider(env).sign_in(
        username, TEST_USERS[username][0]).access_token
    bearer = {'Authorization': 'Bearer ' + token}

    def send(method, path, body=None):
        next_request(env)
        return call(env, method, API + path, body=body, headers=bearer)

    result = ok(send('PUT', '/progress/%d/submit-answer' % ticket_id,
                     {'answer': GOOD_ANSWERS[LEDGERS]}))
    assert (result['attempt'], result['mastered']) == (1, True)
    assert ok(send('PUT', '/progress/%d/notes' % ticket_id,
                   {'notes': 'by token'})) == {'notes': 'by token'}
    ok(send('POST', '/progress/%d/heartbeat' % ticket_id, {'seconds': 5}),
       204)
    progress = ok(send('GET', '/progress/%d' % ticket_id))
    assert (progress['status'], progress['notes']) == ('mastered',
                                                       'by token')
    # The token is the learner's own: another learner's concept is 404.
    other = LearnerClient(env, BOB)
    other.make_path()
    assert_error(send('PUT', '/progress/%d/submit-answer'
                      % other.concept(LEDGERS),
                      {'answer': GOOD_ANSWERS[LEDGERS]}), 404)


# GET /progress/{ticket_id} ------------------------------------------------

def test_progress_of_an_untouched_concept(env, alice):
    ticket_id = alice.concept(LEDGERS)
    progress = ok(alice.progress(ticket_id))
    assert progress == {
        'ticket_id': ticket_id, 'status': 'not_started', 'score': None,
        'best_score': None, 'time_spent_minutes': 0, 'notes': '',
        'started_at': None, 'last_accessed': None, 'completed_at': None,
        'attempts': [], 'review': None}


def test_progress_shows_the_attempts_newest_first_and_is_fresh(env, alice):
    ticket_id = alice.concept(LEDGERS)
    # Read (and cached) before any answer.
    assert ok(alice.progress(ticket_id))['attempts'] == []

    weak = ok(alice.submit(ticket_id, WEAK_ANSWER))
    progress = ok(alice.progress(ticket_id))
    assert progress['status'] == 'studying'
    assert [a['attempt'] for a in progress['attempts']] == [1]
    assert progress['completed_at'] is None
    assert progress['started_at'] and progress['last_accessed']

    good = ok(alice.submit(ticket_id, GOOD_ANSWERS[LEDGERS]))
    progress = ok(alice.progress(ticket_id))

    assert set(progress) == PROGRESS_FIELDS
    assert progress['status'] == 'mastered'
    assert progress['score'] == pytest.approx(good['score'])
    assert progress['best_score'] == pytest.approx(good['best_score'])
    assert progress['completed_at'].endswith('Z')
    newest, oldest = progress['attempts']
    for attempt in progress['attempts']:
        assert set(attempt) == ATTEMPT_FIELDS
        assert attempt['grader'] == 'offline'
        assert attempt['feedback']
        assert attempt['created_at'].endswith('Z')
    assert (newest['attempt'], newest['answer']) == \
        (2, GOOD_ANSWERS[LEDGERS])
    assert newest['score'] == pytest.approx(good['score'])
    assert (oldest['attempt'], oldest['answer']) == (1, WEAK_ANSWER)
    assert oldest['score'] == pytest.approx(weak['score'])
    assert newest['created_at'] >= oldest['created_at']


def test_progress_never_shows_the_expected_answer(env, alice):
    ticket_id = alice.concept(LEDGERS)
    (expected,), = env.db_query(sql(env, """
        SELECT expected_answer FROM {concept_metadata}
        WHERE ticket_id=%s"""), (ticket_id,))
    assert expected
    ok(alice.submit(ticket_id, WEAK_ANSWER))
    assert expected not in alice.progress(ticket_id).text


def test_another_learners_progress_is_404(env, alice, bob):
    theirs = alice.concept(LEDGERS)
    ok(alice.submit(theirs, WEAK_ANSWER))
    assert_error(bob.progress(theirs), 404, 'not_found')
    assert_error(bob.progress(new_defect(env, BOB)), 404)
    assert_error(bob.progress(missing_ticket(env)), 404)


def test_an_admin_reads_a_learners_progress_with_user(env, alice, bob,
                                                      admin):
    ticket_id = alice.concept(LEDGERS)
    ok(alice.submit(ticket_id, WEAK_ANSWER))
    ok(alice.notes(ticket_id, 'private thoughts'))

    response = admin.progress(ticket_id, query='user=' + ALICE)

    # The same progress, but the learner's notes stay private.
    assert ok(response) == dict(ok(alice.progress(ticket_id)), notes='')
    assert 'private thoughts' not in response.text
    # Without ?user=, or naming someone else, the concept is not theirs.
    assert_error(admin.progress(ticket_id), 404)
    assert_error(admin.progress(ticket_id, query='user=' + BOB), 404)


def test_a_learner_reading_another_user_is_refused_with_403(env, alice,
                                                           bob):
    theirs = alice.concept(LEDGERS)
    assert_error(bob.progress(theirs, query='user=' + ALICE), 403)
    assert_error(bob.subjects(query='user=' + ALICE), 403)
    # Naming themselves is fine.
    assert ok(bob.progress(bob.concept(LEDGERS), query='user=' + BOB))


# notes --------------------------------------------------------------------

def test_notes_are_saved_and_read_back(env, alice):
    ticket_id = alice.concept(LEDGERS)
    assert ok(alice.progress(ticket_id))['notes'] == ''

    assert ok(alice.notes(ticket_id, 'Ledgers: replicated, append-only.')) \
        == {'notes': 'Ledgers: replicated, append-only.'}
    assert ok(alice.progress(ticket_id))['notes'] == \
        'Ledgers: replicated, append-only.'

    ok(alice.notes(ticket_id, 'rewritten'))
    progress = ok(alice.progress(ticket_id))
    assert progress['notes'] == 'rewritten'
    # Notes are not progress.
    assert progress['status'] == 'not_started'
    assert progress['attempts'] == []

    ok(alice.notes(ticket_id, ''))
    assert ok(alice.progress(ticket_id))['notes'] == ''


def test_hostile_notes_come_back_as_json_text_unchanged(env, alice):
    ticket_id = alice.concept(LEDGERS)
    response = alice.notes(ticket_id, HOSTILE_NOTES)
    assert response.header('Content-Type').startswith('application/json')
    assert ok(response) == {'notes': HOSTILE_NOTES}
    response = alice.progress(ticket_id)
    assert response.header('Content-Type').startswith('application/json')
    assert ok(response)['notes'] == HOSTILE_NOTES


def test_notes_of_20000_characters_are_kept(env, alice):
    ticket_id = alice.concept(LEDGERS)
    notes = 'n\u00f6te ' * 4000
    assert len(notes) == 20000
    ok(alice.notes(ticket_id, notes))
    assert ok(alice.progress(ticket_id))['notes'] == notes


@pytest.mark.parametrize('body', [
    {}, {'notes': None}, {'notes': 42}, {'notes': ['a note']},
    {'notes': {'text': 'a note'}}, {'notes': 'x' * 20001},
], ids=['missing', 'null', 'number', 'list', 'object', 'too-long'])
def test_notes_that_are_not_text_or_too_long_are_400(env, alice, body):
    ticket_id = alice.concept(LEDGERS)
    ok(alice.notes(ticket_id, 'kept'))
    response = alice.api('PUT', '/progress/%d/notes' % ticket_id, body)
    assert_error(response, 400, 'invalid_notes')
    assert ok(alice.progress(ticket_id))['notes'] == 'kept'


def test_notes_are_private_to_their_learner(env, alice, bob, admin):
    theirs = alice.concept(LEDGERS)
    secret = 'alice-secret-note-7f3a'
    ok(alice.notes(theirs, secret))

    response = bob.progress(theirs)
    assert_error(response, 404)
    assert secret not in response.text
    assert_error(bob.notes(theirs, 'overwritten by bob'), 404)
    assert_error(admin.notes(theirs, 'overwritten by an admin'), 404)
    assert ok(alice.progress(theirs))['notes'] == secret
    # Bob's own concept of the same name has his (no) notes.
    response = bob.progress(bob.concept(LEDGERS))
    assert ok(response)['notes'] == ''
    assert secret not in response.text
    assert secret not in bob.subjects().text
    assert recorded(env, BOB, theirs)['progress'] == []


# heartbeat ----------------------------------------------------------------

def test_a_heartbeat_is_204_and_counts_study_time(env, alice):
    ticket_id = alice.concept(LEDGERS)
    response = alice.heartbeat(ticket_id, 60)
    assert response.status == 204, response
    assert response.body == b''
    progress = ok(alice.progress(ticket_id))
    assert progress['time_spent_minutes'] == 1.0
    assert progress['last_accessed']
    # Study time is not progress.
    assert progress['status'] == 'not_started'


def test_back_to_back_heartbeats_do_not_count_the_same_time_twice(
        env, alice):
    ticket_id = alice.concept(LEDGERS)
    started = time.monotonic()
    assert alice.heartbeat(ticket_id, 300).status == 204
    first = ok(alice.progress(ticket_id))['time_spent_minutes']
    assert first == 5.0

    assert alice.heartbeat(ticket_id, 300).status == 204
    elapsed = time.monotonic() - started

    second = ok(alice.progress(ticket_id))['time_spent_minutes']
    # At most the time since the first heartbeat, and a few seconds of
    # slack for clocks and the network (`TIME_SLACK`), not another 300 s.
    credited = (second - first) * 60
    assert 0 < credited <= elapsed + 5 + 1


@pytest.mark.parametrize('seconds', [0, 301, -5, '30', 1.5, True, None,
                                     [30]],
                         ids=['zero', '301', 'negative', 'string',
                              'fraction', 'true', 'null', 'list'])
def test_a_heartbeat_that_is_not_1_to_300_seconds_is_400(env, alice,
                                                         seconds):
    ticket_id = alice.concept(LEDGERS)
    response = alice.heartbeat(ticket_id, seconds)
    assert_error(response, 400, 'invalid_seconds')
    assert ok(alice.progress(ticket_id))['time_spent_minutes'] == 0


def test_a_heartbeat_on_another_learners_concept_is_404(env, alice, bob):
    theirs = alice.concept(LEDGERS)
    assert_error(bob.heartbeat(theirs, 60), 404)
    assert_error(bob.heartbeat(new_defect(env, BOB), 60), 404)
    assert ok(alice.progress(theirs))['time_spent_minutes'] == 0
    assert recorded(env, BOB, theirs)['progress'] == []


# GET /progress ------------------------------------------------------------

def test_subjects_count_concepts_as_they_move_to_mastered(env, alice):
    total = len(alice.path['tickets'])
    ledgers, merkle = alice.concept(LEDGERS), alice.concept(MERKLE)

    subjects = ok(alice.subjects())['subjects']
    assert subjects == [{'subject': SUBJECT, 'total': total,
                         'not_started': total, 'studying': 0,
                         'mastered': 0, 'completion': 0.0}]

    ok(alice.submit(ledgers, WEAK_ANSWER))
    (subject,), = ok(alice.subjects()).values()
    assert (subject['not_started'], subject['studying'],
            subject['mastered'], subject['completion']) == \
        (total - 1, 1, 0, 0.0)

    ok(alice.submit(ledgers, GOOD_ANSWERS[LEDGERS]))
    ok(alice.submit(merkle, GOOD_ANSWERS[MERKLE]))
    (subject,), = ok(alice.subjects()).values()
    assert set(subject) == SUBJECT_FIELDS
    assert (subject['not_started'], subject['studying'],
            subject['mastered']) == (total - 2, 0, 2)
    assert subject['completion'] == round(100.0 * 2 / total, 1)


def test_subjects_of_a_learner_without_concepts_is_empty(env, admin):
    assert ok(admin.subjects()) == {'subjects': []}


def test_an_admin_reads_a_learners_subjects_with_user(env, alice, admin):
    ok(alice.submit(alice.concept(LEDGERS), WEAK_ANSWER))
    assert ok(admin.subjects(query='user=' + ALICE)) == ok(alice.subjects())
    assert ok(admin.subjects()) == {'subjects': []}


# OpenAPI ------------------------------------------------------------------

def test_the_openapi_document_lists_the_progress_operations(env):
    document = ok(call(env, 'GET', API + '/openapi.json'))
    paths = document['paths']

    submit = paths['/progress/{ticket_id}/submit-answer']['put']
    schema = submit['requestBody']['content']['application/json']['schema']
    assert schema['required'] == ['answer']
    assert schema['properties']['answer'] == {
        'type': 'string', 'minLength': 10, 'maxLength': 5000}
    assert schema['properties']['time_spent_seconds']['type'] == 'integer'
    assert set(submit['responses']) >= {'200', '400', '401', '403', '404',
                                        '409', '503'}
    assert set(submit['responses']['200']['content']['application/json']
               ['schema']['required']) == SUBMIT_FIELDS
    assert submit['parameters'] == [{'name': 'ticket_id', 'in': 'path',
                                     'required': True, 'schema': {
                                         'type': 'integer', 'minimum': 0}}]

    read = paths['/progress/{ticket_id}']['get']
    assert 'requestBody' not in read
    assert set(read['responses']['200']['content']['application/json']
               ['schema']['required']) == PROGRESS_FIELDS
    assert '404' in read['responses']

    notes = paths['/progress/{ticket_id}/notes']['put']
    schema = notes['requestBody']['content']['application/json']['schema']
    assert schema['required'] == ['notes']
    assert schema['properties']['notes']['type'] == 'string'

    heartbeat = paths['/progress/{ticket_id}/heartbeat']['post']
    schema = heartbeat['requestBody']['content']['application/json'][
        'schema']
    assert schema['required'] == ['seconds']
    assert schema['properties']['seconds'] == {
        'type': 'integer', 'minimum': 1, 'maximum': 300}
    assert '204' in heartbeat['responses']

    subjects = paths['/progress']['get']
    assert 'requestBody' not in subjects
    assert set(subjects['responses']['200']['content']['application/json']
               ['schema']['required']) == {'subjects'}

    operations = [(path, method) for path, ops in paths.items()
                  if path.startswith('/progress') for method in ops]
    assert sorted(operations) == sorted([
        ('/progress/{ticket_id}/submit-answer', 'put'),
        ('/progress/{ticket_id}', 'get'),
        ('/progress/{ticket_id}/notes', 'put'),
        ('/progress/{ticket_id}/heartbeat', 'post'),
        ('/progress/{ticket_id}/disputes', 'post'),
        ('/progress/{ticket_id}/disputes', 'get'),
        ('/progress/{ticket_id}/disputes/{dispute_id}/withdraw', 'post'),
        ('/progress', 'get')])


# What a grade rests on ------------------------------------------------------

def test_a_grade_comes_with_its_evidence_and_confidence(env, alice):
    ticket_id = alice.concept(LEDGERS)
    concept = load_concept(env, ticket_id)
    assert concept.rubric is not None and concept.rubric.key_points

    result = ok(alice.submit(ticket_id, WEAK_ANSWER))

    # Every key point, in the rubric's order, with its status and the
    # concept's own sentences as its source.
    assert [e['point'] for e in result['evidence']] == \
        [k.point for k in concept.rubric.key_points]
    text = ' '.join(concept.content.split())
    for item in result['evidence']:
        assert item['status'] in ('covered', 'partial', 'missing')
        assert item['source'] and ' '.join(item['source'].split()) in text
    assert set(result['confidence']) == {'level', 'reason'}
    assert result['confidence']['level'] in ('high', 'medium', 'low')
    assert result['confidence']['reason'].endswith('.')
    # The history has the same, read back from the database.
    attempt = ok(alice.progress(ticket_id))['attempts'][0]
    for name in ('evidence', 'errors', 'confidence'):
        assert attempt[name] == result[name]


def test_a_stated_misconception_is_listed_with_its_correction(env, alice):
    ticket_id = alice.concept(LEDGERS)
    wrong = Misconception('A distributed ledger is kept by one central '
                          'server that every node trusts.',
                          'Every node keeps its own copy of the ledger and '
                          'no single server is trusted.')
    concept = load_concept(env, ticket_id)
    with env.db_transaction as db:
        db(sql(env, 'UPDATE {questions} SET rubric=%s WHERE id=%s'),
           (rubric_json(Rubric(concept.rubric.key_points, [wrong])),
            concept.question_id))

    result = ok(alice.submit(ticket_id, wrong.claim + ' That is all.'))

    assert {'claim': wrong.claim, 'correction': wrong.correction} in \
        result['errors']
    assert result['mastered'] is False


def test_an_attempt_graded_before_evidence_was_kept_shows_none(env, alice):
    ticket_id = alice.concept(LEDGERS)
    ok(alice.submit(ticket_id, WEAK_ANSWER))
    with env.db_transaction as db:
        db(sql(env, """UPDATE {attempts} SET evidence=NULL, confidence=NULL,
                       confidence_reason=NULL"""))
    StudyLoop(env).heartbeat(ALICE, ticket_id, 1)   # drops the cached view

    attempt = ok(alice.progress(ticket_id))['attempts'][0]

    assert (attempt['evidence'], attempt['errors'], attempt['confidence']) \
        == ([], [], None)
