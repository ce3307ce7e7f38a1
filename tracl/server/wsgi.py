"""The production WSGI entry point: `tracl.server.wsgi:application` serves
the Trac environment named by the `TRAC_ENV` environment variable, with
TracLearn.

    TRAC_ENV=/srv/trac gunicorn -c docker/gunicorn.conf.py \\
        tracl.server.wsgi:application

Around Trac's own `dispatch_request`:

- static resources under `/chrome/` (Trac's `common/`, TracLearn's
  `tracl/`, every plugin's and the environment's `site/`) are answered by
  WhiteNoise from a listing made once per process, with `Cache-Control`,
  `ETag` and `Last-Modified`, before Trac sees the request. They come from
  `TRACL_STATIC_DIR/htdocs` when that variable names the output of
  `trac-admin ENV deploy DIR` (which may also hold gzip and Brotli variants
  made with `python -m whitenoise.compress DIR/htdocs`), else straight from
  the folders the plugins declare. Trac's URLs carry no version, so browsers
  keep a file `STATIC_MAX_AGE` seconds (default one hour) and then
  revalidate it;
- `tracl.server.observer.RequestObserver` gives each request its id
  (`X-Request-Id`), log context and metrics;
- the environment is opened once per process and kept in Trac's cache of
  environments; `TracApplication.preload()`, called by gunicorn's
  `post_fork` hook in each worker, opens it and warms the configured
  embedder up (the local model is loaded) before the worker's first
  request.

PostgreSQL over TLS: Trac 1.6 hands libpq only the host, port, user,
password and database of `[trac] database`; other settings of the URI
(`?sslmode=require`) are parsed and dropped. libpq reads them from its
environment variables instead (`PGSSLMODE`, `PGSSLROOTCERT`, ...), so before
the environment is opened the URI's settings are exported to them, unless
the variable is already set. `trac-admin` does not do this: give it the
variables themselves (`PGSSLMODE=verify-full PGSSLROOTCERT=...`).
"""

import gc
import os
import sys
import threading
import time

from trac.config import Configuration
from trac.db.api import parse_connection_uri
from trac.env import env_cache, open_environment
from trac.web.main import dispatch_request
from whitenoise import WhiteNoise

from tracl.server.access_log import RequestObservability
from tracl.server.observer import RequestObserver

#: Environment variable naming the Trac environment to serve.
ENV_VARIABLE = 'TRAC_ENV'

#: Environment variable naming a `trac-admin ENV deploy` output folder.
STATIC_DIR_VARIABLE = 'TRACL_STATIC_DIR'

#: Environment variable holding the static files' `max-age`, in seconds.
STATIC_MAX_AGE_VARIABLE = 'STATIC_MAX_AGE'

#: One hour: long enough to spare repeated downloads within a study
#: session; Trac's static URLs carry no version, so a longer life would
#: keep old scripts after an upgrade.
DEFAULT_STATIC_MAX_AGE = 3600

#: Settings of a `postgres://` URI that Trac 1.6 does not pass to libpq,
#: and the libpq environment variables that carry them.
LIBPQ_VARIABLES = {
    'sslmode': 'PGSSLMODE',
    'sslrootcert': 'PGSSLROOTCERT',
    'sslcert': 'PGSSLCERT',
    'sslkey': 'PGSSLKEY',
    'sslcrl': 'PGSSLCRL',
    'connect_timeout': 'PGCONNECT_TIMEOUT',
}


def libpq_settings(database_uri):
    """The libpq environment variables for the settings of
    `database_uri` that Trac drops, as a dict (empty for SQLite)."""
    try:
        scheme, properties = parse_connection_uri(database_uri)
    except Exception:
        return {}  # Trac reports a bad URI itself when it opens the env
    if scheme != 'postgres':
        return {}
    return {LIBPQ_VARIABLES[name]: value
            for name, value in properties.get('params', {}).items()
            if name in LIBPQ_VARIABLES}


def export_libpq_settings(env_path):
    """Export the libpq settings of the environment's `[trac] database`
    (see the module's documentation); variables already set win. Returns
    the names exported."""
    config = Configuration(os.path.join(env_path, 'conf', 'trac.ini'))
    exported = []
    for name, value in libpq_settings(config.get('trac', 'database')).items():
        if name not in os.environ:
            os.environ[name] = value
            exported.append(name)
    return exported


def import_plugins():
    """Import Trac's plugins and resolve their requirements as Trac does
    when it opens an environment, without opening one. gunicorn's master
    calls this before it forks: each worker then starts with them imported
    (it opens the environment in about a second rather than eight, mostly
    spent by pkg_resources) and shares their memory with the others."""
    from pkg_resources import working_set
    for entry in working_set.iter_entry_points('trac.plugins'):
        try:
            entry.load(require=True)
        except Exception:
            pass  # Trac logs it when the environment loads its plugins
    # What is loaded now lives as long as the process: out of the
    # collector's sight, so its scans do not copy the shared pages.
    gc.collect()
    gc.freeze()


def static_folders(env):
    """`(URL prefix, folder)` of the static files to serve, in the order to
    add them to WhiteNoise (a later folder wins a URL both have)."""
    deployed = os.environ.get(STATIC_DIR_VARIABLE)
    if deployed:
        return [('/chrome/', os.path.join(deployed, 'htdocs'))]
    from trac.web.chrome import Chrome
    folders = []
    for provider in Chrome(env).template_providers:
        for prefix, folder in provider.get_htdocs_dirs() or ():
            if folder and os.path.isdir(folder):
                folders.append(('/chrome/%s/' % prefix, folder))
    # Trac serves a file from the first provider that has it: add that
    # provider last.
    return folders[::-1]


def static_max_age():
    try:
        return max(0, int(os.environ.get(STATIC_MAX_AGE_VARIABLE,
                                         DEFAULT_STATIC_MAX_AGE)))
    except ValueError:
        return DEFAULT_STATIC_MAX_AGE


class TracApplication(object):
    """The WSGI application of one Trac environment (see the module's
    documentation). Built on its first use, so importing this module opens
    nothing; a build that fails (the database is down) is tried again on
    the next request, which Trac meanwhile answers with its error page."""

    def __init__(self, env_path=None):
        self._env_path = env_path
        self._app = None
        self._lock = threading.Lock()
        self._exported = False

    @property
    def env_path(self):
        path = self._env_path or os.environ.get(ENV_VARIABLE)
        if not path:
            raise RuntimeError("Set %s to the folder of the Trac environment "
                               "to serve." % ENV_VARIABLE)
        return os.path.abspath(path)

    def __call__(self, environ, start_response):
        app = self._app
        if app is None:
            try:
                app = self._build()
            except Exception:
                # Without static files for now; Trac answers (or shows why
                # the environment cannot be opened).
                app = RequestObserver(self.dispatch, self.cached_env)
        return app(environ, start_response)

    def open_env(self):
        """The environment, opened once per process (Trac's cache, shared
        with `dispatch_request`)."""
        if not self._exported:
            self._exported = True
            export_libpq_settings(self.env_path)
        return open_environment(self.env_path, use_cache=True)

    def cached_env(self):
        """The environment if this process has opened it, else None."""
        return env_cache.get(self.env_path)

    def dispatch(self, environ, start_response):
        environ['trac.env_path'] = self.env_path
        return dispatch_request(environ, start_response)

    def preload(self):
        """Open the environment and warm the embedder up now, in this
        worker, before its first request. A failure is logged and left for
        the requests to meet (the health check says what is down); only a
        missing `TRAC_ENV` raises."""
        path = self.env_path
        started = time.perf_counter()
        try:
            env = self.open_env()
            self._build()
        except Exception as e:
            _stderr("tracl.server.wsgi: could not open the Trac environment %s in "
                    "worker %d: %s" % (path, os.getpid(), e))
            return None
        opened = time.perf_counter() - started
        try:
            description = warm_up_embedder(env)
        except Exception as e:
            env.log.warning("Worker %d could not load the embedding model; "
                            "it will try again when it needs it: %s",
                            os.getpid(), e)
            return env
        env.log.info("Worker %d ready: environment opened in %.2f s, %s in "
                     "%.2f s", os.getpid(), opened,
                     description or 'no embedding model to load',
                     time.perf_counter() - started - opened)
        return env

    def _build(self):
        with self._lock:
            if self._app is None:
                env = self.open_env()
                # Its log format applies from now on, not from the first
                # request.
                env[RequestObservability]
                static = WhiteNoise(self.dispatch, max_age=static_max_age())
                for prefix, folder in static_folders(env):
                    static.add_files(folder, prefix=prefix)
                self._app = RequestObserver(static, self.cached_env)
            return self._app


def warm_up_embedder(env):
    """Warm `env`'s embedder up (`IEmbedder.warm_up`): returns what it
    made ready, or None when it needs nothing (a service elsewhere)."""
    from tracl.embedding import LearningEmbedder
    return LearningEmbedder(env).embedder.warm_up()


def _stderr(message):
    sys.stderr.write(message + '\n')
    sys.stderr.flush()


#: The application gunicorn serves.
application = TracApplication()
