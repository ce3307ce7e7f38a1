"""Circuit breakers for the outside services a request waits on (the
language model, the Neo4j chunk store), and the interface through which
they show their state in `GET /api/v1/health`.

A breaker counts calls that failed in a row because the service did not
answer. Past a threshold it opens: calls are refused at once, without
contacting the service, for a reset interval; then one trial call is let
through (half-open), and its outcome closes or reopens the circuit. A
learner waits for one failure per interval instead of one per request.

`CircuitBreaker.guard()` wraps one call to the service: it refuses the call
while the circuit is open, counts its outcome, and logs an outage once, as
a warning when it starts and once when it ends, so a long outage does not
flood the log.
"""

import math
import threading

from trac.core import Interface

CLOSED, OPEN, HALF_OPEN = 'closed', 'open', 'half-open'


class ICircuitBreakers(Interface):
    """Shows the circuit breakers of a component in `GET /api/v1/health`
    (`circuits`)."""

    def get_circuit_breakers():
        """Yield `(name, state)` pairs; `state()` returns the breaker's
        `snapshot()`."""


class CircuitBreaker(object):
    """Counts calls that failed in a row; past a threshold, refuses calls
    for a while, then lets one trial call through.

    The threshold and reset interval are passed on each use, so a change
    in trac.ini applies at once. `clock()` gives monotonic seconds.
    `service()` names the service in log lines ("Neo4j at
    neo4j+s://host"), `callers` says who answers 503 while it fails
    ("searches"); `log` receives the outage lines of `guard()`.
    Thread-safe.
    """

    def __init__(self, clock, log=None, service=None, callers='calls'):
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = None
        self._trial_running = False
        self._log = log
        self._service = service or (lambda: 'the service')
        self._callers = callers
        self._in_outage = False

    def guard(self, threshold, reset, refused):
        """A context manager around one call to the service::

            with breaker.guard(threshold, reset, refused) as call:
                ...                    # call.trial: the half-open trial
                call.failed(reason)    # the service did not answer
                call.answered()        # it answered, if only to refuse

        Entering raises `refused()` (an exception) while the circuit is
        open. A block that ends without saying counts as answered when it
        returns normally; when it raises, the exception is a bug rather
        than an outage and is not counted, except that a trial call must
        end, as a failure.
        """
        return _GuardedCall(self, threshold, reset, refused)

    def state(self, reset):
        with self._lock:
            return self._state(reset)

    def seconds_until_trial(self, reset):
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + reset - self._clock())

    @property
    def failures(self):
        return self._failures

    def snapshot(self, reset):
        """`{'state', 'failures', 'retry_in'}`: the state, the calls that
        failed in a row, and the whole seconds before the next trial call
        while the circuit is open (else `None`)."""
        with self._lock:
            state = self._state(reset)
            retry_in = None
            if state == OPEN:
                retry_in = math.ceil(max(0.0, self._opened_at + reset -
                                         self._clock()))
            return {'state': state, 'failures': self._failures,
                    'retry_in': retry_in}

    def acquire(self, reset):
        """Return `CLOSED` when a call may go ahead, `HALF_OPEN` when it
        is the trial call, `OPEN` when it must not be made."""
        with self._lock:
            state = self._state(reset)
            if state == HALF_OPEN:
                if self._trial_running:
                    return OPEN
                self._trial_running = True
            return state

    def is_open(self, reset):
        with self._lock:
            return self._state(reset) == OPEN

    def record_success(self):
        """Return `True` when this closes an open circuit."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failures = 0
            self._opened_at = None
            self._trial_running = False
            return was_open

    def record_failure(self, threshold):
        """Return `True` when this failure opens the circuit."""
        with self._lock:
            self._failures += 1
            if self._trial_running or (self._opened_at is None and
                                       self._failures >= threshold):
                self._trial_running = False
                self._opened_at = self._clock()
                return True
            return False

    def _state(self, reset):
        if self._opened_at is None:
            return CLOSED
        if self._trial_running or \
                self._clock() - self._opened_at >= reset:
            return HALF_OPEN
        return OPEN

    # The outage log

    def _answered(self):
        closed = self.record_success()
        with self._lock:
            recovered, self._in_outage = self._in_outage or closed, False
        if recovered and self._log:
            self._log.info("%s answers again%s", self._service(),
                           ': circuit closed' if closed else '')

    def _failed(self, reason, threshold, reset, trial):
        opened = self.record_failure(threshold)
        with self._lock:
            starts, self._in_outage = not self._in_outage, True
        if not self._log:
            return
        if starts:
            self._log.warning("%s does not answer (%s). %s answer 503 while "
                              "it fails, and at once for %g s after %d "
                              "failed calls in a row.", self._service(),
                              reason, self._callers.capitalize(), reset,
                              threshold)
        elif opened:
            self._log.info("The circuit of %s %s after %d failed calls in a "
                           "row (last: %s)", self._service(),
                           'reopened' if trial else 'opened',
                           self._failures, reason)


class _GuardedCall(object):
    """One call through `CircuitBreaker.guard()`."""

    def __init__(self, breaker, threshold, reset, refused):
        self._breaker, self._refused = breaker, refused
        self._threshold, self._reset = threshold, reset
        self._counted = False       # the outcome was recorded
        self.trial = False          # the half-open trial call

    def __enter__(self):
        state = self._breaker.acquire(self._reset)
        if state == OPEN:
            raise self._refused()
        self.trial = state == HALF_OPEN
        return self

    def __exit__(self, kind, error, traceback):
        if self._counted:
            return False
        if kind is None:
            self.answered()
        elif self.trial:
            self._counted = True
            self._breaker.record_failure(self._threshold)
        return False

    def answered(self):
        """The service answered: a refusal of the request counts too, since
        it shows the service is up."""
        self._counted = True
        self._breaker._answered()

    def failed(self, reason):
        """The service did not answer, or could not serve; `reason` says
        how, for the log."""
        self._counted = True
        self._breaker._failed(reason, self._threshold, self._reset,
                              self.trial)
