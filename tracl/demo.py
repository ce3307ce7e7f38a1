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
import sys

from trac.env import Environment
from trac.perm import PermissionSystem
from trac.util import md5crypt
from trac.wiki.model import WikiPage

#: Who wrote the demo's start page; a page last changed by anyone else is
#: the person's and is left alone.
DEMO_AUTHOR = 'tracl-demo'

#: The demo's start page, two lines on how to begin.
START_PAGE = """\
= Welcome to !TracLearn =
!TracLearn turns "I want to understand ..." into a learning path: every \
concept becomes a ticket with a question, you answer in your own words, and \
a concept is mastered when your answer shows you understand it.

 1. Sign in (the demo users and their passwords are printed where \
`make demo` runs).
 2. Open [/learning My learning] to see your paths and your progress.
"""

DEMO_USERS = {'learner': [], 'admin': ['TRAC_ADMIN']}


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
    """Demo users with passwords kept in the environment's `conf/`, so a
    restart keeps them. Returns {username: password}."""
    users_file = os.path.join(env.path, 'conf', 'demo-users.json')
    htpasswd = os.path.join(env.path, 'conf', 'htpasswd')
    users = {}
    if os.path.exists(users_file):
        with open(users_file, encoding='utf-8') as f:
            users = json.load(f)
    changed = False
    for name in DEMO_USERS:
        if name not in users:
            users[name] = secrets.token_urlsafe(9)
            changed = True
    if changed or not os.path.exists(htpasswd):
        fd = os.open(users_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(users, f, indent=1)
        with open(htpasswd, 'w', encoding='utf-8') as f:
            for name, password in sorted(users.items()):
                salt = secrets.token_hex(4)
                f.write('%s:%s\n' % (name, md5crypt(password, salt, '$apr1$')))
    perms = PermissionSystem(env)
    granted = {(user, action) for user, action in perms.get_all_permissions()}
    for name, actions in DEMO_USERS.items():
        for action in actions:
            if (name, action) not in granted:
                perms.grant_permission(name, action)
    return users, htpasswd


def serve(args):
    path = os.path.abspath(args.env)
    env, created = create_or_open(path)
    write_start_page(env)
    users, htpasswd = ensure_users(env)
    env.shutdown()
    url = 'http://%s:%d/' % (args.host, args.port)
    print('%s the TracLearn demo environment in %s'
          % ('Created' if created else 'Reusing', path))
    print('Demo users (password):')
    for name in sorted(users):
        print('  %-8s %s' % (name, users[name]))
    print('Serving %s  (Ctrl-C stops it)' % url, flush=True)
    tracd = os.path.join(os.path.dirname(sys.executable), 'tracd')
    os.execv(tracd, [tracd, '--single-env', '--hostname', args.host,
                     '--port', str(args.port),
                     '--basic-auth', '*,%s,TracLearn' % htpasswd, path])


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tracl.demo')
    commands = parser.add_subparsers(dest='command', required=True)
    serve_parser = commands.add_parser('serve', help=serve.__doc__)
    serve_parser.add_argument('--env', default='demo')
    serve_parser.add_argument('--host', default='127.0.0.1')
    serve_parser.add_argument('--port', type=int, default=8000)
    args = parser.parse_args(argv)
    if args.command == 'serve':
        serve(args)


if __name__ == '__main__':
    main()
