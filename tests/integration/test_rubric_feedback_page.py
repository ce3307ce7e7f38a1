"""The offline grader's rubric feedback on a concept's ticket page: what
is wrong, with its correction, and what is missing, in whole sentences,
and escaped (it quotes the learner). Concepts ask the starter questions
(imported as `learning import --starter` does) and answers are graded by
the offline provider, as on the demo."""

import pytest

from support.api_client import LearnerClient
from support.corpus import fill_store
from support.study import make_path
from tracl.admin.questions import QuestionAdminCommands
from tracl.llm.rubric_grading import that_clause
from tracl.study.loop import StudyLoop

from test_concept_page import ALICE, panel_of, root_concept

pytestmark = pytest.mark.learning_env(
    config=[('learning', 'api_rate_limit', '0')], default_data=True,
    trac_policies=True)


@pytest.fixture
def concept(env):
    """Alice's first open concept, asking its starter question."""
    fill_store(env)
    QuestionAdminCommands(env).import_starter()
    path = make_path(env, ALICE, fill=False)
    found = StudyLoop(env).concept(ALICE, root_concept(path))
    assert found.rubric is not None and found.rubric.misconceptions
    return found


def test_a_stated_misconception_is_named_with_its_correction(env, concept):
    wrong = concept.rubric.misconceptions[0]
    result = StudyLoop(env).submit(ALICE, concept, wrong.claim)
    assert not result.mastered
    panel = panel_of(LearnerClient(env, ALICE).ticket(concept.ticket_id))
    assert 'You wrote that %s; in fact, %s.' % (
        that_clause(wrong.claim), that_clause(wrong.correction)) \
        in panel.text
    # What the answer lacks is quoted from the rubric, in whole sentences.
    assert 'Your answer does not yet say that' in panel.text


def test_feedback_quoting_the_learner_stays_text(env, concept):
    point = concept.rubric.key_points[0].point
    # Negating the first key point contradicts it; the feedback quotes
    # the learner's words back.
    hostile = '<img src=x onerror="alert(1)"> It is not true that ' + \
        point[0].lower() + point[1:]
    result = StudyLoop(env).submit(ALICE, concept, hostile)
    assert not result.mastered
    response = LearnerClient(env, ALICE).ticket(concept.ticket_id)
    panel = panel_of(response)
    assert not panel.find('img')
    assert '<img src=x' not in response.text
