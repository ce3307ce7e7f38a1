"""The production language model: Claude through Anthropic's Messages API
and the official `anthropic` SDK.

Each operation forces one tool (`tool_choice`) whose JSON schema is the
shape of the answer (`tracl.llm.prompts`), and checks the tool's input
before using it: a wrong shape is asked again once, then reported as
unavailable. Learner text and study material go into the prompt quoted as
data.

Failures are handled here rather than by the SDK (its own retries are off),
so that they are counted and logged in one place:

- each call is tried `max_retries` more times after a timeout, a lost
  connection, a 429 or a 5xx (529 included), waiting with exponential
  backoff, or as long as the API's `retry-after` says when that is short;
- after `circuit_failures` calls in a row that failed that way, the circuit
  opens: calls answer `LLMUnavailable` (503) at once, without contacting the
  API, for `circuit_reset` seconds; then one trial call is let through
  (half-open), and its outcome closes or reopens the circuit.

An outage is logged once as a warning when it starts and once when it ends.

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
import math
import os
import random
import threading
import time

from trac.config import FloatOption, IntOption, Option
from trac.core import Component, implements

from tracl.api import IHealthContributor, ILLMProvider
from tracl.breaker import HALF_OPEN, OPEN, CircuitBreaker, ICircuitBreakers
from tracl.llm import Evaluation, GeneratedQuestion, LLMUnavailable
from tracl.llm import prompts

#: Environment variable holding the API key (never in trac.ini).
API_KEY_VARIABLE = 'ANTHROPIC_API_KEY'

#: `Evaluation.grader` of the grades this provider gives.
GRADER = 'anthropic'

#: Seconds before the first retry, doubled for each further one ...
RETRY_INITIAL_DELAY = 0.5

#: ... up to this many seconds.
RETRY_MAX_DELAY = 8.0

#: Up to this fraction of a backoff delay is taken off at random, so that
#: processes that failed together do not retry together.
RETRY_JITTER = 0.25

#: Longest `retry-after` (seconds) waited for inside a call; when the API
#: asks for a longer wait, the call gives up at once and passes it on.
MAX_RETRY_AFTER_WAIT = 10.0

#: How many times a call whose tool output has the wrong shape is repeated.
MALFORMED_OUTPUT_RETRIES = 1

#: Statuses worth trying again: request timeout, conflict, rate limit;
#: and every 5xx (500 api_error, 529 overloaded_error, ...).
RETRYABLE_STATUSES = frozenset((408, 409, 429))

#: Statuses that say the API refuses this request, not that it is down:
#: they neither open the circuit nor are retried.
REQUEST_ERROR_STATUSES = frozenset((400, 413, 422))

#: `error.details.error_code` of a 429 that will not clear by waiting.
SPEND_LIMIT_ERROR_CODE = 'enforced_spend_limit_reached'

#: Requests sent to the API at the same time by one operation (the
#: questions of a new path): each mostly waits on the network, so they
#: overlap well; a rate limit they meet is retried like any 429.
CONCURRENT_REQUESTS = 16

#: Values of `[anthropic] effort` (empty: not sent).
EFFORT_LEVELS = ('low', 'medium', 'high', 'xhigh', 'max')


class MalformedOutput(ValueError):
    """The model answered, but not with the tool input asked for."""


class _Failure(object):
    """One failed attempt: what to say, whether to try again, whether it
    shows that the API is unavailable (for the circuit), and how long the
    API asked to wait."""

    def __init__(self, message, retryable, counts, retry_after=None):
        self.message = message
        self.retryable = retryable
        self.counts = counts
        self.retry_after = retry_after

    def __str__(self):
        return self.message


class AnthropicLLMProvider(Component):
    """Academic sentences, questions and grades from Claude."""

    implements(ILLMProvider, IHealthContributor, ICircuitBreakers)

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

    timeout = FloatOption('anthropic', 'timeout', 30.0,
        """Seconds to wait for the API to answer one request. A call can
        take up to (`max_retries` + 1) times this, plus the backoff.""")

    max_retries = IntOption('anthropic', 'max_retries', 3,
        """How many times a request is tried again after a timeout, a lost
        connection, a 429 (rate limit) or a 5xx (overload, server error),
        with exponential backoff.""")

    circuit_failures = IntOption('anthropic', 'circuit_failures', 5,
        """Calls failing in a row (after their retries) that open the
        circuit: while it is open, every call answers 503 at once without
        contacting the API.""")

    circuit_reset = FloatOption('anthropic', 'circuit_reset', 30.0,
        """Seconds the circuit stays open before one trial call is let
        through; its success closes the circuit, its failure reopens it.""")

    base_url = Option('anthropic', 'base_url', 'https://api.anthropic.com',
        """Address of the Messages API. The `ANTHROPIC_BASE_URL` environment
        variable is not used: requests go where trac.ini says.""")

    #: A callable returning the `httpx2.Client` the SDK sends requests
    #: with, or `None` for the SDK's own. Tests set it on the component to
    #: serve recorded responses through `httpx2.MockTransport`.
    _http_client_factory = None

    #: Clock of the circuit (seconds) and sleep between retries; tests
    #: replace them on the component.
    _clock = staticmethod(time.monotonic)
    _sleep = staticmethod(time.sleep)

    def __init__(self):
        self._client = None
        self._client_lock = threading.Lock()
        self._breaker = CircuitBreaker(lambda: self._clock(), self.log,
                                       lambda: 'The Anthropic API')
        self._last_refusal = None
        self._missing_key_logged = False

    # ILLMProvider methods

    def academic_sentences(self, query):
        sentences, _message, _raw = self._ask(
            'academic sentences', prompts.SENTENCES_SYSTEM,
            prompts.sentences_message(query), prompts.SENTENCES_TOOL,
            _validated_sentences)
        return sentences

    def generate_question(self, concept, content, difficulty, query):
        low, high = prompts.DIFFICULTY_RANGE
        if isinstance(difficulty, bool) or not isinstance(difficulty, int) \
                or not low <= difficulty <= high:
            raise ValueError('Question difficulty must be an integer from '
                             '%d to %d, not %r' % (low, high, difficulty))
        data, _message, _raw = self._ask(
            'a question', prompts.QUESTION_SYSTEM,
            prompts.question_message(concept, content, difficulty, query),
            prompts.QUESTION_TOOL, _validated_question)
        return GeneratedQuestion(**data)

    def evaluate(self, question, expected_answer, answer, context):
        data, message, raw = self._ask(
            'a grade', prompts.EVALUATION_SYSTEM,
            prompts.evaluation_message(question, expected_answer, answer,
                                       context),
            prompts.EVALUATION_TOOL, _validated_evaluation)
        return Evaluation(score=data['score'],
                          feedback=_feedback(data['feedback'],
                                             data['missing_key_ideas']),
                          grader=GRADER,
                          grader_version=prompts.PROMPT_VERSION,
                          model=message.model, raw_output=raw)

    def concurrent_calls(self):
        return CONCURRENT_REQUESTS

    def describe(self):
        return "Anthropic's Messages API, model %s (prompts %s)" % (
            self.model, prompts.PROMPT_VERSION)

    # IHealthContributor methods

    def get_health_checks(self):
        if self._configured():
            yield 'llm', self.health

    # ICircuitBreakers methods

    def get_circuit_breakers(self):
        if self._configured():
            yield 'llm', lambda: self._breaker.snapshot(self.circuit_reset)

    # Public methods

    def circuit_state(self):
        """`'closed'`, `'open'` or `'half-open'`."""
        return self._breaker.state(self.circuit_reset)

    def health(self):
        """`None` when calls can be made, else a sentence saying why not.
        Makes no request."""
        if not os.environ.get(API_KEY_VARIABLE):
            return _missing_key_message()
        if importlib.util.find_spec('anthropic') is None:
            return ("the anthropic package is not installed: pip install "
                    "'anthropic>=2.14,<3'")
        state = self.circuit_state()
        if state == OPEN:
            wait = self._breaker.seconds_until_trial(self.circuit_reset)
            return ('circuit open after %d failed calls to the Anthropic '
                    'API: answering 503 for another %d s'
                    % (self._breaker.failures, math.ceil(wait)))
        if state == HALF_OPEN:
            return ('circuit half-open: the next call to the Anthropic API '
                    'is a trial')
        return None

    # Internal methods

    def _configured(self):
        return self.config.get('learning', 'llm_provider') == \
            self.__class__.__name__

    def _ask(self, what, system, user_message, tool, validate):
        """Call the API with `tool` forced. Return the validated tool
        input, the message and the tool input as JSON text (the raw output
        kept for audits). A malformed answer is asked again once."""
        for attempt in range(MALFORMED_OUTPUT_RETRIES + 1):
            message = self._call(what, system, user_message, tool)
            try:
                tool_input = _tool_input(message, tool)
                return (validate(tool_input), message,
                        json.dumps(tool_input, ensure_ascii=False))
            except MalformedOutput as e:
                problem = str(e)
                self.log.info("Anthropic %s answered %s without a valid "
                              "%s call (%s)%s", message.model, what,
                              tool['name'], problem,
                              '' if attempt == MALFORMED_OUTPUT_RETRIES
                              else ': asking again')
        raise LLMUnavailable("The language model did not answer with %s "
                             "in the expected form (%s); try again."
                             % (what, problem))

    def _call(self, what, system, user_message, tool):
        """Send one Messages request, with retries and the circuit."""
        client = self._anthropic()
        request = self._request(system, user_message, tool)
        reset = self.circuit_reset
        with self._breaker.guard(self.circuit_failures, reset,
                                 self._circuit_open) as call:
            # A trial call is tried once, so that the circuit answers
            # quickly.
            attempts = 1 if call.trial else 1 + max(0, self.max_retries)
            message, failure = self._send(client, request, attempts, reset)
            if message is None:
                if failure.counts:
                    call.failed(_redact(str(failure)))
                else:
                    # The API answered: it is up, whatever it made of the
                    # request.
                    call.answered()
                    self._log_refusal(failure)
                raise LLMUnavailable(_redact(
                    "The language model could not write %s: %s."
                    % (what, failure)), retry_after=failure.retry_after)
        self.log.debug("Anthropic %s answered %s (request %s)",
                       message.model, what,
                       getattr(message, '_request_id', None))
        return message

    def _circuit_open(self):
        wait = math.ceil(self._breaker.seconds_until_trial(
            self.circuit_reset)) or 1
        return LLMUnavailable("The language model is unavailable after "
                              "repeated failures; try again in %d s."
                              % wait, retry_after=wait)

    def _send(self, client, request, attempts, reset):
        """Try `request` up to `attempts` times. Return `(message, None)`,
        or `(None, failure)` with the last failure."""
        failure = None
        for attempt in range(attempts):
            if attempt:
                delay = self._delay(attempt, failure)
                if delay is None:
                    break
                self.log.debug("Anthropic: %s; retrying in %.1f s",
                               _redact(str(failure)), delay)
                self._sleep(delay)
                if self._breaker.is_open(reset):
                    break  # Other calls opened the circuit meanwhile.
            try:
                return client.messages.create(**request), None
            except _sdk().APIError as e:
                failure = _failure(e)
                if not failure.retryable:
                    break
        return None, failure

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

    def _delay(self, attempt, failure):
        """Seconds to wait before `attempt` (1 for the first retry), or
        `None` when the API asks for a longer wait than is worth it."""
        if failure.retry_after is not None:
            if failure.retry_after > MAX_RETRY_AFTER_WAIT:
                return None
            return failure.retry_after
        delay = min(RETRY_MAX_DELAY,
                    RETRY_INITIAL_DELAY * 2 ** (attempt - 1))
        return delay * (1 - RETRY_JITTER * random.random())

    def _log_refusal(self, failure):
        """Warn of a refused request, once while the refusals repeat."""
        message = _redact(str(failure))
        if message != self._last_refusal:
            self._last_refusal = message
            self.log.warning("The Anthropic API refused a request: %s",
                             message)

    def _anthropic(self):
        """The SDK client, built on first use (and again if the key in the
        environment changed)."""
        key = os.environ.get(API_KEY_VARIABLE, '').strip()
        if not key:
            if not self._missing_key_logged:
                self._missing_key_logged = True
                self.log.warning(_missing_key_message())
            raise LLMUnavailable(_missing_key_message() + '.')
        with self._client_lock:
            if self._client is None or self._client.api_key != key:
                factory = self._http_client_factory
                self._client = _sdk().Anthropic(
                    api_key=key, base_url=self.base_url,
                    timeout=self.timeout, max_retries=0,
                    http_client=factory() if factory else None)
            return self._client


# -- Reading the model's answer

def _tool_input(message, tool):
    """The input of the `tool` call in `message`."""
    for block in message.content:
        if block.type == 'tool_use' and block.name == tool['name']:
            return block.input
    raise MalformedOutput('stop reason %s, no %s call'
                          % (message.stop_reason, tool['name']))


def _validated_sentences(data):
    sentences = _field(data, 'sentences', list)
    if len(sentences) != prompts.SENTENCE_COUNT:
        raise MalformedOutput('%d sentences instead of %d'
                              % (len(sentences), prompts.SENTENCE_COUNT))
    if not all(isinstance(s, str) and s.strip() for s in sentences):
        raise MalformedOutput('a sentence is empty or not text')
    return [s.strip() for s in sentences]


def _validated_question(data):
    question = _text(data, 'question', prompts.QUESTION_CHARS)
    expected = _text(data, 'expected_answer', prompts.EXPECTED_ANSWER_CHARS)
    difficulty = _field(data, 'difficulty', int)
    low, high = prompts.DIFFICULTY_RANGE
    if not low <= difficulty <= high:
        raise MalformedOutput('difficulty %d is not from %d to %d'
                              % (difficulty, low, high))
    return {'question': question, 'expected_answer': expected,
            'difficulty': difficulty}


def _validated_evaluation(data):
    score = _field(data, 'score', (int, float))
    if math.isnan(score):
        raise MalformedOutput('score is not a number')
    feedback = _field(data, 'feedback', str).strip()
    if not feedback:
        raise MalformedOutput('empty feedback')
    missing = _field(data, 'missing_key_ideas', list)
    if not all(isinstance(idea, str) for idea in missing):
        raise MalformedOutput('a missing key idea is not text')
    return {'score': min(1.0, max(0.0, float(score))), 'feedback': feedback,
            'missing_key_ideas': [i.strip() for i in missing if i.strip()]}


def _field(data, name, kind):
    if not isinstance(data, dict) or name not in data:
        raise MalformedOutput('no %s' % name)
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise MalformedOutput('%s is a %s' % (name, type(value).__name__))
    return value


def _text(data, name, bounds):
    value = _field(data, name, str).strip()
    low, high = bounds
    if not low <= len(value) <= high:
        raise MalformedOutput('%s has %d characters, not %d to %d'
                              % (name, len(value), low, high))
    return value


def _feedback(feedback, missing):
    if not missing:
        return feedback
    return '%s\n\nKey ideas missing: %s.' % (feedback, '; '.join(missing))


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
        return _Failure('the API did not answer within the timeout',
                        retryable=True, counts=True)
    if isinstance(error, _sdk().APIConnectionError):
        return _Failure('could not connect to the API (%s)'
                        % (error.__cause__ or error),
                        retryable=True, counts=True)
    if not isinstance(error, _sdk().APIStatusError):
        return _Failure('the API answered something unexpected (%s)' % error,
                        retryable=False, counts=True)
    status = error.status_code
    kind, text, details = _error_body(error.body)
    described = 'HTTP %d %s' % (status, kind or '')
    if text:
        described = '%s: %s' % (described.strip(), text)
    if status == 429 and details.get('error_code') == SPEND_LIMIT_ERROR_CODE:
        return _Failure('%s (the spend limit was reached: waiting will not '
                        'help)' % described, retryable=False, counts=True)
    if status in (401, 403):
        return _Failure('%s (check the key in %s)'
                        % (described, API_KEY_VARIABLE),
                        retryable=False, counts=True)
    if status in REQUEST_ERROR_STATUSES:
        return _Failure(described, retryable=False, counts=False)
    if status in RETRYABLE_STATUSES or status >= 500:
        return _Failure(described, retryable=True, counts=True,
                        retry_after=_retry_after(error.response))
    return _Failure(described, retryable=False, counts=True)


def _error_body(body):
    """`(type, message, details)` of an API error body."""
    error = body.get('error') if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None, {}
    details = error.get('details')
    return (error.get('type'), error.get('message'),
            details if isinstance(details, dict) else {})


def _retry_after(response):
    """Seconds the `retry-after` header asks to wait, or `None`."""
    try:
        value = float(response.headers.get('retry-after'))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 and math.isfinite(value) else None


def _missing_key_message():
    return ('The Anthropic API key is not set: put it in the %s environment '
            'variable of the Trac process (never in trac.ini)'
            % API_KEY_VARIABLE)


def _redact(text):
    """`text` without the API key in it, should an error ever quote it."""
    key = os.environ.get(API_KEY_VARIABLE, '').strip()
    return text.replace(key, '[redacted]') if key else text
