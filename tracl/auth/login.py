"""Signing in with Cognito, and who each request is.

Replaces Trac's `LoginModule` (disable `trac.web.auth.loginmodule`):

- `Authorization: Bearer <token>`: a Cognito ID or access token, validated
  on every request. An invalid token makes the request
  anonymous; it never falls back to the session cookie.
- Browser sessions: `/login` posts the username and password to Cognito
  (`InitiateAuth`, USER_PASSWORD_AUTH). The tokens stay on the server in
  `cognito_sessions`; the browser only gets Trac's own `trac_auth` cookie.
  The access token is refreshed before it expires; when the
  refresh token is refused, the session ends and the learner is sent to the
  login page with a message.
- `/logout` ends the Trac session, deletes the stored tokens, clears the
  session data and calls Cognito's GlobalSignOut.

The Trac username is the Cognito `sub`.
"""

from trac.core import TracError, implements
from trac.util.datefmt import datetime_now, to_utimestamp, utc
from trac.util.translation import _
from trac.web.api import IRequestFilter
from trac.web.auth import LoginModule
from trac.web.chrome import add_stylesheet

from tracl.auth.config import CognitoConfig
from tracl.auth.idp import CognitoError, CognitoIdentityProvider
from tracl.auth.profile import LearnerProfiles
from tracl.auth.tokens import CognitoTokenVerifier, InvalidToken
from tracl.model.learners import display_name
from tracl.schema import sql
from tracl.util import database_outage

#: Longest username and password the login form accepts (Cognito's own
#: limits are 128 and 256).
MAX_USERNAME = 128
MAX_PASSWORD = 256

_SECOND = 1000000  # Trac times are microseconds


def _now():
    return to_utimestamp(datetime_now(utc))


class CognitoLoginModule(LoginModule):
    """Cognito sign-in for browsers and API clients."""

    implements(IRequestFilter)

    # IAuthenticator methods

    def authenticate(self, req):
        try:
            return self._authenticate(req)
        except Exception as e:
            if not database_outage(e):
                raise
            # Trac answers a TracError from an authenticator as anonymous
            # (and logs it); a driver's own error would escape even the
            # error page, which asks for the user again.
            req.environ['tracl.auth_error'] = 'database_unavailable'
            raise TracError(_("The database does not answer: %(error)s",
                              error=e)) from e

    # IRequestHandler methods

    def match_request(self, req):
        return req.path_info in ('/login', '/logout')

    def process_request(self, req):
        if req.path_info == '/logout':
            self._logout(req)
            self._redirect_back(req)
        if req.is_authenticated:
            self._redirect_back(req)
        data = {'username': '', 'referer': self._referer(req) or '',
                'error': None,
                'expired': req.args.get('expired') == '1',
                'emulator': CognitoConfig(self.env).is_emulator,
                'hosted_ui': bool(CognitoConfig(self.env).hosted_ui_url)}
        if req.method == 'POST':
            self._login(req, data)
        add_stylesheet(req, 'tracl/css/tracl.css')
        return 'tracl_login.html', data

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        # Resolving `authname` runs `authenticate`, which notices a
        # session Cognito ended.
        if req.authname == 'anonymous' and \
                req.environ.get('tracl.session_expired') and \
                not req.path_info.startswith(('/login', '/api/')):
            req.redirect(req.href.login(expired=1, referer=req.href(
                req.path_info)))
        return handler

    def post_process_request(self, req, template, data, metadata):
        return template, data, metadata

    # Public methods

    def start_session(self, req, tokens, claims, username=None):
        """Sign the browser in as the owner of verified ID token `claims`:
        keep `tokens` server side, record the profile, set Trac's cookie."""
        sub = claims['sub']
        self._store_tokens(sub, tokens)
        username = claims.get('cognito:username') or username
        LearnerProfiles(self.env).update(
            sub, username=username, email=claims.get('email'),
            name=display_name(claims.get('name'), username, sub),
            groups=claims.get('cognito:groups') or [])
        req.environ['REMOTE_USER'] = sub
        self._do_login(req)

    # Internal methods

    def _authenticate(self, req):
        header = req.get_header('Authorization')
        if header:
            return self._authenticate_bearer(req, header)
        cookie = req.incookie.get('trac_auth')
        if cookie is None:
            return None
        sub = self._get_name_for_cookie(req, cookie)
        if sub is None or not self._keep_session_alive(req, sub):
            return None
        req.environ['tracl.auth_method'] = 'cookie'
        return sub

    def _authenticate_bearer(self, req, header):
        scheme, _, token = header.strip().partition(' ')
        if scheme.lower() != 'bearer' or not token.strip():
            req.environ['tracl.auth_error'] = 'malformed'
            return None
        try:
            claims = CognitoTokenVerifier(self.env).verify(token.strip())
        except InvalidToken as e:
            req.environ['tracl.auth_error'] = e.reason
            self.log.info("Refused a bearer token: %s", e.reason)
            return None
        sub = claims['sub']
        req.environ['tracl.auth_method'] = 'bearer'
        req.environ['tracl.claims'] = claims
        groups = claims.get('cognito:groups') or []
        profiles = LearnerProfiles(self.env)
        profile = profiles.get(sub)
        # An ID token names the person; an access token only gives the
        # username, which names one who has no name yet.
        if sorted(profile['groups']) != sorted(groups) or \
                not profile['name']:
            username = claims.get('cognito:username') or \
                claims.get('username')
            profiles.update(sub, groups=groups, username=username,
                            name=claims.get('name') or None)
        return sub

    def _keep_session_alive(self, req, sub):
        """Whether the browser session of `sub` still has Cognito tokens,
        refreshing them when they are about to expire."""
        rows = self.env.db_query(sql(self.env, """
            SELECT refresh_token, token_expires FROM {cognito_sessions}
            WHERE cognito_sub=%s"""), (sub,))
        if not rows:
            self._end_session(req, sub)
            return False
        refresh_token, expires = rows[0]
        now = _now()
        margin = CognitoConfig(self.env).refresh_margin * _SECOND
        if expires and expires - now > margin:
            return True
        try:
            tokens = CognitoIdentityProvider(self.env).refresh(refresh_token)
        except CognitoError as e:
            if e.code == 'unavailable' and expires and expires > now:
                self.log.warning("Could not refresh the Cognito session of "
                                 "%s: %s", sub, e)
                return True
            self.log.info("Cognito ended the session of %s: %s", sub, e.code)
            self._end_session(req, sub)
            req.environ['tracl.session_expired'] = True
            return False
        self._store_tokens(sub, tokens)
        self._update_profile(sub, tokens.id_token)
        return True

    def _update_profile(self, sub, id_token):
        """Take the learner's groups, name and email from a refreshed ID
        token, so changes made in Cognito apply without a new sign-in."""
        try:
            claims = CognitoTokenVerifier(self.env).verify(id_token)
        except InvalidToken as e:
            self.log.warning("Refreshed ID token of %s not usable: %s", sub,
                             e.reason)
            return
        if claims.get('sub') == sub:
            username = claims.get('cognito:username')
            LearnerProfiles(self.env).update(
                sub, username=username, email=claims.get('email'),
                name=display_name(claims.get('name'), username, sub),
                groups=claims.get('cognito:groups') or [])

    def _login(self, req, data):
        username = req.args.getfirst('username', '').strip()[:MAX_USERNAME]
        password = req.args.getfirst('password', '')
        data['username'] = username
        if not username or not password or len(password) > MAX_PASSWORD:
            data['error'] = _("Enter your username and password.")
            return
        try:
            tokens = CognitoIdentityProvider(self.env).sign_in(username,
                                                               password)
            claims = CognitoTokenVerifier(self.env).verify(tokens.id_token)
        except CognitoError as e:
            if e.code == 'unavailable':
                data['error'] = _("Sign-in is unavailable right now: "
                                  "please try again in a minute.")
                self.log.warning("Cognito sign-in unavailable: %s", e)
            elif e.code == 'password_reset_required':
                data['error'] = _("Your password must be reset before you "
                                  "can sign in.")
            else:
                data['error'] = _("Wrong username or password.")
            return
        except InvalidToken as e:
            if e.server_side:
                self.log.warning("Cannot check Cognito's token: %s",
                                 e.reason)
                data['error'] = _("Sign-in is unavailable right now: "
                                  "please try again in a minute.")
                return
            self.log.error("Cognito issued a token we cannot verify (%s): "
                           "check the [cognito] settings", e.reason)
            data['error'] = _("Sign-in is misconfigured on this server; the "
                              "administrator has been told.")
            return
        self.start_session(req, tokens, claims, username)
        referer = data['referer']
        if not referer or referer.rstrip('/').endswith('/login'):
            req.redirect(req.href.learning())
        self._redirect_back(req)

    def _logout(self, req):
        # Trac checks the form token of form-encoded posts only; another
        # site could post text/plain here and sign the learner out
        # everywhere (GlobalSignOut), so check it whatever the encoding.
        if req.method != 'POST' or not req.is_authenticated or \
                req.args.getfirst('__FORM_TOKEN') != req.form_token:
            return
        sub = req.authname
        rows = self.env.db_query(sql(self.env, """
            SELECT access_token FROM {cognito_sessions}
            WHERE cognito_sub=%s"""), (sub,))
        if rows and rows[0][0]:
            CognitoIdentityProvider(self.env).sign_out(rows[0][0])
        self._end_session(req, sub)
        self._do_logout(req)

    def _end_session(self, req, sub):
        """Forget the learner's tokens, session data and Trac cookies."""
        with self.env.db_transaction as db:
            db(sql(self.env, "DELETE FROM {cognito_sessions} "
                             "WHERE cognito_sub=%s"), (sub,))
            db("DELETE FROM auth_cookie WHERE name=%s", (sub,))
        LearnerProfiles(self.env).forget(sub)
        self._expire_cookie(req)

    def _store_tokens(self, sub, tokens):
        now = _now()
        expires = now + int(tokens.expires_in or 3600) * _SECOND
        with self.env.db_transaction as db:
            db(sql(self.env, """
                INSERT INTO {cognito_sessions} (cognito_sub, access_token,
                    id_token, refresh_token, token_expires, trac_session_id,
                    last_activity, created_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (cognito_sub) DO UPDATE SET
                    access_token=excluded.access_token,
                    id_token=excluded.id_token,
                    refresh_token=excluded.refresh_token,
                    token_expires=excluded.token_expires,
                    last_activity=excluded.last_activity
                """), (sub, tokens.access_token, tokens.id_token,
                       tokens.refresh_token, expires, sub, now, now))
