"""Signing in through Cognito's hosted UI: the OAuth 2.0 authorization code
flow with PKCE (RFC 7636), for pools that use federation or MFA pages.

`/login/hosted` sends the browser to the hosted UI with a fresh `state` and
code challenge, kept in the (anonymous) Trac session; `/login/callback`
checks the state, exchanges the code and the verifier for tokens at the
pool's token endpoint, verifies the ID token and starts the same browser
session as the username/password form.
"""

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlencode

import httpx
from trac.core import Component, implements
from trac.util.translation import _
from trac.web.api import HTTPBadRequest, HTTPNotFound, IRequestHandler

from tracl.auth.config import CognitoConfig
from tracl.auth.idp import Tokens
from tracl.auth.login import CognitoLoginModule
from tracl.auth.tokens import CognitoTokenVerifier, InvalidToken

#: Session attributes holding the flow's secrets between the two requests.
STATE_ATTRIBUTE = 'tracl_oauth_state'
VERIFIER_ATTRIBUTE = 'tracl_oauth_verifier'


def code_challenge(verifier):
    """The S256 challenge of a PKCE `verifier`."""
    digest = hashlib.sha256(verifier.encode('ascii')).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii')


class HostedUiLogin(Component):
    """The hosted UI's authorization code flow with PKCE."""

    implements(IRequestHandler)

    # IRequestHandler methods

    def match_request(self, req):
        return req.path_info in ('/login/hosted', '/login/callback')

    def process_request(self, req):
        config = CognitoConfig(self.env)
        if not config.hosted_ui_url:
            raise HTTPNotFound(_("The Cognito hosted UI is not configured."))
        if req.path_info == '/login/hosted':
            self._start(req, config)
        self._finish(req, config)

    # Internal methods

    def _redirect_uri(self, req):
        return req.abs_href.login('callback')

    def _start(self, req, config):
        state = secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        req.session[STATE_ATTRIBUTE] = state
        req.session[VERIFIER_ATTRIBUTE] = verifier
        req.session.save()
        query = urlencode({
            'response_type': 'code', 'client_id': config.client_id,
            'redirect_uri': self._redirect_uri(req),
            'scope': config.hosted_ui_scopes, 'state': state,
            'code_challenge': code_challenge(verifier),
            'code_challenge_method': 'S256'})
        req.redirect('%s/oauth2/authorize?%s'
                     % (config.hosted_ui_url.rstrip('/'), query))

    def _finish(self, req, config):
        expected = req.session.pop(STATE_ATTRIBUTE, None)
        verifier = req.session.pop(VERIFIER_ATTRIBUTE, None)
        req.session.save()
        state = req.args.getfirst('state', '')
        if not expected or not verifier or \
                not hmac.compare_digest(state.encode(), expected.encode()):
            raise HTTPBadRequest(_("This sign-in link has expired or was not "
                                   "started here: please sign in again."))
        if req.args.get('error'):
            raise HTTPBadRequest(_("Cognito did not sign you in: %(error)s",
                                   error=req.args.getfirst('error')))
        code = req.args.getfirst('code')
        if not code:
            raise HTTPBadRequest(_("Cognito sent no authorization code."))
        tokens = self._exchange(req, config, code, verifier)
        try:
            claims = CognitoTokenVerifier(self.env).verify(tokens.id_token)
        except InvalidToken as e:
            self.log.error("The hosted UI issued a token we cannot verify "
                           "(%s): check the [cognito] settings", e.reason)
            raise HTTPBadRequest(_("Sign-in is misconfigured on this server; "
                                   "the administrator has been told."))
        CognitoLoginModule(self.env).start_session(req, tokens, claims)
        req.redirect(req.href.learning())

    def _exchange(self, req, config, code, verifier):
        """Trade the authorization code for tokens at the token
        endpoint."""
        try:
            response = httpx.post(
                '%s/oauth2/token' % config.hosted_ui_url.rstrip('/'),
                data={'grant_type': 'authorization_code',
                      'client_id': config.client_id, 'code': code,
                      'redirect_uri': self._redirect_uri(req),
                      'code_verifier': verifier},
                timeout=config.timeout)
        except httpx.HTTPError as e:
            self.log.warning("Cognito's token endpoint failed: %s",
                             type(e).__name__)
            raise HTTPBadRequest(_("Sign-in is unavailable right now: please "
                                   "try again in a minute."))
        if response.status_code != 200:
            self.log.info("Cognito refused the authorization code (%d)",
                          response.status_code)
            raise HTTPBadRequest(_("Cognito refused this sign-in: please "
                                   "sign in again."))
        try:
            body = response.json()
            return Tokens(id_token=body['id_token'],
                          access_token=body['access_token'],
                          refresh_token=body.get('refresh_token', ''),
                          expires_in=int(body.get('expires_in', 3600)))
        except (ValueError, KeyError, TypeError):
            raise HTTPBadRequest(_("Cognito answered the sign-in with "
                                   "something unexpected."))
