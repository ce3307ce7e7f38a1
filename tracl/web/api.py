"""The JSON API frame under `/api/v1`, which clients outside Trac rely on.

Every endpoint gets, before its handler runs: routing (404, 405 with
`Allow`), CORS for the origins in `[learning] cors_origins` (preflight
included), authentication (401 with `WWW-Authenticate`), CSRF protection for
cookie-authenticated writes (`X-CSRF-Token` must equal the page's form
token), per-learner rate limiting (429 with `Retry-After`), and the body
read as a JSON object (413, 415, 400). Errors are
`{"error": {"code": ..., "message": ...}}`. Endpoints come from
`IApiEndpointProvider`s; the OpenAPI 3.1 document is built from them.

Errors raised outside the handler (a request filter of Trac's that meets a
database that does not answer, say) would get Trac's HTML error page: an
API request answers them in JSON too, a database outage as 503
`database_unavailable`; an endpoint that answers without the database
(health) still answers.
"""

import hmac
import json
import re
import time
from collections import namedtuple
from functools import partial

from trac.config import IntOption, ListOption
from trac.core import Component, ExtensionPoint, implements
from trac.util.text import to_unicode
from trac.util.translation import _
from trac.web.api import (HTTPException, IRequestFilter, IRequestHandler,
                          RequestDone)

from tracl.api import IApiEndpointProvider
from tracl.cache import LearningCache
from tracl.util import database_outage

API_PREFIX = '/api/v1'

#: Methods that change nothing: no CSRF token needed, no body read.
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')

#: Methods whose body is read only when their endpoint declares a
#: `request_schema`: a DELETE is usually sent without one, but an endpoint
#: that asks for one (a confirmation) gets it checked like any other.
BODY_IF_DECLARED = ('DELETE',)

_STATUS_CODES = {400: 'bad_request', 401: 'unauthorized', 403: 'forbidden',
                 404: 'not_found', 405: 'method_not_allowed',
                 409: 'conflict', 413: 'payload_too_large',
                 415: 'unsupported_media_type', 429: 'rate_limited',
                 500: 'internal_error', 503: 'unavailable'}


class ApiError(Exception):
    """An answer other than success: status, a snake_case code, a sentence
    for a person, extra fields of the error object and extra headers."""

    def __init__(self, status, message, code=None, headers=None, **extra):
        super().__init__(message)
        self.status = status
        self.code = code or _STATUS_CODES.get(status, 'error')
        self.message = message
        self.headers = headers or {}
        self.extra = extra


class Endpoint(namedtuple('Endpoint', [
        'method', 'path', 'handler', 'summary', 'auth', 'request_schema',
        'responses', 'rate_cost', 'needs_database'])):
    """One API operation.

    - `path`: below `/api/v1`, with `{name}` parameters (`{ticket_id:int}`
      for integers);
    - `handler(req, call)` returns `(status, payload)`, `payload` alone
      (200), or `None` (204); `call` is an `ApiCall`;
    - `auth`: whether credentials are required;
    - `request_schema` / `responses`: JSON Schemas for the OpenAPI document
      (`responses` maps a status to a schema); a DELETE's body is read
      (and checked as any body is) only when it declares a
      `request_schema`;
    - `rate_cost`: how much of the learner's rate budget a call uses;
    - `needs_database`: `False` for a handler that answers while the
      database does not (it is then called without credentials or body).
    """
    __slots__ = ()

    def __new__(cls, method, path, handler, summary, auth=True,
                request_schema=None, responses=None, rate_cost=1,
                needs_database=True):
        return super().__new__(cls, method, path, handler, summary, auth,
                               request_schema, responses or {}, rate_cost,
                               needs_database)


#: What a handler knows about the call: path parameters, the JSON body,
#: the caller's `sub` and how they proved it ('bearer', 'cookie' or None).
ApiCall = namedtuple('ApiCall', ['params', 'body', 'sub', 'auth_method'])

def reader_sub(req, call):
    """Whose learning data a read call reads: the caller's, or with
    `?user=SUB` and LEARNING_ADMIN, that learner's (so an instructor's
    tools read what the learner sees). Writes always use `call.sub`."""
    user = req.args.getfirst('user')
    if not user or user == call.sub:
        return call.sub
    if 'LEARNING_ADMIN' not in req.perm:
        raise ApiError(403, _("Only LEARNING_ADMIN may read another "
                              "learner's data."))
    return user


def _database_unavailable():
    return ApiError(503, _("The database does not answer right now; "
                           "please try again in a moment."),
                    code='database_unavailable')


def _internal_error():
    return ApiError(500, _("Something went wrong on our side; it has been "
                           "logged."))


_PARAM_RE = re.compile(r'\{(\w+)(?::(int))?\}')


def _compile(path):
    """A regular expression for an endpoint path and its converters."""
    converters, pattern, position = {}, '^', 0
    for match in _PARAM_RE.finditer(path):
        name, kind = match.group(1), match.group(2)
        converters[name] = int if kind == 'int' else str
        pattern += re.escape(path[position:match.start()])
        pattern += r'(?P<%s>%s)' % (name, r'[0-9]{1,9}' if kind else r'[^/]+')
        position = match.end()
    pattern += re.escape(path[position:]) + '$'
    return re.compile(pattern), converters


class ApiModule(Component):
    """Serves `/api/v1/...` for the endpoints of every
    `IApiEndpointProvider`."""

    implements(IRequestFilter, IRequestHandler)

    providers = ExtensionPoint(IApiEndpointProvider)

    max_body_size = IntOption('learning', 'api_max_body_size', 65536,
        """Largest request body, in bytes, the API accepts (413 above).""")

    rate_limit = IntOption('learning', 'api_rate_limit', 120,
        """Requests a learner may make to the API per rate window (429
        above). 0 turns rate limiting off.""")

    rate_window = IntOption('learning', 'api_rate_window', 60,
        """Length of the rate-limiting window, in seconds.""")

    cors_origins = ListOption('learning', 'cors_origins', '',
        doc="""Origins (`https://app.example.org`) whose pages may call the
        API from a browser (CORS). Empty: same-origin only.""")

    def __init__(self):
        self._routes = None
        self._local_counts = {}

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        # Trac refuses form posts without its form token with an HTML
        # page before any handler runs; the API answers JSON instead.
        if handler is self and req.method == 'POST' and \
                self._media_type(req) in ('application/x-www-form-urlencoded',
                                          'multipart/form-data'):
            error = ApiError(415, _("Send the request body as "
                                    "application/json."))
            self._discard_body(req, error)
            self._send_error(req, error)
        return handler

    def post_process_request(self, req, template, data, metadata):
        return template, data, metadata

    # IRequestHandler methods

    def match_request(self, req):
        if req.path_info == API_PREFIX or \
                req.path_info.startswith(API_PREFIX + '/'):
            # Trac sends the error page of an exception raised outside
            # the handler with `req.send_error`: answer in JSON instead.
            req.send_error = partial(self._send_error_page, req)
            return True
        return False

    def process_request(self, req):
        try:
            self._cors(req)
            if req.method == 'OPTIONS':
                self._send_preflight(req)
            endpoint, params = self._route(req)
            sub, method = self._authenticate(req, endpoint)
            if req.method not in SAFE_METHODS and method == 'cookie':
                self._check_csrf(req)
            if endpoint.rate_cost:
                self._check_rate(req, sub, endpoint.rate_cost)
            body = self._read_body(req, endpoint)
            result = endpoint.handler(req, ApiCall(params, body, sub, method))
        except RequestDone:
            raise
        except ApiError as e:
            self._discard_body(req, e)
            self._send_error(req, e)
        except Exception as e:
            if database_outage(e):
                self.log.warning("API %s %s: the database does not answer: "
                                 "%s", req.method, req.path_info, e)
                error = _database_unavailable()
            else:
                self.log.exception("API %s %s failed", req.method,
                                   req.path_info)
                error = _internal_error()
            self._discard_body(req)
            self._send_error(req, error)
        status, payload = self._result(result)
        self.send_json(req, payload, status)

    # Public methods

    def endpoints(self):
        """`(Endpoint, regex, converters)` of every provider."""
        if self._routes is None:
            routes = []
            for provider in self.providers:
                for endpoint in provider.get_api_endpoints():
                    regex, converters = _compile(endpoint.path)
                    routes.append((endpoint, regex, converters))
            self._routes = routes
        return self._routes

    def send_json(self, req, payload, status=200, headers=None):
        """Send `payload` as JSON with the API's headers."""
        body = b'' if payload is None else \
            json.dumps(payload, ensure_ascii=False).encode('utf-8')
        req.send_response(status)
        req.send_header('Cache-Control', 'no-store')
        req.send_header('X-Content-Type-Options', 'nosniff')
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        if status != 204:
            req.send_header('Content-Type', 'application/json; charset=utf-8')
        req.send_header('Content-Length', len(body))
        req.end_headers()
        if req.method != 'HEAD' and body:
            req.write(body)
        raise RequestDone

    # Internal methods

    def _discard_body(self, req, error=None):
        """Read what is left of the request body before answering early:
        a server keeping the connection alive would otherwise read the body
        as the next request. A body too large to read is answered with the
        connection closed."""
        if req.environ.get('tracl.body_read'):
            return
        req.environ['tracl.body_read'] = True
        try:
            length = int(req.get_header('Content-Length') or 0)
        except ValueError:
            length = -1
        if 0 <= length <= self.max_body_size:
            if length:
                req.read(length)
        elif error is not None:
            error.headers['Connection'] = 'close'

    def _send_error_page(self, req, exc_info, content,
                         content_type='text/html', status=500):
        """`req.send_error` of an API request: Trac's error page (of an
        exception raised before or after the handler) as a JSON error.
        Raises `RequestDone`, as everything that sends does here."""
        error = exc_info[1] if exc_info else None
        req._outheaders = []
        self._discard_body(req)
        if database_outage(error):
            self._send_outage_answer(req)
        elif isinstance(error, HTTPException) and status < 500:
            self._send_error(req, ApiError(status, to_unicode(error.message)))
        else:
            self._send_error(req, _internal_error())

    def _send_outage_answer(self, req):
        """The answer of an endpoint that needs no database (health), else
        503 `database_unavailable`."""
        try:
            endpoint, params = self._route(req)
        except ApiError:
            endpoint = None
        if endpoint is None or endpoint.needs_database:
            self._send_error(req, _database_unavailable())
        status, payload = self._result(
            endpoint.handler(req, ApiCall(params, {}, None, None)))
        self.send_json(req, payload, status)

    def _result(self, result):
        if result is None:
            return 204, None
        if isinstance(result, tuple):
            return result
        return 200, result

    def _send_error(self, req, error):
        payload = {'error': dict(error.extra, code=error.code,
                                 message=str(error.message))}
        headers = dict(error.headers)
        if error.status == 503:
            headers.setdefault('Retry-After', '5')
        self.send_json(req, payload, error.status, headers)

    def _route(self, req):
        path = req.path_info[len(API_PREFIX):] or '/'
        allowed = []
        for endpoint, regex, converters in self.endpoints():
            match = regex.match(path)
            if not match:
                continue
            if endpoint.method == req.method or \
                    (req.method == 'HEAD' and endpoint.method == 'GET'):
                params = {name: converters[name](value)
                          for name, value in match.groupdict().items()}
                return endpoint, params
            allowed.append(endpoint.method)
        if allowed:
            allow = ', '.join(sorted(set(allowed + ['OPTIONS'])))
            raise ApiError(405, _("%(method)s is not allowed here; use "
                                  "%(allowed)s.", method=req.method,
                                  allowed=allow), headers={'Allow': allow})
        raise ApiError(404, _("There is no API endpoint at %(path)s.",
                              path=req.path_info))

    def _authenticate(self, req, endpoint):
        """`(sub, method)` of the caller; 401 when credentials are needed
        and missing, or when presented credentials are invalid."""
        has_bearer = (req.get_header('Authorization') or '').strip() != ''
        sub = req.authname if req.is_authenticated else None
        error = req.environ.get('tracl.auth_error')
        if error == 'database_unavailable':
            raise _database_unavailable()
        method = req.environ.get('tracl.auth_method') if sub else None
        # Keys we cannot fetch: the token may be fine, so no 401. A server
        # without a configured pool accepts no tokens at all: that is 401.
        if has_bearer and error == 'keys_unavailable':
            raise ApiError(503, _("Tokens cannot be checked right now: "
                                  "please try again shortly."),
                           code='auth_unavailable')
        if has_bearer and (error or method != 'bearer'):
            raise ApiError(401, _("The access token is invalid or expired: "
                                  "sign in again."), code='invalid_token',
                           headers={'WWW-Authenticate':
                                    'Bearer realm="TracLearn", '
                                    'error="invalid_token"'})
        if endpoint.auth and not sub:
            raise ApiError(401, _("Sign in first: send a Cognito token as "
                                  "'Authorization: Bearer ...' or use your "
                                  "browser session."),
                           headers={'WWW-Authenticate':
                                    'Bearer realm="TracLearn"'})
        return sub, method

    def _check_csrf(self, req):
        token = req.get_header('X-CSRF-Token') or ''
        if not hmac.compare_digest(token.encode('utf-8'),
                                   req.form_token.encode('utf-8')):
            raise ApiError(403, _("Missing or wrong X-CSRF-Token header: "
                                  "reload the page and try again."),
                           code='csrf_token_invalid')

    def _check_rate(self, req, sub, cost):
        """Count the call in the caller's window; 429 beyond the limit."""
        if self.rate_limit <= 0:
            return
        who = sub or 'addr:%s' % req.remote_addr
        window = int(time.time() // self.rate_window)
        key = 'ratelimit:%s:%d' % (who, window)
        cache = LearningCache(self.env)
        count = None
        for _i in range(cost):
            count = cache.backend.incr(key, self.rate_window)
        if count is None:  # cache unavailable: count in this process
            count = self._count_locally(key, window, cost)
        if count > self.rate_limit:
            retry = int(self.rate_window - time.time() % self.rate_window) + 1
            raise ApiError(429, _("Too many requests: try again in "
                                  "%(seconds)d seconds.", seconds=retry),
                           headers={'Retry-After': str(retry)})

    def _count_locally(self, key, window, cost):
        counts = self._local_counts
        for old in [k for k, (w, _c) in counts.items() if w != window]:
            del counts[old]
        window_, count = counts.get(key, (window, 0))
        counts[key] = (window, count + cost)
        return count + cost

    def _media_type(self, req):
        return (req.get_header('Content-Type') or '').split(';')[0] \
            .strip().lower()

    def _read_body(self, req, endpoint):
        """The request's JSON object (`{}` without a body): 413 above
        `api_max_body_size`, 415 for another media type, 400 for what is
        not a JSON object. Safe methods have none; a DELETE has one only
        when its endpoint declares a `request_schema`."""
        if req.method in SAFE_METHODS or (
                req.method in BODY_IF_DECLARED and
                endpoint.request_schema is None):
            return {}
        # From here on the body is read, or refused with the connection
        # closed (413).
        req.environ['tracl.body_read'] = True
        try:
            length = int(req.get_header('Content-Length') or 0)
        except ValueError:
            raise ApiError(400, _("Content-Length is not a number."))
        if length > self.max_body_size:
            raise ApiError(413, _("The request body is larger than "
                                  "%(limit)d bytes.",
                                  limit=self.max_body_size),
                           headers={'Connection': 'close'})
        if length == 0:
            raw = b''
        else:
            raw = req.read(length)
            if self._media_type(req) != 'application/json':
                raise ApiError(415, _("Send the request body as "
                                      "application/json."))
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw.decode('utf-8'))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, _("The request body is not valid JSON."),
                           code='invalid_json')
        if not isinstance(body, dict):
            raise ApiError(400, _("The request body must be a JSON object."),
                           code='invalid_json')
        return body

    def _cors(self, req):
        origin = req.get_header('Origin')
        if origin and origin in self.cors_origins:
            req.send_header('Access-Control-Allow-Origin', origin)
            req.send_header('Vary', 'Origin')

    def _send_preflight(self, req):
        origin = req.get_header('Origin')
        if not origin:  # not a CORS preflight: say what is allowed
            req.send_response(204)
            req.send_header('Allow', 'GET, POST, PUT, DELETE, OPTIONS')
            req.send_header('Content-Length', '0')
            req.end_headers()
            raise RequestDone
        if origin not in self.cors_origins:
            raise ApiError(403, _("This origin may not call the API."),
                           code='origin_not_allowed')
        req.send_response(204)
        req.send_header('Access-Control-Allow-Methods',
                        'GET, POST, PUT, DELETE, OPTIONS')
        req.send_header('Access-Control-Allow-Headers',
                        'Authorization, Content-Type, X-CSRF-Token')
        req.send_header('Access-Control-Max-Age', '600')
        req.send_header('Content-Length', '0')
        req.end_headers()
        raise RequestDone
