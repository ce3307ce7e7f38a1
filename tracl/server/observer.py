"""`RequestObserver`, the WSGI middleware `tracl.server.wsgi` puts around
Trac (and the static files in front of it), and the route names it files
each request under.

Every request gets an id (a well-formed incoming `X-Request-Id`, else a
new one), sent back in `X-Request-Id` and available to every log line
written while the request runs; its figures go to the process's
`RequestMetrics`, and the environment's `RequestObservability` writes its
access line. A route is a template, never a raw id, so the number of
series stays bounded whatever clients ask for.
"""

import re
import time

from tracl.server.access_log import STATIC_ROUTE, RequestObservability
from tracl.server.context import (CONTEXT_KEY, RequestContext,
                                  enter_request, leave_request, request_id)
from tracl.server.metrics import METRICS
from tracl.web.api import API_PREFIX, ApiModule

#: Methods counted under their own name; anything else is `OTHER`, so a
#: client cannot grow the number of series.
KNOWN_METHODS = frozenset(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE',
                           'OPTIONS'])

#: Route of a request no handler took (404 pages, scanners).
UNMATCHED_ROUTE = 'unmatched'

_INT_PARAM_RE = re.compile(r'\{(\w+):int\}')


def api_route(env, path):
    """The endpoint template of an API path (`/api/v1/progress/{ticket_id}`),
    or `/api/v1/{unknown}`."""
    below = path[len(API_PREFIX):] or '/'
    if env is not None:
        try:
            endpoints = ApiModule(env).endpoints()
        except Exception:
            endpoints = ()
        for endpoint, regex, _converters in endpoints:
            if regex.match(below):
                return API_PREFIX + _INT_PARAM_RE.sub(r'{\1}', endpoint.path)
    return API_PREFIX + '/{unknown}'


def is_api_path(path):
    return path == API_PREFIX or path.startswith(API_PREFIX + '/')


class RequestObserver(object):
    """WSGI middleware around Trac (and the static files in front of it):
    request id, log context, metrics and the access line of each request.

    `environment` is a function returning the Trac environment whose log
    and API routes to use, or None while it is not open; it must not open
    it.
    Durations run until the application returns its response (headers and
    body ready, a file body not yet sent)."""

    def __init__(self, application, environment, metrics=METRICS):
        self.application = application
        self.environment = environment
        self.metrics = metrics

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        context = RequestContext(request_id(environ.get('HTTP_X_REQUEST_ID')),
                                 environ.get('REQUEST_METHOD') or 'GET',
                                 environ.get('PATH_INFO') or '/')
        environ[CONTEXT_KEY] = context
        environ['tracl.request_id'] = context.request_id
        token = enter_request(context)
        env = self.environment()
        observability = self._observability(env)
        answer = {}

        def observed_start_response(status, headers, exc_info=None):
            answer['status'] = int(status.split(None, 1)[0])
            headers = [(name, value) for name, value in headers
                       if name.lower() != 'x-request-id']
            headers.append(('X-Request-Id', context.request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.application(environ, observed_start_response)
        except Exception:
            answer['status'] = 500
            raise
        finally:
            try:
                seconds = time.perf_counter() - started
                status = answer.get('status', 500)
                route = self._route(env, context)
                method = context.method if context.method in KNOWN_METHODS \
                    else 'OTHER'
                self.metrics.record_request(method, route, status, seconds)
                self.metrics.maybe_flush()
                if observability is not None:
                    observability.log_request(context, method, route, status,
                                              seconds)
            finally:
                leave_request(token)

    def _observability(self, env):
        """The environment's `RequestObservability`, created before Trac
        handles the request so its log format applies from the first line."""
        if env is None:
            return None
        try:
            return env[RequestObservability]
        except Exception:
            return None

    def _route(self, env, context):
        if is_api_path(context.path):
            return api_route(env, context.path)
        if context.handler:
            return context.handler
        if context.path.startswith('/chrome/'):
            return STATIC_ROUTE
        return UNMATCHED_ROUTE
