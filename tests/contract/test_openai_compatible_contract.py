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

from tracl.llm import Evaluation, GeneratedQuestion
from tracl.llm import prompts
from tracl.llm.openai_compatible import (PROMPT_VERSION,
                                         OpenAICompatibleLLMProvider)

CONCEPT = 'Backpropagation'

CONTENT = (
    'Backpropagation computes the gradient of a neural network\'s loss with '
    'respect to every weight. A forward pass computes the activations and '
    'the loss; a backward pass then applies the chain rule layer by layer, '
    'from the output towards the input: the error signal of each unit is '
    'the derivative of its activation times the weighted sum of the error '
    'signals of the units it feeds. The gradient of a weight is the error '
    'signal of the unit it enters times the activation it carries. Reusing '
    'the error signals makes computing all gradients about as costly as '
    'one forward pass, and gradient descent uses them to update the '
    'weights.')

QUESTION = ('Explain how backpropagation finds how much a weight in a hidden '
            'layer contributed to the error at the output of a network.')

EXPECTED = (
    'After a forward pass computes the activations and the loss, '
    'backpropagation goes backwards through the layers applying the chain '
    'rule: each unit\'s error signal is its activation derivative times the '
    'weighted sum of the error signals of the units it feeds, and a '
    'weight\'s gradient is the error signal of the unit it enters times the '
    'activation it carries.')

GOOD_ANSWER = (
    'First a forward pass gives the outputs and the loss. Then we go back '
    'from the output layer: using the chain rule, the error signal of a '
    'hidden unit is the derivative of its activation multiplied by the '
    'weighted sum of the error signals coming from the next layer. The '
    'gradient for a weight is that error signal times the input activation '
    'on the weight.')


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


def test_server_writes_five_academic_sentences(provider):
    sentences = provider.academic_sentences('how do neural networks learn')
    assert len(sentences) == prompts.SENTENCE_COUNT
    assert all(isinstance(s, str) and s for s in sentences)


def test_server_writes_a_question_within_the_bounds(provider):
    generated = provider.generate_question(CONCEPT, CONTENT, 3,
                                           'how do neural networks learn')
    assert isinstance(generated, GeneratedQuestion)
    low, high = prompts.QUESTION_CHARS
    assert low <= len(generated.question) <= high
    low, high = prompts.EXPECTED_ANSWER_CHARS
    assert low <= len(generated.expected_answer) <= high
    assert 1 <= generated.difficulty <= 5


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
