"""The human review of grades through /api/v1 (tracl/web/grading_api.py):
a learner's disputes, the instructor's queue and decisions that master or
reopen a concept, on SQLite and PostgreSQL through Trac's dispatcher."""

import pytest
from trac.ticket.model import Ticket

from support.api_client import LearnerClient
from support.faults import FailingTicketListener
from support.grading_fixtures import graded_alice, teacher  # noqa: F401
from support.providers import grader  # noqa: F401 (fixture)
from support.study import LEDGERS, MERKLE
from tracl.auth.profile import LearnerProfiles
from tracl.model import decisions
from tracl.schema import sql
from tracl.study.review import DecisionsOfDeletedConcepts

ALICE, BOB, TEACHER = 'sub-alice', 'sub-bob', 'sub-teacher'
REASON = 'My answer says the same thing in other words.'

pytestmark = pytest.mark.learning_env(
    default_data=True, provider=True, enable=[FailingTicketListener],
    # Grades are reviewed on the concepts the search finds, without the
    # foundations it adds (test_foundations tests those).
    config=[('learning', 'api_rate_limit', '0'),
            ('learning', 'max_foundations', '0')])


def ok(response, status=200):
    assert response.status == status, response
    return response.json()


def answered(alice, grader, name=LEDGERS, score=0.3, times=1):
    """Alice's concept `name` answered `times` times, scoring `score`."""
    grader.score = score
    ticket_id = alice.concept(name)
    for n in range(times):
        ok(alice.submit(ticket_id, 'My answer number %d, in my words.' % n))
    return ticket_id


def dispute(alice, ticket_id, attempt=1, reason=REASON):
    return alice.api('POST', '/progress/%d/disputes' % ticket_id,
                     {'attempt': attempt, 'reason': reason})


def queue(teacher, query=''):
    return ok(teacher.api('GET', '/grading/queue', query=query))


def decide(teacher, ticket_id, attempt, score, comment='Checked by hand.'):
    return teacher.api('POST', '/grading/decisions',
                       {'ticket_id': ticket_id, 'attempt': attempt,
                        'score': score, 'comment': comment})


# Disputes -----------------------------------------------------------------

def test_a_learner_disputes_a_grade_once_per_concept(env, alice, grader):
    ticket_id = answered(alice, grader)
    opened = ok(dispute(alice, ticket_id), 201)
    assert opened['status'] == 'open'
    again = dispute(alice, ticket_id)
    assert again.status == 409 and again.json()['error']['code'] == 'dispute_open'
    listed = ok(alice.api('GET', '/progress/%d/disputes' % ticket_id))
    assert [(d['dispute_id'], d['attempt'], d['reason'], d['status'])
            for d in listed['disputes']] == \
        [(opened['dispute_id'], 1, REASON, 'open')]


def test_a_withdrawn_dispute_can_be_opened_again(env, alice, grader):
    ticket_id = answered(alice, grader)
    first = ok(dispute(alice, ticket_id), 201)['dispute_id']
    path = '/progress/%d/disputes/%d/withdraw' % (ticket_id, first)
    assert ok(alice.api('POST', path))['status'] == 'withdrawn'
    assert alice.api('POST', path).status == 404
    second = ok(dispute(alice, ticket_id), 201)['dispute_id']
    statuses = [d['status'] for d in ok(alice.api(
        'GET', '/progress/%d/disputes' % ticket_id))['disputes']]
    assert second != first and statuses == ['open', 'withdrawn']


@pytest.mark.parametrize('body, code', [
    ({'attempt': 1, 'reason': 'too short'}, 'invalid_reason'),
    ({'attempt': 1, 'reason': 'x' * 1001}, 'invalid_reason'),
    ({'attempt': 1, 'reason': 42}, 'invalid_reason'),
    ({'attempt': '1', 'reason': REASON}, 'invalid_attempt'),
    ({'attempt': True, 'reason': REASON}, 'invalid_attempt'),
    ({'attempt': 0, 'reason': REASON}, 'invalid_attempt'),
])
def test_a_dispute_needs_an_attempt_and_a_reason(env, alice, grader, body,
                                                 code):
    ticket_id = answered(alice, grader)
    response = alice.api('POST', '/progress/%d/disputes' % ticket_id, body)
    assert response.status == 400 and response.json()['error']['code'] == code


def test_an_unknown_attempt_or_anothers_concept_is_404(env, alice, grader):
    ticket_id = answered(alice, grader)
    assert dispute(alice, ticket_id, attempt=5).status == 404
    bob = LearnerClient(env, BOB)
    assert dispute(bob, ticket_id).status == 404
    assert bob.api('GET', '/progress/%d/disputes' % ticket_id).status == 404


def test_disputes_are_limited_per_day(env, alice, grader):
    env.config.set('learning', 'disputes_per_day', '2')
    first = answered(alice, grader, LEDGERS)
    second = answered(alice, grader, MERKLE)
    opened = ok(dispute(alice, first), 201)['dispute_id']
    ok(alice.api('POST', '/progress/%d/disputes/%d/withdraw'
                 % (first, opened)))
    ok(dispute(alice, second), 201)
    limited = dispute(alice, first)
    assert limited.status == 429
    assert 0 < int(limited.header('Retry-After')) <= 86401


def test_a_cookie_dispute_needs_the_csrf_token(env, alice, grader):
    ticket_id = answered(alice, grader)
    response = alice.api('POST', '/progress/%d/disputes' % ticket_id,
                         {'attempt': 1, 'reason': REASON}, csrf=False)
    assert response.status == 403


# The queue ----------------------------------------------------------------

def test_the_queue_is_for_instructors_only(env, alice, grader):
    assert alice.api('GET', '/grading/queue').status == 403
    assert alice.api('POST', '/grading/decisions',
                     {'ticket_id': 1, 'attempt': 1, 'score': 1,
                      'comment': 'Mine.'}).status == 403


def test_a_disputed_attempt_is_queued_with_the_learners_name(
        env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    ok(dispute(alice, ticket_id), 201)
    items = queue(teacher)['items']
    assert len(items) == 1
    item = items[0]
    assert (item['ticket_id'], item['attempt'], item['kind'],
            item['reason']) == (ticket_id, 1, 'disputed', REASON)
    assert item['learner'] == 'Alice Liddell'
    assert ALICE not in str(items)
    assert item['concept'] == LEDGERS
    assert item['score'] == pytest.approx(0.3)


def test_a_low_confidence_grade_is_queued_as_uncertain(env, alice, grader,
                                                      teacher):
    ticket_id = answered(alice, grader, times=2)
    with env.db_transaction as db:
        db(sql(env, """UPDATE {attempts} SET confidence='low',
                       confidence_reason='A close call.'"""))
    items = queue(teacher)['items']
    # Only the concept's latest attempt waits for review.
    assert [(i['ticket_id'], i['attempt'], i['kind'], i['reason'])
            for i in items] == [(ticket_id, 2, 'uncertain', 'A close call.')]
    # Disputed, it is queued once, as disputed.
    ok(dispute(alice, ticket_id, attempt=2), 201)
    assert [i['kind'] for i in queue(teacher)['items']] == ['disputed']
    assert queue(teacher, 'kind=uncertain')['items'] == []


def test_the_queue_pages_oldest_first_and_filters(env, alice, grader,
                                                  teacher):
    first = answered(alice, grader, LEDGERS)
    second = answered(alice, grader, MERKLE)
    ok(dispute(alice, first), 201)
    ok(dispute(alice, second), 201)
    page = queue(teacher, 'limit=1')
    assert [i['ticket_id'] for i in page['items']] == [first]
    rest = queue(teacher, 'limit=1&before=' + page['next'])
    assert [i['ticket_id'] for i in rest['items']] == [second]
    assert rest['next'] is None
    subject = Ticket(env, first)['milestone']
    assert len(queue(teacher, 'subject=' + subject)['items']) == 2
    assert queue(teacher, 'subject=Nothing')['items'] == []
    assert queue(teacher, 'user=' + BOB)['items'] == []
    for bad in ('limit=0', 'limit=201', 'limit=x', 'kind=other',
                'before=nope'):
        assert teacher.api('GET', '/grading/queue', query=bad).status == 400


# Decisions ----------------------------------------------------------------

def attempts_of(env, ticket_id):
    return env.db_query(sql(env, """
        SELECT attempt, score, grader, overridden_by FROM {attempts}
        WHERE ticket_id=%s ORDER BY attempt"""), (ticket_id,))


def test_a_decision_that_masters_the_concept(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    ok(dispute(alice, ticket_id), 201)
    decided = ok(decide(teacher, ticket_id, 1, 0.9), 201)
    assert decided == {'ticket_id': ticket_id, 'attempt': 1,
                       'decision_attempt': 2, 'score': 0.9,
                       'status': 'mastered', 'ticket_status': 'closed',
                       'grader': 'instructor:' + TEACHER}
    assert [(a, g, o) for a, _s, g, o in attempts_of(env, ticket_id)] == \
        [(1, 'scripted', 2), (2, 'instructor:' + TEACHER, None)]
    progress = ok(alice.progress(ticket_id))
    assert progress['status'] == 'mastered'
    assert progress['score'] == progress['best_score'] == pytest.approx(0.9)
    assert progress['attempts'][0]['feedback'] == 'Checked by hand.'
    assert Ticket(env, ticket_id)['status'] == 'closed'
    statuses = [d['status'] for d in ok(alice.api(
        'GET', '/progress/%d/disputes' % ticket_id))['disputes']]
    assert statuses == ['decided']
    assert queue(teacher)['items'] == []
    # The first decision wins.
    again = decide(teacher, ticket_id, 1, 0.2)
    assert again.status == 409 and again.json()['error']['code'] == 'already_decided'
    # A decision is not disputed again.
    assert dispute(alice, ticket_id, attempt=2).status == 409


def test_a_deleted_concepts_decisions_stay_without_learner_or_answers(
        env, alice, grader, teacher):
    """An admin deletes a decided concept through Trac: its attempts and
    progress go, the decision stays as an audit that no longer names the
    learner, so it matches no attempt of a concept that takes the ticket's
    id (SQLite gives the id of the highest deleted ticket to the next
    one)."""
    ticket_id = answered(alice, grader)
    other = answered(alice, grader, MERKLE)
    ok(dispute(alice, ticket_id), 201)
    ok(dispute(alice, other), 201)
    ok(decide(teacher, ticket_id, 1, 0.9, 'Right, in other words.'), 201)
    ok(decide(teacher, other, 1, 0.4), 201)

    Ticket(env, ticket_id).delete()

    assert attempts_of(env, ticket_id) == []
    kept = env.db_query(sql(env, """
        SELECT cognito_user_id, attempt, new_score, comment, decided_by
        FROM {decisions} WHERE ticket_id=%s"""), (ticket_id,))
    assert len(kept) == 1
    marker, attempt, score, comment, by = kept[0]
    assert marker.startswith(decisions.DELETED_CONCEPT_PREFIX)
    assert ALICE not in marker
    assert (attempt, float(score), comment, by) == \
        (1, 0.9, 'Right, in other words.', TEACHER)
    # Her other concept's decision is hers still.
    assert env.db_query(sql(env, """
        SELECT cognito_user_id FROM {decisions} WHERE ticket_id=%s"""),
        (other,)) == [(ALICE,)]
    assert ok(alice.progress(other))['status'] == 'studying'


def test_a_new_concept_detaches_decisions_a_deletion_left_behind(
        env, alice, grader, teacher):
    """A decision still under a learner and a ticket id that a new
    concept takes (its deletion's listener failed, or it predates it) is
    detached when the concept is created: a new ticket has no decisions of
    its own."""
    ticket_id = answered(alice, grader)
    ok(dispute(alice, ticket_id), 201)
    ok(decide(teacher, ticket_id, 1, 0.9), 201)
    with env.db_transaction as db:
        db("DELETE FROM ticket WHERE id=%s", (ticket_id,))
    assert env.db_query(sql(env, """
        SELECT cognito_user_id FROM {decisions} WHERE ticket_id=%s"""),
        (ticket_id,)) == [(ALICE,)]
    # The concept that takes the id (SQLite's next ticket; a PostgreSQL
    # sequence never gives one again, so the listener is told directly).
    again = Ticket(env)
    again.populate({'type': 'learning_concept', 'owner': ALICE})
    again.id = ticket_id
    DecisionsOfDeletedConcepts(env).ticket_created(again)
    (learner,), = env.db_query(sql(env, """
        SELECT cognito_user_id FROM {decisions} WHERE ticket_id=%s"""),
        (ticket_id,))
    assert learner.startswith(decisions.DELETED_CONCEPT_PREFIX)


def test_a_decision_that_reopens_a_mastered_concept(env, alice, grader,
                                                    teacher):
    ticket_id = answered(alice, grader, score=0.95)
    assert Ticket(env, ticket_id)['status'] == 'closed'
    decided = ok(decide(teacher, ticket_id, 1, 0.4, 'It misses the point.'),
                 201)
    assert (decided['status'], decided['ticket_status']) == \
        ('studying', 'assigned')
    progress = ok(alice.progress(ticket_id))
    assert progress['status'] == 'studying'
    assert progress['best_score'] == pytest.approx(0.4)
    assert progress['completed_at'] is None


def test_a_later_mastery_stays_whatever_is_decided_before_it(
        env, alice, grader, teacher):
    ticket_id = answered(alice, grader, score=0.3)
    ok(dispute(alice, ticket_id), 201)
    grader.score = 0.9
    ok(alice.submit(ticket_id, 'A better answer in my own words.'))
    decided = ok(decide(teacher, ticket_id, 1, 0.1), 201)
    assert decided['status'] == 'mastered'
    assert ok(alice.progress(ticket_id))['best_score'] == pytest.approx(0.9)


@pytest.mark.parametrize('body, code', [
    ({'ticket_id': 1, 'attempt': 1, 'score': 1.5, 'comment': 'c'},
     'invalid_score'),
    ({'ticket_id': 1, 'attempt': 1, 'score': True, 'comment': 'c'},
     'invalid_score'),
    ({'ticket_id': 1, 'attempt': 1, 'score': 0.5, 'comment': ''},
     'invalid_comment'),
    ({'ticket_id': '1', 'attempt': 1, 'score': 0.5, 'comment': 'c'},
     'invalid_attempt'),
])
def test_a_decision_is_validated(env, teacher, body, code):
    response = teacher.api('POST', '/grading/decisions', body)
    assert response.status == 400 and response.json()['error']['code'] == code


def test_deciding_an_unknown_attempt_is_404(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    assert decide(teacher, ticket_id, 7, 0.5).status == 404


def test_a_failed_decision_changes_nothing(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    ok(dispute(alice, ticket_id), 201)
    before = attempts_of(env, ticket_id)
    FailingTicketListener(env).failing = True
    try:
        response = decide(teacher, ticket_id, 1, 0.9)
    finally:
        FailingTicketListener(env).failing = False
    assert response.status == 503
    assert attempts_of(env, ticket_id) == before
    assert env.db_query(sql(env, 'SELECT COUNT(*) FROM {decisions}'))[0][0] \
        == 0
    assert [i['kind'] for i in queue(teacher)['items']] == ['disputed']
    assert ok(alice.progress(ticket_id))['status'] == 'studying'


def test_the_openapi_document_lists_the_review_operations(env):
    from support.web import call
    document = call(env, 'GET', '/api/v1/openapi.json').json()
    paths = document['paths']
    opened = paths['/progress/{ticket_id}/disputes']['post']
    schema = opened['requestBody']['content']['application/json']['schema']
    assert schema['required'] == ['attempt', 'reason']
    assert schema['properties']['reason']['minLength'] == 10
    assert schema['properties']['reason']['maxLength'] == 1000
    assert {'201', '400', '404', '409', '429'} <= set(opened['responses'])
    assert {'200', '403'} <= set(paths['/grading/queue']['get']['responses'])
    decided = paths['/grading/decisions']['post']
    assert {'201', '403', '404', '409'} <= set(decided['responses'])


def test_a_learner_without_a_name_is_not_shown_by_their_sub(env, grader,
                                                           teacher):
    bob = LearnerClient(env, BOB)
    bob.make_path()
    # A learner who never gave a name nor a username (signing in gave the
    # session the test's username as its name: take both away).
    LearnerProfiles(env).update(BOB, username=BOB)
    env.db_transaction("DELETE FROM session_attribute WHERE sid=%s AND "
                       "authenticated=1 AND name='name'", (BOB,))
    LearnerProfiles(env).forget(BOB)
    ticket_id = answered(bob, grader)
    ok(dispute(bob, ticket_id), 201)
    item = queue(teacher)['items'][0]
    assert item['learner'] == 'a learner'
    assert BOB not in str(item)
