"""`python -m tracl.demo serve`: create or reuse the demo environment and
serve it with tracd (what `make demo` runs).

The environment is an ordinary Trac environment on the embedded defaults
(SQLite, in-process cache), without Trac's sample milestones, components
and versions. Re-running reuses it: nothing a person did in it is
overwritten, and every user of its local Cognito emulator (the demo users
and those added with `trac-admin ENV learning user add`) keeps their
password and `sub`: they are kept in `conf/demo-users.json`, readable by
its owner only, and created again in the emulator on every start.

SIGTERM, SIGINT or Ctrl-C stop the demo, tracd and the emulator; when
tracd or the emulator stops by itself, the demo stops the other and exits
with status 1.
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time

from trac.env import Environment
from trac.perm import PermissionSystem
from trac.wiki.model import WikiPage

from tracl.auth.emulator import DEFAULT_PORT, STOP_TIMEOUT, \
    die_with_parent, load_users, update_users, users_path, \
    wait_for_state, write_settings

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

#: Where the local Cognito emulator listens unless told otherwise.
EMULATOR_PORT = DEFAULT_PORT

#: Trac's sample milestones, components and versions: (table, column of
#: `ticket`, what makes a row an untouched sample, names).
TRAC_SAMPLES = (
    ('milestone', 'milestone',
     "COALESCE(due, 0)=0 AND COALESCE(completed, 0)=0 "
     "AND COALESCE(description, '')=''",
     ('milestone1', 'milestone2', 'milestone3', 'milestone4')),
    ('component', 'component',
     "owner='somebody' AND COALESCE(description, '')=''",
     ('component1', 'component2')),
    ('version', 'version',
     "COALESCE(time, 0)=0 AND COALESCE(description, '')=''",
     ('1.0', '2.0')),
)


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
    users file (in `conf/`, readable by its owner only) beside the users
    added with `learning user add`, so a restart keeps them all. Returns
    the users file's path and the demo users."""
    users_file = users_path(env.path)

    def change(users):
        known = {u['username']: u for u in users}
        demo = []
        for user in DEMO_USERS:
            password = known.get(user['username'], {}).get('password') or \
                make_password()
            demo.append(dict(user, password=password))
        names = set(u['username'] for u in demo)
        return demo + [u for u in users if u['username'] not in names]

    users = update_users(users_file, change)
    return users_file, users[:len(DEMO_USERS)]


def remove_trac_samples(env):
    """Remove Trac's sample milestones, components and versions (what
    `initenv` creates) while they are untouched samples that no ticket
    uses: the demo's roadmap shows the learners' subjects, not
    `milestone1`. Returns the names removed, as (table, name)."""
    removed = []
    with env.db_transaction as db:
        for table, column, condition, names in TRAC_SAMPLES:
            for name in names:
                if db("""
                        SELECT 1 FROM %s WHERE name=%%s AND %s
                        AND NOT EXISTS (SELECT 1 FROM ticket WHERE %s=%%s)
                        """ % (db.quote(table), condition,
                               db.quote(column)), (name, name)):
                    db("DELETE FROM %s WHERE name=%%s" % db.quote(table),
                       (name,))
                    removed.append((table, name))
    if removed:
        # Trac keeps the milestones and the ticket fields' options cached.
        from trac.ticket.api import TicketSystem
        from trac.ticket.model import MilestoneCache
        del MilestoneCache(env).milestones
        TicketSystem(env).reset_ticket_fields()
    return removed


def start_emulator(env, users_file, port=EMULATOR_PORT, children=None):
    """Start the local Cognito emulator, provision every user of the users
    file (each gets the same `sub` on every start) and point the
    environment at it. Returns the emulator process and what was
    provisioned.

    With a `children` list, the process joins it as soon as it starts and
    the caller stops it, however the start ends; without, a failed start
    stops it here."""
    state = os.path.join(env.path, 'conf', 'cognito-emulator.json')
    log = os.path.join(env.path, 'log', 'cognito-emulator.log')
    if os.path.exists(state):  # left by a demo that was killed
        os.remove(state)
    process = start_child(
        [sys.executable, '-m', 'tracl.auth.emulator', 'serve', '--port',
         str(port), '--state', state, '--users', users_file, '--provision',
         '--log', log])
    if children is not None:
        children.append(process)
    try:
        provisioned = wait_for_state(state, process)
        write_settings(env, provisioned)
        admin_sub = provisioned['users']['admin']
        perms = PermissionSystem(env)
        if (admin_sub, 'TRAC_ADMIN') not in perms.get_all_permissions():
            perms.grant_permission(admin_sub, 'TRAC_ADMIN')
    except BaseException:
        if children is None:
            stop_children([process])
        raise
    return process, provisioned


def start_child(command):
    """Start a child process of the demo in a session of its own, so a
    Ctrl-C reaches the demo alone and the demo stops its children in
    order; on Linux the child also gets SIGTERM if the demo dies without
    stopping it (SIGKILL)."""
    return subprocess.Popen(command, stdin=subprocess.DEVNULL,
                            start_new_session=True,
                            preexec_fn=die_with_parent
                            if sys.platform == 'linux' else None)


def stop_children(processes):
    """Stop `processes` (SIGTERM, then SIGKILL after `STOP_TIMEOUT`
    seconds), in order, and wait for them."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: The signals that stop the demo.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

#: Seconds between two looks at the children where `os.waitid` is missing.
POLL_INTERVAL = 0.2


class Stopped(Exception):
    """The demo was asked to stop (SIGTERM, SIGINT, Ctrl-C)."""


def _ignore_stop_signals():
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _stop(signum, frame):
    # First thing: a second Ctrl-C or SIGTERM (an impatient person, a
    # service manager) must not interrupt the demo while it unwinds and
    # stops its children, or they would outlive it.
    _ignore_stop_signals()
    raise Stopped(signum)


def wait_for_any(processes):
    """Wait until one of `processes` ends; returns it (not yet reaped, so
    its `Popen` still learns its exit status)."""
    while True:
        for process in processes:
            if process.poll() is not None:
                return process
        if not hasattr(os, 'waitid'):
            # Not every platform has waitid (Windows and macOS before
            # Python 3.13 lack it): look again a little later.
            time.sleep(POLL_INTERVAL)
            continue
        try:
            ended = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            continue
        if ended is not None and ended.si_pid not in \
                [process.pid for process in processes]:
            os.waitpid(ended.si_pid, 0)  # not ours to watch: reap it


def serve(args):
    """Create or reuse the demo environment and serve it with tracd until
    SIGTERM, SIGINT or Ctrl-C (which stop tracd and the emulator too), or
    until one of them stops (which stops the other; exit status 1)."""
    # Stop cleanly on SIGTERM as on Ctrl-C, from the start: the emulator
    # and tracd must not outlive the demo.
    previous = {signum: signal.signal(signum, _stop)
                for signum in STOP_SIGNALS}
    children = []
    try:
        return _serve(args, children)
    except Stopped:
        return 0
    finally:
        shut_down(children)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def shut_down(children):
    """The one place the demo stops its children (tracd and the emulator):
    after a signal, when one of them stopped, or on an error. Further stop
    signals are ignored first, so none leaves a child behind."""
    while True:
        try:
            _ignore_stop_signals()
            break
        except Stopped:
            # A signal came before they were ignored; its handler has
            # ignored the next ones already.
            continue
    stop_children(children)


def _serve(args, children):
    path = os.path.abspath(args.env)
    env, created = create_or_open(path)
    try:
        write_start_page(env)
        remove_trac_samples(env)
        import_starter_corpus(env)
        users_file, users = ensure_users(env)
        # The emulator joins `children` at once: `shut_down` stops it.
        provisioned = start_emulator(env, users_file, args.emulator_port,
                                     children)[1]
    finally:
        env.shutdown()
    url = 'http://%s:%d/' % (args.host, args.port)
    print('%s the TracLearn demo environment in %s'
          % ('Created' if created else 'Reusing', path))
    print('Sign in at %slogin (local Cognito emulator at %s):'
          % (url, provisioned['endpoint']))
    for user in users:
        print('  %-8s password %s' % (user['username'], user['password']))
    demo_names = set(u['username'] for u in users)
    added = sorted(name for name in provisioned['users']
                   if name not in demo_names)
    for user in load_users(users_file):
        sub = provisioned['users'].get(user['username'])
        if user.get('sub') and sub != user['sub']:
            print('Warning: %s now has the id %s, not %s as when it was '
                  'added.' % (user['username'], sub, user['sub']),
                  file=sys.stderr)
    if added:
        print('  and the users added with `learning user add` (%s), with '
              'their passwords' % ', '.join(added))
    print('Serving %s  (Ctrl-C stops it)' % url, flush=True)
    tracd = os.path.join(os.path.dirname(sys.executable), 'tracd')
    # tracd first in the list: it is stopped before the emulator.
    children.insert(0, start_child([tracd, '--single-env', '--hostname',
                                    args.host, '--port', str(args.port),
                                    path]))
    ended = wait_for_any(children)
    print('%s stopped (exit status %s): stopping the demo.'
          % ('tracd' if ended is children[0] else 'The Cognito emulator',
             ended.returncode), file=sys.stderr, flush=True)
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tracl.demo')
    commands = parser.add_subparsers(dest='command', required=True)
    serve_parser = commands.add_parser('serve', help=serve.__doc__)
    serve_parser.add_argument('--env', default='demo')
    serve_parser.add_argument('--host', default='127.0.0.1')
    serve_parser.add_argument('--port', type=int, default=8000)
    serve_parser.add_argument('--emulator-port', type=int,
                              default=EMULATOR_PORT,
                              help="the local Cognito emulator's port")
    args = parser.parse_args(argv)
    if args.command == 'serve':
        return serve(args)


if __name__ == '__main__':
    sys.exit(main())
