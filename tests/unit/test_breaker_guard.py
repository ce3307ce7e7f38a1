"""`CircuitBreaker.guard()`: one call to an outside service through its
circuit, with the outage logged once (the Neo4j store and the Anthropic
provider both go through it)."""

import pytest

from tracl.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker

THRESHOLD = 2
RESET = 30.0


class Clock(object):
    now = 1000.0

    def __call__(self):
        return self.now


class Log(object):
    """Records `(level, message)` as a Trac logger would format them."""

    def __init__(self):
        self.lines = []

    def warning(self, text, *args):
        self.lines.append(('WARNING', text % args))

    def info(self, text, *args):
        self.lines.append(('INFO', text % args))


class Refused(Exception):
    pass


class Bug(Exception):
    pass


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def log():
    return Log()


@pytest.fixture
def breaker(clock, log):
    return CircuitBreaker(clock, log, lambda: 'Service at host',
                          'searches')


def call(breaker, outcome):
    """One guarded call: `outcome` is 'ok', 'down', 'refusal' or 'bug'.
    Returns whether the block ran."""
    ran = []
    with breaker.guard(THRESHOLD, RESET, Refused) as guarded:
        ran.append(guarded.trial)
        if outcome == 'down':
            guarded.failed('connection refused')
        elif outcome == 'refusal':
            guarded.answered()
        elif outcome == 'bug':
            raise Bug()
    return ran


def call_failing(breaker, outcome):
    with pytest.raises((Refused, Bug)):
        call(breaker, outcome)


def test_a_call_that_returns_counts_as_answered_and_logs_nothing(breaker,
                                                                 log):
    assert call(breaker, 'ok') == [False]
    assert breaker.state(RESET) == CLOSED
    assert log.lines == []


def test_failures_in_a_row_open_the_circuit_which_refuses_without_calling(
        breaker):
    call(breaker, 'down')
    assert breaker.state(RESET) == CLOSED
    call(breaker, 'down')
    assert breaker.state(RESET) == OPEN
    with pytest.raises(Refused):
        call(breaker, 'ok')      # the block never runs
    assert breaker.failures == THRESHOLD


def test_an_answer_even_a_refusal_resets_the_count_of_failures(breaker):
    for outcome in ('down', 'refusal', 'down', 'ok', 'down'):
        call(breaker, outcome)
        assert breaker.state(RESET) == CLOSED
    assert breaker.failures == 1


def test_after_the_reset_time_one_trial_call_closes_or_reopens_the_circuit(
        breaker, clock):
    call(breaker, 'down')
    call(breaker, 'down')
    clock.now += RESET
    assert breaker.state(RESET) == HALF_OPEN
    assert call(breaker, 'down') == [True]
    assert breaker.snapshot(RESET) == {'state': OPEN, 'failures': 3,
                                       'retry_in': 30}
    clock.now += RESET
    assert call(breaker, 'ok') == [True]
    assert breaker.snapshot(RESET) == {'state': CLOSED, 'failures': 0,
                                       'retry_in': None}


def test_an_outage_is_logged_as_one_warning_and_its_end_once(breaker, clock,
                                                             log):
    call(breaker, 'down')
    call(breaker, 'down')
    call_failing(breaker, 'ok')          # open: refused, not logged
    clock.now += RESET
    call(breaker, 'down')                # failed trial
    clock.now += RESET
    call(breaker, 'ok')
    call(breaker, 'ok')
    assert log.lines == [
        ('WARNING', 'Service at host does not answer (connection refused). '
                    'Searches answer 503 while it fails, and at once for '
                    '30 s after 2 failed calls in a row.'),
        ('INFO', 'The circuit of Service at host opened after 2 failed '
                 'calls in a row (last: connection refused)'),
        ('INFO', 'The circuit of Service at host reopened after 3 failed '
                 'calls in a row (last: connection refused)'),
        ('INFO', 'Service at host answers again: circuit closed'),
    ]


def test_a_failure_short_of_the_threshold_ends_with_answers_again(breaker,
                                                                  log):
    call(breaker, 'down')
    call(breaker, 'refusal')
    assert [level for level, _ in log.lines] == ['WARNING', 'INFO']
    assert log.lines[-1] == ('INFO', 'Service at host answers again')


def test_a_bug_is_not_an_outage_but_it_ends_a_trial_call(breaker, clock,
                                                         log):
    for _ in range(THRESHOLD + 1):
        call_failing(breaker, 'bug')
    assert breaker.state(RESET) == CLOSED and breaker.failures == 0
    call(breaker, 'down')
    call(breaker, 'down')
    clock.now += RESET
    call_failing(breaker, 'bug')
    assert breaker.state(RESET) == OPEN     # the trial ended, as a failure
    clock.now += RESET
    assert call(breaker, 'ok') == [True]    # so another trial may run
    assert not [line for line in log.lines if 'Bug' in line[1]]


def test_only_one_trial_call_runs_at_a_time(breaker, clock):
    call(breaker, 'down')
    call(breaker, 'down')
    clock.now += RESET
    with breaker.guard(THRESHOLD, RESET, Refused) as trial:
        assert trial.trial
        with pytest.raises(Refused):
            call(breaker, 'ok')
    assert breaker.state(RESET) == CLOSED


def test_a_breaker_without_a_log_still_guards(clock):
    breaker = CircuitBreaker(clock)
    call(breaker, 'down')
    call(breaker, 'down')
    with pytest.raises(Refused):
        call(breaker, 'ok')
