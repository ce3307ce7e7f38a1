"""The time review schedules read.

Everything that decides whether a concept is due, or stamps a review, asks
`LearningClock(env).now()`. It is the wall clock, unless an admin command
(`learning reviews USER --at ISO-DATE`) or a test sets another moment, so
that nobody waits days to see a schedule move.
"""

from trac.core import Component
from trac.util.datefmt import datetime_now, utc


class LearningClock(Component):
    """The time review schedules read: now, or the moment set."""

    def __init__(self):
        self._at = None

    def now(self):
        """The current time, timezone-aware (UTC)."""
        return self._at if self._at is not None else datetime_now(utc)

    def set(self, when):
        """Read `when` (an aware datetime) as now from here on; None goes
        back to the wall clock."""
        if when is not None and when.tzinfo is None:
            raise ValueError("The clock needs a time with its time zone.")
        self._at = when
