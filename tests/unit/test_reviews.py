"""Retention: every transition of a concept's review card through the
study loop (first mastery, practice before due, a due review passed, a
lapse, relearning), the due list, the injectable clock, the upgrade's
backfill, a failure mid-review and the learner's desired retention, on
SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from trac.ticket.model import Ticket

from support.faults import FailingTicketListener
from support.study import make_path
from tracl.model import reviews
from tracl.model.concepts import blockers
from tracl.model.progress import read_progress
from tracl.schema import sql
from tracl.study.loop import StudyLoop
from tracl.study.retention import (Retention, first_review_card,
                                   valid_retention)
from tracl.upgrades.db8 import backfill_cards

ALICE, BOB = 'sub-alice', 'sub-bob'
LEDGERS = 'Distributed Ledgers'
CHAINING = 'Blocks and Chaining'    # needs Distributed Ledgers

GOOD = ("A distributed ledger keeps the record of transactions on many "
        "separate computers rather than one central authority. New entries "
        "are only appended, so the history is extended, not edited, and "
        "every node can check the whole record itself. Getting them to "
        "agree is the hard part.")
WRONG = "It is a spreadsheet that one bank keeps and edits as it likes."
KEYS = ("Each person has a pair of linked keys, one private and kept secret, "
        "one public and shared. The public key is easy to derive from the "
        "private key but the reverse is infeasible, because it rests on a "
        "one-way mathematical problem. On a blockchain the keys prove who "
        "may spend coins rather than keeping messages secret.")

pytestmark = pytest.mark.learning_env(
    enable=[FailingTicketListener], default_data=True,
    config=[('learning', 'review_fuzzing', 'false')])


@pytest.fixture
def path(env):
    return make_path(env, ALICE)


def concept(env, path, name=LEDGERS):
    ticket_id = next(t['ticket_id'] for t in path['tickets']
                     if t['concept'] == name)
    return StudyLoop(env).concept(ALICE, ticket_id)


def submit(env, path, answer, name=LEDGERS):
    return StudyLoop(env).submit(ALICE, concept(env, path, name), answer)


def logged(env, ticket_id):
    return env.db_query(sql(env, """
        SELECT kind, rating, attempt FROM {review_log}
        WHERE cognito_user_id=%s AND ticket_id=%s ORDER BY id"""),
        (ALICE, ticket_id))


def test_an_answer_before_mastery_is_study_and_starts_nothing(env, path):
    result = submit(env, path, WRONG)
    assert result.review.kind == 'study' and result.review.rating is None
    assert reviews.cards(env, ALICE) == {}


def test_the_first_mastery_starts_the_schedule(env, path, clock):
    now = clock.now()
    result = submit(env, path, GOOD)
    assert result.mastered and result.review.kind == 'first'
    assert result.review.rating == reviews.GOOD
    card = reviews.cards(env, ALICE)[result.ticket_id]
    expected = first_review_card().interval
    assert card.due - card.last_review == expected
    assert abs((card.last_review - now).total_seconds()) < 60
    assert (card.state, card.reviews, card.lapses) == (reviews.REVIEW, 1, 0)
    assert logged(env, result.ticket_id) == [('first', 3, result.attempt)]


def test_practice_before_due_keeps_schedule_and_mastery(env, path, clock):
    first = submit(env, path, GOOD)
    card = reviews.cards(env, ALICE)[first.ticket_id]
    clock.set(card.due - timedelta(hours=1))
    result = submit(env, path, WRONG)
    assert result.review.kind == 'practice' and not result.review.lapsed
    assert result.status == 'mastered' and result.mastered
    assert reviews.cards(env, ALICE)[first.ticket_id] == card
    assert read_progress(env, ALICE, first.ticket_id)['score'] < 0.8
    assert len(logged(env, first.ticket_id)) == 1


def test_a_due_review_passed_pushes_the_next_one_further(env, path, clock):
    first = submit(env, path, GOOD)
    card = reviews.cards(env, ALICE)[first.ticket_id]
    clock.set(card.due + timedelta(hours=1))
    result = submit(env, path, GOOD)
    assert result.review.kind == 'review' and result.review.rating == 3
    after = reviews.cards(env, ALICE)[first.ticket_id]
    assert after.reviews == 2 and after.lapses == 0
    assert after.due - after.last_review > card.due - card.last_review
    assert after.stability > card.stability
    assert result.review.card.due == after.due


def test_a_lapse_reopens_the_concept_until_it_is_mastered_again(
        env, path, clock):
    first = submit(env, path, GOOD)
    chaining = concept(env, path, CHAINING)
    card = reviews.cards(env, ALICE)[first.ticket_id]
    clock.set(card.due + timedelta(days=3))
    lapse = submit(env, path, WRONG)
    assert lapse.review.kind == 'review' and lapse.review.lapsed
    assert lapse.review.rating == reviews.AGAIN
    assert (lapse.status, lapse.mastered) == ('studying', False)
    ticket = Ticket(env, first.ticket_id)
    assert (ticket['status'], ticket['resolution']) == ('reopened', '')
    comment = [c for _t, _a, field, _o, c, _p in ticket.get_changelog()
               if field == 'comment'][-1]
    assert 'studied again' in comment and '%' in comment
    progress = read_progress(env, ALICE, first.ticket_id)
    assert progress['best_score'] == first.best_score
    assert progress['completed_at'] is not None
    after = reviews.cards(env, ALICE)[first.ticket_id]
    assert (after.state, after.lapses) == (reviews.RELEARNING, 1)
    # What mastering it unlocked stays unlocked: the rule is on "ever".
    assert LEDGERS not in [b.concept for b in
                           blockers(env, ALICE, chaining.ticket_id)]

    again = submit(env, path, WRONG)
    assert again.review.kind == 'relearning' and not again.mastered
    relearned = submit(env, path, GOOD)
    assert relearned.review.kind == 'relearning' and relearned.mastered
    assert Ticket(env, first.ticket_id)['status'] == 'closed'
    card = reviews.cards(env, ALICE)[first.ticket_id]
    assert card.state == reviews.REVIEW and card.lapses == 1
    assert [kind for kind, _r, _a in logged(env, first.ticket_id)] == \
        ['first', 'review', 'relearning', 'relearning']


def test_the_due_list_is_per_learner_most_overdue_first(env, path, clock):
    first = submit(env, path, GOOD)
    second = submit(env, path, KEYS, 'Public-Key Cryptography')
    assert second.mastered
    cards = reviews.cards(env, ALICE)
    retention = Retention(env)
    assert retention.due(ALICE) == []
    later = max(c.due for c in cards.values()) + timedelta(days=1)
    clock.set(later)
    due = retention.due(ALICE)
    assert {d['ticket_id'] for d in due} == {first.ticket_id,
                                             second.ticket_id}
    assert [d['due'] for d in due] == sorted(d['due'] for d in due)
    assert all(0 < d['retrievability'] < 1 for d in due)
    assert retention.due(BOB) == []


def test_an_admin_makes_a_mastered_concept_due_now(env, path, clock):
    first = submit(env, path, GOOD)
    other = concept(env, path, CHAINING)
    retention = Retention(env)
    assert retention.make_due(other.ticket_id) is None
    assert retention.make_due(first.ticket_id) == ALICE
    assert [d['ticket_id'] for d in retention.due(ALICE)] == \
        [first.ticket_id]
    assert submit(env, path, GOOD).review.kind == 'review'


def test_a_failure_mid_review_writes_nothing(env, path, clock):
    first = submit(env, path, GOOD)
    card = reviews.cards(env, ALICE)[first.ticket_id]
    clock.set(card.due + timedelta(days=1))
    FailingTicketListener(env).failing = True
    try:
        with pytest.raises(env.db_exc.DatabaseError):
            submit(env, path, WRONG)
    finally:
        FailingTicketListener(env).failing = False
    assert reviews.cards(env, ALICE)[first.ticket_id] == card
    assert len(logged(env, first.ticket_id)) == 1
    assert read_progress(env, ALICE, first.ticket_id)['status'] == 'mastered'


def test_the_backfill_gives_mastered_concepts_a_card_once(env, path):
    first = submit(env, path, GOOD)
    with env.db_transaction as db:
        db(sql(env, "DELETE FROM {review_cards}"))
    completed = read_progress(env, ALICE, first.ticket_id)['completed_at']
    for _run in range(2):
        with env.db_transaction as db:
            backfill_cards(env, db.cursor())
        cards = reviews.cards(env, ALICE)
        assert list(cards) == [first.ticket_id]
    card = cards[first.ticket_id]
    assert card.last_review == completed
    assert card.due - completed == first_review_card().interval


def test_a_learners_desired_retention_shortens_their_intervals(env, path):
    from tracl.auth.profile import LearnerProfiles
    retention = Retention(env)
    assert retention.retention_of(ALICE) == 0.9
    LearnerProfiles(env).update(ALICE, preferences={
        'desired_retention': 0.97})
    assert retention.retention_of(ALICE) == 0.97
    result = submit(env, path, GOOD)
    card = reviews.cards(env, ALICE)[result.ticket_id]
    assert card.due - card.last_review < first_review_card().interval
    assert not valid_retention(0.5) and not valid_retention(True)


# Instructors' decisions ----------------------------------------------------

def decide(env, ticket_id, attempt, score):
    from tracl.study.review import GradingReview
    return GradingReview(env).decide('sub-teacher', ticket_id, attempt,
                                     score, 'Regraded in a test.')


def test_a_decision_that_masters_starts_the_schedule(env, path, clock):
    weak = submit(env, path, WRONG)
    assert reviews.cards(env, ALICE) == {}
    decided = decide(env, weak.ticket_id, weak.attempt, 0.9)
    assert decided.status == 'mastered'
    card = reviews.cards(env, ALICE)[weak.ticket_id]
    assert card.state == reviews.REVIEW
    assert [kind for kind, _r, _a in logged(env, weak.ticket_id)] == \
        ['decision']


def test_refusing_a_first_mastery_leaves_no_schedule(env, path, clock):
    first = submit(env, path, GOOD)
    decided = decide(env, first.ticket_id, first.attempt, 0.3)
    assert decided.status == 'studying'
    assert reviews.cards(env, ALICE) == {}


def test_refusing_a_passed_due_review_is_a_lapse(env, path, clock):
    first = submit(env, path, GOOD)
    card = reviews.cards(env, ALICE)[first.ticket_id]
    clock.set(card.due + timedelta(days=1))
    passed = submit(env, path, GOOD)
    assert passed.review.kind == 'review'
    clock.set(card.due + timedelta(days=2))
    decided = decide(env, first.ticket_id, passed.attempt, 0.2)
    assert (decided.status, decided.ticket_status) == ('studying',
                                                       'reopened')
    after = reviews.cards(env, ALICE)[first.ticket_id]
    assert (after.state, after.lapses) == (reviews.RELEARNING, 1)
    # Mastering it again ends the relearning.
    assert submit(env, path, GOOD).review.kind == 'relearning'
    assert read_progress(env, ALICE, first.ticket_id)['status'] == \
        'mastered'


def test_a_review_asks_another_of_the_chunks_questions(env, path, clock):
    before = concept(env, path)
    first = submit(env, path, GOOD)
    assert first.review.kind == 'first'
    # The chunk had one question: a second one, on the same text, is
    # written for the reviews, and the concept asks it from now on.
    after = concept(env, path)
    assert after.question_id != before.question_id
    assert Ticket(env, first.ticket_id)['question'] == after.question
    assert first.question_id == before.question_id
    # Practice keeps the question; the next review moves on again.
    card = reviews.cards(env, ALICE)[first.ticket_id]
    clock.set(card.due - timedelta(hours=1))
    submit(env, path, GOOD)
    assert concept(env, path).question_id == after.question_id
    clock.set(card.due + timedelta(hours=1))
    submit(env, path, GOOD)
    assert concept(env, path).question_id == before.question_id


def test_upgrading_a_populated_environment_to_schema_8(env, path):
    """An environment at schema 7 with mastered concepts: the upgrade
    makes the review tables and gives each mastered concept a card from
    its completion time; a second upgrade finds nothing to do."""
    from tracl.environment import LearningEnvironmentSetup
    from tracl.schema import SCHEMA_VERSION_NAME, table_name, dialect
    first = submit(env, path, GOOD)
    weak = submit(env, path, WRONG, 'Public-Key Cryptography')
    completed = read_progress(env, ALICE, first.ticket_id)['completed_at']
    with env.db_transaction as db:
        for table in ('review_log', 'review_cards'):
            db('DROP TABLE %s' % table_name(dialect(env), table))
        db("UPDATE system SET value='7' WHERE name=%s",
           (SCHEMA_VERSION_NAME,))
    setup = LearningEnvironmentSetup(env)
    assert setup.environment_needs_upgrade()
    setup.upgrade_environment()
    cards = reviews.cards(env, ALICE)
    assert list(cards) == [first.ticket_id]
    assert weak.ticket_id not in cards
    assert cards[first.ticket_id].last_review == completed
    assert not setup.environment_needs_upgrade()


def test_the_next_reviews_answer_is_never_shown_in_advance(env, path, clock):
    loop = StudyLoop(env)
    first = submit(env, path, GOOD)
    asked_first = concept(env, path)
    moved = asked_first
    assert moved.question_id != first.question_id
    # The concept now asks its next review's question: the answer shown
    # is the one to the question mastered, never the next one's.
    from tracl.model.questions import load_question
    mastered = load_question(env, first.question_id)
    question, expected = loop.answered_question(ALICE, moved)
    assert (question, expected) == (mastered.question,
                                    mastered.expected_answer)
    assert question != moved.question
    assert loop.expected_answer(ALICE, moved) == expected
    card = reviews.cards(env, ALICE)[first.ticket_id]
    clock.set(card.due + timedelta(hours=1))
    assert loop.expected_answer(ALICE, concept(env, path)) is None
