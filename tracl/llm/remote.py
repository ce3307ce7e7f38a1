"""What every provider that calls a language model over the network shares:
the three operations built from the prompts of `tracl.llm.prompts`, the
checking of the model's answers, and the handling of failures.

`RemoteLLMProvider` is the abstract component the Anthropic and the
OpenAI-compatible providers derive from. A provider says how to send one
request and how to read its answer; this module does the rest, so that both
fail, retry, log and report their health in the same way:

- a question comes with its rubric, checked against the chunk it was
  written from: the rules of any stored question, and each key point
  resting on the sentences it names (`unsupported_key_points`);
- a grade against a rubric gives a status per key point (the evidence) and
  the misconceptions and contradictions found (the errors); an answer with
  an error stays below mastery whatever the model scored;
- an answer of the wrong shape is asked again once, then reported as
  unavailable;
- each call is tried `max_retries` more times after a timeout, a lost
  connection, a 429 or a 5xx, waiting with exponential backoff, or as long
  as the server's `retry-after` says when that is short;
- after `circuit_failures` calls in a row that failed that way, the circuit
  opens (`tracl.breaker.CircuitBreaker`): calls answer `LLMUnavailable`
  (503) at once, without contacting the server, for `circuit_reset`
  seconds; then one trial call is let through, and its outcome closes or
  reopens the circuit.

A secret a provider sends (its API key) is taken out of every message
before it is logged or raised.
"""

import dataclasses
import json
import math
import os
import random
import threading
import time

from trac.config import FloatOption, IntOption
from trac.core import Component, implements

from tracl.api import IHealthContributor, ILLMProvider
from tracl.breaker import HALF_OPEN, OPEN, CircuitBreaker, ICircuitBreakers
from tracl.llm import (MASTERY_THRESHOLD, UNCERTAIN_MARGIN, Confidence,
                       Evaluation, GeneratedQuestion, LLMUnavailable)
from tracl.llm import prompts
from tracl.llm.text import content_stems, words
from tracl.model import rubrics

#: Seconds before the first retry, doubled for each further one ...
RETRY_INITIAL_DELAY = 0.5

#: ... up to this many seconds.
RETRY_MAX_DELAY = 8.0

#: Up to this fraction of a backoff delay is taken off at random, so that
#: processes that failed together do not retry together.
RETRY_JITTER = 0.25

#: Longest `retry-after` (seconds) waited for inside a call; when the server
#: asks for a longer wait, the call gives up at once and passes it on.
MAX_RETRY_AFTER_WAIT = 10.0

#: How many times a call whose answer has the wrong shape is repeated.
MALFORMED_OUTPUT_RETRIES = 1

#: Share of a key point's content words (stemmed) that the sentences it
#: names must contain for it to count as resting on them. A key point that
#: restates its sentences keeps most of their terms, whatever it
#: rephrases; one that names the wrong sentences, or says what the text
#: does not, shares few of them.
KEY_POINT_SUPPORT = 0.5

#: Share of the mastery threshold an answer stating a misconception or
#: contradicting a key point keeps at most: below mastery whatever the
#: model scored, as the offline grader caps it (0.6 at the default 0.8).
ERROR_SCORE_SHARE = 0.75

#: Statuses worth trying again: request timeout, conflict, rate limit;
#: and every 5xx.
RETRYABLE_STATUSES = frozenset((408, 409, 429))

#: Statuses that say the server refuses this request, not that it is down:
#: they neither open the circuit nor are retried.
REQUEST_ERROR_STATUSES = frozenset((400, 413, 422))


class MalformedOutput(ValueError):
    """The model answered, but not in the shape asked for."""


class Refusal(Exception):
    """The model declined to answer; asking again would not help."""


class Failure(object):
    """One failed attempt: what to say, whether to try again, whether it
    shows that the server is unavailable (for the circuit), and how long
    the server asked to wait."""

    def __init__(self, message, retryable, counts, retry_after=None):
        self.message = message
        self.retryable = retryable
        self.counts = counts
        self.retry_after = retry_after

    def __str__(self):
        return self.message


def status_failure(status, described, retry_after, key_variable,
                   lasting_quota=False):
    """What an HTTP error status means for retries and the circuit.
    `described` says it for a person; `lasting_quota` marks a 429 that
    will not clear by waiting (a spend limit, an exhausted quota)."""
    if status == 429 and lasting_quota:
        return Failure('%s (the spend limit or quota was reached: waiting '
                       'will not help)' % described,
                       retryable=False, counts=True)
    if status in (401, 403):
        return Failure('%s (check the key in %s)' % (described, key_variable),
                       retryable=False, counts=True)
    if status in REQUEST_ERROR_STATUSES:
        return Failure(described, retryable=False, counts=False)
    if status in RETRYABLE_STATUSES or status >= 500:
        return Failure(described, retryable=True, counts=True,
                       retry_after=retry_after)
    return Failure(described, retryable=False, counts=True)


def timeout_failure():
    return Failure('the server did not answer within the timeout',
                   retryable=True, counts=True)


def connection_failure(cause):
    return Failure('could not connect to the server (%s)' % cause,
                   retryable=True, counts=True)


def retry_after_seconds(headers):
    """Seconds a `retry-after` header asks to wait, or `None` (an HTTP
    date is not waited for)."""
    try:
        value = float(headers.get('retry-after'))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 and math.isfinite(value) else None


def failure_options(section, timeout, max_retries, server):
    """The `timeout`, `max_retries`, `circuit_failures` and `circuit_reset`
    options of a provider configured in `[section]`, with their defaults;
    `server` names what the provider calls in their documentation ("the
    API")."""
    return (
        FloatOption(section, 'timeout', timeout,
            """Seconds to wait for %s to answer one request. A call can
            take up to (`max_retries` + 1) times this, plus the
            backoff.""" % server),
        IntOption(section, 'max_retries', max_retries,
            """How many times a request is tried again after a timeout, a
            lost connection, a 429 (rate limit) or a 5xx (overload, server
            error), with exponential backoff."""),
        IntOption(section, 'circuit_failures', 5,
            """Calls failing in a row (after their retries) that open the
            circuit: while it is open, every call answers 503 at once
            without contacting %s.""" % server),
        FloatOption(section, 'circuit_reset', 30.0,
            """Seconds the circuit stays open before one trial call is let
            through; its success closes the circuit, its failure reopens
            it."""),
    )


class RemoteLLMProvider(Component):
    """A provider that asks a language model over the network.

    A subclass declares, in its own trac.ini section, the options `model`
    and `max_tokens` and those of `failure_options()`, and implements
    `_new_client()`, `_request()`, `_post()`, `_read()`, `_model_of()`,
    `service_name()`, `configuration_problem()`, `concurrent_calls()` and
    `describe()`.
    """

    abstract = True

    implements(ILLMProvider, IHealthContributor, ICircuitBreakers)

    #: `Evaluation.grader` of the grades this provider gives.
    grader = None

    #: Environment variable of the key this provider sends, if any.
    key_variable = None

    #: `Evaluation.grader_version`: the version of the words the model was
    #: given, so that a grade can be traced to them.
    prompt_version = prompts.PROMPT_VERSION

    #: Clock of the circuit (seconds) and sleep between retries; tests
    #: replace them on the component.
    _clock = staticmethod(time.monotonic)
    _sleep = staticmethod(time.sleep)

    def __init__(self):
        self._breaker = CircuitBreaker(lambda: self._clock(), self.log,
                                       self.service_name)
        self._last_refusal = None
        self._sender = None
        self._sender_lock = threading.Lock()
        self._unusable_logged = False

    # ILLMProvider methods

    def academic_sentences(self, query):
        sentences, _model, _raw = self._ask(
            'academic sentences', prompts.SENTENCES_SYSTEM,
            prompts.sentences_message(query), prompts.SENTENCES_TOOL,
            validated_sentences)
        return sentences

    def generate_question(self, concept, content, difficulty, query):
        low, high = prompts.DIFFICULTY_RANGE
        if isinstance(difficulty, bool) or not isinstance(difficulty, int) \
                or not low <= difficulty <= high:
            raise ValueError('Question difficulty must be an integer from '
                             '%d to %d, not %r' % (low, high, difficulty))
        data, _model, _raw = self._ask(
            'a question', prompts.QUESTION_SYSTEM,
            prompts.question_message(concept, content, difficulty, query),
            prompts.QUESTION_TOOL,
            lambda data: validated_question(data, content))
        return GeneratedQuestion(**data)

    def evaluate(self, question, expected_answer, answer, context,
                 rubric=None):
        if rubric is not None and not rubric.key_points:
            rubric = None  # nothing to grade against but the answer
        message = prompts.evaluation_message(question, expected_answer,
                                             answer, context, rubric)
        first = self._grade(prompts.EVALUATION_SYSTEM, message, rubric)
        threshold = self._mastery_threshold()
        margin = self.config.getfloat('learning', 'uncertain_margin',
                                      UNCERTAIN_MARGIN)
        if abs(first.score - threshold) >= margin:
            return dataclasses.replace(first, confidence=Confidence(
                'high', "The score is far from the mastery threshold."))
        # A close call: a second, independent grading decides how sure
        # the verdict is. A second grading that fails leaves the first.
        try:
            second = self._grade(prompts.SECOND_EVALUATION_SYSTEM, message,
                                 rubric)
        except LLMUnavailable as e:
            self.log.info("%s: no second grading of a close call (%s)",
                          self.service_name(), e)
            return dataclasses.replace(first, confidence=Confidence(
                'low', "A close call, and a second grading could not be "
                       "made."))
        return second_opinion(first, second, threshold)

    def _grade(self, system, message, rubric):
        """One grading: the `Evaluation` the model gives under `system`
        prompt for user `message`."""
        data, model, raw = self._ask(
            'a grade', system, message, prompts.EVALUATION_TOOL,
            lambda data: validated_evaluation(data, rubric))
        if rubric is None:
            return Evaluation(score=data['score'],
                              feedback=feedback_with_missing_ideas(
                                  data['feedback'],
                                  data['missing_key_ideas']),
                              grader=self.grader,
                              grader_version=self.prompt_version,
                              model=model, raw_output=raw)
        return Evaluation(score=capped_score(data['score'], data['errors'],
                                             self._mastery_threshold()),
                          feedback=rubric_feedback(data['feedback'],
                                                   data['evidence'],
                                                   data['errors']),
                          grader=self.grader,
                          grader_version=self.prompt_version,
                          model=model, raw_output=raw,
                          evidence=data['evidence'], errors=data['errors'])

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
        problem = self.configuration_problem()
        if problem:
            return problem
        state = self.circuit_state()
        if state == OPEN:
            wait = self._breaker.seconds_until_trial(self.circuit_reset)
            return ('circuit open after %d failed calls to %s: answering '
                    '503 for another %d s'
                    % (self._breaker.failures, self._service_object(),
                       math.ceil(wait)))
        if state == HALF_OPEN:
            return ('circuit half-open: the next call to %s is a trial'
                    % self._service_object())
        return None

    def service_name(self):
        """The server, as log lines name it ("The Anthropic API")."""
        raise NotImplementedError

    def configuration_problem(self):
        """`None` when the provider is set up to make calls, else a
        sentence saying what is missing."""
        raise NotImplementedError

    # Hooks of a provider

    def _call_problem(self):
        """`None` when a request can be sent now, else a sentence saying
        why not (no key, no address); checked before every call."""
        return self.configuration_problem()

    def _new_client(self):
        """What `_post()` sends with (an HTTP or SDK client)."""
        raise NotImplementedError

    def _client_is_stale(self, client):
        """Whether `client` must be made again (the key changed)."""
        return False

    def _request(self, system, user_message, tool):
        """The request asking for `tool`'s schema, as `_post()` takes it."""
        raise NotImplementedError

    def _post(self, client, request):
        """Send `request` once: `(response, None)` or `(None, Failure)`."""
        raise NotImplementedError

    def _read(self, response, tool):
        """`(data, raw)` of an answer: the JSON object meant to match
        `tool`'s schema and the output kept for audits. Raises
        `MalformedOutput` or `Refusal`."""
        raise NotImplementedError

    def _model_of(self, response):
        """The model that answered, as the server names it."""
        raise NotImplementedError

    def _request_id(self, response):
        """The server's id of `response`, for the debug log."""
        return None

    def _secret(self):
        """The key this provider sends, to be kept out of messages."""
        if not self.key_variable:
            return ''
        return os.environ.get(self.key_variable, '').strip()

    # Internal methods

    def _client(self):
        """The client `_post()` sends with, made on first use and again
        when it is stale. Raises `LLMUnavailable`, without contacting the
        server and without touching the circuit, when no call can be made;
        that is logged once as a warning."""
        problem = self._call_problem()
        if problem:
            problem = problem[0].upper() + problem[1:]
            if not self._unusable_logged:
                self._unusable_logged = True
                self.log.warning(problem)
            raise LLMUnavailable(problem + '.')
        with self._sender_lock:
            if self._sender is None or self._client_is_stale(self._sender):
                self._sender = self._new_client()
            return self._sender

    def _mastery_threshold(self):
        # Read here rather than from the study loop's component, which
        # declares the option: a provider grades without the loop.
        return self.config.getfloat('learning', 'mastery_threshold',
                                    MASTERY_THRESHOLD)

    def _configured(self):
        return self.config.get('learning', 'llm_provider') == \
            self.__class__.__name__

    def _service_object(self):
        name = self.service_name()
        return name[:1].lower() + name[1:] if name.startswith('The ') \
            else name

    def _redact(self, text):
        """`text` without the key in it, should an error ever quote it."""
        secret = self._secret()
        return text.replace(secret, '[redacted]') if secret else text

    def _ask(self, what, system, user_message, tool, validate):
        """Ask for `tool`'s schema. Return the validated data, the model
        that answered and the raw output. A malformed answer is asked
        again once."""
        for attempt in range(MALFORMED_OUTPUT_RETRIES + 1):
            response = self._call(what, system, user_message, tool)
            model = self._model_of(response)
            try:
                data, raw = self._read(response, tool)
                return validate(data), model, raw
            except MalformedOutput as e:
                problem = self._redact(str(e))
                self.log.info("%s (model %s) answered %s not in the form of "
                              "%s (%s)%s", self.service_name(), model, what,
                              tool['name'], problem,
                              '' if attempt == MALFORMED_OUTPUT_RETRIES
                              else ': asking again')
            except Refusal as e:
                refusal = self._redact(str(e))
                self.log.info("%s (model %s) declined to write %s: %s",
                              self.service_name(), model, what, refusal)
                raise LLMUnavailable("The language model declined to write "
                                     "%s (%s)." % (what, refusal))
        raise LLMUnavailable("The language model did not answer with %s "
                             "in the expected form (%s); try again."
                             % (what, problem))

    def _call(self, what, system, user_message, tool):
        """Send one request, with retries and the circuit."""
        client = self._client()
        request = self._request(system, user_message, tool)
        reset = self.circuit_reset
        with self._breaker.guard(self.circuit_failures, reset,
                                 self._circuit_open) as call:
            # A trial call is tried once, so that the circuit answers
            # quickly.
            attempts = 1 if call.trial else 1 + max(0, self.max_retries)
            response, failure = self._send(client, request, attempts, reset)
            if response is None:
                if failure.counts:
                    call.failed(self._redact(str(failure)))
                else:
                    # The server answered: it is up, whatever it made of
                    # the request.
                    call.answered()
                    self._log_refusal(failure)
                raise LLMUnavailable(self._redact(
                    "The language model could not write %s: %s."
                    % (what, failure)), retry_after=failure.retry_after)
        self.log.debug("%s answered %s (request %s)", self.service_name(),
                       what, self._request_id(response))
        return response

    def _circuit_open(self):
        wait = math.ceil(self._breaker.seconds_until_trial(
            self.circuit_reset)) or 1
        return LLMUnavailable("The language model is unavailable after "
                              "repeated failures; try again in %d s."
                              % wait, retry_after=wait)

    def _send(self, client, request, attempts, reset):
        """Try `request` up to `attempts` times. Return `(response, None)`,
        or `(None, failure)` with the last failure."""
        failure = None
        for attempt in range(attempts):
            if attempt:
                delay = self._delay(attempt, failure)
                if delay is None:
                    break
                self.log.debug("%s: %s; retrying in %.1f s",
                               self.service_name(),
                               self._redact(str(failure)), delay)
                self._sleep(delay)
                if self._breaker.is_open(reset):
                    break  # Other calls opened the circuit meanwhile.
            response, failure = self._post(client, request)
            if response is not None:
                return response, None
            if not failure.retryable:
                break
        return None, failure

    def _delay(self, attempt, failure):
        """Seconds to wait before `attempt` (1 for the first retry), or
        `None` when the server asks for a longer wait than is worth it."""
        if failure.retry_after is not None:
            if failure.retry_after > MAX_RETRY_AFTER_WAIT:
                return None
            return failure.retry_after
        delay = min(RETRY_MAX_DELAY,
                    RETRY_INITIAL_DELAY * 2 ** (attempt - 1))
        return delay * (1 - RETRY_JITTER * random.random())

    def _log_refusal(self, failure):
        """Warn of a refused request, once while the refusals repeat."""
        message = self._redact(str(failure))
        if message != self._last_refusal:
            self._last_refusal = message
            self.log.warning("%s refused a request: %s",
                             self.service_name(), message)


# -- Checking the model's answer

def validated_sentences(data):
    sentences = _field(data, 'sentences', list)
    if len(sentences) != prompts.SENTENCE_COUNT:
        raise MalformedOutput('%d sentences instead of %d'
                              % (len(sentences), prompts.SENTENCE_COUNT))
    if not all(isinstance(s, str) and s.strip() for s in sentences):
        raise MalformedOutput('a sentence is empty or not text')
    return [s.strip() for s in sentences]


def validated_question(data, content):
    """The question, expected answer, difficulty and rubric of `data`,
    checked against the chunk text `content` it was written from: the
    rules of any stored question (`rubrics.question_problems`), and every
    key point resting on the sentences it names."""
    question = _text(data, 'question', prompts.QUESTION_CHARS)
    expected = _text(data, 'expected_answer', prompts.EXPECTED_ANSWER_CHARS)
    difficulty = _field(data, 'difficulty', int)
    low, high = prompts.DIFFICULTY_RANGE
    if not low <= difficulty <= high:
        raise MalformedOutput('difficulty %d is not from %d to %d'
                              % (difficulty, low, high))
    record = {'question': question, 'expected_answer': expected,
              'difficulty': difficulty,
              'key_points': _field(data, 'key_points', list),
              'misconceptions': data.get('misconceptions') or []}
    problems = rubrics.question_problems(record, content)
    if not problems:
        problems = unsupported_key_points(record['key_points'], content)
    if problems:
        raise MalformedOutput('; '.join(problems))
    checked = rubrics.check_question(record, content)
    return {'question': checked.question,
            'expected_answer': checked.expected_answer,
            'difficulty': checked.difficulty,
            'key_points': tuple(checked.key_points),
            'misconceptions': tuple(checked.misconceptions)}


def unsupported_key_points(key_points, content):
    """A sentence for each key point (dicts of `point` and `sources`, the
    numbers checked) that the sentences of `content` it names do not
    support: fewer than `KEY_POINT_SUPPORT` of its content words, stemmed,
    are theirs."""
    numbered = rubrics.sentences(content)
    problems = []
    for number, point in enumerate(key_points, 1):
        own = set(content_stems(words(point['point'])))
        cited = set(content_stems(words(' '.join(
            numbered[source - 1] for source in point['sources']))))
        if not own or len(own & cited) < KEY_POINT_SUPPORT * len(own):
            problems.append(
                'key point %d is not supported by sentence%s %s of the '
                'text' % (number, 's' if len(point['sources']) > 1 else '',
                          ', '.join(map(str, point['sources']))))
    return problems


def validated_evaluation(data, rubric=None):
    """The score, feedback and missing key ideas of `data`; with `rubric`,
    instead of the missing ideas, the evidence (a `PointGrade` per key
    point, in the rubric's order) and the errors (`Misconception`s)."""
    score = _field(data, 'score', (int, float))
    if math.isnan(score):
        raise MalformedOutput('score is not a number')
    feedback = _field(data, 'feedback', str).strip()
    if not feedback:
        raise MalformedOutput('empty feedback')
    checked = {'score': min(1.0, max(0.0, float(score))),
               'feedback': feedback}
    if rubric is None:
        missing = _field(data, 'missing_key_ideas', list)
        if not all(isinstance(idea, str) for idea in missing):
            raise MalformedOutput('a missing key idea is not text')
        checked['missing_key_ideas'] = [i.strip() for i in missing
                                        if i.strip()]
    else:
        checked['evidence'] = _evidence(data, rubric)
        checked['errors'] = _errors(data, rubric)
    return checked


def _evidence(data, rubric):
    """One `PointGrade` per key point of `rubric`, from the statuses in
    `data`. Its `source` is the numbers of the chunk sentences the key
    point rests on ("2, 3"), as the offline grader gives it: the provider
    is handed the rubric, not the chunk's sentences, and the numbers let
    the page point at them."""
    count = len(rubric.key_points)
    statuses = {}
    for item in _field(data, 'key_points', list):
        number = _field(item, 'key_point', int)
        status = _field(item, 'status', str)
        if not 1 <= number <= count:
            raise MalformedOutput('a status for key point %d, but the '
                                  'rubric has %d' % (number, count))
        if status not in prompts.POINT_STATUSES:
            raise MalformedOutput('status %r of key point %d is none of %s'
                                  % (status, number,
                                     ', '.join(prompts.POINT_STATUSES)))
        if statuses.setdefault(number, status) != status:
            raise MalformedOutput('two statuses for key point %d' % number)
    unjudged = sorted(set(range(1, count + 1)) - set(statuses))
    if unjudged:
        raise MalformedOutput('no status for key point%s %s' % (
            's' if len(unjudged) > 1 else '', ', '.join(map(str, unjudged))))
    return tuple(rubrics.PointGrade(point.point, statuses[number],
                                    ', '.join(map(str, point.sources)))
                 for number, point in enumerate(rubric.key_points, 1))


def _errors(data, rubric):
    """The rubric's misconceptions the answer states, in the rubric's
    words, then the contradictions of key points, in the model's."""
    errors = []
    for number in _field(data, 'misconceptions_found', list):
        if isinstance(number, bool) or not isinstance(number, int) or \
                not 1 <= number <= len(rubric.misconceptions):
            raise MalformedOutput('misconception %r is not in the rubric'
                                  % (number,))
        misconception = rubric.misconceptions[number - 1]
        error = rubrics.Misconception(misconception.claim,
                                      misconception.correction)
        if error not in errors:
            errors.append(error)
    for item in _field(data, 'contradictions', list):
        number = _field(item, 'key_point', int)
        if not 1 <= number <= len(rubric.key_points):
            raise MalformedOutput('a contradiction of key point %d, but the '
                                  'rubric has %d'
                                  % (number, len(rubric.key_points)))
        claim = _field(item, 'claim', str).strip()
        if not claim:
            raise MalformedOutput('a contradiction without its claim')
        # Without a correction of its own, the key point says what is
        # true.
        correction = _field(item, 'correction', str).strip() or \
            rubric.key_points[number - 1].point
        errors.append(rubrics.Misconception(claim, correction))
    return tuple(errors)


def second_opinion(first, second, threshold):
    """The grade of a close call graded twice: the mean score, the first
    grading's evidence and feedback, every error either grading found
    (any keeps the score below mastery), and the confidence: medium when
    both gradings give the same verdict, low when they disagree."""
    errors = tuple(first.errors) + tuple(e for e in second.errors
                                         if e not in first.errors)
    score = capped_score(round((first.score + second.score) / 2.0, 4),
                         errors, threshold)
    feedback = first.feedback
    for error in errors[len(first.errors):]:
        feedback += '\n\nYou wrote that "%s", which is not right: %s' % (
            error.claim.rstrip('.'), error.correction)
    if (first.score >= threshold) == (second.score >= threshold):
        confidence = Confidence('medium', "A close call: a second, "
                                          "independent grading agrees.")
    else:
        confidence = Confidence('low', "A close call: two independent "
                                       "gradings disagree on mastery.")
    return dataclasses.replace(
        first, score=score, feedback=feedback, errors=errors,
        raw_output=json.dumps([first.raw_output, second.raw_output]),
        confidence=confidence)


def capped_score(score, errors, threshold):
    """`score`, kept below mastery (`threshold`) when the answer has
    `errors`: a stated misconception is not mastery, whatever the model
    made of the rest."""
    if errors:
        return min(score, round(ERROR_SCORE_SHARE * threshold, 4))
    return score


def rubric_feedback(feedback, evidence, errors):
    """The model's `feedback`, then the key points the answer misses
    (quoted from the rubric) and each error with its correction: the
    learner sees them whatever the model wrote."""
    sentences = [feedback]
    missing = [grade.point for grade in evidence
               if grade.status == rubrics.MISSING]
    if missing:
        sentences.append('Key points missing: %s' % '; '.join(
            '"%s"' % point.rstrip('.') for point in missing) + '.')
    for error in errors:
        sentences.append('You wrote that "%s", which is not right: %s'
                         % (error.claim.rstrip('.'), error.correction))
    return '\n\n'.join(sentences)


def feedback_with_missing_ideas(feedback, missing):
    if not missing:
        return feedback
    return '%s\n\nKey ideas missing: %s.' % (feedback, '; '.join(missing))


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
