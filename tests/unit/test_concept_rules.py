"""A concept's rules (`tracl.model.concepts`), on an `EnvironmentStub` on
SQLite and PostgreSQL: the ticket description's encoding, the learner's
status and, above all, the lock rule every page and API shares.

The rule: a concept is locked when its learner has never mastered it and
has never mastered one of its prerequisites. Progress rows are written
directly here, so a lapse (mastered once, studying now: `completed_at` set,
status back to `studying`) can be shown before any code makes one.
"""

import pytest
from trac.ticket.model import Milestone, Ticket
from trac.util.datefmt import datetime_now, to_utimestamp, utc

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.concepts import (NO_LOCKS, Prerequisite, blockers,
                                  blocking, concept_description,
                                  concept_text, learner_status, load_concept,
                                  locks)
from tracl.model.prerequisites import add_prerequisite
from tracl.schema import sql

ALICE, BOB = 'sub-alice', 'sub-bob'

SUBJECT = 'Cryptography'


# Helpers ------------------------------------------------------------------

def new_concept(env, name, owner=ALICE, content='Some text.'):
    if SUBJECT not in {m.name for m in Milestone.select(env)}:
        milestone = Milestone(env)
        milestone.name = SUBJECT
        milestone.insert()
    ticket = Ticket(env)
    for field, value in {'type': CONCEPT_TICKET_TYPE, 'status': 'new',
                         'summary': name, 'milestone': SUBJECT,
                         'owner': owner,
                         'description': concept_description(content),
                         'question': 'What is %s?' % name,
                         'question_difficulty': '3',
                         'question_context': 'a query'}.items():
        ticket[field] = value
    return ticket.insert()


def set_progress(env, ticket_id, status, ever_mastered, sub=ALICE):
    """Write `sub`'s progress row on the concept as it would stand."""
    completed = to_utimestamp(datetime_now(utc)) if ever_mastered else None
    with env.db_transaction as db:
        db(sql(env, """
            DELETE FROM {progress} WHERE cognito_user_id=%s
            AND ticket_id=%s"""), (sub, ticket_id))
        db(sql(env, """
            INSERT INTO {progress} (cognito_user_id, ticket_id, status,
                                    completed_at)
            VALUES (%s, %s, %s, %s)"""), (sub, ticket_id, status, completed))


def master(env, ticket_id, sub=ALICE):
    set_progress(env, ticket_id, 'mastered', True, sub)


def lapse(env, ticket_id, sub=ALICE):
    """Mastered once, studying again: the first mastery stays recorded."""
    set_progress(env, ticket_id, 'studying', True, sub)


@pytest.fixture
def pair(env):
    """`(prerequisite, concept)`: Alice's concept needing another."""
    prerequisite = new_concept(env, 'Hash Functions')
    concept = new_concept(env, 'Digital Signatures')
    add_prerequisite(env, concept, prerequisite)
    return prerequisite, concept


# The lock rule on its own -------------------------------------------------

def test_the_rule_locks_on_a_prerequisite_never_mastered():
    assert blocking(False, [('a', True), ('b', False)]) == ['b']
    assert blocking(False, [('a', True)]) == []
    assert blocking(False, []) == []


def test_the_rule_never_locks_a_concept_once_mastered():
    assert blocking(True, [('a', False), ('b', False)]) == []


# The lock rule on the database --------------------------------------------

def test_a_prerequisite_never_mastered_locks_the_concept(env, pair):
    prerequisite, concept = pair
    assert blockers(env, ALICE, concept) == [
        Prerequisite(prerequisite, 'Hash Functions', 'not_started')]
    set_progress(env, prerequisite, 'studying', False)
    assert blockers(env, ALICE, concept) == [
        Prerequisite(prerequisite, 'Hash Functions', 'studying')]
    # Studying the locked concept does not unlock it either.
    set_progress(env, concept, 'studying', False)
    assert blockers(env, ALICE, concept) != []


def test_a_mastered_prerequisite_unlocks_the_concept(env, pair):
    prerequisite, concept = pair
    master(env, prerequisite)
    assert blockers(env, ALICE, concept) == []
    assert locks(env, ALICE)[concept] == (
        [Prerequisite(prerequisite, 'Hash Functions', 'mastered')], [])


def test_a_mastered_concept_is_never_locked_by_a_new_prerequisite(env):
    concept = new_concept(env, 'Digital Signatures')
    master(env, concept)
    later = new_concept(env, 'Hash Functions')
    add_prerequisite(env, concept, later)
    assert blockers(env, ALICE, concept) == []
    found = locks(env, ALICE, [concept])[concept]
    assert [p.ticket_id for p in found.prerequisites] == [later]
    assert found.blockers == []


def test_a_lapsed_concept_stays_unlocked(env, pair):
    prerequisite, concept = pair
    lapse(env, concept)
    assert blockers(env, ALICE, concept) == []


def test_a_lapsed_prerequisite_does_not_lock_again(env, pair):
    prerequisite, concept = pair
    master(env, prerequisite)
    lapse(env, prerequisite)
    assert blockers(env, ALICE, concept) == []
    # The prerequisite still shows where the learner stands now.
    assert locks(env, ALICE)[concept].prerequisites == [
        Prerequisite(prerequisite, 'Hash Functions', 'studying')]


def test_only_the_prerequisites_never_mastered_are_named(env, pair):
    prerequisite, concept = pair
    other = new_concept(env, 'Public Keys')
    add_prerequisite(env, concept, other)
    master(env, prerequisite)
    assert blockers(env, ALICE, concept) == [
        Prerequisite(other, 'Public Keys', 'not_started')]


def test_locks_are_read_from_the_concepts_learner(env, pair):
    prerequisite, concept = pair
    # Bob's progress on Alice's concepts means nothing to her locks.
    master(env, prerequisite, sub=BOB)
    assert blockers(env, ALICE, concept) != []
    assert blockers(env, BOB, concept) == []
    assert locks(env, BOB) == {}


def test_locks_of_all_or_some_concepts(env, pair):
    prerequisite, concept = pair
    free = new_concept(env, 'Ledgers')
    assert set(locks(env, ALICE)) == {concept}
    assert locks(env, ALICE, [free]) == {}
    assert locks(env, ALICE, []) == {}
    assert locks(env, ALICE, [free]).get(free, NO_LOCKS).blockers == ()
    assert locks(env, ALICE, [concept, free])[concept].blockers != []


# The learner's status and the ticket description --------------------------

def test_the_learner_status_reads_not_started_without_progress(env, pair):
    prerequisite, concept = pair
    lapse(env, concept)
    rows = env.db_query(sql(env, """
        SELECT t.id, %s FROM ticket t
        LEFT JOIN {progress} p
            ON p.ticket_id = t.id AND p.cognito_user_id=%%s
        ORDER BY t.id""" % learner_status('p')), (ALICE,))
    assert dict(rows) == {prerequisite: 'not_started', concept: 'studying'}


@pytest.mark.parametrize('content', [
    'Plain text.', 'A }}} closing and a {{{ opening.',
    '{{{#!html\n<script>x()</script>\n}}}',
    '[[Image(x.png)]] and \'\'wiki\'\'',
    'caf\u00e9 \U0001F600\nsecond line', ''])
def test_the_description_keeps_the_chunk_text_as_plain_text(content):
    description = concept_description(content)
    assert description.startswith('{{{#!text/plain\n')
    assert description.endswith('\n}}}')
    # Only the block's own braces open or close it.
    inner = description[len('{{{#!text/plain\n'):-len('\n}}}')]
    assert '{{{' not in inner and '}}}' not in inner
    assert concept_text(description) == content


def test_concept_text_of_a_description_written_by_hand():
    assert concept_text('Just words.') == 'Just words.'
    assert concept_text(None) == ''


def test_load_concept_reads_the_ticket_and_its_question(env):
    ticket_id = new_concept(env, 'Merkle Trees', content='A {{{tree}}}.')
    concept = load_concept(env, ticket_id)
    assert (concept.ticket_id, concept.owner, concept.concept,
            concept.subject, concept.ticket_status) == \
        (ticket_id, ALICE, 'Merkle Trees', SUBJECT, 'new')
    assert (concept.question, concept.difficulty, concept.context,
            concept.content, concept.expected_answer) == \
        ('What is Merkle Trees?', 3, 'a query', 'A {{{tree}}}.', '')


def test_load_concept_of_another_ticket_type_is_none(env):
    ticket = Ticket(env)
    ticket.populate({'type': 'defect', 'summary': 'A bug', 'status': 'new'})
    assert load_concept(env, ticket.insert()) is None
    assert load_concept(env, 9999) is None
