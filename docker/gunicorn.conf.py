"""gunicorn settings of the production server (one ECS task, 2 vCPU):

    TRAC_ENV=/srv/trac gunicorn -c docker/gunicorn.conf.py \\
        tracl.server.wsgi:application

Set from the environment:

    PORT                 8000   listens on 0.0.0.0:PORT
    WEB_CONCURRENCY      2      worker processes (one per vCPU)
    GUNICORN_THREADS     8      request threads per worker (gthread)
    GUNICORN_TIMEOUT     60     seconds a worker may stay silent before it
                                is restarted
    MAX_REQUESTS         5000   requests before a worker is replaced (plus
                                up to 10% jitter, so workers do not all
                                restart together)
    TRAC_DB_POOL_SIZE    = GUNICORN_THREADS: database connections a worker
                                may hold (see below)
    LOG_FORMAT           json   gunicorn's own lines as JSON (`text`: its
                                usual format); Trac's lines follow
                                `[learning] log_format`
    FORWARDED_ALLOW_IPS  127.0.0.1  proxies trusted for X-Forwarded-Proto
                                ('*' behind the load balancer, which is
                                the only way in)

Database connections. Trac 1.6 keeps one connection pool per process
(trac/db/pool.py), of at most TRAC_DB_POOL_SIZE connections (10 when
unset), read when Trac is imported. A request thread holds at most one
connection, and a thread that finds the pool spent waits for one with no
time limit: so the pool is as large as the threads, and no larger.
A task opens at most WEB_CONCURRENCY x TRAC_DB_POOL_SIZE connections
(2 x 8 = 16). RDS allows 200 (our parameter group), keeps 3 for its superusers, and
`trac-admin` tasks, migrations and monitoring need about 10: 187 for the
service, which is 11 tasks at most, or 5 when a rolling deployment may run
twice the tasks for a while (maximumPercent 200). Idle connections are
closed after 2 minutes.

The master imports Trac's plugins once (`on_starting`), but opens nothing:
workers are started without the application loaded (`preload_app` off), so
every worker opens its own database connections and onnxruntime session.
`post_fork` opens the environment and loads the embedding model in each
new worker before its first request. Request
metrics of all workers meet in a temporary folder (`TRACL_METRICS_DIR`).
"""

import os
import shutil
import tempfile


def _setting(name, default):
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        raise RuntimeError("%s must be a whole number, not %r"
                           % (name, os.environ[name]))
    if value < 1:
        raise RuntimeError("%s must be at least 1, not %d" % (name, value))
    return value


#: What RDS allows (our parameter group), less its superusers' 3 and about 10 for
#: trac-admin tasks, migrations and monitoring.
DATABASE_CONNECTIONS_FOR_SERVICE = 200 - 3 - 10

workers = _setting('WEB_CONCURRENCY', 2)
threads = _setting('GUNICORN_THREADS', 8)
worker_class = 'gthread'
bind = '0.0.0.0:%d' % _setting('PORT', 8000)

# Trac reads the pool size when it is first imported: set it before.
os.environ.setdefault('TRAC_DB_POOL_SIZE', str(threads))
database_pool_size = _setting('TRAC_DB_POOL_SIZE', threads)

timeout = _setting('GUNICORN_TIMEOUT', 60)
# ECS stops a task with SIGTERM and kills it 30 s later.
graceful_timeout = 25
# Longer than the load balancer's idle timeout (60 s), so the balancer
# closes idle connections first and never sends on a closing one (502).
keepalive = 75
max_requests = _setting('MAX_REQUESTS', 5000)
max_requests_jitter = max(1, max_requests // 10)

preload_app = False
# No runtime control socket: a task is changed by deploying it again.
control_socket_disable = True
# Heartbeat files in memory rather than on the container's overlay disk.
worker_tmp_dir = '/dev/shm' if os.path.isdir('/dev/shm') else None
forwarded_allow_ips = os.environ.get('FORWARDED_ALLOW_IPS', '127.0.0.1')

# The application writes one access line per request, with the request id
# and the learner (tracl.server.access_log): gunicorn's own is off.
accesslog = None
errorlog = '-'
if os.environ.get('LOG_FORMAT', 'json') == 'json':
    logconfig_dict = {
        'version': 1,
        'disable_existing_loggers': False,
        # Trac's log has its own handler: nothing more at the root, so no
        # line is written twice.
        'root': {'level': 'WARNING', 'handlers': []},
        'loggers': {
            'gunicorn.error': {'level': 'INFO', 'handlers': ['stderr'],
                               'propagate': False,
                               'qualname': 'gunicorn.error'},
            'gunicorn.access': {'level': 'CRITICAL', 'handlers': [],
                                'propagate': False,
                                'qualname': 'gunicorn.access'},
        },
        'handlers': {'stderr': {'class': 'logging.StreamHandler',
                                'formatter': 'json',
                                'stream': 'ext://sys.stderr'}},
        'formatters': {'json': {
            '()': 'tracl.server.logs.JsonLogFormatter'}},
    }

_created_metrics_dir = None


def on_starting(server):
    global _created_metrics_dir
    from tracl.server.wsgi import import_plugins
    import_plugins()
    if not os.environ.get('TRACL_METRICS_DIR'):
        _created_metrics_dir = tempfile.mkdtemp(prefix='tracl-metrics-')
        os.environ['TRACL_METRICS_DIR'] = _created_metrics_dir
    connections = workers * database_pool_size
    server.log.info("%d workers x %d threads; at most %d database "
                    "connections (%d per worker); the service may run %d "
                    "such tasks on a 200-connection RDS", workers, threads,
                    connections, database_pool_size,
                    DATABASE_CONNECTIONS_FOR_SERVICE // connections)
    if database_pool_size < threads:
        server.log.warning("TRAC_DB_POOL_SIZE (%d) is below "
                           "GUNICORN_THREADS (%d): threads will wait for "
                           "database connections", database_pool_size,
                           threads)


def post_fork(server, worker):
    from tracl.server.wsgi import application
    application.preload()


def worker_exit(server, worker):
    from tracl.server.metrics import METRICS
    METRICS.retire()


def on_exit(server):
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
