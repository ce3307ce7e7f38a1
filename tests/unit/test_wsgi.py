"""The production server (tracl.server.wsgi, docker/gunicorn.conf.py): pages,
the API and static files through `tracl.server.wsgi.application` against a
throwaway environment on disk (SQLite), JSON logs, the environment opened
once and the embedding model preloaded, PostgreSQL TLS settings, the gunicorn
settings, and gunicorn itself serving the environment.
"""

import io
import json
import os
import re
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from trac.admin.api import AdminCommandManager
from trac.db.api import parse_connection_uri
from trac.env import Environment, env_cache

from support.sessions import browser_session
from support.web import Response
from tracl.auth.emulator import free_port
from tracl.server.metrics import METRICS, METRICS_DIR_VARIABLE
from tracl.web.resources import resource_dir
from tracl.server.wsgi import (DEFAULT_STATIC_MAX_AGE, STATIC_DIR_VARIABLE,
                        STATIC_MAX_AGE_VARIABLE, TracApplication,
                        export_libpq_settings, libpq_settings)

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO_ROOT / 'docker' / 'gunicorn.conf.py'
DEFAULT_PG_URI = 'postgres://postgres@127.0.0.1:5432/postgres'

LEARNER = 'sub-wsgi-learner'

#: Seconds gunicorn may take to answer its first health check.
GUNICORN_START_TIMEOUT = 30.0

TRACL_CSS = os.path.join(resource_dir('htdocs'), 'css', 'tracl.css')


def send(app, method, path, headers=None, cookies=None):
    """Call the WSGI application `app` as a server would."""
    environ = {
        'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '',
        'QUERY_STRING': '', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
        'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(b''),
        'wsgi.errors': sys.stderr, 'wsgi.run_once': False,
        'wsgi.multithread': True, 'wsgi.multiprocess': True,
        'CONTENT_LENGTH': '0',
    }
    for name, value in (headers or {}).items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    if cookies:
        environ['HTTP_COOKIE'] = '; '.join('%s=%s' % item
                                           for item in cookies.items())
    started, written = {}, []

    def start_response(status, response_headers, exc_info=None):
        started['status'] = int(status.split()[0])
        started['headers'] = response_headers
        return written.append

    returned = app(environ, start_response)
    try:
        body = b''.join(written + list(returned))
    finally:
        if hasattr(returned, 'close'):
            returned.close()
    return Response(started['status'], started['headers'], body)


def metric(text, name, **labels):
    """The value of the sample `name{labels}` in Prometheus text, or None."""
    wanted = ','.join('%s="%s"' % item for item in labels.items())
    match = re.search(r'^%s\{%s\} (\S+)$' % (re.escape(name),
                                            re.escape(wanted)),
                      text, re.MULTILINE)
    return float(match.group(1)) if match else None


def trac_htdocs_file(*parts):
    import trac
    return os.path.join(os.path.dirname(trac.__file__), 'htdocs', *parts)


@pytest.fixture(scope='module')
def env_path(tmp_path_factory):
    """A new environment on disk, as an administrator makes one, logging
    JSON lines to its log file; shut down and forgotten afterwards."""
    path = str(tmp_path_factory.mktemp('wsgi') / 'env')
    Environment(path, create=True, options=[
        ('components', 'tracl.*', 'enabled'),
        ('logging', 'log_type', 'file'),
        ('logging', 'log_level', 'INFO'),
        ('learning', 'log_format', 'json'),
    ]).shutdown()
    yield path
    env = env_cache.pop(path, None)
    if env is not None:
        env.shutdown()


@pytest.fixture(scope='module')
def app(env_path):
    return TracApplication(env_path)


@pytest.fixture(autouse=True)
def fresh_metrics(monkeypatch):
    unset(monkeypatch, METRICS_DIR_VARIABLE, STATIC_DIR_VARIABLE,
          STATIC_MAX_AGE_VARIABLE)
    METRICS.reset()
    yield
    METRICS.reset()


def unset(monkeypatch, *names):
    """Remove environment variables for the test; whatever the code under
    test sets them to is removed afterwards too."""
    for name in names:
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)


def log_lines(env_path):
    """The JSON lines of the environment's log (Trac writes its startup
    line before the format applies)."""
    lines = []
    with open(os.path.join(env_path, 'log', 'trac.log'),
              encoding='utf-8') as f:
        for line in f:
            if line.startswith('{'):
                lines.append(json.loads(line))
    return lines


# Pages, API, static files

def test_page_is_served_with_a_request_id(app):
    response = send(app, 'GET', '/learning')
    assert response.status == 200
    assert 'My learning' in response.text
    assert re.match(r'^[0-9a-f]{32}$', response.header('X-Request-Id'))


def test_api_call_is_served_and_echoes_the_request_id(app):
    response = send(app, 'GET', '/api/v1/health',
                    headers={'X-Request-Id': 'gateway-request-0001'})
    assert response.status == 200
    assert response.json()['checks']['database'] == 'ok'
    assert response.header('X-Request-Id') == 'gateway-request-0001'


@pytest.mark.parametrize('url, source', [
    ('/chrome/tracl/css/tracl.css', TRACL_CSS),
    ('/chrome/common/css/trac.css', trac_htdocs_file('css', 'trac.css')),
    ('/chrome/common/js/jquery.js', trac_htdocs_file('js', 'jquery.js')),
])
def test_static_files_are_served_before_trac_with_cache_headers(
        app, url, source):
    response = send(app, 'GET', url)
    assert response.status == 200
    with open(source, 'rb') as f:
        assert response.body == f.read()
    assert response.header('Cache-Control') == \
        'max-age=%d, public' % DEFAULT_STATIC_MAX_AGE
    assert response.header('X-Request-Id')
    etag = response.header('ETag')
    again = send(app, 'GET', url, headers={'If-None-Match': etag})
    assert again.status == 304 and again.body == b''
    # Trac's own handler would be counted as `Chrome`.
    [series] = METRICS.snapshot()['requests']
    assert series['route'] == '/chrome/*' and series['count'] == 2


def test_missing_static_file_is_left_to_trac(app):
    response = send(app, 'GET', '/chrome/tracl/css/no-such-file.css')
    assert response.status == 404
    assert response.header('Cache-Control') != \
        'max-age=%d, public' % DEFAULT_STATIC_MAX_AGE


def test_static_max_age_comes_from_the_environment(env_path, monkeypatch):
    monkeypatch.setenv(STATIC_MAX_AGE_VARIABLE, '60')
    response = send(TracApplication(env_path), 'GET',
                    '/chrome/tracl/css/tracl.css')
    assert response.header('Cache-Control') == 'max-age=60, public'


def test_static_files_come_from_a_deployed_folder_when_named(
        app, env_path, tmp_path, monkeypatch):
    send(app, 'GET', '/api/v1/health')  # the environment is open
    deployed = tmp_path / 'deploy'
    AdminCommandManager(env_cache[env_path]).execute_command(
        'deploy', str(deployed))
    copy = deployed / 'htdocs' / 'tracl' / 'css' / 'tracl.css'
    copy.write_text(copy.read_text() + '\n/* deployed copy */\n')
    monkeypatch.setenv(STATIC_DIR_VARIABLE, str(deployed))
    response = send(TracApplication(env_path), 'GET',
                    '/chrome/tracl/css/tracl.css')
    assert response.status == 200
    assert response.text.endswith('/* deployed copy */\n')


# Logs

def test_json_log_lines_of_a_request_carry_its_id_and_the_learner(
        app, env_path):
    send(app, 'GET', '/api/v1/health')  # the environment is open
    cookies = browser_session(env_cache[env_path], LEARNER)
    response = send(app, 'GET', '/api/v1/me', cookies=cookies)
    assert response.status == 200
    request_id = response.header('X-Request-Id')
    [access] = [line for line in log_lines(env_path)
                if line['request_id'] == request_id and line['status']]
    assert (access['sub'], access['route'], access['status'],
            access['method'], access['path']) == \
        (LEARNER, '/api/v1/me', 200, 'GET', '/api/v1/me')


# One environment per process, the model loaded before the first request

def test_preload_opens_the_environment_requests_use_and_loads_the_model(
        env_path):
    from tracl.embedding.local import _models
    app = TracApplication(env_path)
    env = app.preload()
    assert env is env_cache[env_path]
    assert _models, "the local embedding model is loaded"
    send(app, 'GET', '/api/v1/health')
    assert env_cache[env_path] is env
    ready = [line for line in log_lines(env_path)
             if line['message'].startswith('Worker %d ready' % os.getpid())]
    assert ready and 'all-MiniLM-L6-v2' in ready[-1]['message']


def test_preload_without_trac_env_says_what_to_set(monkeypatch):
    unset(monkeypatch, 'TRAC_ENV')
    with pytest.raises(RuntimeError, match='TRAC_ENV'):
        TracApplication().preload()


def test_environment_that_cannot_be_opened_is_answered_and_retried(
        tmp_path):
    app = TracApplication(str(tmp_path / 'not-an-environment'))
    response = send(app, 'GET', '/api/v1/health')
    assert response.status == 500
    assert response.header('X-Request-Id')
    assert app._app is None  # built on a later request


# PostgreSQL TLS

def test_libpq_settings_of_a_postgres_uri():
    uri = ('postgres://app:secret@db.example.org:5432/trac?schema=learn'
           '&sslmode=verify-full&sslrootcert=/etc/ssl/rds-ca.pem'
           '&connect_timeout=5')
    assert libpq_settings(uri) == {'PGSSLMODE': 'verify-full',
                                   'PGSSLROOTCERT': '/etc/ssl/rds-ca.pem',
                                   'PGCONNECT_TIMEOUT': '5'}
    assert libpq_settings('sqlite:db/trac.db') == {}
    assert libpq_settings('postgres://app@db/trac') == {}
    assert libpq_settings('not a uri') == {}


def write_trac_ini(folder, database):
    (folder / 'conf').mkdir(parents=True)
    (folder / 'conf' / 'trac.ini').write_text(
        '[trac]\ndatabase = %s\n' % database)


def test_export_keeps_libpq_variables_already_set(tmp_path, monkeypatch):
    write_trac_ini(tmp_path, 'postgres://app@db/trac?sslmode=require'
                             '&sslrootcert=/ca.pem')
    monkeypatch.setenv('PGSSLMODE', 'verify-full')
    unset(monkeypatch, 'PGSSLROOTCERT')
    assert export_libpq_settings(str(tmp_path)) == ['PGSSLROOTCERT']
    assert os.environ['PGSSLMODE'] == 'verify-full'
    assert os.environ['PGSSLROOTCERT'] == '/ca.pem'


@pytest.mark.postgres
def test_sslmode_reaches_postgresql_only_once_exported(tmp_path,
                                                       monkeypatch):
    import psycopg2
    from trac.db.postgres_backend import PostgreSQLConnection
    server = os.environ.get('TRACL_TEST_PG_URI', DEFAULT_PG_URI)
    uri = server + '?sslmode=require'
    unset(monkeypatch, 'PGSSLMODE')
    _scheme, properties = parse_connection_uri(uri)
    # Trac 1.6 drops the URI's sslmode: this connects without TLS.
    cnx = PostgreSQLConnection(**properties)
    try:
        cursor = cnx.cursor()
        cursor.execute("SHOW ssl")
        [ssl] = cursor.fetchone()
    finally:
        cnx.close()
    if ssl == 'on':
        pytest.skip("the test server speaks TLS: a refusal cannot be seen")
    write_trac_ini(tmp_path, uri)
    assert export_libpq_settings(str(tmp_path)) == ['PGSSLMODE']
    with pytest.raises(psycopg2.OperationalError, match='SSL'):
        PostgreSQLConnection(**properties)


# gunicorn settings

def gunicorn_settings(monkeypatch, **variables):
    unset(monkeypatch, 'WEB_CONCURRENCY', 'GUNICORN_THREADS', 'PORT',
          'TRAC_DB_POOL_SIZE', 'MAX_REQUESTS', 'GUNICORN_TIMEOUT',
          'LOG_FORMAT', 'FORWARDED_ALLOW_IPS')
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_gunicorn_defaults_suit_two_vcpus(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert (settings['workers'], settings['threads'],
            settings['worker_class']) == (2, 8, 'gthread')
    assert settings['bind'] == '0.0.0.0:8000'
    assert settings['max_requests'] == 5000
    assert settings['max_requests_jitter'] == 500
    assert settings['preload_app'] is False
    assert settings['accesslog'] is None
    assert settings['keepalive'] > 60  # the load balancer's idle timeout
    # One database connection per request thread, no more.
    assert os.environ['TRAC_DB_POOL_SIZE'] == '8'
    assert 2 * 8 <= settings['DATABASE_CONNECTIONS_FOR_SERVICE'] < 200
    assert callable(settings['post_fork'])


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    settings = gunicorn_settings(monkeypatch, WEB_CONCURRENCY='3',
                                 GUNICORN_THREADS='4', PORT='9100',
                                 LOG_FORMAT='text')
    assert (settings['workers'], settings['threads']) == (3, 4)
    assert settings['bind'] == '0.0.0.0:9100'
    assert os.environ['TRAC_DB_POOL_SIZE'] == '4'
    assert 'logconfig_dict' not in settings


def test_gunicorn_refuses_a_worker_count_that_is_not_a_number(monkeypatch):
    with pytest.raises(RuntimeError, match='WEB_CONCURRENCY'):
        gunicorn_settings(monkeypatch, WEB_CONCURRENCY='two')


def test_trac_sizes_its_connection_pool_from_the_environment():
    """What the gunicorn settings rely on (trac/db/pool.py)."""
    output = subprocess.run(
        [sys.executable, '-c', 'import trac.db.pool as p; '
         'print(p._backend._maxsize)'],
        env=dict(os.environ, TRAC_DB_POOL_SIZE='7'), capture_output=True,
        text=True, timeout=60, check=True).stdout
    assert output.strip() == '7'


# gunicorn itself

def gunicorn_script():
    path = os.path.join(os.path.dirname(sys.executable), 'gunicorn')
    if not os.path.exists(path):
        pytest.fail("gunicorn is not installed beside %s: install "
                    "TracLearn with its test extras" % sys.executable)
    return path


@pytest.mark.slow
def test_gunicorn_serves_the_environment(env_path, tmp_path):
    port = free_port()
    variables = {name: value for name, value in os.environ.items()
                 if name not in (METRICS_DIR_VARIABLE, 'TRAC_DB_POOL_SIZE')}
    variables.update(TRAC_ENV=env_path, PORT=str(port), WEB_CONCURRENCY='1',
                     GUNICORN_THREADS='2')
    output_path = tmp_path / 'gunicorn.log'
    with open(output_path, 'wb') as output:
        server = subprocess.Popen(
            [gunicorn_script(), '-c', str(GUNICORN_CONF),
             'tracl.server.wsgi:application'], cwd=str(tmp_path), env=variables,
            stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    base = 'http://127.0.0.1:%d' % port
    try:
        deadline = time.monotonic() + GUNICORN_START_TIMEOUT
        while True:
            try:
                # A worker still booting answers late: wait for it rather
                # than send a second request.
                health = httpx.get(base + '/api/v1/health',
                                   timeout=GUNICORN_START_TIMEOUT)
                break
            except httpx.HTTPError:
                if server.poll() is not None or \
                        time.monotonic() > deadline:
                    pytest.fail("gunicorn did not answer:\n" +
                                output_path.read_text())
                time.sleep(0.2)
        assert health.status_code == 200
        assert health.json()['checks']['database'] == 'ok'
        assert re.match(r'^[0-9a-f]{32}$', health.headers['X-Request-Id'])
        css = httpx.get(base + '/chrome/tracl/css/tracl.css', timeout=5.0)
        assert css.status_code == 200
        assert css.headers['Cache-Control'] == \
            'max-age=%d, public' % DEFAULT_STATIC_MAX_AGE
        metrics = httpx.get(base + '/api/v1/metrics', timeout=5.0).text
        assert metric(metrics, 'tracl_http_requests_total', method='GET',
                      route='/api/v1/health', status='200') == 1
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, output_path.read_text()
    gunicorn_lines = [json.loads(line) for line in
                      output_path.read_text().splitlines()
                      if line.startswith('{')]
    booted = [re.search(r'Booting worker with pid: (\d+)', line['message'])
              for line in gunicorn_lines]
    [worker] = [match.group(1) for match in booted if match]
    ready = [line for line in log_lines(env_path)
             if line['message'].startswith('Worker %s ready' % worker)]
    assert ready and 'all-MiniLM-L6-v2' in ready[0]['message']
