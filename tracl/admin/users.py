"""`learning user add` and `learning token`: users of the configured Cognito
pool (real or the local emulator)."""

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.admin.options import parse_options
from tracl.auth.config import CognitoConfig
from tracl.auth.emulator import EmulatorError, provision_user, \
    record_user, users_path
from tracl.auth.idp import CognitoError, CognitoIdentityProvider
from tracl.auth.profile import LearnerProfiles


class UserAdminCommands(Component):
    """Create Cognito users and sign them in from the command line."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning user add',
               '<username> --password <password> [--group <group>]... '
               '[--email <email>] [--name <name>]',
               """Create a user in the configured Cognito user pool

               The user can sign in at once with the password. Groups
               (e.g. Students, Administrators) are created when missing.
               With the local emulator (the demo) the user is also kept
               in conf/demo-users.json, so it survives a restart.
               """, None, self._add_user)
        yield ('learning token', '<username> <password>',
               """Sign a user in and print their ID token

               The token is alone on the last line, for scripts:
               `curl -H "Authorization: Bearer $(trac-admin ENV learning
               token USER PASS | tail -1)" ...`
               """, None, self._print_token)

    # Commands

    def _add_user(self, *args):
        positional, options = parse_options(args, ('password', 'group',
                                                   'email', 'name'))
        if len(positional) != 1 or 'password' not in options:
            raise AdminCommandError(_("Usage: learning user add <username> "
                                      "--password <password> "
                                      "[--group <group>]..."),
                                    show_usage=True)
        user = {'username': positional[0],
                'password': options['password'][-1],
                'groups': options.get('group', [])}
        for name in ('email', 'name'):
            if options.get(name):
                user[name] = options[name][-1]
        idp = CognitoIdentityProvider(self.env)
        try:
            if CognitoConfig(self.env).is_emulator:
                sub = self._add_emulator_user(idp.user_pool, user)
            else:
                sub = idp.create_user(user['username'], user['password'],
                                      email=user.get('email'),
                                      name=user.get('name'),
                                      groups=user['groups'])
        except (CognitoError, EmulatorError) as e:
            raise AdminCommandError(str(e))
        # Admin views show the username (or name) before the first sign-in.
        LearnerProfiles(self.env).update(sub, username=user['username'],
                                         name=user.get('name'),
                                         email=user.get('email'))
        printout(_("Created %(username)s (sub %(sub)s).",
                   username=user['username'], sub=sub))

    def _add_emulator_user(self, pool, user):
        """Create `user` in the local emulator with the `sub` its username
        always gets there, and record it in the environment's users file,
        so the demo's emulator, which forgets everything when it stops,
        creates it again with the same `sub` and password on every
        start."""
        sub = provision_user(pool, user, existing=False)
        path = users_path(self.env.path)
        try:
            record_user(path, dict(user, sub=sub))
        except OSError as e:
            raise EmulatorError(_(
                "Created %(username)s (sub %(sub)s), but could not record "
                "the user in %(path)s (%(error)s): the user is gone after "
                "the emulator restarts.", username=user['username'],
                sub=sub, path=path, error=e.strerror or e))
        return sub

    def _print_token(self, username, password):
        try:
            tokens = CognitoIdentityProvider(self.env).sign_in(username,
                                                               password)
        except CognitoError as e:
            raise AdminCommandError(str(e))
        printout(tokens.id_token)
