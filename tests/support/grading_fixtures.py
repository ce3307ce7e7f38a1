"""Fixtures of the tests of instructors' reviews of grades: Alice, a
learner with a path and a display name, graded by the scripted `grader`
(`support.providers`), and a signed-in instructor. Import them into a
test module (`# noqa: F401`) with `grader`."""

import pytest

from support.api_client import LearnerClient
from tracl.auth.profile import LearnerProfiles

ALICE, TEACHER = 'sub-alice', 'sub-teacher'


@pytest.fixture(name='alice')
def graded_alice(env, grader):
    """Alice, signed in, with her path and her name, graded by the
    scripted grader."""
    learner = LearnerClient(env, ALICE)
    learner.make_path()
    LearnerProfiles(env).update(ALICE, name='Alice Liddell')
    return learner


@pytest.fixture
def teacher(env):
    """An instructor (Cognito group Administrators), signed in."""
    return LearnerClient(env, TEACHER, groups=('Administrators',))
