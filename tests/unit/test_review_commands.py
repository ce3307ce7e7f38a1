"""`trac-admin ENV learning reviews USER [--at ISO-DATE]` and `learning
reviews due-now TICKET`.

Alice has the blockchain path and masters some of its concepts through the
study loop (the offline grader); due dates are not fuzzed. An admin lists
what she should review at a moment, and asks a mastered concept again.
"""

import re
from datetime import timedelta, timezone

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager

from support.study import GOOD_ANSWERS, LEDGERS, MERKLE, WEAK_ANSWER, \
    make_path
from tracl.clock import LearningClock
from tracl.model import reviews
from tracl.study.loop import StudyLoop
from tracl.study.retention import Retention

ALICE, BOB = 'sub-alice', 'sub-bob'
ALICE_USERNAME = 'user-sub-al'     # as support.sessions signs her in

pytestmark = pytest.mark.learning_env(
    default_data=True,
    config=[('learning', 'review_fuzzing', 'false'),
            ('learning', 'max_foundations', '0')])


@pytest.fixture
def admin(env):
    manager = AdminCommandManager(env)

    def run(*args):
        return manager.execute_command('learning', 'reviews', *args)
    return run


@pytest.fixture
def due_now(admin):
    """`learning reviews due-now`, as trac-admin runs it (the longer
    command, not `learning reviews` with a user named due-now)."""
    def run(*args):
        return admin('due-now', *args)
    return run


@pytest.fixture
def path(env):
    return make_path(env, ALICE)


def ticket_of(path, name):
    return next(t['ticket_id'] for t in path['tickets']
                if t['concept'] == name)


def answer(env, path, name, text):
    loop = StudyLoop(env)
    return loop.submit(ALICE, loop.concept(ALICE, ticket_of(path, name)),
                       text)


def master(env, path, name):
    result = answer(env, path, name, GOOD_ANSWERS[name])
    assert result.mastered
    return reviews.cards(env, ALICE)[result.ticket_id]


def table_rows(out):
    """The rows of a printed table, each a list of its cells."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line) == {'-'})
    return [re.split(r'\s{2,}', line.strip()) for line in lines[rule + 1:]
            if line.strip()]


def at(when):
    return when.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# learning reviews USER [--at ISO-DATE] --------------------------------------

def test_nothing_is_due_right_after_mastering(admin, env, path, clock,
                                              capsys):
    master(env, path, LEDGERS)
    admin(ALICE)
    out = capsys.readouterr().out
    assert out.startswith('Nothing is due at ')
    assert out.strip().endswith('UTC.')


def test_at_a_later_moment_the_due_concepts_are_listed_with_recall(
        admin, env, path, clock, capsys):
    ledgers = master(env, path, LEDGERS)
    clock.set(clock.now() + timedelta(hours=6))
    merkle = master(env, path, MERKLE)
    clock.set(None)
    later = merkle.due + timedelta(days=1)

    admin(ALICE, '--at', at(later))
    rows = table_rows(capsys.readouterr().out)
    # The most overdue first, with how likely she recalls each one then.
    assert [row[:2] for row in rows] == [
        ['#%d' % ticket_of(path, LEDGERS), LEDGERS],
        ['#%d' % ticket_of(path, MERKLE), MERKLE]]
    for row in rows:
        assert row[2] == 'Blockchain Fundamentals' and row[4] == 'review'
        assert re.fullmatch(r'[0-9]{1,3}%', row[5]), row
        assert 0 < int(row[5][:-1]) < 100
    assert rows[0][3] < rows[1][3]
    assert ledgers.due < merkle.due

    # By her Cognito username, between the two due times: the first only.
    admin(ALICE_USERNAME, '--at', at(ledgers.due + timedelta(hours=1)))
    assert [row[0] for row in table_rows(capsys.readouterr().out)] == \
        ['#%d' % ticket_of(path, LEDGERS)]
    # A date alone is midnight UTC.
    admin(ALICE, '--at', (later + timedelta(days=1)).strftime('%Y-%m-%d'))
    assert len(table_rows(capsys.readouterr().out)) == 2
    admin(ALICE, '--at', (ledgers.due - timedelta(days=1)).strftime(
        '%Y-%m-%d'))
    assert capsys.readouterr().out.startswith('Nothing is due at ')


def test_a_moment_before_anything_is_due_lists_nothing(admin, env, path,
                                                       clock, capsys):
    card = master(env, path, LEDGERS)
    admin(ALICE, '--at', at(card.due - timedelta(hours=1)))
    assert capsys.readouterr().out.startswith('Nothing is due at ')


@pytest.mark.parametrize('moment', ['tomorrow', '2026-13-01', '31/12/2026',
                                    ''])
def test_a_moment_that_is_not_a_date_is_refused_with_the_form_to_use(
        admin, env, path, clock, moment):
    with pytest.raises(AdminCommandError) as refused:
        admin(ALICE, '--at', moment)
    message = str(refused.value)
    assert 'is not an ISO 8601 date or time' in message
    assert '2026-12-31' in message
    assert clock._at is None


def test_an_unknown_learner_is_refused(admin, env, path, clock):
    with pytest.raises(AdminCommandError) as refused:
        admin('nobody-here')
    assert 'No learner nobody-here' in str(refused.value)
    assert 'sub or username' in str(refused.value)


def test_the_clock_is_the_wall_clock_again_after_listing(admin, env, path,
                                                         capsys):
    card = master(env, path, LEDGERS)
    admin(ALICE, '--at', at(card.due + timedelta(days=1)))
    assert len(table_rows(capsys.readouterr().out)) == 1
    assert LearningClock(env)._at is None
    # An answer now is practice again: the moment set does not linger.
    assert answer(env, path, LEDGERS, WEAK_ANSWER).review.kind == 'practice'


def test_listing_without_a_learner_shows_the_usage(admin, env):
    with pytest.raises(AdminCommandError) as refused:
        admin()
    assert 'learning reviews <user>' in str(refused.value)


# learning reviews due-now TICKET --------------------------------------------

def test_due_now_makes_a_mastered_concept_due_and_listed(
        admin, due_now, env, path, clock, capsys):
    master(env, path, LEDGERS)
    ticket_id = ticket_of(path, LEDGERS)
    admin(ALICE)
    assert capsys.readouterr().out.startswith('Nothing is due')

    due_now('#%d' % ticket_id)
    assert capsys.readouterr().out.strip() == \
        '#%d is due for review now.' % ticket_id
    assert LearningClock(env)._at is None
    admin(ALICE)
    assert [row[0] for row in table_rows(capsys.readouterr().out)] == \
        ['#%d' % ticket_id]
    assert [d['ticket_id'] for d in Retention(env).due(ALICE)] == \
        [ticket_id]
    # Her next answer is a review.
    result = answer(env, path, LEDGERS, GOOD_ANSWERS[LEDGERS])
    assert (result.review.kind, result.review.rating) == \
        ('review', reviews.GOOD)


def test_due_now_refuses_a_concept_never_mastered_with_the_reason(
        due_now, env, path, clock):
    ticket_id = ticket_of(path, LEDGERS)
    answer(env, path, LEDGERS, WEAK_ANSWER)
    with pytest.raises(AdminCommandError) as refused:
        due_now(str(ticket_id))
    message = str(refused.value)
    assert '#%d is not a mastered concept' % ticket_id in message
    assert 'only a mastered concept comes back for review' in message
    assert reviews.cards(env, ALICE) == {}


def test_due_now_refuses_a_concept_being_learnt_again(due_now, env, path,
                                                      clock):
    card = master(env, path, LEDGERS)
    clock.set(card.due + timedelta(days=2))
    assert answer(env, path, LEDGERS, WEAK_ANSWER).review.lapsed
    with pytest.raises(AdminCommandError) as refused:
        due_now(str(ticket_of(path, LEDGERS)))
    assert 'is not a mastered concept' in str(refused.value)


def test_due_now_refuses_what_is_not_a_ticket_number(due_now, env):
    with pytest.raises(AdminCommandError) as refused:
        due_now('ledgers')
    assert 'is not a ticket number' in str(refused.value)
