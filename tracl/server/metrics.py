"""Request and cache figures of the production server, and their sum over
its worker processes.

`RequestMetrics` counts requests, errors (5xx) and a latency histogram per
method and route template (`/api/v1/progress/{ticket_id}`, never a raw id),
and cache hits and misses per kind of key. Each process counts its own
requests; under gunicorn (docker/gunicorn.conf.py) workers also write their
figures to `TRACL_METRICS_DIR`, a worker leaving adds its figures to those
of the workers gone before, and a scrape adds up every worker's.

`CacheLookupCounter` hears every `LearningCache` lookup (through
`ICacheLookupListener`) and counts it, in this process's figures and in
those of the request being served.
"""

import fcntl
import json
import os
import threading
import time

from trac.core import Component, implements

from tracl.cache import ICacheLookupListener
from tracl.server.context import current_request

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
                _write_json(retired, merge([before, self.snapshot()]))
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
        return merge(snapshots), processes


def merge(snapshots):
    """The figures of several `RequestMetrics.snapshot()`s added up."""
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


#: The figures of this process.
METRICS = RequestMetrics()


def cache_key_kind(key):
    """The kind of a cache key, its first part (`search`, `progress`,
    ...), with the endpoint for cached API answers (`api:progress`)."""
    parts = str(key).split(':', 2)
    if parts[0] == 'api' and len(parts) > 1:
        return 'api:' + parts[1]
    return parts[0]


def count_cache_lookup(key, hit, metrics=METRICS):
    """Count a lookup of `key` in `metrics` (per kind of key, as Redis
    counts keyspace hits) and in the request being served, if any."""
    metrics.record_cache_lookup(cache_key_kind(key), hit)
    context = current_request()
    if context is not None:
        if hit:
            context.cache_hits += 1
        else:
            context.cache_misses += 1


class CacheLookupCounter(Component):
    """Counts the hits and misses of every `LearningCache` lookup, for
    `GET /api/v1/metrics` and the access lines' embedded metrics. What the
    cache answers is unchanged."""

    implements(ICacheLookupListener)

    # ICacheLookupListener methods

    def cache_looked_up(self, key, hit):
        count_cache_lookup(key, hit)
