"""What the production server tells its operators: a request id, structured
logs and request metrics.

- `RequestObserver`, WSGI middleware put around Trac by `tracl.wsgi`, gives
  every request an id (a well-formed incoming `X-Request-Id`, else a new
  one), sends it back in `X-Request-Id`, makes it and the learner's `sub`
  available to every log line written while the request runs, records the
  request's metrics and writes one access line when it is answered.
- `JsonLogFormatter` writes one JSON object per line (CloudWatch Logs):
  time, level, logger, message, request_id, sub, path, method, status and
  duration_ms; Trac's log uses it when `[learning] log_format = json`.
- `RequestMetrics` counts requests, errors (5xx) and a latency histogram
  per method and route template (`/api/v1/progress/{ticket_id}`, never a
  raw id), and cache hits and misses per kind of key.
  `GET /api/v1/metrics` serves them in Prometheus' text format, to a
  scraper on the same host (loopback) or to LEARNING_ADMIN. Each process
  counts its own requests; under gunicorn (docker/gunicorn.conf.py) workers
  also write their figures to `TRACL_METRICS_DIR`, and a scrape adds up
  every worker's. With `[learning] metrics_namespace` set, every JSON
  access line is also a CloudWatch embedded-metric document, so CloudWatch
  aggregates every worker and task itself.
"""

import contextvars
import datetime
import fcntl
import ipaddress
import json
import logging
import os
import re
import threading
import time
import uuid

from trac.config import ChoiceOption, Option
from trac.core import Component, implements
from trac.util.translation import _
from trac.web.api import IRequestFilter, RequestDone

from tracl.api import IApiEndpointProvider
from tracl.cache import LearningCache
from tracl.web.api import API_PREFIX, ApiError, ApiModule, Endpoint
from tracl.web.openapi import api_errors

#: Where a request's `RequestContext` is kept in the WSGI environ.
CONTEXT_KEY = 'tracl.request'

#: A request id we accept from a client or a proxy (API Gateway sends a
#: UUID); anything else is replaced, so ids are safe in logs and headers.
REQUEST_ID_RE = re.compile(r'^[A-Za-z0-9._:-]{8,128}$')

#: Upper bounds, in seconds, of the latency histogram's buckets (0.3 s is
#: the p95 target of submit and search).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
                   0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

#: Seconds between two writes of a worker's figures to `TRACL_METRICS_DIR`.
METRICS_FLUSH_INTERVAL = 5.0

#: The file holding the figures of the workers that have exited.
RETIRED_FILE = 'retired.json'

#: Environment variable naming the folder where the workers of one server
#: share their figures (set by docker/gunicorn.conf.py).
METRICS_DIR_VARIABLE = 'TRACL_METRICS_DIR'

#: Methods counted under their own name; anything else is `OTHER`, so a
#: client cannot grow the number of series.
KNOWN_METHODS = frozenset(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE',
                           'OPTIONS'])

#: Route of the static files WhiteNoise answers before Trac sees them.
STATIC_ROUTE = '/chrome/*'

#: Route of a request no handler took (404 pages, scanners).
UNMATCHED_ROUTE = 'unmatched'

#: Headers a proxy adds: a request carrying one did not come from this
#: host, whatever its socket's peer address.
_FORWARDING_HEADERS = ('HTTP_X_FORWARDED_FOR', 'HTTP_FORWARDED',
                       'HTTP_X_REAL_IP')

_INT_PARAM_RE = re.compile(r'\{(\w+):int\}')

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


def request_id(incoming=None):
    """`incoming` when it is a well-formed request id, else a new one."""
    if incoming and REQUEST_ID_RE.match(incoming):
        return incoming
    return uuid.uuid4().hex


# Logs

#: The request's fields every log line carries.
CONTEXT_FIELDS = ('request_id', 'sub', 'path', 'method')


class RequestContextFilter(logging.Filter):
    """Writes the fields of the request being served (`CONTEXT_FIELDS`)
    into each record as it is logged, in the request's own thread: a
    handler that formats later, or elsewhere, still has them."""

    def filter(self, record):
        context = current_request()
        for name in CONTEXT_FIELDS:
            setattr(record, name,
                    getattr(context, name) if context is not None else None)
        return True


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the request's context: the shape
    CloudWatch Logs Insights queries by field.

    The request's fields come from `RequestContextFilter` when the handler
    has it, else from the request the formatting thread serves. An access
    line also carries `status`, `duration_ms` and `route`, and the members
    of a CloudWatch embedded-metric document when enabled."""

    def format(self, record):
        entry = {
            'time': datetime.datetime.fromtimestamp(
                record.created, datetime.timezone.utc)
            .isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
            'level': record.levelname,
            'logger': record.name,
            'message': record.getMessage(),
        }
        if hasattr(record, CONTEXT_FIELDS[0]):
            for name in CONTEXT_FIELDS:
                entry[name] = getattr(record, name, None)
        else:
            context = current_request()
            for name in CONTEXT_FIELDS:
                entry[name] = getattr(context, name) \
                    if context is not None else None
        entry['status'] = entry['duration_ms'] = None
        entry.update(getattr(record, 'tracl_fields', None) or {})
        if record.exc_info:
            entry['exception'] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry['stack'] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_json_logs(logger):
    """Make every handler of `logger` write JSON lines with the request's
    fields. Returns the handlers changed."""
    formatter = JsonLogFormatter()
    for handler in logger.handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(f, RequestContextFilter)
                   for f in handler.filters):
            handler.addFilter(RequestContextFilter())
    return list(logger.handlers)


# Metrics

class RequestMetrics(object):
    """Request and cache figures of this process (thread-safe); with
    `TRACL_METRICS_DIR` set, also those the server's other workers wrote
    there."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests = {}
        self._cache = {}
        self._flushed_at = 0.0

    def record_request(self, method, route, status, seconds):
        with self._lock:
            series = self._requests.get((method, route))
            if series is None:
                series = self._requests[(method, route)] = {
                    'statuses': {}, 'errors': 0, 'count': 0, 'sum': 0.0,
                    'buckets': [0] * (len(LATENCY_BUCKETS) + 1)}
            key = str(status)
            series['statuses'][key] = series['statuses'].get(key, 0) + 1
            series['errors'] += status >= 500
            series['count'] += 1
            series['sum'] += seconds
            series['buckets'][_bucket(seconds)] += 1

    def record_cache_lookup(self, kind, hit):
        with self._lock:
            counts = self._cache.setdefault(kind, [0, 0])
            counts[0 if hit else 1] += 1

    def snapshot(self):
        """This process's figures as a JSON-serialisable dict."""
        with self._lock:
            return {
                'requests': [dict(series, method=method, route=route,
                                  statuses=dict(series['statuses']),
                                  buckets=list(series['buckets']))
                             for (method, route), series
                             in self._requests.items()],
                'cache': {kind: {'hits': hits, 'misses': misses}
                          for kind, (hits, misses) in self._cache.items()},
            }

    def reset(self):
        with self._lock:
            self._requests.clear()
            self._cache.clear()

    def maybe_flush(self):
        """Write this worker's figures for the others, at most once every
        `METRICS_FLUSH_INTERVAL` seconds."""
        if os.environ.get(METRICS_DIR_VARIABLE) and \
                time.monotonic() - self._flushed_at >= METRICS_FLUSH_INTERVAL:
            self.flush()

    def flush(self):
        """Write this worker's figures to `TRACL_METRICS_DIR` now."""
        folder = os.environ.get(METRICS_DIR_VARIABLE)
        if not folder:
            return
        self._flushed_at = time.monotonic()
        try:
            _write_json(os.path.join(folder, '%d.json' % os.getpid()),
                        self.snapshot())
        except OSError:
            pass  # metrics are best effort; serving is not affected

    def retire(self):
        """At a worker's exit: add its figures to those of the workers
        gone before (`retired.json`) and remove its own file, so recycled
        workers' requests stay counted and the folder holds one file per
        live worker, plus one."""
        folder = os.environ.get(METRICS_DIR_VARIABLE)
        if not folder:
            return
        retired = os.path.join(folder, RETIRED_FILE)
        try:
            with open(os.path.join(folder, 'retired.lock'), 'w') as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    with open(retired, encoding='utf-8') as f:
                        before = json.load(f)
                except (OSError, ValueError):
                    before = {}
                _write_json(retired, _merge([before, self.snapshot()]))
            os.remove(os.path.join(folder, '%d.json' % os.getpid()))
        except OSError:
            pass

    def collect(self):
        """`(figures, processes)`: the figures of this process, of the
        server's other workers and of its retired ones added up, and how
        many live processes they come from."""
        snapshots = [self.snapshot()]
        processes = 1
        folder = os.environ.get(METRICS_DIR_VARIABLE)
        if folder:
            own = '%d.json' % os.getpid()
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                names = []
            for name in names:
                if name.endswith('.json') and name != own:
                    try:
                        with open(os.path.join(folder, name),
                                  encoding='utf-8') as f:
                            snapshots.append(json.load(f))
                    except (OSError, ValueError):
                        continue  # being replaced, or damaged
                    processes += name != RETIRED_FILE
        return _merge(snapshots), processes


def _write_json(path, value):
    """Write `value` to `path` at once: a reader sees the old file or the
    new one, never half of one."""
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(value, f)
    os.replace(path + '.tmp', path)


def _bucket(seconds):
    for index, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            return index
    return len(LATENCY_BUCKETS)


def _merge(snapshots):
    requests, cache = {}, {}
    for snapshot in snapshots:
        for series in snapshot.get('requests', ()):
            key = (series['method'], series['route'])
            total = requests.get(key)
            if total is None:
                requests[key] = dict(series,
                                     statuses=dict(series['statuses']),
                                     buckets=list(series['buckets']))
                continue
            for status, count in series['statuses'].items():
                total['statuses'][status] = \
                    total['statuses'].get(status, 0) + count
            for name in ('errors', 'count', 'sum'):
                total[name] += series[name]
            total['buckets'] = [a + b for a, b in zip(total['buckets'],
                                                      series['buckets'])]
        for kind, counts in snapshot.get('cache', {}).items():
            total = cache.setdefault(kind, {'hits': 0, 'misses': 0})
            total['hits'] += counts['hits']
            total['misses'] += counts['misses']
    return {'requests': [requests[key] for key in sorted(requests)],
            'cache': {kind: cache[kind] for kind in sorted(cache)}}


#: The figures of this process.
METRICS = RequestMetrics()


def render_prometheus(figures, processes=1):
    """`figures` (`RequestMetrics.collect()`) in Prometheus' text format
    0.0.4."""
    lines = []

    def family(name, kind, doc):
        lines.append('# HELP %s %s' % (name, doc))
        lines.append('# TYPE %s %s' % (name, kind))

    def sample(name, labels, value):
        text = ','.join('%s="%s"' % (k, _label_value(v)) for k, v in labels)
        lines.append('%s{%s} %s' % (name, text, _number(value))
                     if text else '%s %s' % (name, _number(value)))

    requests = figures['requests']
    family('tracl_http_requests_total', 'counter',
           'Requests answered, by method, route template and status.')
    for series in requests:
        labels = [('method', series['method']), ('route', series['route'])]
        for status in sorted(series['statuses']):
            sample('tracl_http_requests_total',
                   labels + [('status', status)], series['statuses'][status])
    family('tracl_http_request_errors_total', 'counter',
           'Requests answered with a 5xx status, by method and route.')
    for series in requests:
        sample('tracl_http_request_errors_total',
               [('method', series['method']), ('route', series['route'])],
               series['errors'])
    family('tracl_http_request_duration_seconds', 'histogram',
           'Time to answer a request, by method and route.')
    for series in requests:
        labels = [('method', series['method']), ('route', series['route'])]
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS + ('+Inf',),
                                series['buckets']):
            cumulative += count
            sample('tracl_http_request_duration_seconds_bucket',
                   labels + [('le', bound)], cumulative)
        sample('tracl_http_request_duration_seconds_sum', labels,
               series['sum'])
        sample('tracl_http_request_duration_seconds_count', labels,
               series['count'])
    family('tracl_cache_lookups_total', 'counter',
           'Cache lookups by kind of key (search, progress, graph, '
           'session, api:ENDPOINT, ...) and result.')
    for kind, counts in figures['cache'].items():
        sample('tracl_cache_lookups_total',
               [('kind', kind), ('result', 'hit')], counts['hits'])
        sample('tracl_cache_lookups_total',
               [('kind', kind), ('result', 'miss')], counts['misses'])
    family('tracl_cache_hit_ratio', 'gauge',
           'Share of cache lookups that found a value, by kind of key.')
    for kind, counts in figures['cache'].items():
        lookups = counts['hits'] + counts['misses']
        sample('tracl_cache_hit_ratio', [('kind', kind)],
               counts['hits'] / lookups if lookups else 0)
    family('tracl_metrics_processes', 'gauge',
           'Server processes whose figures this answer adds up.')
    sample('tracl_metrics_processes', [], processes)
    return '\n'.join(lines) + '\n'


def _label_value(value):
    return str(value).replace('\\', r'\\').replace('"', r'\"') \
        .replace('\n', r'\n')


def _number(value):
    if isinstance(value, float):
        return repr(value)
    return str(value)


# Cache lookups

def cache_key_kind(key):
    """The kind of a cache key, its first part (`search`, `progress`,
    ...), with the endpoint for cached API answers (`api:progress`)."""
    parts = str(key).split(':', 2)
    if parts[0] == 'api' and len(parts) > 1:
        return 'api:' + parts[1]
    return parts[0]


def _count_cache_lookup(key, hit):
    METRICS.record_cache_lookup(cache_key_kind(key), hit)
    context = _current.get()
    if context is not None:
        if hit:
            context.cache_hits += 1
        else:
            context.cache_misses += 1


def count_cache_lookups():
    """Count the hits and misses of `LearningCache.get` and `get_many`
    from now on, in this process, per key (as Redis counts keyspace hits).
    Called once by `RequestObserver`; later calls change nothing. What the
    cache answers is unchanged."""
    if getattr(LearningCache.get, 'counts_lookups', False):
        return
    get, get_many = LearningCache.get, LearningCache.get_many

    def counted_get(self, key):
        value = get(self, key)
        _count_cache_lookup(key, value is not None)
        return value

    def counted_get_many(self, keys):
        keys = list(keys)
        found = get_many(self, keys)
        for key in keys:
            _count_cache_lookup(key, key in found)
        return found

    for wrapper, original in ((counted_get, get),
                              (counted_get_many, get_many)):
        wrapper.__name__ = original.__name__
        wrapper.__doc__ = original.__doc__
        wrapper.counts_lookups = True
    LearningCache.get = counted_get
    LearningCache.get_many = counted_get_many


# Routes

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


# The middleware

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
        count_cache_lookups()

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        context = RequestContext(request_id(environ.get('HTTP_X_REQUEST_ID')),
                                 environ.get('REQUEST_METHOD') or 'GET',
                                 environ.get('PATH_INFO') or '/')
        environ[CONTEXT_KEY] = context
        environ['tracl.request_id'] = context.request_id
        token = _current.set(context)
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
                _current.reset(token)

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


# The component

class RequestObservability(Component):
    """Structured logs and request metrics of the production server
    (`tracl.wsgi`): the request's learner and handler for its log lines and
    metrics, the access line of each request and `GET /api/v1/metrics`."""

    implements(IApiEndpointProvider, IRequestFilter)

    log_format = ChoiceOption('learning', 'log_format', ['text', 'json'],
        """How Trac's log lines are written: `text` (Trac's own format) or
        `json`, one JSON object per line with the request id and the
        learner's `sub`, for CloudWatch Logs. The production server
        (`tracl.wsgi`) adds an access line per request either way.""")

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

    # IApiEndpointProvider methods

    def get_api_endpoints(self):
        yield Endpoint('GET', '/metrics', self._metrics,
                       'Request and cache metrics (Prometheus text format)',
                       auth=False, rate_cost=0,
                       responses={200: {'description':
                                        'Prometheus text format 0.0.4'}})

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

    @api_errors(**{'401': 'Not on this host: sign in as LEARNING_ADMIN',
                   '403': 'Signed in without LEARNING_ADMIN'})
    def _metrics(self, req, call):
        self._check_scraper(req, call)
        figures, processes = METRICS.collect()
        body = render_prometheus(figures, processes).encode('utf-8')
        req.send_response(200)
        req.send_header('Content-Type',
                        'text/plain; version=0.0.4; charset=utf-8')
        req.send_header('Cache-Control', 'no-store')
        req.send_header('Content-Length', len(body))
        req.end_headers()
        if req.method != 'HEAD':
            req.write(body)
        raise RequestDone

    def _check_scraper(self, req, call):
        """Metrics go to a scraper on this host (a sidecar in the same ECS
        task reaches the server over loopback; nothing from outside does:
        the load balancer's address is never loopback, and a request a
        proxy forwarded is refused) or to LEARNING_ADMIN."""
        if _from_this_host(req.environ):
            return
        if call.sub is None:
            raise ApiError(401, _("Metrics are for scrapers on this host "
                                  "and for LEARNING_ADMIN: sign in."),
                           headers={'WWW-Authenticate':
                                    'Bearer realm="TracLearn"'})
        if 'LEARNING_ADMIN' not in req.perm:
            raise ApiError(403, _("Only LEARNING_ADMIN may read the "
                                  "metrics."))


def _from_this_host(environ):
    """Whether the connection comes from this host and no proxy forwarded
    it. The socket's peer (`REMOTE_ADDR`) is used, never `X-Forwarded-For`,
    which a client can write."""
    if any(environ.get(header) for header in _FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(environ.get('REMOTE_ADDR') or '') \
            .is_loopback
    except ValueError:
        return False
