"""The server's figures (`tracl.server.metrics`) in Prometheus' text
format 0.0.4, as `GET /api/v1/metrics` serves them."""

from tracl.server.metrics import LATENCY_BUCKETS


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
