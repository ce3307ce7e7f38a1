"""The production server's access lines and Trac's log format.

`RequestObservability` tells the request's context which learner and which
Trac handler it had (for log lines and route names), writes one access
line per answered request, and, with `[learning] metrics_namespace` set,
makes each JSON access line a CloudWatch embedded-metric document, so
CloudWatch aggregates every worker and task itself.
"""

import logging
import time

from trac.config import ChoiceOption, Option
from trac.core import Component, implements
from trac.web.api import IRequestFilter

from tracl.server.context import CONTEXT_KEY
from tracl.server.logs import use_json_logs

#: Route of the static files WhiteNoise answers before Trac sees them.
STATIC_ROUTE = '/chrome/*'


class RequestObservability(Component):
    """Structured logs of the production server (`tracl.server.wsgi`): the
    request's learner and handler for its log lines and metrics, and the
    access line of each request."""

    implements(IRequestFilter)

    log_format = ChoiceOption('learning', 'log_format', ['text', 'json'],
        """How Trac's log lines are written: `text` (Trac's own format) or
        `json`, one JSON object per line with the request id and the
        learner's `sub`, for CloudWatch Logs. The production server
        (`tracl.server.wsgi`) adds an access line per request either
        way.""")

    metrics_namespace = Option('learning', 'metrics_namespace', '',
        """CloudWatch namespace of the request metrics embedded in JSON
        access lines (CloudWatch embedded metric format: latency, errors,
        cache hits and misses per route and method), e.g. `TracLearn`.
        Needs `log_format = json`. Empty: no embedded metrics.""")

    def __init__(self):
        self._access_log = self.log.getChild('access')
        if self.log_format == 'json':
            use_json_logs(self.log)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        context = req.environ.get(CONTEXT_KEY)
        if context is not None:
            context.handler = type(handler).__name__ if handler else None
            context.sub = req.authname if req.is_authenticated else None
        return handler

    def post_process_request(self, req, template, data, metadata):
        return template, data, metadata

    # Public methods

    def log_request(self, context, method, route, status, seconds):
        """Write the access line of an answered request."""
        duration_ms = round(seconds * 1000, 1)
        if status >= 500:
            level = logging.WARNING
        elif route == STATIC_ROUTE:
            level = logging.DEBUG  # browsers fetch many; metrics count them
        else:
            level = logging.INFO
        if not self._access_log.isEnabledFor(level):
            return
        fields = {'status': status, 'duration_ms': duration_ms,
                  'route': route}
        if self.metrics_namespace and self.log_format == 'json':
            fields.update(self._embedded_metrics(context, method, route,
                                                 status, duration_ms))
        self._access_log.log(level, "%s %s %d %.1f ms request_id=%s sub=%s",
                             context.method, context.path, status,
                             duration_ms, context.request_id,
                             context.sub or '-',
                             extra={'tracl_fields': fields})

    # Internal methods

    def _embedded_metrics(self, context, method, route, status, duration_ms):
        """The members making an access line a CloudWatch embedded-metric
        document."""
        return {
            '_aws': {
                'Timestamp': int(time.time() * 1000),
                'CloudWatchMetrics': [{
                    'Namespace': self.metrics_namespace,
                    'Dimensions': [['route', 'method']],
                    'Metrics': [
                        {'Name': 'duration_ms', 'Unit': 'Milliseconds'},
                        {'Name': 'errors', 'Unit': 'Count'},
                        {'Name': 'cache_hits', 'Unit': 'Count'},
                        {'Name': 'cache_misses', 'Unit': 'Count'}]}]},
            'method': method,
            'errors': 1 if status >= 500 else 0,
            'cache_hits': context.cache_hits,
            'cache_misses': context.cache_misses,
        }
