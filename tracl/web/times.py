"""Times as Trac writes them for the reader.

The pages write times on the server with Trac's `format_datetime` in the
reader's date preferences (time zone, date format, language). A script
that adds a time to a page (a new attempt, the next review) asks the
server to write it the same way, so the page reads the same before and
after a reload.
"""

import json
from datetime import datetime

from trac.core import Component, implements
from trac.util.datefmt import format_datetime, user_time, utc
from trac.web.api import IRequestHandler


def parse_iso(value):
    """A UTC datetime from an ISO time as the API writes it
    (`2026-12-06T20:05:46Z`), or None for an empty value; ValueError for
    anything else."""
    if not value:
        return None
    return datetime.strptime(value, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=utc)


#: Where the study panel has times written in the reader's format.
TIMES_PATH = '/learning/times'

#: Most times written in one call (a concept's attempts, with room).
MAX_TIMES = 200


class ReaderTimes(Component):
    """Writes ISO times as Trac writes them for the reader (`GET
    /learning/times?t=<ISO>&t=...` answers `{"times": {ISO: text}}`):
    the study panel adds a new attempt in the format of those the page
    was rendered with, in the reader's time zone, date format and
    language, so a reload changes nothing. Times are not secret: anyone
    may ask."""

    implements(IRequestHandler)

    # IRequestHandler methods

    def match_request(self, req):
        return req.path_info == TIMES_PATH

    def process_request(self, req):
        times = {}
        for value in req.args.getlist('t')[:MAX_TIMES]:
            try:
                when = parse_iso(value)
            except ValueError:
                continue
            if when is not None:
                times[value] = user_time(req, format_datetime, when)
        body = json.dumps({'times': times}).encode('utf-8')
        req.send(body, 'application/json', 200)
