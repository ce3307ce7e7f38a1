"""`learning user add` and `learning token`: users of the configured Cognito
pool (real or the local emulator)."""

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.admin.options import parse_options
from tracl.auth.idp import CognitoError, CognitoIdentityProvider


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
        username = positional[0]
        try:
            sub = CognitoIdentityProvider(self.env).create_user(
                username, options['password'][-1],
                email=options.get('email', [None])[-1],
                name=options.get('name', [None])[-1],
                groups=options.get('group', []))
        except CognitoError as e:
            raise AdminCommandError(str(e))
        printout(_("Created %(username)s (sub %(sub)s).", username=username,
                   sub=sub))

    def _print_token(self, username, password):
        try:
            tokens = CognitoIdentityProvider(self.env).sign_in(username,
                                                               password)
        except CognitoError as e:
            raise AdminCommandError(str(e))
        printout(tokens.id_token)
