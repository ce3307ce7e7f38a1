"""Circuit breakers for the outside services a request waits on (the
language model, the Neo4j chunk store), and the interface through which
they show their state in `GET /api/v1/health`.

A breaker counts calls that failed in a row because the service did not
answer. Past a threshold it opens: calls are refused at once, without
contacting the service, for a reset interval; then one trial call is let
through (half-open), and its outcome closes or reopens the circuit. A
learner waits for one failure per interval instead of one per request.
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
    Thread-safe.
    """

    def __init__(self, clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

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
