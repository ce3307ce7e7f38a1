"""What the production server tells its operators (tracl.server):
request ids, JSON log lines with the request id and the learner's `sub`,
request metrics per route template with latency, errors and cache hits,
embedded CloudWatch metrics, and who may read `/api/v1/metrics`.

Requests go through `RequestObserver` around Trac's real dispatcher, as
under `tracl.server.wsgi`, on SQLite and PostgreSQL.
"""

import io
import json
import logging
import re
import sys

import pytest
from trac.core import Component, implements
from trac.web.api import HTTPException, RequestDone
from trac.web.main import (RequestDispatcher, RequestWithSession,
                           _send_user_error, send_internal_error)

from support.envs import ENABLED
from support.sessions import browser_session
from support.web import Response
from tracl.api import IApiEndpointProvider
from tracl.server.context import current_request
from tracl.server.logs import JsonLogFormatter
from tracl.server.metrics import (METRICS, METRICS_DIR_VARIABLE,
                                  RequestMetrics)
from tracl.server.observer import RequestObserver
from tracl.web.api import Endpoint

LEARNER, ADMIN = 'sub-observed-learner', 'sub-observed-admin'


class FailingEndpoint(Component):
    """An endpoint that always fails, for counting errors (enabled only in
    the environments of the tests that ask for it)."""

    implements(IApiEndpointProvider)

    def get_api_endpoints(self):
        yield Endpoint('GET', '/test-failure/{thing_id:int}', self._fail,
                       'Always fails', auth=False, rate_cost=0)

    def _fail(self, req, call):
        raise RuntimeError("this endpoint always fails")


def trac_application(env):
    """A WSGI application serving `env` as `trac.web.main.dispatch_request`
    serves an environment it opened."""
    def application(environ, start_response):
        req = RequestWithSession(environ, start_response)
        dispatcher = RequestDispatcher(env)
        dispatcher.set_default_callbacks(req)
        try:
            try:
                dispatcher.dispatch(req)
            except RequestDone as done:
                return done.iterable or req._response or []
        except HTTPException as e:
            _send_user_error(req, env, e)
        except Exception:
            send_internal_error(env, req, sys.exc_info())
        return req._response or []
    return application


def send(app, method, path, headers=None, cookies=None,
         remote_addr='127.0.0.1', query=''):
    environ = {
        'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '',
        'QUERY_STRING': query, 'SERVER_NAME': 'localhost',
        'SERVER_PORT': '80', 'REMOTE_ADDR': remote_addr,
        'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(b''),
        'wsgi.errors': sys.stderr, 'CONTENT_LENGTH': '0',
    }
    for name, value in (headers or {}).items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    if cookies:
        environ['HTTP_COOKIE'] = '; '.join('%s=%s' % item
                                           for item in cookies.items())
    started = {}
    written = []

    def start_response(status, response_headers, exc_info=None):
        started['status'] = int(status.split()[0])
        started['headers'] = response_headers
        return written.append

    returned = list(app(environ, start_response))
    return Response(started['status'], started['headers'],
                    b''.join(written + returned))


def observed(env):
    return RequestObserver(trac_application(env), lambda: env)


@pytest.fixture(autouse=True)
def fresh_metrics(monkeypatch):
    """Each test counts from zero, in this process only."""
    monkeypatch.setenv(METRICS_DIR_VARIABLE, '')
    monkeypatch.delenv(METRICS_DIR_VARIABLE)
    METRICS.reset()
    yield METRICS
    METRICS.reset()


def stub_log_handler():
    """The handler of the test environments' shared logger, made with the
    environment (and removed when it is shut down)."""
    return logging.getLogger('trac.test').handlers[0]


def json_lines(handler):
    """The records the handler holds, formatted by its formatter and read
    back as JSON."""
    return [json.loads(handler.format(record)) for record in handler.buffer]


def metric(text, name, **labels):
    """The value of the sample `name{labels}` in Prometheus text, or None."""
    wanted = ','.join('%s="%s"' % item for item in labels.items())
    pattern = r'^%s\{%s\} (\S+)$' % (re.escape(name), re.escape(wanted))
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def scrape(env):
    response = send(observed(env), 'GET', '/api/v1/metrics')
    assert response.status == 200, response
    return response.text


# Request ids

def test_request_without_id_gets_a_new_one_in_the_response(env):
    first = send(observed(env), 'GET', '/api/v1/health')
    second = send(observed(env), 'GET', '/api/v1/health')
    assert first.status == 200
    assert re.match(r'^[0-9a-f]{32}$', first.header('X-Request-Id'))
    assert first.header('X-Request-Id') != second.header('X-Request-Id')


def test_well_formed_incoming_request_id_is_kept(env):
    response = send(observed(env), 'GET', '/api/v1/health',
                    headers={'X-Request-Id': 'c0ffee00-1234-4abc-9def-0a1b'})
    assert response.header('X-Request-Id') == 'c0ffee00-1234-4abc-9def-0a1b'


@pytest.mark.parametrize('incoming', ['short', 'has spaces in it', 'x' * 129,
                                      'id\r\nSet-Cookie: a=b', '<script>xx'])
def test_malformed_incoming_request_id_is_replaced(env, incoming):
    response = send(observed(env), 'GET', '/api/v1/health',
                    headers={'X-Request-Id': incoming})
    assert re.match(r'^[0-9a-f]{32}$', response.header('X-Request-Id'))
    assert len([name for name, _v in response.headers
                if name.lower() == 'x-request-id']) == 1


def test_request_context_ends_with_the_request(env):
    send(observed(env), 'GET', '/api/v1/health')
    assert current_request() is None


# Logs

def test_json_log_lines_carry_request_id_and_learners_sub(
        make_env):
    env = make_env(config=[('learning', 'log_format', 'json')])
    logging.getLogger('trac.test').setLevel(logging.DEBUG)
    cookies = browser_session(env, LEARNER)
    handler = stub_log_handler()
    handler.buffer.clear()
    response = send(observed(env), 'GET', '/api/v1/me', cookies=cookies)
    assert response.status == 200
    request_id = response.header('X-Request-Id')
    lines = json_lines(handler)
    during = [line for line in lines if line['request_id'] == request_id]
    access = [line for line in during if line['status'] is not None]
    assert len(access) == 1
    assert access[0] == dict(
        access[0], level='INFO', sub=LEARNER, path='/api/v1/me',
        method='GET', status=200, route='/api/v1/me')
    assert isinstance(access[0]['duration_ms'], float)
    assert access[0]['logger'].endswith('.access')
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$',
                    access[0]['time'])
    # Trac's own lines written while the request ran carry it too.
    assert any(line['status'] is None and line['path'] == '/api/v1/me'
               for line in during)


def test_log_lines_outside_requests_have_no_request_fields(
        make_env):
    env = make_env(config=[('learning', 'log_format', 'json')])
    send(observed(env), 'GET', '/api/v1/health')
    handler = stub_log_handler()
    handler.buffer.clear()
    env.log.warning("Between requests: %s", 'nothing to see')
    [line] = json_lines(handler)
    assert line['message'] == 'Between requests: nothing to see'
    assert line['level'] == 'WARNING'
    assert line['request_id'] is None and line['sub'] is None


def test_exceptions_are_one_json_line_with_the_traceback(
        make_env):
    env = make_env(enable=ENABLED + [FailingEndpoint.__module__ +
                                     '.FailingEndpoint'],
                   config=[('learning', 'log_format', 'json')])
    handler = stub_log_handler()
    handler.buffer.clear()
    response = send(observed(env), 'GET', '/api/v1/test-failure/7')
    assert response.status == 500
    request_id = response.header('X-Request-Id')
    formatted = [handler.format(r) for r in handler.buffer]
    assert all('\n' not in line for line in formatted)
    failures = [json.loads(line) for line in formatted
                if 'always fails' in line]
    assert failures and failures[0]['request_id'] == request_id
    assert 'RuntimeError' in failures[0]['exception']


def test_text_logs_keep_trac_format_with_request_id_in_access_line(env):
    logging.getLogger('trac.test').setLevel(logging.DEBUG)
    handler = stub_log_handler()
    handler.buffer.clear()
    response = send(observed(env), 'GET', '/api/v1/health')
    [access] = [r for r in handler.buffer
                if r.name.endswith('.access')]
    text = handler.format(access)
    assert 'GET /api/v1/health 200' in text
    assert 'request_id=%s' % response.header('X-Request-Id') in text
    with pytest.raises(ValueError):
        json.loads(text)


def test_access_line_is_an_embedded_metric_document_when_enabled(
        make_env):
    env = make_env(config=[('learning', 'log_format', 'json'),
                           ('learning', 'metrics_namespace', 'TracLearn')])
    cookies = browser_session(env, LEARNER)
    send(observed(env), 'GET', '/api/v1/progress', cookies=cookies)
    handler = stub_log_handler()
    handler.buffer.clear()
    send(observed(env), 'GET', '/api/v1/progress', cookies=cookies)
    [access] = [line for line in json_lines(handler)
                if line['status'] is not None]
    [directive] = access['_aws']['CloudWatchMetrics']
    assert directive['Namespace'] == 'TracLearn'
    assert directive['Dimensions'] == [['route', 'method']]
    names = [m['Name'] for m in directive['Metrics']]
    assert names == ['duration_ms', 'errors', 'cache_hits', 'cache_misses']
    # Every metric and dimension is a member of the line itself.
    for name in names + ['route', 'method']:
        assert name in access
    assert access['route'] == '/api/v1/progress'
    assert access['errors'] == 0
    # The learner's summary was cached by the first call.
    assert access['cache_hits'] >= 1
    assert isinstance(access['_aws']['Timestamp'], int)


def test_no_embedded_metrics_without_a_namespace(make_env):
    env = make_env(config=[('learning', 'log_format', 'json')])
    handler = stub_log_handler()
    handler.buffer.clear()
    send(observed(env), 'GET', '/api/v1/health')
    [access] = [line for line in json_lines(handler)
                if line['status'] is not None]
    assert '_aws' not in access


# Metrics

def test_metrics_count_requests_per_route_template_never_raw_ids(env):
    cookies = browser_session(env, LEARNER)
    app = observed(env)
    for ticket_id in (987654, 987655, 987656):
        assert send(app, 'GET', '/api/v1/progress/%d' % ticket_id,
                    cookies=cookies).status == 404
    send(app, 'GET', '/api/v1/health')
    send(app, 'GET', '/no-such-page-4242')
    text = scrape(env)
    route = '/api/v1/progress/{ticket_id}'
    assert metric(text, 'tracl_http_requests_total', method='GET',
                  route=route, status='404') == 3
    assert metric(text, 'tracl_http_requests_total', method='GET',
                  route='/api/v1/health', status='200') == 1
    assert metric(text, 'tracl_http_requests_total', method='GET',
                  route='unmatched', status='404') == 1
    assert '987654' not in text and '4242' not in text


def test_trac_pages_are_counted_under_their_handler(env):
    assert send(observed(env), 'GET', '/learning').status == 200
    assert metric(scrape(env), 'tracl_http_requests_total', method='GET',
                  route='LearningModule', status='200') == 1


def test_metrics_report_a_latency_histogram_per_route(env):
    app = observed(env)
    for _i in range(4):
        send(app, 'GET', '/api/v1/health')
    text = scrape(env)
    labels = {'method': 'GET', 'route': '/api/v1/health'}
    assert metric(text, 'tracl_http_request_duration_seconds_count',
                  **labels) == 4
    assert metric(text, 'tracl_http_request_duration_seconds_sum',
                  **labels) > 0
    buckets = [float(v) for v in re.findall(
        r'^tracl_http_request_duration_seconds_bucket\{method="GET",'
        r'route="/api/v1/health",le="[^"]+"\} (\S+)$', text, re.MULTILINE)]
    assert buckets == sorted(buckets) and buckets[-1] == 4
    assert '# TYPE tracl_http_request_duration_seconds histogram' in text


def test_errors_are_counted_per_route(make_env):
    env = make_env(enable=ENABLED + [FailingEndpoint.__module__ +
                                     '.FailingEndpoint'])
    app = observed(env)
    assert send(app, 'GET', '/api/v1/test-failure/1').status == 500
    assert send(app, 'GET', '/api/v1/test-failure/2').status == 500
    send(app, 'GET', '/api/v1/health')
    text = scrape(env)
    route = '/api/v1/test-failure/{thing_id}'
    assert metric(text, 'tracl_http_request_errors_total', method='GET',
                  route=route) == 2
    assert metric(text, 'tracl_http_requests_total', method='GET',
                  route=route, status='500') == 2
    assert metric(text, 'tracl_http_request_errors_total', method='GET',
                  route='/api/v1/health') == 0


def test_an_application_that_raises_is_counted_as_an_error():
    def broken(environ, start_response):
        raise RuntimeError("broken")
    app = RequestObserver(broken, lambda: None)
    with pytest.raises(RuntimeError):
        send(app, 'GET', '/anything')
    [series] = METRICS.snapshot()['requests']
    assert (series['route'], series['errors'], series['statuses']) == \
        ('unmatched', 1, {'500': 1})


def test_unknown_methods_share_one_series(env):
    app = observed(env)
    send(app, 'BREW', '/api/v1/health')
    send(app, 'PROPFIND', '/api/v1/health')
    methods = {s['method'] for s in METRICS.snapshot()['requests']}
    assert methods == {'OTHER'}


def test_cache_hit_rate_per_kind_of_key(env):
    cookies = browser_session(env, LEARNER)
    app = observed(env)
    send(app, 'GET', '/api/v1/progress', cookies=cookies)  # computed
    send(app, 'GET', '/api/v1/progress', cookies=cookies)  # cached
    text = scrape(env)
    assert metric(text, 'tracl_cache_lookups_total', kind='api:progress',
                  result='hit') == 1
    assert metric(text, 'tracl_cache_lookups_total', kind='api:progress',
                  result='miss') == 1
    assert metric(text, 'tracl_cache_hit_ratio', kind='api:progress') == 0.5


def test_scrape_adds_up_the_figures_of_every_worker(env, tmp_path,
                                                   monkeypatch):
    monkeypatch.setenv(METRICS_DIR_VARIABLE, str(tmp_path))
    other_worker = RequestMetrics()
    for _i in range(5):
        other_worker.record_request('GET', '/api/v1/health', 200, 0.02)
    other_worker.record_cache_lookup('search', True)
    (tmp_path / '999999.json').write_text(json.dumps(
        other_worker.snapshot()))
    (tmp_path / '999998.json').write_text('{half written')
    send(observed(env), 'GET', '/api/v1/health')
    text = scrape(env)
    assert metric(text, 'tracl_http_requests_total', method='GET',
                  route='/api/v1/health', status='200') == 6
    assert metric(text, 'tracl_cache_lookups_total', kind='search',
                  result='hit') == 1
    assert re.search(r'^tracl_metrics_processes 2$', text, re.MULTILINE)


def test_a_worker_writes_its_figures_for_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv(METRICS_DIR_VARIABLE, str(tmp_path))
    METRICS.record_request('POST', '/api/v1/search', 200, 0.1)
    METRICS.flush()
    [written] = list(tmp_path.glob('*.json'))
    [series] = json.loads(written.read_text())['requests']
    assert (series['method'], series['route'], series['count']) == \
        ('POST', '/api/v1/search', 1)


def test_exited_workers_stay_counted_in_one_file(tmp_path, monkeypatch):
    monkeypatch.setenv(METRICS_DIR_VARIABLE, str(tmp_path))
    for requests in (2, 3):  # two workers, one after the other
        worker = RequestMetrics()
        for _i in range(requests):
            worker.record_request('GET', '/api/v1/health', 200, 0.01)
        worker.flush()
        worker.retire()
    assert sorted(p.name for p in tmp_path.glob('*.json')) == \
        ['retired.json']
    figures, processes = RequestMetrics().collect()
    assert figures['requests'][0]['count'] == 5
    assert processes == 1


# Who may read the metrics

OUTSIDE = '10.1.2.3'


def test_metrics_from_outside_without_credentials_are_401(env):
    response = send(observed(env), 'GET', '/api/v1/metrics',
                    remote_addr=OUTSIDE)
    assert response.status == 401
    assert 'tracl_http' not in response.text
    assert response.header('WWW-Authenticate')


def test_metrics_from_outside_for_a_learner_are_403(env):
    cookies = browser_session(env, LEARNER)
    response = send(observed(env), 'GET', '/api/v1/metrics',
                    cookies=cookies, remote_addr=OUTSIDE)
    assert response.status == 403
    assert 'tracl_http' not in response.text


def test_metrics_from_outside_for_learning_admin_are_served(env):
    cookies = browser_session(env, ADMIN, groups=['Administrators'])
    response = send(observed(env), 'GET', '/api/v1/metrics',
                    cookies=cookies, remote_addr=OUTSIDE)
    assert response.status == 200
    assert response.header('Content-Type').startswith('text/plain')
    assert '# TYPE tracl_http_requests_total counter' in response.text


@pytest.mark.parametrize('remote_addr', ['127.0.0.1', '::1'])
def test_metrics_from_this_host_are_served_without_credentials(
        env, remote_addr):
    response = send(observed(env), 'GET', '/api/v1/metrics',
                    remote_addr=remote_addr)
    assert response.status == 200


@pytest.mark.parametrize('header', ['X-Forwarded-For', 'Forwarded',
                                    'X-Real-IP'])
def test_metrics_forwarded_by_a_proxy_on_this_host_are_401(env, header):
    response = send(observed(env), 'GET', '/api/v1/metrics',
                    headers={header: '203.0.113.9'})
    assert response.status == 401


def test_metrics_endpoint_is_documented_as_text(env):
    document = send(observed(env), 'GET', '/api/v1/openapi.json').json()
    operation = document['paths']['/metrics']['get']
    assert 'content' not in operation['responses']['200']
    assert {'401', '403'} <= set(operation['responses'])


def test_json_formatter_works_without_the_filter():
    """gunicorn's own handler has the formatter only."""
    record = logging.LogRecord('gunicorn.error', logging.INFO, __file__, 1,
                               'Booting worker with pid: %d', (42,), None)
    line = json.loads(JsonLogFormatter().format(record))
    assert line['message'] == 'Booting worker with pid: 42'
    assert line['request_id'] is None and line['status'] is None


def test_cache_lookups_are_counted_through_the_cache_hook(env):
    from tracl.cache import LearningCache
    LearningCache(env).get('search:never-cached:%s' % LEARNER)
    figures, _processes = METRICS.collect()
    assert figures['cache']['search'] == {'hits': 0, 'misses': 1}
