"""A request's id and what the logs and metrics know about the request a
thread serves.

The id is a well-formed incoming `X-Request-Id` (API Gateway sends a
UUID), else a new one; the context lives in a context variable set by
`tracl.server.observer.RequestObserver` for the time the request is served,
so any code running for it (a log line, a cache lookup) can find it.
"""

import contextvars
import re
import uuid

#: Where a request's `RequestContext` is kept in the WSGI environ.
CONTEXT_KEY = 'tracl.request'

#: A request id we accept from a client or a proxy (API Gateway sends a
#: UUID); anything else is replaced, so ids are safe in logs and headers.
REQUEST_ID_RE = re.compile(r'^[A-Za-z0-9._:-]{8,128}$')

_current = contextvars.ContextVar('tracl_request', default=None)


class RequestContext(object):
    """What the logs and metrics know about the request being served."""

    __slots__ = ('request_id', 'method', 'path', 'sub', 'handler',
                 'cache_hits', 'cache_misses')

    def __init__(self, request_id, method, path):
        self.request_id = request_id
        self.method = method
        self.path = path
        self.sub = None
        self.handler = None       # class name of the Trac handler chosen
        self.cache_hits = 0
        self.cache_misses = 0


def current_request():
    """The `RequestContext` of the request this thread serves, or None."""
    return _current.get()


def enter_request(context):
    """Make `context` the request this thread serves; returns the token
    `leave_request` takes."""
    return _current.set(context)


def leave_request(token):
    """The thread no longer serves the request `enter_request` entered."""
    _current.reset(token)


def request_id(incoming=None):
    """`incoming` when it is a well-formed request id, else a new one."""
    if incoming and REQUEST_ID_RE.match(incoming):
        return incoming
    return uuid.uuid4().hex
