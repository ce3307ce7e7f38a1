"""The production language model: Claude through Anthropic's Messages API
and the official `anthropic` SDK.

Each operation forces one tool (`tool_choice`) whose JSON schema is the
shape of the answer (`tracl.llm.prompts`), and checks the tool's input
before using it: a wrong shape is asked again once, then reported as
unavailable. Learner text and study material go into the prompt quoted as
data.

Failures are handled by `tracl.llm.remote.RemoteLLMProvider` rather than by
the SDK (its own retries are off), so that they are counted and logged in
one place, as for every remote provider: retries with backoff after a
timeout, a lost connection, a 429 or a 5xx (529 included), and a circuit
breaker. This module says how a Messages request is sent and how its
answer and its errors are read.

The API key comes only from the `ANTHROPIC_API_KEY` environment variable,
is handed to the SDK explicitly (so no other credential source the SDK knows
is consulted), and is never logged. The SDK (2.x) sends it as
`Authorization: Bearer`. API version 2026-10-21, which the SDK speaks,
refuses sampling parameters (`temperature`, `top_p`, `top_k`) with a 400,
so none is sent: grades are made consistent by the rubric, the forced
schema and the evaluation cache, not by temperature 0.
"""

import importlib.util
import json
import os

from trac.config import IntOption, Option

from tracl.llm import LLMUnavailable
from tracl.llm import prompts
from tracl.llm.remote import (Failure, MalformedOutput, RemoteLLMProvider,
                              connection_failure, failure_options,
                              retry_after_seconds, status_failure,
                              timeout_failure)

#: Environment variable holding the API key (never in trac.ini).
API_KEY_VARIABLE = 'ANTHROPIC_API_KEY'

#: `Evaluation.grader` of the grades this provider gives.
GRADER = 'anthropic'

#: `error.details.error_code` of a 429 that will not clear by waiting.
SPEND_LIMIT_ERROR_CODE = 'enforced_spend_limit_reached'

#: Requests sent to the API at the same time by one operation (the
#: questions of a new path): each mostly waits on the network, so they
#: overlap well; a rate limit they meet is retried like any 429.
CONCURRENT_REQUESTS = 16

#: Values of `[anthropic] effort` (empty: not sent).
EFFORT_LEVELS = ('low', 'medium', 'high', 'xhigh', 'max')


class AnthropicLLMProvider(RemoteLLMProvider):
    """Academic sentences, questions and grades from Claude."""

    model = Option('anthropic', 'model', 'claude-sonnet-5-5',
        """Claude model that answers, by its API id (see Anthropic's models
        overview). Each grade records the model that actually answered.""")

    max_tokens = IntOption('anthropic', 'max_tokens', 4096,
        """Most tokens the model may write for one answer, its thinking
        included. An answer cut short by this limit is asked again once,
        then reported as unavailable.""")

    effort = Option('anthropic', 'effort', 'low',
        """How much the model thinks before answering: `low`, `medium`,
        `high`, `xhigh` or `max` (the API's `output_config.effort`). Higher
        is slower and needs a larger `max_tokens`. Leave empty for models
        that do not support it.""")

    timeout, max_retries, circuit_failures, circuit_reset = \
        failure_options('anthropic', 30.0, 3, 'the API')

    base_url = Option('anthropic', 'base_url', 'https://api.anthropic.com',
        """Address of the Messages API. The `ANTHROPIC_BASE_URL` environment
        variable is not used: requests go where trac.ini says.""")

    #: A callable returning the `httpx2.Client` the SDK sends requests
    #: with, or `None` for the SDK's own. Tests set it on the component to
    #: serve recorded responses through `httpx2.MockTransport`.
    _http_client_factory = None

    grader = GRADER
    key_variable = API_KEY_VARIABLE

    # ILLMProvider methods

    def concurrent_calls(self):
        return CONCURRENT_REQUESTS

    def describe(self):
        return "Anthropic's Messages API, model %s (prompts %s)" % (
            self.model, prompts.PROMPT_VERSION)

    # RemoteLLMProvider methods

    def service_name(self):
        return 'The Anthropic API'

    def configuration_problem(self):
        if not _api_key():
            return _missing_key_message()
        if importlib.util.find_spec('anthropic') is None:
            return ("the anthropic package is not installed: pip install "
                    "'anthropic>=2.14,<3'")
        return None

    def _new_client(self):
        factory = self._http_client_factory
        return _sdk().Anthropic(api_key=_api_key(), base_url=self.base_url,
                                timeout=self.timeout, max_retries=0,
                                http_client=factory() if factory else None)

    def _client_is_stale(self, client):
        return client.api_key != _api_key()

    def _request(self, system, user_message, tool):
        request = {
            'model': self.model,
            'max_tokens': self.max_tokens,
            'system': system,
            'messages': [{'role': 'user', 'content': user_message}],
            'tools': [tool],
            'tool_choice': {'type': 'tool', 'name': tool['name'],
                            'disable_parallel_tool_use': True},
        }
        effort = self.effort.strip()
        if effort:
            if effort not in EFFORT_LEVELS:
                raise LLMUnavailable("[anthropic] effort must be one of %s, "
                                     "or empty, not %r: fix trac.ini."
                                     % (', '.join(EFFORT_LEVELS), effort))
            request['output_config'] = {'effort': effort}
        return request

    def _post(self, client, request):
        try:
            return client.messages.create(**request), None
        except _sdk().APIError as e:
            return None, _failure(e)

    def _read(self, message, tool):
        tool_input = _tool_input(message, tool)
        return tool_input, json.dumps(tool_input, ensure_ascii=False)

    def _model_of(self, message):
        return message.model

    def _request_id(self, message):
        return getattr(message, '_request_id', None)


# -- Reading the model's answer

def _tool_input(message, tool):
    """The input of the `tool` call in `message`."""
    for block in message.content:
        if block.type == 'tool_use' and block.name == tool['name']:
            return block.input
    raise MalformedOutput('stop reason %s, no %s call'
                          % (message.stop_reason, tool['name']))


# -- Failures

def _sdk():
    """The `anthropic` SDK, imported on first use: it loads some three
    thousand modules, which every process would otherwise carry (and
    Trac's garbage collection after each request would scan) even with the
    offline provider."""
    import anthropic
    return anthropic


def _failure(error):
    """What an SDK exception means for retries and the circuit."""
    if isinstance(error, _sdk().APITimeoutError):
        return timeout_failure()
    if isinstance(error, _sdk().APIConnectionError):
        return connection_failure(error.__cause__ or error)
    if not isinstance(error, _sdk().APIStatusError):
        return Failure('the API answered something unexpected (%s)' % error,
                       retryable=False, counts=True)
    status = error.status_code
    kind, text, details = _error_body(error.body)
    described = 'HTTP %d %s' % (status, kind or '')
    if text:
        described = '%s: %s' % (described.strip(), text)
    return status_failure(
        status, described.strip(), retry_after_seconds(error.response.headers),
        API_KEY_VARIABLE,
        lasting_quota=details.get('error_code') == SPEND_LIMIT_ERROR_CODE)


def _error_body(body):
    """`(type, message, details)` of an API error body."""
    error = body.get('error') if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None, {}
    details = error.get('details')
    return (error.get('type'), error.get('message'),
            details if isinstance(details, dict) else {})


def _api_key():
    return os.environ.get(API_KEY_VARIABLE, '').strip()


def _missing_key_message():
    return ('The Anthropic API key is not set: put it in the %s environment '
            'variable of the Trac process (never in trac.ini)'
            % API_KEY_VARIABLE)
