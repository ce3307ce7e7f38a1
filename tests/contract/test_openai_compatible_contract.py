"""`OpenAICompatibleLLMProvider` against a real OpenAI-compatible server
(only collected when `OPENAI_COMPATIBLE_BASE_URL` is set): each operation
answers in the shape TracLearn relies on, through the server's own
`response_format` handling.

`OPENAI_COMPATIBLE_MODEL` names the model (default: `default`, which
llama.cpp's server accepts whatever it serves), `OPENAI_COMPATIBLE_TIMEOUT`
the seconds one request may take (default 300: a server on a CPU is slow),
and `OPENAI_API_KEY` the key, if the server wants one.

These check the protocol, not the model's judgement: how well a model
grades is measured with `trac-admin ENV learning grade-eval`. A small model
may fail the length bounds of a question; the test then says so rather than
passing.
"""

import os

import pytest

import support.envs  # noqa: F401  (loads TracLearn's plugin modules)

from trac.test import EnvironmentStub

from tracl.llm import Evaluation
from tracl.llm.openai_compatible import (PROMPT_VERSION,
                                         OpenAICompatibleLLMProvider)

from material import CONTENT, EXPECTED, GOOD_ANSWER, QUESTION, ContractCases

@pytest.fixture(scope='module')
def provider():
    env = EnvironmentStub(enable=['trac.*', 'tracl.*'], config=[
        ('learning', 'llm_provider', 'OpenAICompatibleLLMProvider'),
        ('openai_compatible', 'base_url',
         os.environ['OPENAI_COMPATIBLE_BASE_URL']),
        ('openai_compatible', 'model',
         os.environ.get('OPENAI_COMPATIBLE_MODEL', 'default')),
        ('openai_compatible', 'timeout',
         os.environ.get('OPENAI_COMPATIBLE_TIMEOUT', '300')),
        ('openai_compatible', 'max_retries', '1'),
    ])
    yield OpenAICompatibleLLMProvider(env)
    env.shutdown()


def test_server_is_healthy(provider):
    assert provider.health() is None


def test_server_grades_an_answer_with_an_auditable_record(provider):
    evaluation = provider.evaluate(QUESTION, EXPECTED, GOOD_ANSWER, CONTENT)
    assert isinstance(evaluation, Evaluation)
    assert 0.0 <= evaluation.score <= 1.0
    assert evaluation.feedback
    assert evaluation.grader == 'openai-compatible'
    assert evaluation.grader_version == PROMPT_VERSION
    assert evaluation.model
    assert '"score"' in evaluation.raw_output
    assert provider.circuit_state() == 'closed'


class TestOpenAICompatibleContract(ContractCases):
    """Sentences and a question in the shapes TracLearn relies on."""
