"""Create or upgrade the Trac environment of a TracLearn container.

`docker/entrypoint.sh` runs this before the server (or any command) starts.
Everything comes from environment variables, so one image serves every
deployment, and a container whose disk is thrown away (an ECS task) makes
its environment again at each start:

- `TRAC_ENV`: the environment's directory (created when missing).
- The database: `DATABASE_URL`, a Trac database URI without a password
  (`postgres://user@host:5432/trac`, or `sqlite:db/trac.db` for a single
  container), or its parts `DB_HOST`, `DB_PORT` (5432), `DB_NAME`,
  `DB_USER`; then `DB_PASSWORD` is put into the URI, and `DB_SSLMODE`
  (`disable` ... `verify-full`, default `require`) is added as
  `?sslmode=`. The password ends up in `conf/trac.ini`, which only the
  container's user can read (the entrypoint sets the umask).
- `TRAC_INI__<SECTION>__<OPTION>=value`: `[section] option = value` in
  trac.ini, for instance `TRAC_INI__LEARNING__CACHE=RedisCache`. Option
  names Trac does not know are refused, so a typo stops the container
  instead of being ignored. Secrets are refused here too: they stay in the
  variables tracl reads itself (`REDIS_AUTH_TOKEN`, `ANTHROPIC_API_KEY`,
  `NEO4J_PASSWORD`, `NEO4J_WRITE_PASSWORD`, `EMBEDDINGS_API_KEY`).
- `TRAC_ADMIN_SUBS`: Cognito `sub`s (comma-separated) granted TRAC_ADMIN.

Settings already in trac.ini that no variable names are kept (those the
Cognito emulator's provisioning wrote, in the compose file).

Several containers may start at once against one PostgreSQL database (an
ECS service of several tasks): the creation of the database's tables and
every upgrade run under a PostgreSQL advisory lock, so exactly one
container does them and the others find them done. A fresh directory on a
database that already holds an environment gets only its `conf/trac.ini`
(what `initenv` would do is already in the database).
"""

import os
import re
import sys
import time
import urllib.parse
import zlib
from contextlib import contextmanager

#: What marks a directory as a Trac environment (trac.env._VERSION).
VERSION_TAG = 'Trac Environment Version 1'

#: The environment variables naming trac.ini options.
OPTION_VARIABLE = re.compile(r'^TRAC_INI__([A-Z0-9_]+?)__([A-Z0-9_]+)$')

#: Sections whose entries are not declared options.
FREE_SECTIONS = ('components', 'ticket-custom', 'ticket-workflow')

#: Options that hold a secret or the database: never from TRAC_INI__.
REFUSED_OPTIONS = re.compile(r'password|secret|token|api_key|credential',
                             re.IGNORECASE)

#: The libpq TLS modes (`sslmode`).
SSL_MODES = ('disable', 'allow', 'prefer', 'require', 'verify-ca',
             'verify-full')

#: The advisory lock under which the database is created or upgraded.
LOCK_KEY = zlib.crc32(b'tracl-environment-setup')

#: Seconds to wait for the database to accept connections at start.
DEFAULT_DB_WAIT = 60

#: Settings of a new environment that no variable needs to give.
BASE_OPTIONS = [
    ('components', 'tracl.*', 'enabled'),
    ('logging', 'log_type', 'stderr'),
    ('logging', 'log_level', 'INFO'),
]


class SetupError(Exception):
    """The environment variables do not describe a usable environment."""


def log(message):
    print('tracl-bootstrap: %s' % message, file=sys.stderr, flush=True)


# Reading the environment variables

def database_uri(environ):
    """The Trac database URI of `environ`, with the password."""
    url = environ.get('DATABASE_URL', '').strip()
    password = environ.get('DB_PASSWORD', '')
    sslmode = environ.get('DB_SSLMODE', '').strip() or 'require'
    if sslmode not in SSL_MODES:
        raise SetupError('DB_SSLMODE must be one of %s, not %r.'
                         % (', '.join(SSL_MODES), sslmode))
    if url:
        if url.startswith('sqlite:'):
            return url
        if not url.startswith('postgres://'):
            raise SetupError('DATABASE_URL must start with postgres:// or '
                             'sqlite: (Trac\'s form).')
        parts = urllib.parse.urlsplit(url)
        if parts.password:
            raise SetupError('Keep the password out of DATABASE_URL: give '
                             'it in DB_PASSWORD.')
        user = urllib.parse.unquote(parts.username or '')
        host = parts.hostname
        port, name = parts.port, parts.path.lstrip('/')
        query = urllib.parse.parse_qsl(parts.query)
        if any(k == 'sslmode' for k, v in query):
            # The entrypoint gives libpq DB_SSLMODE: one place for it.
            raise SetupError('Give the TLS mode in DB_SSLMODE, not in '
                             'DATABASE_URL.')
    else:
        missing = [v for v in ('DB_HOST', 'DB_NAME', 'DB_USER')
                   if not environ.get(v, '').strip()]
        if missing:
            raise SetupError('Set DATABASE_URL, or DB_HOST, DB_NAME and '
                             'DB_USER (missing: %s).' % ', '.join(missing))
        user, host = environ['DB_USER'].strip(), environ['DB_HOST'].strip()
        port = int(environ.get('DB_PORT', '').strip() or 5432)
        name = environ['DB_NAME'].strip()
        query = []
    credentials = urllib.parse.quote(user or '', safe='')
    if password:
        credentials += ':' + urllib.parse.quote(password, safe='')
    query.append(('sslmode', sslmode))
    netloc = '%s@%s' % (credentials, host) if credentials else host
    if port:
        netloc += ':%d' % port
    return 'postgres://%s/%s?%s' % (netloc, name,
                                    urllib.parse.urlencode(query))


def ini_options(environ):
    """`(section, name, value)` of every TRAC_INI__ variable, sorted."""
    options = []
    for variable, value in sorted(environ.items()):
        if not variable.startswith('TRAC_INI_'):
            continue
        match = OPTION_VARIABLE.match(variable)
        if not match:
            raise SetupError('%s is not of the form '
                             'TRAC_INI__<SECTION>__<OPTION>.' % variable)
        section, name = match.group(1).lower(), match.group(2).lower()
        if (section, name) == ('trac', 'database'):
            raise SetupError('Give the database in DATABASE_URL or DB_HOST, '
                             'DB_NAME, DB_USER and DB_PASSWORD, not in %s.'
                             % variable)
        if REFUSED_OPTIONS.search(name):
            raise SetupError('%s would put a secret in trac.ini: secrets '
                             'stay in their own environment variables.'
                             % variable)
        options.append((section, name, value))
    return options


def unknown_options(options):
    """The `(section, name)` of `options` that no loaded component
    declares (call after the environment has loaded its plugins)."""
    from trac.config import Option
    try:
        # What the server imports besides the plugins (its request
        # observer declares options too).
        import tracl.server.wsgi  # noqa: F401
    except ImportError:
        pass
    known = set(Option.get_registry())
    return [(section, name) for section, name, value in options
            if section not in FREE_SECTIONS and (section, name) not in known]


def admin_subs(environ):
    return [s.strip() for s in environ.get('TRAC_ADMIN_SUBS', '').split(',')
            if s.strip()]


# The database

def _pg_connect(uri, timeout):
    import psycopg2
    from trac.db.api import parse_connection_uri
    scheme, args = parse_connection_uri(uri)
    params = args.get('params', {})
    return psycopg2.connect(
        host=args.get('host'), port=args.get('port') or 5432,
        user=args.get('user'), password=args.get('password'),
        dbname=args.get('path', '').lstrip('/'),
        sslmode=params.get('sslmode'), connect_timeout=timeout)


@contextmanager
def setup_lock(uri, wait):
    """Hold the setup lock of the database at `uri` (PostgreSQL; nothing
    to hold for SQLite, which one container uses), waiting up to `wait`
    seconds for the database to accept connections."""
    if not uri.startswith('postgres://'):
        yield
        return
    import psycopg2
    deadline = time.monotonic() + wait
    while True:
        try:
            connection = _pg_connect(uri, timeout=10)
            break
        except psycopg2.OperationalError as e:
            if time.monotonic() > deadline:
                raise SetupError('The database does not accept connections: '
                                 '%s' % str(e).strip())
            log('waiting for the database (%s)' % str(e).strip())
            time.sleep(2)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute('SELECT pg_advisory_lock(%s)', (LOCK_KEY,))
        yield
    finally:
        connection.close()  # releases the lock


# The environment

def write_skeleton(path, options):
    """The directories and files of a Trac environment, without touching
    the database (which may already hold one)."""
    from trac.config import Configuration
    os.makedirs(path, exist_ok=True)
    for folder in ('conf', 'htdocs', 'log', 'plugins', 'templates'):
        os.makedirs(os.path.join(path, folder), exist_ok=True)
    config = Configuration(os.path.join(path, 'conf', 'trac.ini'))
    for section, name, value in options:
        config.set(section, name, value)
    config.save()
    with open(os.path.join(path, 'README'), 'w', encoding='utf-8') as f:
        f.write('This directory contains a Trac environment, made by '
                'TracLearn\'s container from its environment variables.\n')
    # Written last: a directory with VERSION is a complete environment.
    with open(os.path.join(path, 'VERSION'), 'w', encoding='utf-8') as f:
        f.write(VERSION_TAG + '\n')


def apply_options(env, options):
    """Write `options` to the environment's trac.ini when they differ.
    Returns the names of those changed (values are not logged: they may
    hold a password)."""
    from trac.config import Option
    declared = Option.get_registry()
    changed = []
    for section, name, value in options:
        option = declared.get((section, name))
        # As trac.ini stores it (`true` is written `enabled`).
        normalize = option.normalize if option else str
        if normalize(env.config.get(section, name)) != normalize(value):
            env.config.set(section, name, value)
            changed.append('[%s] %s' % (section, name))
    if changed:
        env.config.save()
    return changed


def initialise_database(env):
    """What `Environment(create=True)` does to the database: Trac's
    tables and default data, then every setup participant (TracLearn's
    schema, ticket type and fields)."""
    from trac.db.api import DatabaseManager
    dbm = DatabaseManager(env)
    dbm.init_db()
    dbm.insert_default_data()
    for participant in env.setup_participants:
        participant.environment_created()


def grant_admins(env, subs):
    from trac.perm import PermissionSystem
    perms = PermissionSystem(env)
    granted = set(perms.get_all_permissions())
    for sub in subs:
        if (sub, 'TRAC_ADMIN') not in granted:
            perms.grant_permission(sub, 'TRAC_ADMIN')
            log('granted TRAC_ADMIN to %s' % sub)


def bootstrap(environ):
    path = environ.get('TRAC_ENV', '').strip()
    if not path:
        raise SetupError('Set TRAC_ENV to the Trac environment\'s '
                         'directory.')
    path = os.path.abspath(path)
    uri = database_uri(environ)
    options = ini_options(environ)
    wanted = [('trac', 'database', uri)] + options
    from trac.db.api import DatabaseManager
    from trac.env import Environment
    from tracl.util import without_credentials
    if not os.path.exists(os.path.join(path, 'VERSION')):
        write_skeleton(path, BASE_OPTIONS + wanted)
        log('wrote a Trac environment at %s' % path)
    try:
        wait = int(environ.get('DB_WAIT_SECONDS', '') or DEFAULT_DB_WAIT)
    except ValueError:
        raise SetupError('DB_WAIT_SECONDS must be a number of seconds.')
    with setup_lock(uri, wait):
        env = Environment(path)
        try:
            # Plugins are loaded now: every declared option is known.
            unknown = unknown_options(options)
            if unknown:
                raise SetupError(
                    'No component declares %s: check the TRAC_INI__ '
                    'variables.' % ', '.join('[%s] %s' % o for o in unknown))
            changed = apply_options(env, wanted)
            if changed:
                log('set %s' % ', '.join(changed))
            shown = without_credentials(uri) if uri.startswith('postgres') \
                else uri
            dbm = DatabaseManager(env)
            if not dbm.db_exists() or not dbm.has_table('system'):
                log('creating the database at %s' % shown)
                initialise_database(env)
            elif env.needs_upgrade():
                log('upgrading the environment (database %s)' % shown)
                env.upgrade()
            else:
                log('the environment is up to date (database %s)' % shown)
            grant_admins(env, admin_subs(environ))
        finally:
            env.shutdown()


def main():
    try:
        bootstrap(os.environ)
    except SetupError as e:
        log('error: %s' % e)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
