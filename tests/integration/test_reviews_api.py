"""Spaced review through the API (contract "HTTP API"): `GET /reviews` and
its `?until=`, the `review` of a submitted answer and of
`GET /progress/{id}`, the learner's `desired_retention` preference and the
OpenAPI document, through Trac's real request dispatcher, on SQLite and
PostgreSQL.

Learners make their paths of the starter corpus through the API and answer
with the offline grader; time moves with `LearningClock(env).set(...)`, as
`trac-admin ENV learning reviews USER --at` moves it, and due dates are not
fuzzed, so they are the scheduler's own.
"""

from datetime import timedelta

import pytest

from support.api_client import (  # noqa: F401 (fixtures)
    ADMIN_SUB, ALICE, BOB, admin, alice, assert_error, bob, ok)
from support.study import GOOD_ANSWERS, LEDGERS, MERKLE, WEAK_ANSWER
from support.web import call
from tracl.clock import LearningClock
from tracl.model import reviews
from tracl.study.retention import Retention, first_review_card

API = '/api/v1'

#: The fields of a concept in the due list (contract).
DUE_FIELDS = {'ticket_id', 'concept', 'subject', 'due', 'state', 'lapses',
              'retrievability'}
#: The fields of `review` in the submit-answer response and in
#: GET /progress/{id} (contract).
REVIEW_RESULT_FIELDS = {'kind', 'rating', 'due', 'lapsed'}
REVIEW_STATE_FIELDS = {'state', 'due', 'last_review', 'stability_days',
                       'retrievability', 'reviews', 'lapses'}

# Many calls per learner in one test: no rate limit. The concepts are the
# ones the search finds, without the foundations it adds (Distributed
# Ledgers and Merkle Trees are open from the start).
pytestmark = pytest.mark.learning_env(
    default_data=True,
    config=[('learning', 'review_fuzzing', 'false'),
            ('learning', 'api_rate_limit', '0'),
            ('learning', 'max_foundations', '0')])


# Fixtures and helpers -----------------------------------------------------

def due_list(learner, until=None, user=None):
    """The JSON of the learner's GET /reviews (`?until=`, `?user=`)."""
    query = '&'.join('%s=%s' % (name, value) for name, value in
                     (('until', until), ('user', user)) if value)
    return ok(learner.api('GET', '/reviews', query=query))


def iso_z(when):
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def master(learner, name):
    """Answer `name` well; returns the submit-answer JSON."""
    result = ok(learner.submit(learner.concept(name), GOOD_ANSWERS[name]))
    assert result['mastered'], result
    return result


def card_of(env, sub, ticket_id):
    return reviews.cards(env, sub, [ticket_id])[ticket_id]


# GET /reviews ---------------------------------------------------------------

def test_a_new_learner_has_nothing_to_review(env, alice):
    body = due_list(alice)
    assert body['count'] == 0 and body['due'] == []
    assert body['now'] == body['until']


def test_a_mastered_concept_is_not_due_now_but_is_three_days_ahead(
        env, alice, clock):
    mastered = master(alice, LEDGERS)
    assert due_list(alice)['due'] == []

    ahead = clock.now() + timedelta(days=3)
    body = due_list(alice, until=iso_z(ahead))
    assert body['count'] == 1
    (item,) = body['due']
    assert set(item) == DUE_FIELDS
    assert item['ticket_id'] == mastered['ticket_id']
    assert item['concept'] == LEDGERS
    assert item['subject'] == 'Blockchain Fundamentals'
    assert (item['state'], item['lapses']) == ('review', 0)
    assert item['due'] == mastered['review']['due']
    # Not due yet: it is still likely recalled now.
    assert 0.9 < item['retrievability'] <= 1
    # A date alone is midnight UTC, and the listing is still from now.
    day = (ahead + timedelta(days=1)).strftime('%Y-%m-%d')
    assert [d['ticket_id'] for d in due_list(alice, until=day)['due']] == \
        [mastered['ticket_id']]


def test_the_due_list_puts_the_most_overdue_first(env, alice, clock):
    ledgers, merkle = alice.concept(LEDGERS), alice.concept(MERKLE)
    # The higher ticket number is mastered first: the order is by due
    # time, not by number.
    earlier, later = sorted([ledgers, merkle], reverse=True)
    start = clock.now()
    names = {ledgers: LEDGERS, merkle: MERKLE}
    master(alice, names[earlier])
    # (Time only moves forward: Trac keys a ticket's changes by time.)
    clock.set(start + timedelta(hours=6))
    master(alice, names[later])

    clock.set(start + first_review_card().interval + timedelta(hours=7))
    body = due_list(alice)
    assert [d['ticket_id'] for d in body['due']] == [earlier, later]
    assert body['count'] == 2
    first, second = body['due']
    assert first['due'] < second['due']
    # FSRS counts the time since a review in whole days.
    assert first['retrievability'] <= second['retrievability'] < 1


@pytest.mark.parametrize('until, why', [
    ('tomorrow', 'a word'),
    ('2026-13-01', 'no month 13'),
    ('', 'empty'),
])
def test_an_until_that_is_not_a_time_is_refused(env, alice, until, why):
    response = alice.api('GET', '/reviews', query='until=' + until)
    error = assert_error(response, 400, 'invalid_until')
    assert 'ISO 8601' in error['message'] and 'year' in error['message']


def test_an_until_two_years_ahead_is_refused(env, alice, clock):
    far = iso_z(clock.now() + timedelta(days=730))
    error = assert_error(alice.api('GET', '/reviews', query='until=' + far),
                         400, 'invalid_until')
    assert 'at most a year ahead' in error['message']
    # A year ahead is still allowed.
    near = iso_z(clock.now() + timedelta(days=360))
    assert due_list(alice, until=near)['count'] == 0


def test_another_learners_due_concepts_are_never_listed(
        env, alice, bob, clock):
    theirs = master(alice, LEDGERS)
    mine = master(bob, MERKLE)
    later = iso_z(clock.now() + timedelta(days=30))
    assert [d['ticket_id'] for d in due_list(bob, until=later)['due']] == \
        [mine['ticket_id']]
    assert [d['ticket_id'] for d in due_list(alice, until=later)['due']] == \
        [theirs['ticket_id']]


def test_only_a_learning_admin_lists_another_learners_reviews(
        env, alice, bob, admin, clock):
    mastered = master(alice, LEDGERS)
    later = iso_z(clock.now() + timedelta(days=30))

    listed = due_list(admin, until=later, user=ALICE)
    assert [d['ticket_id'] for d in listed['due']] == [mastered['ticket_id']]
    assert due_list(admin, until=later)['due'] == []

    response = bob.api('GET', '/reviews', query='user=%s&until=%s'
                       % (ALICE, later))
    assert_error(response, 403)
    # Naming oneself is reading one's own list.
    assert due_list(bob, until=later, user=BOB)['due'] == []


def test_reviews_need_a_signed_in_learner(env):
    assert_error(call(env, 'GET', API + '/reviews'), 401)


# GET /progress/{id}: the concept's review state ---------------------------

def test_progress_has_no_review_before_mastery_and_one_after(
        env, alice, bob):
    ticket_id = alice.concept(LEDGERS)
    assert ok(alice.progress(ticket_id))['review'] is None
    ok(alice.submit(ticket_id, WEAK_ANSWER))
    assert ok(alice.progress(ticket_id))['review'] is None

    mastered = master(alice, LEDGERS)
    review = ok(alice.progress(ticket_id))['review']
    assert set(review) == REVIEW_STATE_FIELDS
    assert (review['state'], review['reviews'], review['lapses']) == \
        ('review', 1, 0)
    assert review['due'] == mastered['review']['due']
    assert 0 <= review['retrievability'] <= 1
    assert review['stability_days'] > 0

    # Another learner's concept does not exist for them.
    assert_error(bob.progress(ticket_id), 404)


# submit-answer: what each answer is for the schedule ----------------------

def test_the_kinds_of_answer_first_practice_review_and_lapse(
        env, alice, clock):
    ticket_id = alice.concept(LEDGERS)
    good = GOOD_ANSWERS[LEDGERS]

    study = ok(alice.submit(ticket_id, WEAK_ANSWER))['review']
    assert study == {'kind': 'study', 'rating': None, 'due': None,
                     'lapsed': False}

    first = ok(alice.submit(ticket_id, good))['review']
    assert set(first) == REVIEW_RESULT_FIELDS
    assert (first['kind'], first['rating'], first['lapsed']) == \
        ('first', 'good', False)
    card = card_of(env, ALICE, ticket_id)

    # Before it is due, an answer is practice: the schedule stays, and so
    # does the mastery, even when the answer is weak.
    clock.set(card.due - timedelta(hours=1))
    practice = ok(alice.submit(ticket_id, WEAK_ANSWER))
    assert (practice['review']['kind'], practice['review']['rating']) == \
        ('practice', None)
    assert practice['review']['due'] == first['due']
    assert (practice['status'], practice['mastered']) == ('mastered', True)
    assert card_of(env, ALICE, ticket_id) == card

    # Due: a good answer is a review rated good, and the next is further.
    clock.set(card.due + timedelta(hours=1))
    passed = ok(alice.submit(ticket_id, good))['review']
    assert (passed['kind'], passed['rating'], passed['lapsed']) == \
        ('review', 'good', False)
    assert passed['due'] > first['due']
    after = card_of(env, ALICE, ticket_id)
    assert after.due - after.last_review > card.due - card.last_review
    assert due_list(alice)['due'] == []

    # Due again and forgotten: rated again, a lapse; the concept is
    # studied again until it is mastered again.
    clock.set(after.due + timedelta(days=2))
    lapse = ok(alice.submit(ticket_id, WEAK_ANSWER))
    assert (lapse['review']['kind'], lapse['review']['rating'],
            lapse['review']['lapsed']) == ('review', 'again', True)
    assert (lapse['status'], lapse['mastered'], lapse['ticket_status']) == \
        ('studying', False, 'reopened')
    state = ok(alice.progress(ticket_id))['review']
    assert (state['state'], state['lapses']) == ('relearning', 1)

    relearnt = ok(alice.submit(ticket_id, good))
    assert relearnt['review']['kind'] == 'relearning'
    assert relearnt['review']['rating'] == 'good'
    assert relearnt['mastered'] is True


def test_an_admin_due_now_makes_the_next_answer_a_review(env, alice):
    ticket_id = master(alice, LEDGERS)['ticket_id']
    assert ok(alice.submit(ticket_id, GOOD_ANSWERS[LEDGERS]))['review'][
        'kind'] == 'practice'
    assert Retention(env).make_due(ticket_id) == ALICE
    assert [d['ticket_id'] for d in due_list(alice)['due']] == [ticket_id]
    review = ok(alice.submit(ticket_id, GOOD_ANSWERS[LEDGERS]))['review']
    assert (review['kind'], review['rating']) == ('review', 'good')
    assert due_list(alice)['due'] == []


# PUT /me/preferences: desired_retention ------------------------------------

@pytest.mark.parametrize('value', [0.5, True, 1.0, 'high'])
def test_a_desired_retention_out_of_range_is_refused(env, alice, value):
    response = alice.api('PUT', '/me/preferences',
                         {'preferences': {'desired_retention': value}})
    error = assert_error(response, 400, 'invalid_desired_retention')
    assert '0.70' in error['message'] and '0.97' in error['message']
    assert 'desired_retention' not in ok(alice.api('GET', '/me'))[
        'preferences']


def test_a_desired_retention_in_range_is_kept_and_used(env, alice):
    response = alice.api('PUT', '/me/preferences',
                         {'preferences': {'desired_retention': 0.8}})
    assert ok(response)['preferences'] == {'desired_retention': 0.8}
    assert Retention(env).retention_of(ALICE) == 0.8
    # A lower retention lets the first interval grow.
    result = master(alice, LEDGERS)
    card = card_of(env, ALICE, result['ticket_id'])
    assert card.due - card.last_review > first_review_card().interval


# OpenAPI --------------------------------------------------------------------

def test_the_openapi_document_lists_reviews_and_the_review_schemas(env):
    document = ok(call(env, 'GET', API + '/openapi.json'))
    paths = document['paths']

    listed = paths['/reviews']['get']
    assert listed['operationId'] == 'getReviews'
    assert 'requestBody' not in listed
    answer = listed['responses']['200']
    assert '?until=' in answer['description']
    schema = answer['content']['application/json']['schema']
    assert set(schema['required']) == {'now', 'until', 'count', 'due'}
    assert set(schema['properties']['due']['items']['required']) == \
        DUE_FIELDS
    assert {'401', '403'} <= set(listed['responses'])

    submit = paths['/progress/{ticket_id}/submit-answer']['put']
    result = submit['responses']['200']['content']['application/json'][
        'schema']['properties']['review']
    assert set(result['required']) == REVIEW_RESULT_FIELDS
    assert set(result['properties']['kind']['enum']) == {
        'study', 'first', 'review', 'practice', 'relearning'}

    read = paths['/progress/{ticket_id}']['get']
    state = read['responses']['200']['content']['application/json'][
        'schema']['properties']['review']
    assert set(state['required']) == REVIEW_STATE_FIELDS
    assert 'null' in state['type']

    preferences = paths['/me/preferences']['put']
    body = preferences['requestBody']['content']['application/json'][
        'schema']
    retention = body['properties']['preferences']['properties'][
        'desired_retention']
    assert (retention['minimum'], retention['maximum']) == (0.70, 0.97)
