"""Follow-up questions through submit-answer (tracl/model/follow_ups.py):
a close call the grader is unsure of asks one question aimed at the key
point in doubt; the reply is graded together with the answer it follows;
a fresh answer or a day lets it lapse; still unsure, the attempt waits
for an instructor. On SQLite and PostgreSQL."""

import pytest

from support.api_client import LearnerClient
from support.providers import ScriptedLLMProvider
from support.study import LEDGERS
from tracl.llm import Confidence, Evaluation
from tracl.model.rubrics import COVERED, PARTIAL, PointGrade
from tracl.schema import sql

ALICE, TEACHER = 'sub-alice', 'sub-teacher'
POINT = 'Every node keeps a replica of the ledger and follows one protocol.'

pytestmark = pytest.mark.learning_env(
    default_data=True, provider=True,
    config=[('learning', 'api_rate_limit', '0')])


@pytest.fixture
def graded(env, monkeypatch):
    """`(grades, seen)`: the grader gives each call the next of `grades`
    (score, confidence level) and records the text it was asked to
    grade in `seen`."""
    provider = ScriptedLLMProvider(env)
    grades, seen = [], []

    def evaluate(question, expected_answer, answer, context, rubric=None):
        seen.append(answer)
        score, level = grades.pop(0) if len(grades) > 1 else grades[0]
        return Evaluation(
            score=score, feedback='Graded.', grader='scripted',
            grader_version='1',
            evidence=(PointGrade('A ledger is shared.', COVERED, '1'),
                      PointGrade(POINT, PARTIAL, '2')),
            confidence=Confidence(level, 'Scripted.'))
    monkeypatch.setattr(provider, 'evaluate', evaluate)
    return grades, seen


@pytest.fixture
def alice(env):
    learner = LearnerClient(env, ALICE)
    learner.make_path()
    return learner


def submit(alice, ticket_id, answer, **fields):
    response = alice.submit(ticket_id, answer, **fields)
    assert response.status == 200, response
    return response.json()


def test_a_close_call_asks_about_the_doubtful_point(env, alice, graded):
    grades, _seen = graded
    grades[:] = [(0.75, 'low')]
    ticket_id = alice.concept(LEDGERS)
    result = submit(alice, ticket_id, 'My answer, a close call indeed.')
    follow_up = result['follow_up']
    assert set(follow_up) == {'id', 'question'}
    # It names the point's own terms without giving the point away.
    assert '"replica"' in follow_up['question']
    assert POINT not in follow_up['question']
    assert follow_up['question'].endswith('?')


@pytest.mark.parametrize('score, level', [
    (0.75, 'medium'),       # near, but the grader is not unsure
    (0.3, 'low'),           # unsure, but far from the threshold
    (0.95, 'high'),
])
def test_no_follow_up_unless_a_close_call_the_grader_is_unsure_of(
        env, alice, graded, score, level):
    grades, _seen = graded
    grades[:] = [(score, level)]
    result = submit(alice, alice.concept(LEDGERS), 'An answer of mine here.')
    assert result['follow_up'] is None


def test_the_reply_is_graded_with_the_answer_it_follows(env, alice, graded):
    grades, seen = graded
    grades[:] = [(0.75, 'low'), (0.9, 'high')]
    ticket_id = alice.concept(LEDGERS)
    first = submit(alice, ticket_id, 'My first answer, a close call.')
    reply = submit(alice, ticket_id, 'Each node keeps its own copy.',
                   follow_up_id=first['follow_up']['id'])
    assert seen[-1] == 'My first answer, a close call.\n\nEach node keeps ' \
        'its own copy.'
    assert (reply['attempt'], reply['mastered']) == (2, True)
    assert reply['follow_up'] is None
    answers = [a['answer'] for a in alice.progress(ticket_id).json()[
        'attempts']]
    assert answers == ['Each node keeps its own copy.',
                       'My first answer, a close call.']
    # Answered once: a second reply is refused and records nothing.
    again = alice.submit(ticket_id, 'Another reply to it.',
                         follow_up_id=first['follow_up']['id'])
    assert again.status == 409
    assert again.json()['error']['code'] == 'follow_up_lapsed'
    assert len(alice.progress(ticket_id).json()['attempts']) == 2


def test_a_fresh_answer_lets_the_follow_up_lapse(env, alice, graded):
    grades, _seen = graded
    grades[:] = [(0.75, 'low'), (0.3, 'high')]
    ticket_id = alice.concept(LEDGERS)
    first = submit(alice, ticket_id, 'My first answer, a close call.')
    submit(alice, ticket_id, 'A fresh answer instead of the reply.')
    late = alice.submit(ticket_id, 'The reply, too late.',
                        follow_up_id=first['follow_up']['id'])
    assert late.status == 409


def test_a_follow_up_lapses_after_a_day(env, alice, graded):
    grades, _seen = graded
    grades[:] = [(0.75, 'low')]
    ticket_id = alice.concept(LEDGERS)
    first = submit(alice, ticket_id, 'My first answer, a close call.')
    with env.db_transaction as db:
        db(sql(env, 'UPDATE {follow_ups} SET created_at = created_at - %s'),
           (25 * 3600 * 1000000,))
    late = alice.submit(ticket_id, 'The reply, a day later.',
                        follow_up_id=first['follow_up']['id'])
    assert late.status == 409


def test_still_unsure_after_the_reply_goes_to_an_instructor(env, alice,
                                                          graded):
    grades, _seen = graded
    grades[:] = [(0.75, 'low')]
    ticket_id = alice.concept(LEDGERS)
    first = submit(alice, ticket_id, 'My first answer, a close call.')
    reply = submit(alice, ticket_id, 'My reply, still a close call.',
                   follow_up_id=first['follow_up']['id'])
    assert 'an instructor will review it' in reply['feedback']
    assert reply['follow_up'] is None       # one follow-up, not a chain
    teacher = LearnerClient(env, TEACHER, groups=('Administrators',))
    items = teacher.api('GET', '/grading/queue').json()['items']
    assert [(i['ticket_id'], i['attempt'], i['kind']) for i in items] == \
        [(ticket_id, 2, 'uncertain')]


@pytest.mark.parametrize('value', ['1', 0, True, 1.5])
def test_a_follow_up_id_is_a_whole_number(env, alice, graded, value):
    response = alice.submit(alice.concept(LEDGERS), 'An answer of mine.',
                            follow_up_id=value)
    assert response.status == 400
    assert response.json()['error']['code'] == 'invalid_follow_up_id'


def test_another_concepts_follow_up_is_refused(env, alice, graded):
    grades, _seen = graded
    grades[:] = [(0.75, 'low')]
    first_concept = alice.concept(LEDGERS)
    first = submit(alice, first_concept, 'My first answer, a close call.')
    other = [t['ticket_id'] for t in alice.path['tickets']
             if t['ticket_id'] != first_concept and not t['prerequisites']]
    response = alice.submit(other[0], 'A reply on another concept.',
                            follow_up_id=first['follow_up']['id'])
    assert response.status == 409
