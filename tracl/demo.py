"""`python -m tracl.demo serve`: create or reuse the demo environment and
serve it with tracd (what `make demo` runs).

The environment is an ordinary Trac environment on the embedded defaults
(SQLite, in-process cache). Re-running reuses it: nothing a person did in it
is overwritten, and the demo users keep their passwords.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys

from trac.env import Environment
from trac.perm import PermissionSystem
from trac.wiki.model import WikiPage

from tracl.auth.emulator import wait_for_state, write_settings

#: Who wrote the demo's start page; a page last changed by anyone else is
#: the person's and is left alone.
DEMO_AUTHOR = 'tracl-demo'

#: The demo's start page, two lines on how to begin.
START_PAGE = """\
= Welcome to !TracLearn =
!TracLearn turns "I want to understand ..." into a learning path: every \
concept becomes a ticket with a question, you answer in your own words, and \
a concept is mastered when your answer shows you understand it.

 1. [/login Sign in] (the demo users and their passwords are printed where \
`make demo` runs).
 2. Say what you want to understand, pick the concepts, and create your
 path; then answer each concept's question on its ticket.

[[LearningPath(I want to understand blockchain technology)]]

== Your knowledge graph ==
Gray: not started, orange: studying, green: mastered; dashed concepts wait for their prerequisites. Click a concept to answer its question.
No concepts yet? Describe what you want to understand in [#tracl-lp-1 the box above] and create your path.

[[KnowledgeGraph]]

Your paths and progress: [/learning My learning] and the [/roadmap roadmap]; each path has its own page there, saying where to start.
"""

#: The demo's users: Cognito username, groups, and what they are for.
DEMO_USERS = (
    {'username': 'learner', 'groups': ['Students'], 'name': 'Demo Learner',
     'email': 'learner@example.org'},
    {'username': 'admin', 'groups': ['Administrators'], 'name': 'Demo Admin',
     'email': 'admin@example.org'},
)

#: Where the local Cognito emulator listens.
EMULATOR_PORT = 9229


def make_password():
    """A password the demo pool's policy accepts (upper and lower case,
    digits, 8+ characters)."""
    return 'Tl%s7' % secrets.token_hex(6)


def create_or_open(path):
    """Open the demo environment at `path`, creating it when missing and
    upgrading it when TracLearn's schema is newer."""
    if os.path.exists(os.path.join(path, 'VERSION')):
        env = Environment(path)
        if env.needs_upgrade():
            env.upgrade()
        return env, False
    options = [
        ('project', 'name', 'TracLearn demo'),
        ('project', 'descr', 'Question-based learning paths'),
        # No logo image: the header shows the project name instead.
        ('header_logo', 'src', ''),
        ('components', 'tracl.*', 'enabled'),
        ('logging', 'log_type', 'file'),
        ('logging', 'log_level', 'INFO'),
    ]
    return Environment(path, create=True, options=options), True


def import_starter_corpus(env):
    """Fill an empty chunk store with the starter corpus. Returns whether
    it did."""
    from trac.admin.api import AdminCommandManager
    from tracl.search import LearningChunkStore
    if LearningChunkStore(env).store.stats()['chunks']:
        return False
    print('Importing the starter corpus (embedding 156 chunks, once)...',
          flush=True)
    AdminCommandManager(env).execute_command('learning', 'import',
                                             '--starter')
    return True


def write_start_page(env):
    page = WikiPage(env, 'WikiStart')
    if page.exists and page.author not in ('trac', DEMO_AUTHOR):
        return False
    if page.text == START_PAGE:
        return False
    page.text = START_PAGE
    page.save(DEMO_AUTHOR, 'TracLearn demo start page')
    return True


def ensure_users(env):
    """The demo users with their passwords, kept in the environment's
    `conf/` (readable by its owner only) so a restart keeps them. Returns
    the users file's path and the users."""
    users_file = os.path.join(env.path, 'conf', 'demo-users.json')
    known = {}
    if os.path.exists(users_file):
        with open(users_file, encoding='utf-8') as f:
            known = {u['username']: u for u in json.load(f)
                     if isinstance(u, dict) and 'username' in u}
    users = []
    for user in DEMO_USERS:
        password = known.get(user['username'], {}).get('password') or \
            make_password()
        users.append(dict(user, password=password))
    if [known.get(u['username']) for u in users] != users:
        fd = os.open(users_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(users, f, indent=1)
    return users_file, users


def start_emulator(env, users_file, port=EMULATOR_PORT):
    """Start the local Cognito emulator, provision the demo users (their
    `sub` is the same on every start) and point the environment at it.
    Returns the emulator process and what was provisioned."""
    state = os.path.join(env.path, 'conf', 'cognito-emulator.json')
    log = os.path.join(env.path, 'log', 'cognito-emulator.log')
    if os.path.exists(state):  # left by a demo that was killed
        os.remove(state)
    process = subprocess.Popen(
        [sys.executable, '-m', 'tracl.auth.emulator', 'serve', '--port',
         str(port), '--state', state, '--users', users_file, '--provision',
         '--log', log])
    provisioned = wait_for_state(state, process)
    write_settings(env, provisioned)
    admin_sub = provisioned['users']['admin']
    perms = PermissionSystem(env)
    if (admin_sub, 'TRAC_ADMIN') not in perms.get_all_permissions():
        perms.grant_permission(admin_sub, 'TRAC_ADMIN')
    return process, provisioned


def serve(args):
    path = os.path.abspath(args.env)
    env, created = create_or_open(path)
    write_start_page(env)
    import_starter_corpus(env)
    users_file, users = ensure_users(env)
    emulator, provisioned = start_emulator(env, users_file)
    env.shutdown()
    url = 'http://%s:%d/' % (args.host, args.port)
    print('%s the TracLearn demo environment in %s'
          % ('Created' if created else 'Reusing', path))
    print('Sign in at %slogin (local Cognito emulator at %s):'
          % (url, provisioned['endpoint']))
    for user in users:
        print('  %-8s password %s' % (user['username'], user['password']))
    print('Serving %s  (Ctrl-C stops it)' % url, flush=True)
    tracd = os.path.join(os.path.dirname(sys.executable), 'tracd')
    server = subprocess.Popen([tracd, '--single-env', '--hostname',
                               args.host, '--port', str(args.port), path])
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (server, emulator):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tracl.demo')
    commands = parser.add_subparsers(dest='command', required=True)
    serve_parser = commands.add_parser('serve', help=serve.__doc__)
    serve_parser.add_argument('--env', default='demo')
    serve_parser.add_argument('--host', default='127.0.0.1')
    serve_parser.add_argument('--port', type=int, default=8000)
    args = parser.parse_args(argv)
    if args.command == 'serve':
        return serve(args)


if __name__ == '__main__':
    sys.exit(main())
