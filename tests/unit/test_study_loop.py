"""The study loop's core (issue 7): `StudyLoop` (grading, copy check,
gating, cache, study time), the progress model behind it
(`tracl.model.progress`) and the prerequisite links
(`tracl.model.prerequisites`), on SQLite and PostgreSQL.

Every test studies concepts of a real learning path, made from the starter
corpus through the API (`support.study.make_path`), graded by the offline
provider. Failures are injected with test-only components: a provider whose
grader is down and a ticket change listener that fails like a lost
connection, both enabled in every environment and idle until a test turns
them on.
"""

import math
import threading
import uuid
from datetime import timedelta

import pytest
import redis
from trac.ticket.model import Ticket
from trac.util.datefmt import datetime_now, to_utimestamp, utc

from support.faults import FailingTicketListener
from support.providers import ScriptedLLMProvider, scripted_provider
from support.study import make_path
from tracl.cache import LearningCache, progress_key
from tracl.llm import LLMUnavailable, MASTERY_THRESHOLD
from tracl.llm.grading import AnswerGrader
from tracl.model import progress as progress_model
from tracl.model.concepts import Prerequisite
from tracl.model.concepts import blockers as concept_blockers
from tracl.model.prerequisites import (PrerequisiteError, add_prerequisite,
                                       dependents_of, learner_links,
                                       prerequisites_of, remove_prerequisite)
from tracl.model.progress import TIME_SLACK as _TIME_SLACK
from tracl.model.progress import concept_statuses, read_progress
from tracl.schema import sql
from tracl.study.loop import MAX_HEARTBEAT, ConceptLocked, StudyLoop

ALICE, BOB = 'sub-alice', 'sub-bob'
SUBJECT = 'Blockchain Fundamentals'

LEDGERS = 'Distributed Ledgers'
PUBLIC_KEY = 'Public-Key Cryptography'
SIGNATURES = 'Digital Signatures'      # needs Public-Key Cryptography

#: Own-words answers the offline grader accepts (0.93 and 0.85).
GOOD = {
    LEDGERS: "A distributed ledger keeps the record of transactions on many "
             "separate computers rather than one central authority. New "
             "entries are only appended, so the history is extended, not "
             "edited, and every node can check the whole record itself. "
             "Getting them to agree is the hard part.",
    PUBLIC_KEY: "Each person has a pair of linked keys, one private and kept "
                "secret, one public and shared. The public key is easy to "
                "derive from the private key but the reverse is infeasible, "
                "because it rests on a one-way mathematical problem. On a "
                "blockchain the keys prove who may spend coins rather than "
                "keeping messages secret.",
}

#: Honest answers that fall short (the offline grader gives 0.12 and 0.10).
WEAK = {
    LEDGERS: "Many computers each hold a copy of the transaction record and "
             "nobody is in charge, so entries are added but never changed.",
    PUBLIC_KEY: "It is about keys. You have some keys and they are used on "
                "the blockchain for things.",
}
WEAKER_LEDGERS = "It is a record stored on several computers, each with " \
                 "its own copy, and new records are added at the end."

OWN_WORDS_FEEDBACK = "in your own words"


# Test-only components -----------------------------------------------------

#: Enabled in every environment, idle until a test turns them on: the
#: scripted provider (chosen when a test needs its grader down) and a
#: listener failing like a lost connection.
TEST_COMPONENTS = [ScriptedLLMProvider, FailingTicketListener]


# Fixtures and helpers -----------------------------------------------------

# Trac's default data, as `initenv` writes it: the resolutions (a mastered
# concept is closed as 'fixed'), priorities, ...
# The lock rule is tested on the concepts the search finds, without the
# foundations it adds (test_foundations tests those).
pytestmark = pytest.mark.learning_env(
    enable=TEST_COMPONENTS, default_data=True,
    config=[('learning', 'max_foundations', '0')])


@pytest.fixture
def path(env):
    """Alice's blockchain path."""
    return make_path(env, ALICE)


def ticket_id(path, name):
    for ticket in path['tickets']:
        if ticket['concept'] == name:
            return ticket['ticket_id']
    raise AssertionError('%s is not in the path' % name)


def concept_of(env, path, name, sub=ALICE):
    concept = StudyLoop(env).concept(sub, ticket_id(path, name))
    assert concept is not None
    return concept


def grade(env, concept, answer):
    """The configured grader's own score for `answer`."""
    return AnswerGrader(env).evaluate(concept.question,
                                      concept.expected_answer, answer,
                                      concept.context,
                                      rubric=concept.rubric).score


def attempts(env, sub, ticket):
    """`[(attempt, answer, score, created_at)]` in attempt order."""
    return env.db_query(sql(env, """
        SELECT attempt, answer, score, created_at FROM {attempts}
        WHERE cognito_user_id=%s AND ticket_id=%s ORDER BY attempt"""),
        (sub, ticket))


def progress_row(env, sub, ticket):
    rows = env.db_query(sql(env, """
        SELECT status, answer_score, best_score, time_spent_minutes, notes,
               started_at, last_accessed, completed_at, last_answer
        FROM {progress} WHERE cognito_user_id=%s AND ticket_id=%s"""),
        (sub, ticket))
    if not rows:
        return None
    return dict(zip(('status', 'score', 'best_score', 'minutes', 'notes',
                     'started_at', 'last_accessed', 'completed_at',
                     'last_answer'), rows[0]))


def ticket_state(env, ticket):
    """Everything a recorded attempt changes on the ticket."""
    t = Ticket(env, ticket)
    return t['status'], t['resolution'], t['changetime'], t.get_changelog()


def comments(env, ticket):
    """`[(comment number, text)]` of the ticket, in time order."""
    return [(old, new) for _, _, field, old, new, _ in
            Ticket(env, ticket).get_changelog() if field == 'comment']


def set_last_accessed(env, sub, ticket, seconds_ago):
    when = datetime_now(utc) - timedelta(seconds=seconds_ago)
    with env.db_transaction as db:
        db(sql(env, """
            UPDATE {progress} SET last_accessed=%s
            WHERE cognito_user_id=%s AND ticket_id=%s"""),
           (to_utimestamp(when), sub, ticket))


def percent(score):
    return int(round(score * 100))


# submit -------------------------------------------------------------------

def test_a_first_attempt_moves_the_ticket_to_assigned_and_starts_studying(
        env, path):
    concept = concept_of(env, path, LEDGERS)
    assert concept.ticket_status == 'new'
    expected = grade(env, concept, WEAK[LEDGERS])
    assert expected < MASTERY_THRESHOLD

    result = StudyLoop(env).submit(ALICE, concept, WEAK[LEDGERS])

    assert result.ticket_id == concept.ticket_id
    assert result.attempt == 1
    assert result.score == pytest.approx(expected)
    assert result.best_score == pytest.approx(expected)
    assert (result.status, result.mastered, result.ticket_status) == \
        ('studying', False, 'assigned')
    row = progress_row(env, ALICE, concept.ticket_id)
    assert row['status'] == 'studying'
    assert row['score'] == pytest.approx(expected)
    assert row['best_score'] == pytest.approx(expected)
    assert row['last_answer'] == WEAK[LEDGERS]
    assert row['started_at'] is not None and row['completed_at'] is None
    assert [(n, a) for n, a, _, _ in attempts(env, ALICE, concept.ticket_id)] \
        == [(1, WEAK[LEDGERS])]

    status, resolution, _, changelog = ticket_state(env, concept.ticket_id)
    assert status == 'assigned' and not resolution
    changes = {field: (old, new) for _, author, field, old, new, _
               in changelog if author == ALICE}
    assert changes['status'] == ('new', 'assigned')
    assert changes['comment'] == (
        '1', 'Answer attempt 1 scored %d%%.' % percent(expected))


def test_a_good_answer_closes_the_ticket_as_fixed_with_the_score(env, path):
    concept = concept_of(env, path, LEDGERS)
    expected = grade(env, concept, GOOD[LEDGERS])
    assert expected >= MASTERY_THRESHOLD

    result = StudyLoop(env).submit(ALICE, concept, GOOD[LEDGERS])

    assert (result.attempt, result.status, result.mastered,
            result.ticket_status) == (1, 'mastered', True, 'closed')
    assert result.score == pytest.approx(expected)
    row = progress_row(env, ALICE, concept.ticket_id)
    assert row['status'] == 'mastered'
    assert row['completed_at'] is not None
    assert row['completed_at'] == row['started_at']
    status, resolution, _, changelog = ticket_state(env, concept.ticket_id)
    assert (status, resolution) == ('closed', 'fixed')
    changes = {field: (old, new) for _, _, field, old, new, _ in changelog}
    assert changes['status'] == ('new', 'closed')
    assert changes['resolution'] == ('', 'fixed')
    assert changes['comment'] == (
        '1', 'Answer attempt 1 scored %d%%. Concept mastered.'
        % percent(expected))


def test_scores_are_the_last_and_the_best_and_mastery_is_kept(env, path):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    answers = [WEAK[LEDGERS], GOOD[LEDGERS], WEAKER_LEDGERS]
    scores = [grade(env, concept, a) for a in answers]
    assert scores[0] < MASTERY_THRESHOLD <= scores[1]
    assert scores[2] < scores[0]

    first = loop.submit(ALICE, concept, answers[0])
    assert (first.status, first.ticket_status) == ('studying', 'assigned')
    second = loop.submit(ALICE, concept, answers[1])
    assert (second.attempt, second.status, second.ticket_status) == \
        (2, 'mastered', 'closed')
    completed = progress_row(env, ALICE, concept.ticket_id)['completed_at']
    third = loop.submit(ALICE, concept, answers[2])

    assert third.attempt == 3
    assert (third.status, third.mastered, third.ticket_status) == \
        ('mastered', True, 'closed')
    assert third.score == pytest.approx(scores[2])
    assert third.best_score == pytest.approx(scores[1])
    row = progress_row(env, ALICE, concept.ticket_id)
    assert row['status'] == 'mastered'
    assert row['score'] == pytest.approx(scores[2])
    assert row['best_score'] == pytest.approx(scores[1])
    assert row['last_answer'] == answers[2]
    assert row['completed_at'] == completed
    assert [(n, a, pytest.approx(s)) for n, a, s, _ in
            attempts(env, ALICE, concept.ticket_id)] == \
        [(1, answers[0], scores[0]), (2, answers[1], scores[1]),
         (3, answers[2], scores[2])]
    assert Ticket(env, concept.ticket_id)['status'] == 'closed'
    assert [text for _, text in comments(env, concept.ticket_id)] == [
        'Answer attempt 1 scored %d%%.' % percent(scores[0]),
        'Answer attempt 2 scored %d%%. Concept mastered.' % percent(scores[1]),
        'Answer attempt 3 scored %d%%.' % percent(scores[2])]


def test_the_progress_lists_every_attempt_newest_first(env, path):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    loop.submit(ALICE, concept, WEAK[LEDGERS], 30)
    loop.submit(ALICE, concept, GOOD[LEDGERS])
    found = read_progress(env, ALICE, concept.ticket_id)
    assert [(a['attempt'], a['answer'], a['grader'],
             a['time_spent_seconds']) for a in found['attempts']] == \
        [(2, GOOD[LEDGERS], 'offline', None),
         (1, WEAK[LEDGERS], 'offline', 30)]
    assert all(a['feedback'] for a in found['attempts'])


@pytest.mark.parametrize('margin, mastered', [
    (+0.01, False),     # the threshold just above the good answer's score
    (-0.01, True),      # and just below it
])
def test_the_mastery_threshold_option_decides_mastery(make_env, margin,
                                                      mastered):
    env = make_env(default_data=True)
    concept = concept_of(env, make_path(env, ALICE), LEDGERS)
    score = grade(env, concept, GOOD[LEDGERS])
    assert 0.8 <= score <= 0.98
    env.config.set('learning', 'mastery_threshold', '%.4f' % (score + margin))

    result = StudyLoop(env).submit(ALICE, concept, GOOD[LEDGERS])

    assert result.mastered is mastered
    assert result.status == ('mastered' if mastered else 'studying')
    assert Ticket(env, concept.ticket_id)['status'] == \
        ('closed' if mastered else 'assigned')


def test_a_concept_of_another_learner_or_type_is_no_concept(env, path):
    alices = ticket_id(path, LEDGERS)
    loop = StudyLoop(env)
    assert loop.concept(ALICE, alices).concept == LEDGERS
    assert loop.concept(BOB, alices) is None
    defect = Ticket(env)
    defect.populate({'type': 'defect', 'summary': 'Broken', 'owner': ALICE,
                     'reporter': ALICE, 'status': 'new'})
    assert loop.concept(ALICE, defect.insert()) is None
    assert loop.concept(ALICE, 999999) is None


# expected answer ----------------------------------------------------------

def test_the_expected_answer_is_shown_only_once_mastered(env, path):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    assert concept.expected_answer
    assert loop.expected_answer(ALICE, concept) is None
    loop.submit(ALICE, concept, WEAK[LEDGERS])
    assert loop.expected_answer(ALICE, concept) is None
    loop.submit(ALICE, concept, GOOD[LEDGERS])
    assert loop.expected_answer(ALICE, concept) == concept.expected_answer
    # Another learner never sees it, and trac.ini can hide it altogether.
    assert loop.expected_answer(BOB, concept) is None
    env.config.set('learning', 'show_expected_answer', 'false')
    assert loop.expected_answer(ALICE, concept) is None


# copy check ---------------------------------------------------------------

def copied_answer(concept, source):
    return {'content': concept.content,
            'expected': concept.expected_answer,
            'passage': concept.content[:400]}[source]


@pytest.mark.parametrize('source', ['content', 'expected', 'passage'])
def test_a_copied_answer_is_recorded_but_capped_with_own_words_feedback(
        env, path, source):
    concept = concept_of(env, path, LEDGERS)
    answer = copied_answer(concept, source)
    graders_score = grade(env, concept, answer)
    assert graders_score >= MASTERY_THRESHOLD   # it would pass unchecked

    result = StudyLoop(env).submit(ALICE, concept, answer)

    assert result.score < MASTERY_THRESHOLD
    assert result.score == pytest.approx(MASTERY_THRESHOLD / 2)
    assert OWN_WORDS_FEEDBACK in result.feedback
    assert (result.status, result.mastered, result.ticket_status) == \
        ('studying', False, 'assigned')
    [(n, recorded, score, _)] = attempts(env, ALICE, concept.ticket_id)
    assert (n, recorded) == (1, answer)
    assert score == pytest.approx(result.score)
    found = read_progress(env, ALICE, concept.ticket_id)
    assert OWN_WORDS_FEEDBACK in found['feedback']
    assert OWN_WORDS_FEEDBACK in found['attempts'][0]['feedback']
    # The grader itself (and so `grade-eval`) is unaffected.
    assert grade(env, concept, answer) == pytest.approx(graders_score)


def test_the_cap_follows_the_mastery_threshold(make_env):
    env = make_env(config=[('learning', 'mastery_threshold', '0.6')],
                   default_data=True)
    concept = concept_of(env, make_path(env, ALICE), LEDGERS)
    result = StudyLoop(env).submit(ALICE, concept, concept.expected_answer)
    assert result.score == pytest.approx(0.3)
    assert not result.mastered


def test_a_paraphrase_is_not_flagged(env, path):
    concept = concept_of(env, path, LEDGERS)
    evaluation = AnswerGrader(env).evaluate(
        concept.question, concept.expected_answer, GOOD[LEDGERS],
        concept.context, rubric=concept.rubric)
    result = StudyLoop(env).submit(ALICE, concept, GOOD[LEDGERS])
    assert result.score == pytest.approx(evaluation.score)
    assert result.feedback == evaluation.feedback
    assert OWN_WORDS_FEEDBACK not in result.feedback
    assert result.mastered


# one transaction ----------------------------------------------------------

def snapshot(env, ticket):
    """Everything a submission may write, for before/after comparisons."""
    return (attempts(env, ALICE, ticket), progress_row(env, ALICE, ticket),
            ticket_state(env, ticket))


@pytest.mark.parametrize('earlier_attempt', [False, True],
                         ids=['first-attempt', 'later-attempt'])
def test_a_grader_that_is_down_records_nothing(env, path, earlier_attempt):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    if earlier_attempt:
        loop.submit(ALICE, concept, WEAK[LEDGERS])
    before = snapshot(env, concept.ticket_id)
    cached = loop.progress(ALICE, concept.ticket_id)
    version = LearningCache(env).progress_version(ALICE)
    down = scripted_provider(env)
    down.grader_down, down.retry_after = True, 30

    with pytest.raises(LLMUnavailable):
        loop.submit(ALICE, concept, GOOD[LEDGERS], 60)

    assert snapshot(env, concept.ticket_id) == before
    assert len(before[0]) == (1 if earlier_attempt else 0)
    assert loop.progress(ALICE, concept.ticket_id) == cached
    assert LearningCache(env).progress_version(ALICE) == version


@pytest.mark.parametrize('earlier_attempt', [False, True],
                         ids=['first-attempt', 'later-attempt'])
def test_a_database_failure_while_recording_leaves_nothing(
        env, path, earlier_attempt):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    listener = FailingTicketListener(env)
    listener.changed = 0
    if earlier_attempt:
        loop.submit(ALICE, concept, WEAK[LEDGERS])
        # The listener is told of the change while the attempt's
        # transaction is open: it is the last write of record_attempt.
        assert listener.changed == 1
    before = snapshot(env, concept.ticket_id)
    listener.failing = True

    with pytest.raises(env.db_exc.OperationalError):
        loop.submit(ALICE, concept, GOOD[LEDGERS], 60)

    assert listener.changed == (2 if earlier_attempt else 1)
    after = snapshot(env, concept.ticket_id)
    assert after[0] == before[0]      # no attempt
    assert after[1] == before[1]      # no progress change (none at all)
    assert after[2] == before[2]      # no ticket change
    # Once the database is back, the next attempt is numbered as if the
    # failed one never happened.
    listener.failing = False
    result = loop.submit(ALICE, concept, GOOD[LEDGERS])
    assert result.attempt == (2 if earlier_attempt else 1)
    assert result.mastered


# gating -------------------------------------------------------------------

def test_a_concept_is_locked_until_its_prerequisite_is_mastered(env, path):
    signatures = concept_of(env, path, SIGNATURES)
    public_key = concept_of(env, path, PUBLIC_KEY)
    assert [t['prerequisites'] for t in path['tickets']
            if t['concept'] == SIGNATURES] == [[public_key.ticket_id]]
    loop = StudyLoop(env)

    for status, answer in [('not_started', None),
                           ('studying', WEAK[PUBLIC_KEY])]:
        if answer:
            loop.submit(ALICE, public_key, answer)
        with pytest.raises(ConceptLocked) as locked:
            loop.submit(ALICE, signatures, GOOD[LEDGERS])
        assert locked.value.blockers == [
            Prerequisite(public_key.ticket_id, PUBLIC_KEY, status)]
        assert str(locked.value) == '#%d' % public_key.ticket_id
        assert loop.blockers(ALICE, signatures.ticket_id) == \
            locked.value.blockers
        assert attempts(env, ALICE, signatures.ticket_id) == []
        assert progress_row(env, ALICE, signatures.ticket_id) is None
        assert Ticket(env, signatures.ticket_id)['status'] == 'new'

    assert loop.submit(ALICE, public_key, GOOD[PUBLIC_KEY]).mastered
    assert loop.blockers(ALICE, signatures.ticket_id) == []
    result = loop.submit(ALICE, signatures, WEAK[PUBLIC_KEY])
    assert (result.attempt, result.status) == (1, 'studying')


def test_a_locked_concept_names_every_blocker(env, path):
    # 'Zero-Knowledge Proofs' needs two concepts; one mastered leaves one.
    tickets = {t['concept']: t for t in path['tickets']}
    zkp = tickets['Zero-Knowledge Proofs']
    assert len(zkp['prerequisites']) == 2
    assert tickets[SIGNATURES]['ticket_id'] in zkp['prerequisites']
    loop = StudyLoop(env)
    concept = loop.concept(ALICE, zkp['ticket_id'])
    with pytest.raises(ConceptLocked) as locked:
        loop.submit(ALICE, concept, GOOD[LEDGERS])
    assert [b.ticket_id for b in locked.value.blockers] == \
        sorted(zkp['prerequisites'])


# cache --------------------------------------------------------------------

@pytest.fixture
def raw_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(params=['MemoryCache',
                        pytest.param('RedisCache', marks=pytest.mark.redis)])
def cached_env(request, make_env):
    """An environment whose `[learning] cache` is each backend; Redis keys
    go under a prefix of the test's own, removed afterwards."""
    config = [('learning', 'cache', request.param)]
    prefix = client = None
    if request.param == 'RedisCache':
        prefix = 'tracl-test-study-%s:' % uuid.uuid4().hex
        config += [('redis', 'url', request.getfixturevalue('redis_url')),
                   ('redis', 'key_prefix', prefix)]
        client = request.getfixturevalue('raw_redis')
    env = make_env(enable=TEST_COMPONENTS, config=config,
                   default_data=True)
    assert type(LearningCache(env).backend).__name__ == request.param
    yield env
    if prefix:
        keys = list(client.scan_iter(match=prefix + '*'))
        assert keys    # the cache really was Redis
        client.delete(*keys)


def test_the_cached_progress_shows_a_new_attempt(cached_env):
    env = cached_env
    concept = concept_of(env, make_path(env, ALICE), LEDGERS)
    loop, cache = StudyLoop(env), LearningCache(env)
    key = progress_key(ALICE, concept.ticket_id)
    before = loop.progress(ALICE, concept.ticket_id)
    assert (before['status'], before['attempts']) == ('not_started', [])
    assert cache.get(key)['progress'] == before      # it is cached
    version = cache.progress_version(ALICE)
    bobs_version = cache.progress_version(BOB)

    result = loop.submit(ALICE, concept, WEAK[LEDGERS])

    after = loop.progress(ALICE, concept.ticket_id)
    assert after['status'] == 'studying'
    assert after['score'] == pytest.approx(result.score)
    assert [a['attempt'] for a in after['attempts']] == [1]
    assert after['attempts'][0]['answer'] == WEAK[LEDGERS]
    assert cache.get(key)['progress'] == after
    assert cache.progress_version(ALICE) > version
    assert cache.progress_version(BOB) == bobs_version

    version = cache.progress_version(ALICE)
    loop.submit(ALICE, concept, GOOD[LEDGERS])
    again = loop.progress(ALICE, concept.ticket_id)
    assert (again['status'], [a['attempt'] for a in again['attempts']]) == \
        ('mastered', [2, 1])
    assert again['completed_at'] is not None
    assert cache.progress_version(ALICE) > version


def test_heartbeats_and_notes_refresh_the_progress_not_the_version(
        cached_env):
    env = cached_env
    concept = concept_of(env, make_path(env, ALICE), LEDGERS)
    loop, cache = StudyLoop(env), LearningCache(env)
    loop.submit(ALICE, concept, WEAK[LEDGERS])
    before = loop.progress(ALICE, concept.ticket_id)
    version = cache.progress_version(ALICE)
    set_last_accessed(env, ALICE, concept.ticket_id, 600)

    assert loop.heartbeat(ALICE, concept.ticket_id, 120) == 120
    after_heartbeat = loop.progress(ALICE, concept.ticket_id)
    assert after_heartbeat['time_spent_minutes'] == pytest.approx(
        before['time_spent_minutes'] + 2)

    loop.save_notes(ALICE, concept.ticket_id, 'Ask about Byzantine faults.')
    after_notes = loop.progress(ALICE, concept.ticket_id)
    assert after_notes['notes'] == 'Ask about Byzantine faults.'
    assert after_notes['attempts'] == before['attempts']
    assert cache.progress_version(ALICE) == version


def test_subject_counts_follow_submissions(cached_env):
    env = cached_env
    path = make_path(env, ALICE)
    make_path(env, BOB, fill=False)
    loop = StudyLoop(env)
    total = len(path['tickets'])
    fresh = [{'subject': SUBJECT, 'total': total, 'not_started': total,
              'studying': 0, 'mastered': 0, 'completion': 0.0}]
    assert loop.subjects(ALICE) == fresh
    assert loop.subjects(ALICE) == fresh       # from the cache now

    loop.submit(ALICE, concept_of(env, path, PUBLIC_KEY), WEAK[PUBLIC_KEY])
    assert loop.subjects(ALICE) == [dict(fresh[0], not_started=total - 1,
                                         studying=1)]
    loop.submit(ALICE, concept_of(env, path, LEDGERS), GOOD[LEDGERS])
    assert loop.subjects(ALICE) == [dict(
        fresh[0], not_started=total - 2, studying=1, mastered=1,
        completion=round(100.0 / total, 1))]
    # Bob's own concepts, untouched.
    assert loop.subjects(BOB) == fresh


def test_a_submission_during_a_progress_read_does_not_leave_it_stale(
        env, path, monkeypatch):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    read = progress_model.read_progress
    interleaved = []

    def read_then_submit(*args):
        found = read(*args)
        if not interleaved:
            # Another request of the learner submits between this read and
            # the cache write that follows it.
            interleaved.append(loop.submit(ALICE, concept, WEAK[LEDGERS]))
        return found
    monkeypatch.setattr(progress_model, 'read_progress', read_then_submit)
    loop.progress(ALICE, concept.ticket_id)
    monkeypatch.setattr(progress_model, 'read_progress', read)

    assert interleaved
    assert [a['attempt'] for a in
            loop.progress(ALICE, concept.ticket_id)['attempts']] == [1]


# study time ---------------------------------------------------------------

def minutes(env, sub, ticket):
    return progress_row(env, sub, ticket)['minutes']


def test_a_heartbeat_counts_at_most_its_cap(env, path):
    ticket = ticket_id(path, LEDGERS)
    assert StudyLoop(env).heartbeat(ALICE, ticket, 10 * MAX_HEARTBEAT) == \
        MAX_HEARTBEAT
    assert minutes(env, ALICE, ticket) == pytest.approx(MAX_HEARTBEAT / 60)


@pytest.mark.parametrize('seconds', [0, None])
def test_an_empty_heartbeat_counts_nothing(env, path, seconds):
    ticket = ticket_id(path, LEDGERS)
    assert StudyLoop(env).heartbeat(ALICE, ticket, seconds) == 0
    assert minutes(env, ALICE, ticket) == 0


def test_two_heartbeats_back_to_back_do_not_count_twice(env, path):
    ticket = ticket_id(path, LEDGERS)
    loop = StudyLoop(env)
    start = datetime_now(utc)
    first = loop.heartbeat(ALICE, ticket, MAX_HEARTBEAT)
    second = loop.heartbeat(ALICE, ticket, MAX_HEARTBEAT)
    span = (datetime_now(utc) - start).total_seconds()
    assert first == MAX_HEARTBEAT
    assert second <= _TIME_SLACK + math.ceil(span)
    assert minutes(env, ALICE, ticket) == pytest.approx(
        (first + second) / 60)


def test_a_heartbeat_counts_at_most_the_time_since_the_last_activity(
        env, path):
    ticket = ticket_id(path, LEDGERS)
    loop = StudyLoop(env)
    loop.save_notes(ALICE, ticket, 'opened the page')
    start = datetime_now(utc)
    set_last_accessed(env, ALICE, ticket, 60)
    credited = loop.heartbeat(ALICE, ticket, MAX_HEARTBEAT)
    span = (datetime_now(utc) - start).total_seconds()
    assert 60 + _TIME_SLACK <= credited <= 60 + _TIME_SLACK + math.ceil(span)
    assert minutes(env, ALICE, ticket) == pytest.approx(credited / 60)


@pytest.mark.parametrize('config, credited', [
    ([], 3600),
    ([('learning', 'max_reported_seconds', '600')], 600),
], ids=['default', 'option'])
def test_a_submission_counts_at_most_max_reported_seconds(
        make_env, config, credited):
    env = make_env(enable=TEST_COMPONENTS, config=config,
                   default_data=True)
    concept = concept_of(env, make_path(env, ALICE), LEDGERS)
    StudyLoop(env).submit(ALICE, concept, WEAK[LEDGERS], 86400)
    assert minutes(env, ALICE, concept.ticket_id) == \
        pytest.approx(credited / 60)
    # The attempt keeps what the learner reported.
    assert read_progress(env, ALICE, concept.ticket_id)['attempts'][0][
        'time_spent_seconds'] == 86400


def test_a_submission_right_after_a_heartbeat_does_not_count_it_again(
        env, path):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    start = datetime_now(utc)
    loop.heartbeat(ALICE, concept.ticket_id, MAX_HEARTBEAT)
    loop.submit(ALICE, concept, WEAK[LEDGERS], 3000)
    span = (datetime_now(utc) - start).total_seconds()
    assert minutes(env, ALICE, concept.ticket_id) * 60 <= \
        MAX_HEARTBEAT + _TIME_SLACK + math.ceil(span) + 1e-6


def test_study_time_adds_up_over_heartbeats_and_submissions(env, path):
    concept = concept_of(env, path, LEDGERS)
    ticket = concept.ticket_id
    loop = StudyLoop(env)
    assert loop.heartbeat(ALICE, ticket, 300) == 300          # 5 min
    set_last_accessed(env, ALICE, ticket, 3600)
    loop.submit(ALICE, concept, WEAK[LEDGERS], 120)           # + 2 min
    set_last_accessed(env, ALICE, ticket, 3600)
    assert loop.heartbeat(ALICE, ticket, 60) == 60            # + 1 min
    set_last_accessed(env, ALICE, ticket, 3600)
    loop.submit(ALICE, concept, GOOD[LEDGERS], 180)           # + 3 min
    assert minutes(env, ALICE, ticket) == pytest.approx(11)
    assert loop.progress(ALICE, ticket)['time_spent_minutes'] == 11


@pytest.mark.postgres
@pytest.mark.parametrize('db_uri', ['postgres'], indirect=True)
def test_two_heartbeats_at_once_do_not_count_the_same_time_twice(
        env, path, monkeypatch):
    ticket = ticket_id(path, LEDGERS)
    loop = StudyLoop(env)
    loop.save_notes(ALICE, ticket, 'opened the page')
    set_last_accessed(env, ALICE, ticket, 60)
    start = datetime_now(utc)
    # Two tabs report at the same moment. Were the credit computed outside
    # the row lock, both would compute it from the same last activity.
    both_read = threading.Barrier(2, timeout=5)
    read = progress_model.credited_seconds

    def read_together(*args):
        found = read(*args)
        try:
            both_read.wait()
        except threading.BrokenBarrierError:
            pass      # reads are serialised: nothing to line up
        return found
    monkeypatch.setattr(progress_model, 'credited_seconds', read_together)
    credited = []
    threads = [threading.Thread(target=lambda: credited.append(
        loop.heartbeat(ALICE, ticket, 60))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    span = (datetime_now(utc) - start).total_seconds()

    assert len(credited) == 2
    assert sum(credited) <= 60 + 2 * _TIME_SLACK + math.ceil(span)


# notes and privacy --------------------------------------------------------

def test_notes_are_kept_and_private_to_their_learner(env, path):
    alices = ticket_id(path, LEDGERS)
    loop = StudyLoop(env)
    loop.save_notes(ALICE, alices, 'My secret mnemonic')
    loop.submit(ALICE, loop.concept(ALICE, alices), GOOD[LEDGERS])
    assert loop.progress(ALICE, alices)['notes'] == 'My secret mnemonic'

    assert loop.concept(BOB, alices) is None
    bobs_view = loop.progress(BOB, alices)
    assert bobs_view['status'] == 'not_started'
    assert (bobs_view['notes'], bobs_view['attempts'], bobs_view['score'],
            bobs_view['feedback']) == ('', [], None, None)
    assert 'My secret mnemonic' not in repr(bobs_view)
    assert GOOD[LEDGERS] not in repr(bobs_view)


def test_notes_can_be_replaced_and_cleared(env, path):
    ticket = ticket_id(path, LEDGERS)
    loop = StudyLoop(env)
    loop.save_notes(ALICE, ticket, 'first')
    loop.save_notes(ALICE, ticket, 'second, longer')
    assert loop.progress(ALICE, ticket)['notes'] == 'second, longer'
    loop.save_notes(ALICE, ticket, '')
    assert loop.progress(ALICE, ticket)['notes'] == ''
    # Notes alone do not start the concept.
    assert loop.progress(ALICE, ticket)['status'] == 'not_started'


def test_concept_statuses_are_the_owners_progress(env, path):
    ledgers, public_key = ticket_id(path, LEDGERS), ticket_id(path,
                                                              PUBLIC_KEY)
    loop = StudyLoop(env)
    loop.submit(ALICE, loop.concept(ALICE, ledgers), GOOD[LEDGERS])
    loop.submit(ALICE, loop.concept(ALICE, public_key), WEAK[PUBLIC_KEY])
    signatures = ticket_id(path, SIGNATURES)
    defect = Ticket(env)
    defect.populate({'type': 'defect', 'summary': 'Broken',
                     'reporter': ALICE, 'status': 'new'})
    defect_id = defect.insert()
    assert concept_statuses(env, [ledgers, public_key, signatures,
                                  defect_id]) == {
        ledgers: (ALICE, 'mastered'), public_key: (ALICE, 'studying'),
        signatures: (ALICE, 'not_started')}


# concurrency --------------------------------------------------------------

#: Ten different answers, so the grades differ.
CONCURRENT_ANSWERS = [
    WEAK[LEDGERS], WEAKER_LEDGERS, GOOD[LEDGERS],
    "A ledger that many computers share.",
    "Copies of one transaction list on every node, kept in agreement.",
    "Nobody owns the ledger; every participant keeps a full copy of it.",
    "An append-only list of transactions replicated on independent "
    "machines.",
    "It is like a shared notebook that everyone can read and add to.",
    "A database without a central administrator, copied to many nodes.",
    "Distributed ledgers let nodes check the whole history themselves.",
]


def submit_at_once(env, concept, answers):
    """Submit `answers` from as many threads, released together; returns
    the results and the errors."""
    loop = StudyLoop(env)
    start = threading.Barrier(len(answers), timeout=30)
    results, errors = [], []

    def submit(answer):
        try:
            start.wait()
            results.append(loop.submit(ALICE, concept, answer))
        except Exception as e:       # reported by the test
            errors.append(e)
    threads = [threading.Thread(target=submit, args=(a,)) for a in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def assert_numbered_without_gaps(env, concept, results, answers):
    rows = attempts(env, ALICE, concept.ticket_id)
    assert [n for n, _, _, _ in rows] == list(range(1, len(answers) + 1))
    assert sorted(r.attempt for r in results) == \
        list(range(1, len(answers) + 1))
    assert sorted(a for _, a, _, _ in rows) == sorted(answers)
    scores = {n: s for n, _, s, _ in rows}
    row = progress_row(env, ALICE, concept.ticket_id)
    assert row['score'] == pytest.approx(scores[len(answers)])
    assert row['best_score'] == pytest.approx(max(scores.values()))
    mastered = max(scores.values()) >= MASTERY_THRESHOLD
    assert row['status'] == ('mastered' if mastered else 'studying')
    assert len(comments(env, concept.ticket_id)) == len(answers)


@pytest.mark.postgres
@pytest.mark.parametrize('db_uri', ['postgres'], indirect=True)
def test_concurrent_submissions_are_numbered_without_gaps_on_postgres(
        env, path):
    concept = concept_of(env, path, LEDGERS)
    for answer in CONCURRENT_ANSWERS:     # grade first: threads then race
        grade(env, concept, answer)       # on the writes, not the model
    results, errors = submit_at_once(env, concept, CONCURRENT_ANSWERS)
    assert errors == []
    assert_numbered_without_gaps(env, concept, results, CONCURRENT_ANSWERS)


@pytest.fixture
def file_sqlite_env(make_file_env):
    """An environment on an SQLite database file: unlike the stub's
    in-memory database, each thread gets a connection of its own."""
    return make_file_env(enable=TEST_COMPONENTS, default_data=True)


def test_concurrent_submissions_are_numbered_without_gaps_on_sqlite(
        file_sqlite_env):
    env = file_sqlite_env
    concept = concept_of(env, make_path(env, ALICE), LEDGERS)
    for answer in CONCURRENT_ANSWERS:
        grade(env, concept, answer)
    results, errors = submit_at_once(env, concept, CONCURRENT_ANSWERS)
    assert errors == []
    assert_numbered_without_gaps(env, concept, results, CONCURRENT_ANSWERS)


def test_an_attempt_that_waited_for_the_lock_is_stamped_after_the_other(
        env, path, monkeypatch):
    concept = concept_of(env, path, LEDGERS)
    loop = StudyLoop(env)
    lock = progress_model.lock_progress_row
    waited = []

    def lock_after_another_submission(*args):
        if not waited:
            # While this attempt waits for the row lock, another one of
            # the learner's submissions takes it and commits.
            waited.append(True)
            loop.submit(ALICE, concept, WEAKER_LEDGERS)
        return lock(*args)
    monkeypatch.setattr(progress_model, 'lock_progress_row',
                        lock_after_another_submission)
    loop.submit(ALICE, concept, WEAK[LEDGERS])
    monkeypatch.setattr(progress_model, 'lock_progress_row', lock)
    loop.submit(ALICE, concept, GOOD[LEDGERS])

    stamps = [created for _, _, _, created in
              attempts(env, ALICE, concept.ticket_id)]
    assert stamps == sorted(stamps)
    assert [number for number, _ in comments(env, concept.ticket_id)] == \
        ['1', '2', '3']


# prerequisites ------------------------------------------------------------

@pytest.fixture
def ids(path):
    """Alice's concept ids by name."""
    return {t['concept']: t['ticket_id'] for t in path['tickets']}


def links(path):
    return {(t['ticket_id'], p) for t in path['tickets']
            for p in t['prerequisites']}


def test_a_prerequisite_can_be_added_and_removed(env, ids):
    ledgers, merkle = ids[LEDGERS], ids['Merkle Trees']
    assert prerequisites_of(env, ALICE, merkle) == []

    assert add_prerequisite(env, merkle, ledgers) == ALICE
    assert prerequisites_of(env, ALICE, merkle) == [
        Prerequisite(ledgers, LEDGERS, 'not_started')]
    assert concept_blockers(env, ALICE, merkle) == \
        prerequisites_of(env, ALICE, merkle)
    assert StudyLoop(env).blockers(ALICE, merkle) == \
        prerequisites_of(env, ALICE, merkle)

    assert remove_prerequisite(env, merkle, ledgers) == ALICE
    assert prerequisites_of(env, ALICE, merkle) == []
    with pytest.raises(PrerequisiteError):
        remove_prerequisite(env, merkle, ledgers)


def test_prerequisites_carry_the_learners_status(env, ids):
    ledgers, merkle = ids[LEDGERS], ids['Merkle Trees']
    add_prerequisite(env, merkle, ledgers)
    loop = StudyLoop(env)
    loop.submit(ALICE, loop.concept(ALICE, ledgers), WEAK[LEDGERS])
    assert prerequisites_of(env, ALICE, merkle)[0].status == 'studying'
    assert concept_blockers(env, ALICE, merkle) != []
    loop.submit(ALICE, loop.concept(ALICE, ledgers), GOOD[LEDGERS])
    assert prerequisites_of(env, ALICE, merkle)[0].status == 'mastered'
    assert concept_blockers(env, ALICE, merkle) == []
    # The status is the asked learner's: Bob has no progress on it.
    assert prerequisites_of(env, BOB, merkle)[0].status == 'not_started'


def test_a_concept_cannot_be_its_own_prerequisite(env, ids):
    with pytest.raises(PrerequisiteError, match='own prerequisite'):
        add_prerequisite(env, ids[LEDGERS], ids[LEDGERS])


def test_an_existing_link_cannot_be_added_twice(env, path, ids):
    concept, prerequisite = ids[SIGNATURES], ids[PUBLIC_KEY]
    assert (concept, prerequisite) in links(path)
    with pytest.raises(PrerequisiteError, match='already a prerequisite'):
        add_prerequisite(env, concept, prerequisite)
    assert [p.ticket_id for p in prerequisites_of(env, ALICE, concept)] == \
        [prerequisite]


def chain(path, length):
    """A chain of links `[c0, c1, ..., c_length]`: each concept needs the
    next."""
    needs = {t['ticket_id']: t['prerequisites'] for t in path['tickets']}

    def walk(route):
        if len(route) == length + 1:
            return route
        for prerequisite in needs[route[-1]]:
            found = walk(route + [prerequisite])
            if found:
                return found
        return None
    for start in needs:
        found = walk([start])
        if found:
            return found
    raise AssertionError('the path has no chain of %d links' % length)


@pytest.mark.parametrize('length', [1, 2, 3],
                         ids=['direct', 'transitive', 'longer'])
def test_a_link_closing_a_cycle_is_refused(env, path, length):
    route = chain(path, length)
    before = learner_links(env, ALICE)
    # The last concept of the chain needing the first closes the loop.
    with pytest.raises(PrerequisiteError, match='cycle'):
        add_prerequisite(env, route[-1], route[0])
    assert learner_links(env, ALICE) == before


def test_concepts_of_two_learners_cannot_be_linked(env, ids):
    bobs = {t['concept']: t['ticket_id']
            for t in make_path(env, BOB, fill=False)['tickets']}
    assert bobs[LEDGERS] != ids[LEDGERS]
    for concept, prerequisite in [(ids['Merkle Trees'], bobs[LEDGERS]),
                                  (bobs['Merkle Trees'], ids[LEDGERS])]:
        with pytest.raises(PrerequisiteError, match='different learners'):
            add_prerequisite(env, concept, prerequisite)
    assert prerequisites_of(env, ALICE, ids['Merkle Trees']) == []
    assert prerequisites_of(env, BOB, bobs['Merkle Trees']) == []


@pytest.mark.parametrize('kind', ['defect', 'missing'])
@pytest.mark.parametrize('side', ['concept', 'prerequisite'])
def test_only_concept_tickets_can_be_linked(env, ids, kind, side):
    if kind == 'defect':
        other = Ticket(env)
        other.populate({'type': 'defect', 'summary': 'Broken',
                        'owner': ALICE, 'reporter': ALICE, 'status': 'new'})
        other_id = other.insert()
    else:
        other_id = 999999
    pair = (ids[LEDGERS], other_id) if side == 'prerequisite' else \
        (other_id, ids[LEDGERS])
    with pytest.raises(PrerequisiteError, match='not a learning concept'):
        add_prerequisite(env, *pair)
    assert prerequisites_of(env, ALICE, pair[0]) == []


def test_dependents_are_what_mastering_a_concept_unlocks(env, path, ids):
    expected = sorted(t['ticket_id'] for t in path['tickets']
                      if ids[PUBLIC_KEY] in t['prerequisites'])
    assert ids[SIGNATURES] in expected
    found = dependents_of(env, ALICE, ids[PUBLIC_KEY])
    assert [d.ticket_id for d in found] == expected
    assert {d.status for d in found} == {'not_started'}
    names = {t['ticket_id']: t['concept'] for t in path['tickets']}
    assert [d.concept for d in found] == [names[i] for i in expected]
    assert dependents_of(env, ALICE, ids[SIGNATURES]) != []   # ZKP
    loop = StudyLoop(env)
    loop.submit(ALICE, loop.concept(ALICE, ids[PUBLIC_KEY]),
                GOOD[PUBLIC_KEY])
    loop.submit(ALICE, loop.concept(ALICE, ids[SIGNATURES]),
                WEAK[PUBLIC_KEY])
    assert [d.status for d in dependents_of(env, ALICE, ids[PUBLIC_KEY])
            if d.ticket_id == ids[SIGNATURES]] == ['studying']


def test_learner_links_are_the_learners_links_only(env, path, ids):
    bobs = make_path(env, BOB, fill=False)
    names = {t['ticket_id']: t['concept']
             for t in path['tickets'] + bobs['tickets']}
    found = learner_links(env, ALICE)
    assert {(c, p) for c, _, p, _ in found} == links(path)
    assert all(names[c] == cn and names[p] == pn
               for c, cn, p, pn in found)
    assert {(c, p) for c, _, p, _ in learner_links(env, BOB)} == \
        links(bobs)
    add_prerequisite(env, ids['Merkle Trees'], ids[LEDGERS])
    assert (ids['Merkle Trees'], 'Merkle Trees', ids[LEDGERS], LEDGERS) in \
        [tuple(link) for link in learner_links(env, ALICE)]
    assert len(learner_links(env, BOB)) == len(links(bobs))
