"""`GET /api/v1/reviews`: the concepts a learner should review now, or by a
later time (`?until=`)."""

from datetime import datetime, timezone

from trac.core import Component, implements
from trac.util.translation import _

from tracl.api import IApiEndpointProvider
from tracl.clock import LearningClock
from tracl.study.retention import Retention
from tracl.util import iso
from tracl.web.api import ApiError, Endpoint, reader_sub
from tracl.web.openapi import (api_errors, query_parameters,
                                reads_a_learner)

#: The furthest horizon a due list looks at.
MAX_HORIZON_DAYS = 366

REVIEWS_RESPONSE = {
    'type': 'object', 'required': ['now', 'until', 'count', 'due'],
    'description': "The learner's concepts due by `until` (now unless "
                   "?until= gives an ISO 8601 time, e.g. "
                   "2026-12-31T00:00:00Z or 2026-12-31, at most a year "
                   "ahead), the most overdue first.",
    'properties': {
        'now': {'type': 'string'}, 'until': {'type': 'string'},
        'count': {'type': 'integer', 'minimum': 0},
        'due': {'type': 'array', 'items': {
            'type': 'object',
            'required': ['ticket_id', 'concept', 'subject', 'due', 'state',
                         'lapses', 'retrievability'],
            'properties': {
                'ticket_id': {'type': 'integer'},
                'concept': {'type': 'string'},
                'subject': {'type': 'string'},
                'due': {'type': 'string'},
                'state': {'enum': ['learning', 'review', 'relearning']},
                'lapses': {'type': 'integer', 'minimum': 0},
                'retrievability': {
                    'type': 'number', 'minimum': 0, 'maximum': 1,
                    'description': 'How likely the learner recalls the '
                                   'concept now (FSRS).'}}}}},
}


def parse_until(text, now):
    """The moment `?until=` names, or raises `ApiError` (400) saying what
    is allowed."""
    try:
        until = datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
    except ValueError:
        until = None
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=timezone.utc)
    if until is None or (until - now).days > MAX_HORIZON_DAYS:
        raise ApiError(400, _("until is an ISO 8601 time or date, such as "
                              "2026-12-31T00:00:00Z or 2026-12-31, at most "
                              "a year ahead."), code='invalid_until')
    return until


class ReviewsApi(Component):
    """The learner's due reviews."""

    implements(IApiEndpointProvider)

    def get_api_endpoints(self):
        yield Endpoint('GET', '/reviews', self._due,
                       'The concepts due for review',
                       responses={200: dict(REVIEWS_RESPONSE)})

    @reads_a_learner
    @query_parameters(until=(
        {'type': 'string'}, 'The concepts due by this ISO 8601 time or '
        'date, within a year (default: now)'))
    @api_errors(**{'400': 'until is not an ISO 8601 time or date within '
                          'a year (invalid_until)'})
    def _due(self, req, call):
        sub = reader_sub(req, call)
        now = LearningClock(self.env).now()
        text = req.args.getfirst('until')
        until = now if text is None else parse_until(text, now)
        due = Retention(self.env).due(sub, until)
        return {'now': iso(now), 'until': iso(until), 'count': len(due),
                'due': due}
