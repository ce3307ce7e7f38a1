"""The local Cognito emulator (moto) for the demo and the tests.

- `Emulator` runs `moto_server` on a loopback port and stops it again;
- `provision()` creates the demo's user pool, app client, groups and users
  in it, again after every start (moto keeps everything in memory);
- `write_settings()` / `read_settings()` point an environment's `[cognito]`
  section at it.

As a program (what `make demo` runs in the background):

    python -m tracl.auth.emulator serve --port 9229 --state FILE [--users U]
    python -m tracl.auth.emulator provision --endpoint URL --users U [--env E]

`serve` stays in the foreground until it gets SIGTERM or Ctrl-C; FILE holds
its address (and what it provisioned) while it runs. U is a JSON list of
`{"username", "password", "email"?, "name"?, "groups"?}`.

The same users keep the same `sub` across restarts: pool and client ids are
hashes of their settings (`MOTO_COGNITO_IDP_*_ID_STRATEGY=HASH`), and moto's
random generator is seeded from the username just before a user is created,
so the user's id (its `sub`) is the same each time (a user whose creation
was interleaved with another request is created again). Afterwards the
generator is seeded at random, so tokens issued after a restart never
repeat earlier ones.

moto keeps everything in memory: an emulator environment's users file,
`conf/demo-users.json` (mode 0600: it holds passwords), lists every user
given to the emulator (the demo users and those added with `trac-admin ENV
learning user add`), and the demo provisions them all on every start.

The emulator's signing key ships inside moto: anyone can forge its tokens.
Only for the demo and tests (see `[cognito] allow_emulator`).
"""

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

from trac.util.translation import _

from tracl.auth.idp import USER_EXISTS, USER_NOT_FOUND, CognitoError, \
    UserPool, make_client

HOST = '127.0.0.1'
DEFAULT_PORT = 9229

#: The users file's name, in the environment's `conf/` (readable by its
#: owner only: it holds passwords).
USERS_FILE = 'demo-users.json'

#: moto implements GlobalSignOut only for pools in us-east-1.
REGION = 'us-east-1'
POOL_NAME = 'tracl-demo'
CLIENT_NAME = 'tracl'
GROUPS = ('Students', 'Instructors', 'Administrators')

#: Base of the per-user seeds of moto's random generator (stable subs).
SUB_SEED = 20260906

#: The length of the request id moto draws for every answer.
REQUEST_ID_LENGTH = 52

#: Creations of a user tried until it gets its stable `sub`.
CREATE_ATTEMPTS = 3

#: Cognito's default password policy without the symbol: what the demo's
#: generated passwords satisfy.
PASSWORD_POLICY = {
    'MinimumLength': 8,
    'RequireUppercase': True,
    'RequireLowercase': True,
    'RequireNumbers': True,
    'RequireSymbols': False,
    'TemporaryPasswordValidityDays': 7,
}

#: The app client: public (no secret), password and refresh sign-in. moto
#: puts in the ID token only the attributes listed in ReadAttributes.
CLIENT_SETTINGS = {
    'GenerateSecret': False,
    'ExplicitAuthFlows': ['ALLOW_USER_PASSWORD_AUTH',
                          'ALLOW_REFRESH_TOKEN_AUTH'],
    'ReadAttributes': ['email', 'email_verified', 'name'],
}

#: Stable pool and client ids, whatever the order of calls.
ID_STRATEGY_ENVIRONMENT = {
    'MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY': 'HASH',
    'MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY': 'HASH',
}

#: Seconds `moto_server` may take to answer after it starts.
START_TIMEOUT = 30.0

#: Seconds it may take to stop before it is killed.
STOP_TIMEOUT = 10.0

#: Seconds each call to the emulator may take while provisioning.
CALL_TIMEOUT = 10.0

#: Linux `prctl` option: a signal for the child when its parent dies.
PR_SET_PDEATHSIG = 1


class EmulatorError(Exception):
    """The emulator could not be started or reached."""


def free_port():
    """A loopback TCP port nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def answers(endpoint, timeout=1.0):
    """Whether an HTTP server answers at `endpoint`."""
    try:
        with urllib.request.urlopen(endpoint + '/moto-api/', timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def die_with_parent():
    """In the child: get SIGTERM when the parent dies, so a killed demo
    leaves no emulator holding the port (Linux only)."""
    try:
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Emulator(object):
    """A `moto_server` on a loopback port, started and stopped by us."""

    def __init__(self, port=None, log_path=None):
        self.port = port or free_port()
        self.log_path = log_path
        self.process = None
        self._log = None

    @property
    def endpoint(self):
        return 'http://%s:%d' % (HOST, self.port)

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, timeout=START_TIMEOUT):
        """Start `moto_server` and wait until it answers. Output goes to
        `log_path`, or nowhere; `log_path` '-' keeps this process's."""
        if self.running:
            return self
        if answers(self.endpoint):
            raise EmulatorError(
                "Port %d on %s is in use (an emulator still running?): "
                "stop it or choose another port with --port."
                % (self.port, HOST))
        executable = os.path.join(os.path.dirname(sys.executable),
                                  'moto_server')
        if not os.path.exists(executable):
            raise EmulatorError(
                "moto_server is not installed beside %s: install it with "
                "`pip install 'moto[cognitoidp,server]'`." % sys.executable)
        if self.log_path == '-':
            output = None
        elif self.log_path:
            output = self._log = open(self.log_path, 'ab')
        else:
            output = subprocess.DEVNULL
        self.process = subprocess.Popen(
            [executable, '-H', HOST, '-p', str(self.port)],
            stdin=subprocess.DEVNULL, stdout=output, stderr=output,
            env=dict(os.environ, **ID_STRATEGY_ENVIRONMENT),
            preexec_fn=die_with_parent if sys.platform == 'linux' else None)
        deadline = time.monotonic() + timeout
        while not answers(self.endpoint):
            status = self.process.poll()
            if status is not None:
                self.stop()
                raise EmulatorError(
                    "moto_server stopped as it started (exit status %d)%s."
                    % (status, ': see %s' % self.log_path
                       if self.log_path and self.log_path != '-' else ''))
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorError("moto_server did not answer at %s "
                                    "within %d seconds."
                                    % (self.endpoint, timeout))
            time.sleep(0.1)
        return self

    def stop(self):
        """Stop `moto_server` (which forgets everything)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


# Provisioning

def provision(endpoint, users=()):
    """Create, unless they exist, the pool `tracl-demo`, its app client
    `tracl`, the groups and `users` (dicts with `username`, `password` and
    optional `email`, `name`, `groups`). Existing users get the password
    and groups given. Returns {pool_id, client_id, region, endpoint,
    jwks_uri, users: {username: sub}}."""
    client = make_client(REGION, endpoint, CALL_TIMEOUT, emulator=True)
    admin = UserPool(client, '', '', emulator=True)
    pool_id = _ensure_pool(admin)
    client_id = _ensure_client(admin, pool_id)
    pool = UserPool(client, pool_id, client_id, emulator=True)
    for group in GROUPS:
        pool.ensure_group(group)
    subs = {}
    for user in users:
        subs[user['username']] = provision_user(pool, user)
    return {'pool_id': pool_id, 'client_id': client_id, 'region': REGION,
            'endpoint': endpoint, 'jwks_uri': jwks_uri(endpoint, pool_id),
            'users': subs}


def provision_user(pool, user, existing=True):
    """Create `user` (a dict as for `provision()`) in `pool`, a `UserPool`
    on the emulator, with the `sub` its username always gets; or, when the
    user exists and `existing` is true, give it the password and groups of
    `user`. Returns the `sub`. With `existing` false an existing user is a
    `CognitoError('user_exists')`. When every creation gets another `sub`
    (other requests kept reaching the emulator), the user is not kept and
    it is an `EmulatorError`."""
    username = user['username']
    groups = tuple(user.get('groups') or ())
    try:
        sub = pool.user_sub(username)
    except CognitoError as e:
        if e.code != USER_NOT_FOUND:
            raise
    else:
        if not existing:
            raise CognitoError(USER_EXISTS, _(
                "A user %(username)s already exists in the user pool "
                "%(pool)s.", username=username, pool=pool.user_pool_id))
        pool.set_password(username, user['password'])
        for group in groups:
            pool.ensure_group(group)
            pool.add_to_group(username, group)
        return sub
    for group in groups:
        pool.ensure_group(group)
    expected = expected_sub(username)
    try:
        for _attempt in range(CREATE_ATTEMPTS):
            # Seeded just before the creation, moto draws the same id for
            # the same username, whatever happened in the emulator before.
            _seed(pool.endpoint, user_seed(username))
            sub = pool.create_user(username, user['password'],
                                   email=user.get('email'),
                                   name=user.get('name'), groups=groups)
            if expected is None or sub == expected:
                return sub
            # A request of someone else (a sign-in to the running demo)
            # came between the seed and the creation and drew from the
            # generator: this id would not come back after a restart, so
            # the user goes (the last time too: a user left with it would
            # be recorded with a sub the next start does not give back).
            pool.call('admin_delete_user',
                      {'UserPoolId': pool.user_pool_id,
                       'Username': username}, username=username)
        raise EmulatorError(_(
            "Could not create %(username)s with its stable sub: other "
            "requests reached the emulator during each of %(attempts)d "
            "attempts. No user was created; try again when the demo is "
            "less busy.", username=username, attempts=CREATE_ATTEMPTS))
    finally:
        # Tokens issued afterwards must not repeat those of an earlier run.
        _seed(pool.endpoint, secrets.randbits(63))


def user_seed(username):
    """The seed of moto's random generator when `username` is created."""
    return SUB_SEED + zlib.crc32(username.encode('utf-8'))


def expected_sub(username):
    """The `sub` moto gives `username` when it creates the user right after
    `provision_user()` seeded its generator (the seed's answer draws a
    52-character request id first), or None when moto is not importable
    here."""
    try:
        from moto.moto_api._internal.moto_random import MotoRandom
    except ImportError:
        return None
    generator = MotoRandom(user_seed(username))
    generator.get_random_string(length=REQUEST_ID_LENGTH)
    return str(generator.uuid4())


def jwks_uri(endpoint, pool_id):
    """Where the emulator serves the pool's key set."""
    return '%s/%s/.well-known/jwks.json' % (endpoint, pool_id)


def _ensure_pool(admin):
    response = admin.call('list_user_pools', {'MaxResults': 60})
    for pool in response.get('UserPools', ()):
        if pool['Name'] == POOL_NAME:
            return pool['Id']
    response = admin.call('create_user_pool', {
        'PoolName': POOL_NAME,
        'Policies': {'PasswordPolicy': PASSWORD_POLICY},
    })
    return response['UserPool']['Id']


def _ensure_client(admin, pool_id):
    response = admin.call('list_user_pool_clients',
                          {'UserPoolId': pool_id, 'MaxResults': 60})
    for client in response.get('UserPoolClients', ()):
        if client['ClientName'] == CLIENT_NAME:
            return client['ClientId']
    response = admin.call('create_user_pool_client', dict(
        CLIENT_SETTINGS, UserPoolId=pool_id, ClientName=CLIENT_NAME))
    return response['UserPoolClient']['ClientId']


def _seed(endpoint, seed):
    """Seed moto's random generator, from which it draws every id."""
    request = urllib.request.Request('%s/moto-api/seed?a=%d'
                                     % (endpoint, seed), data=b'',
                                     method='POST')
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT):
            pass
    except OSError as e:
        raise EmulatorError("The emulator at %s refused to seed its random "
                            "generator: %s" % (endpoint, e))


# The `[cognito]` settings

def cognito_options(provisioned):
    """The `[cognito]` options, as (section, name, value), that point
    TracLearn at a provisioned emulator."""
    return [('cognito', 'user_pool_id', provisioned['pool_id']),
            ('cognito', 'client_id', provisioned['client_id']),
            ('cognito', 'region', provisioned['region']),
            ('cognito', 'endpoint_url', provisioned['endpoint']),
            ('cognito', 'jwks_uri', provisioned['jwks_uri']),
            ('cognito', 'allow_emulator', 'true')]


def write_settings(config, provisioned):
    """Point the `[cognito]` section of `config` (an environment or its
    `Configuration`) at a provisioned emulator and save it when something
    changed. Returns True when it did."""
    config = getattr(config, 'config', config)
    changed = False
    for section, name, value in cognito_options(provisioned):
        if value == 'true':
            # Trac writes booleans as `enabled`.
            same = config.getbool(section, name)
        else:
            same = config.get(section, name) == value
        if not same:
            config.set(section, name, value)
            changed = True
    if changed:
        config.save()
    return changed


def read_settings(config):
    """The emulator settings of `config` (an environment or its
    `Configuration`) with `provision()`'s keys, without `users`."""
    config = getattr(config, 'config', config)
    return {'pool_id': config.get('cognito', 'user_pool_id'),
            'client_id': config.get('cognito', 'client_id'),
            'region': config.get('cognito', 'region'),
            'endpoint': config.get('cognito', 'endpoint_url'),
            'jwks_uri': config.get('cognito', 'jwks_uri'),
            'allow_emulator': config.getbool('cognito', 'allow_emulator')}


# The state file of `serve`

def write_state(path, state):
    """Write `state` (JSON) to `path` in one step, readable by its owner
    only."""
    write_private_json(path, state)


def write_private_json(path, value):
    """Write `value` as JSON to `path` in one step (a reader sees the old
    file or the new one, never half of one), with mode 0600 from the
    start."""
    temporary = '%s.%d.tmp' % (path, os.getpid())
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(value, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o600)  # an older file of that name kept its mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def read_state(path):
    """The state `serve` wrote to `path`, or None when there is none."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def wait_for_state(path, process=None, timeout=START_TIMEOUT):
    """Wait until `serve` (running as `process`, a `Popen`) has written its
    state to `path`, and return it."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(path)
        if state is not None:
            return state
        if process is not None and process.poll() is not None:
            raise EmulatorError("The Cognito emulator stopped as it started "
                                "(exit status %d)." % process.returncode)
        if time.monotonic() > deadline:
            raise EmulatorError("The Cognito emulator wrote no state to %s "
                                "within %d seconds." % (path, timeout))
        time.sleep(0.1)


# The users file of an emulator environment

def users_path(env_path):
    """The users file of the emulator environment at `env_path`: every
    user the emulator was given (the demo users and those added with
    `learning user add`), with their passwords, so a restarted emulator,
    which starts empty, gets them all back with the same `sub`."""
    return os.path.join(env_path, 'conf', USERS_FILE)


@contextlib.contextmanager
def _users_lock(path):
    """Hold the users file at `path` against other writers (the demo
    starting while `learning user add` runs)."""
    fd = os.open(path + '.lock', os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def update_users(path, change):
    """Read the users file at `path` (none: no users), call `change` with
    the users (a list of dicts, as for `provision()`) and write what it
    returns, when that differs, in one step with mode 0600. Returns the
    users written (or kept)."""
    with _users_lock(path):
        users = load_users(path) if os.path.exists(path) else []
        changed = change([dict(u) for u in users])
        if changed != users:
            write_private_json(path, changed)
        return changed


def record_user(path, user):
    """Add `user` (a dict as for `provision()`) to the users file at
    `path`, replacing a user of the same name."""
    def change(users):
        others = [u for u in users if u['username'] != user['username']]
        return others + [dict(user)]
    return update_users(path, change)


def load_users(path):
    """The users of a JSON file: a list of dicts (see `provision()`)."""
    with open(path, encoding='utf-8') as f:
        users = json.load(f)
    if not isinstance(users, list) or not all(
            isinstance(u, dict) and u.get('username') and u.get('password')
            for u in users):
        raise EmulatorError("%s must hold a JSON list of users, each with a "
                            "username and a password." % path)
    return users


# The program

def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def serve(args):
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    users = load_users(args.users) if args.users else ()
    emulator = Emulator(args.port, log_path=args.log or '-')
    state_path = os.path.abspath(args.state)
    try:
        emulator.start()
        state = {'endpoint': emulator.endpoint, 'port': emulator.port,
                 'pid': os.getpid()}
        if users or args.provision:
            state.update(provision(emulator.endpoint, users))
        write_state(state_path, state)
        print("Cognito emulator (moto) at %s; state in %s"
              % (emulator.endpoint, state_path), flush=True)
        status = emulator.process.wait()
        print("moto_server stopped (exit status %d)." % status,
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        state = read_state(state_path)
        if state and state.get('pid') == os.getpid():
            os.remove(state_path)
        emulator.stop()


def provision_command(args):
    provisioned = provision(args.endpoint.rstrip('/'),
                            load_users(args.users) if args.users else ())
    if args.env:
        from trac.env import Environment
        env = Environment(args.env)
        try:
            write_settings(env, provisioned)
        finally:
            env.shutdown()
    print(json.dumps(provisioned, sort_keys=True))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tracl.auth.emulator',
                                     description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    p = commands.add_parser('serve', help="run the emulator in the "
                            "foreground until SIGTERM or Ctrl-C")
    p.add_argument('--port', type=int, default=DEFAULT_PORT)
    p.add_argument('--state', required=True,
                   help="file that holds the emulator's address while it "
                        "runs")
    p.add_argument('--users', help="JSON list of users to provision")
    p.add_argument('--provision', action='store_true',
                   help="create the pool, client and groups even without "
                        "users")
    p.add_argument('--log', help="file for moto_server's output (default: "
                                 "this process's)")
    p.set_defaults(run=serve)
    p = commands.add_parser('provision', help="create the pool, client, "
                            "groups and users in a running emulator")
    p.add_argument('--endpoint', default='http://%s:%d' % (HOST,
                                                           DEFAULT_PORT))
    p.add_argument('--users', help="JSON list of users to provision")
    p.add_argument('--env', help="Trac environment whose [cognito] settings "
                                 "to point at the emulator")
    p.set_defaults(run=provision_command)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (EmulatorError, CognitoError) as e:
        print(str(e), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
