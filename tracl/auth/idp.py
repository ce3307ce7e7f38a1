"""Calls to the Cognito user pool: sign-in, token refresh, sign-out, and the
few user administration calls TracLearn makes (`trac-admin ENV learning
user add`, the demo's users).

`CognitoIdentityProvider` is the Trac component, built from the `[cognito]`
settings; `UserPool` does the work on any boto3 `cognito-idp` client, so the
local emulator's provisioning (`tracl.auth.emulator`) uses it without an
environment.

Every failure is a `CognitoError`: its `code` says what happened (see
`ERROR_CODES`), its message tells a person what to do. Passwords and tokens
never reach a log or a message: Cognito's own error text is kept only when
it contains none of the secrets sent, because the emulator echoes tokens in
its errors.
"""

import threading
from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import (BotoCoreError, ClientError,
                                 ConnectionError as EndpointUnreachable,
                                 ConnectTimeoutError, HTTPClientError,
                                 NoCredentialsError, PartialCredentialsError,
                                 ReadTimeoutError)

from trac.core import Component
from trac.util.translation import _

from tracl.auth.config import CognitoConfig

#: Retries after a failed call (standard mode: connection errors, timeouts,
#: throttling and 5xx), so at most three attempts.
MAX_RETRIES = 2

#: Credentials for the local emulator, which accepts any: no AWS account or
#: credentials are needed for the demo and the tests.
EMULATOR_CREDENTIALS = {'aws_access_key_id': 'testing',
                        'aws_secret_access_key': 'testing'}

#: `CognitoError.code` values.
NOT_AUTHORIZED = 'not_authorized'
USER_NOT_FOUND = 'user_not_found'
USER_EXISTS = 'user_exists'
INVALID_PASSWORD = 'invalid_password'
PASSWORD_RESET_REQUIRED = 'password_reset_required'
UNAVAILABLE = 'unavailable'
MISCONFIGURED = 'misconfigured'
INVALID_REQUEST = 'invalid_request'
ERROR_CODES = (NOT_AUTHORIZED, USER_NOT_FOUND, USER_EXISTS, INVALID_PASSWORD,
               PASSWORD_RESET_REQUIRED, UNAVAILABLE, MISCONFIGURED,
               INVALID_REQUEST)

#: Cognito's error codes and ours. Others: `unavailable` for a 5xx answer,
#: `invalid_request` for the rest.
AWS_ERROR_CODES = {
    'NotAuthorizedException': NOT_AUTHORIZED,
    'UserNotConfirmedException': NOT_AUTHORIZED,
    'UserNotFoundException': USER_NOT_FOUND,
    'UsernameExistsException': USER_EXISTS,
    'AliasExistsException': USER_EXISTS,
    'InvalidPasswordException': INVALID_PASSWORD,
    'PasswordResetRequiredException': PASSWORD_RESET_REQUIRED,
    'TooManyRequestsException': UNAVAILABLE,
    'LimitExceededException': UNAVAILABLE,
    'InternalErrorException': UNAVAILABLE,
    'ResourceNotFoundException': MISCONFIGURED,
    'InvalidUserPoolConfigurationException': MISCONFIGURED,
    'UnrecognizedClientException': MISCONFIGURED,
    'AccessDeniedException': MISCONFIGURED,
    'InvalidParameterException': INVALID_REQUEST,
}


@dataclass(frozen=True)
class Tokens:
    """What a sign-in or a refresh gives. The tokens are left out of
    `repr()`, so logging a `Tokens` cannot leak them."""

    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    #: Seconds the ID and access tokens stay valid.
    expires_in: int


class CognitoError(Exception):
    """A Cognito call failed. `code` is one of `ERROR_CODES`; `aws_code`
    is Cognito's own error code, when it answered."""

    def __init__(self, code, message, aws_code=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.aws_code = aws_code

    def __str__(self):
        return self.message


def make_client(region, endpoint_url=None, timeout=5.0, emulator=False):
    """A boto3 `cognito-idp` client with short timeouts and few retries.
    For the emulator (`emulator` true, `endpoint_url` set) it signs with
    dummy credentials; otherwise with the default AWS credential chain
    (only the administration calls need credentials)."""
    config = Config(connect_timeout=timeout, read_timeout=timeout,
                    retries={'mode': 'standard', 'max_attempts': MAX_RETRIES})
    kwargs = {'region_name': region, 'config': config}
    if endpoint_url:
        kwargs['endpoint_url'] = endpoint_url
        if emulator:
            kwargs.update(EMULATOR_CREDENTIALS)
    # A session per client: boto3's default session is not thread-safe.
    return boto3.session.Session().client('cognito-idp', **kwargs)


def attribute(attributes, name):
    """The value of `name` in Cognito's `[{'Name': ..., 'Value': ...}]`."""
    for item in attributes or ():
        if item.get('Name') == name:
            return item.get('Value')
    return None


class UserPool(object):
    """One user pool and its app client, reached through a boto3 client."""

    def __init__(self, client, user_pool_id, client_id, emulator=False,
                 log=None):
        self.client = client
        self.user_pool_id = user_pool_id
        self.client_id = client_id
        self.emulator = emulator
        self.log = log

    @property
    def endpoint(self):
        return self.client.meta.endpoint_url

    # Signing in and out

    def sign_in(self, username, password):
        """Tokens for `username` signing in with `password`
        (`USER_PASSWORD_AUTH`)."""
        wrong = _("The username or password is wrong.")
        if not username or not password:
            raise CognitoError(NOT_AUTHORIZED, wrong)
        messages = {NOT_AUTHORIZED: wrong, USER_NOT_FOUND: wrong}
        response = self.call('initiate_auth', {
            'ClientId': self.client_id, 'AuthFlow': 'USER_PASSWORD_AUTH',
            'AuthParameters': {'USERNAME': username, 'PASSWORD': password},
        }, secrets=(password,), messages=messages, username=username)
        challenge = response.get('ChallengeName')
        if challenge == 'NEW_PASSWORD_REQUIRED':
            raise CognitoError(PASSWORD_RESET_REQUIRED, _(
                "%(username)s still has a temporary password: an "
                "administrator must set a permanent one (`trac-admin ENV "
                "learning user add` sets one).", username=username))
        if challenge:
            raise CognitoError(NOT_AUTHORIZED, _(
                "Cognito asks %(username)s for a %(challenge)s step, which "
                "TracLearn's sign-in does not support: sign in through the "
                "hosted sign-in page instead.",
                username=username, challenge=challenge))
        return self._tokens(response['AuthenticationResult'])

    def refresh(self, refresh_token):
        """New ID and access tokens for a refresh token
        (`REFRESH_TOKEN_AUTH`). Cognito gives no new refresh token (unless
        the pool rotates them): the result keeps the one given."""
        expired = _("The sign-in has expired or was revoked: sign in "
                    "again.")
        if not refresh_token:
            raise CognitoError(NOT_AUTHORIZED, expired)
        response = self.call('initiate_auth', {
            'ClientId': self.client_id, 'AuthFlow': 'REFRESH_TOKEN_AUTH',
            'AuthParameters': {'REFRESH_TOKEN': refresh_token},
        }, secrets=(refresh_token,), messages={NOT_AUTHORIZED: expired})
        return self._tokens(response['AuthenticationResult'], refresh_token)

    def sign_out(self, access_token):
        """Revoke every refresh token of the access token's user
        (`GlobalSignOut`). The access token itself stays valid until it
        expires. Never raises: a failure is logged and answers False."""
        try:
            if not access_token:
                raise CognitoError(NOT_AUTHORIZED,
                                   _("There is no access token to sign out "
                                     "with."))
            self.call('global_sign_out', {'AccessToken': access_token},
                      secrets=(access_token,))
        except CognitoError as e:
            if self.log:
                self.log.warning("Cognito sign-out failed (%s): %s",
                                 e.aws_code or e.code, e.message)
            return False
        return True

    # Users and groups

    def create_user(self, username, password, email=None, name=None,
                    groups=()):
        """Create a confirmed user with a permanent password, in `groups`
        (created when missing). Returns the user's `sub`. When a step after
        the creation fails, the user is deleted again."""
        for group in groups:
            self.ensure_group(group)
        attributes = []
        if email:
            attributes += [{'Name': 'email', 'Value': email},
                           {'Name': 'email_verified', 'Value': 'true'}]
        if name:
            attributes.append({'Name': 'name', 'Value': name})
        response = self.call('admin_create_user', {
            'UserPoolId': self.user_pool_id, 'Username': username,
            'UserAttributes': attributes, 'MessageAction': 'SUPPRESS',
        }, username=username)
        user = response['User']
        try:
            self.set_password(username, password)
            for group in groups:
                self.add_to_group(username, group)
        except CognitoError:
            self._delete_user_quietly(username)
            raise
        if self.log:
            self.log.info("Created the Cognito user %s in %s", username,
                          self.user_pool_id)
        return attribute(user.get('Attributes'), 'sub') or \
            self.user_sub(username)

    def set_password(self, username, password, permanent=True):
        """Set `username`'s password (`AdminSetUserPassword`)."""
        self.call('admin_set_user_password', {
            'UserPoolId': self.user_pool_id, 'Username': username,
            'Password': password, 'Permanent': permanent,
        }, secrets=(password,), username=username)

    def add_to_group(self, username, group):
        """Add `username` to `group` (nothing happens when already in)."""
        self.call('admin_add_user_to_group', {
            'UserPoolId': self.user_pool_id, 'Username': username,
            'GroupName': group,
        }, username=username)

    def user_sub(self, username):
        """The `sub` of `username` (`AdminGetUser`)."""
        response = self.call('admin_get_user', {
            'UserPoolId': self.user_pool_id, 'Username': username,
        }, username=username)
        return attribute(response.get('UserAttributes'), 'sub')

    def ensure_group(self, name):
        """Create the group `name` unless it exists. Returns True when it
        was created."""
        try:
            self.call('get_group', {'UserPoolId': self.user_pool_id,
                                    'GroupName': name})
            return False
        except CognitoError as e:
            if e.aws_code != 'ResourceNotFoundException':
                raise
        try:
            self.call('create_group', {'UserPoolId': self.user_pool_id,
                                       'GroupName': name})
        except CognitoError as e:
            if e.aws_code == 'GroupExistsException':
                return False
            raise
        if self.log:
            self.log.info("Created the Cognito group %s in %s", name,
                          self.user_pool_id)
        return True

    # Internal methods

    def call(self, operation, params, secrets=(), messages=None,
             username=None):
        """One call of the boto3 client, with every failure turned into a
        `CognitoError`. `secrets` are the passwords or tokens in `params`;
        `messages` replace the default message of some codes."""
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as e:
            error = e.response.get('Error') or {}
            aws_code = error.get('Code') or 'UnknownError'
            status = (e.response.get('ResponseMetadata') or {}) \
                .get('HTTPStatusCode') or 0
            code = AWS_ERROR_CODES.get(aws_code) or \
                (UNAVAILABLE if status >= 500 else INVALID_REQUEST)
            detail = scrub(error.get('Message') or '', secrets)
            message = (messages or {}).get(code) or \
                self._message(code, aws_code, detail, username)
        except (EndpointUnreachable, HTTPClientError) as e:
            code, aws_code = UNAVAILABLE, None
            message = self._unavailable_message(
                timed_out=isinstance(e, (ConnectTimeoutError,
                                         ReadTimeoutError)))
        except (NoCredentialsError, PartialCredentialsError):
            code, aws_code = MISCONFIGURED, None
            message = _("There are no AWS credentials for Cognito's "
                        "administration calls: give this server an IAM role "
                        "or the usual AWS_* environment variables.")
        except BotoCoreError as e:
            code, aws_code = INVALID_REQUEST, None
            message = _("The call to Cognito is invalid: %(detail)s",
                        detail=scrub(str(e), secrets) or type(e).__name__)
        # Raised outside the handlers so the boto error, whose text may
        # hold a token, is not chained to ours.
        raise CognitoError(code, message, aws_code)

    def _message(self, code, aws_code, detail, username):
        if code == NOT_AUTHORIZED and aws_code == 'UserNotConfirmedException':
            return _("The account %(username)s is not confirmed: an "
                     "administrator must confirm it in Cognito.",
                     username=username)
        if code == NOT_AUTHORIZED:
            return _("Cognito refused the credentials.")
        if code == USER_NOT_FOUND:
            return _("There is no user %(username)s in the user pool "
                     "%(pool)s.", username=username, pool=self.user_pool_id)
        if code == USER_EXISTS:
            return _("A user %(username)s already exists in the user pool "
                     "%(pool)s.", username=username, pool=self.user_pool_id)
        if code == INVALID_PASSWORD:
            return _("The password does not meet the user pool's password "
                     "policy: choose a longer one that mixes upper- and "
                     "lower-case letters, digits and symbols.")
        if code == PASSWORD_RESET_REQUIRED:
            return _("The password of %(username)s must be reset before "
                     "signing in: ask an administrator to set a new one.",
                     username=username)
        if code == UNAVAILABLE:
            return _("Cognito at %(where)s is unavailable (%(aws_code)s): "
                     "try again in a minute.", where=self.endpoint,
                     aws_code=aws_code)
        if code == MISCONFIGURED:
            if self.emulator and aws_code == 'ResourceNotFoundException':
                return _("The local emulator at %(where)s has no such user "
                         "pool, app client or group (%(detail)s): it forgets "
                         "everything when it stops, and `make demo` sets it "
                         "up again.", where=self.endpoint, detail=detail)
            return _("Cognito at %(where)s refused TracLearn's settings "
                     "(%(aws_code)s: %(detail)s): check `[cognito]` in "
                     "trac.ini with `trac-admin ENV learning doctor`.",
                     where=self.endpoint, aws_code=aws_code, detail=detail)
        return _("Cognito refused the request (%(aws_code)s: %(detail)s).",
                 aws_code=aws_code, detail=detail)

    def _unavailable_message(self, timed_out):
        if self.emulator:
            hint = _("is the local emulator running? `make demo` starts it.")
        else:
            hint = _("check this server's network connection and AWS's "
                     "status, then run `trac-admin ENV learning doctor`.")
        if timed_out:
            return _("Cognito at %(where)s did not answer within %(seconds)s "
                     "seconds: %(hint)s", where=self.endpoint, hint=hint,
                     seconds=self.client.meta.config.read_timeout)
        return _("Cognito at %(where)s does not answer: %(hint)s",
                 where=self.endpoint, hint=hint)

    def _tokens(self, result, refresh_token=None):
        return Tokens(id_token=result['IdToken'],
                      access_token=result['AccessToken'],
                      refresh_token=result.get('RefreshToken') or
                      refresh_token,
                      expires_in=int(result.get('ExpiresIn') or 0))

    def _delete_user_quietly(self, username):
        try:
            self.call('admin_delete_user', {'UserPoolId': self.user_pool_id,
                                            'Username': username},
                      username=username)
        except CognitoError as e:
            if self.log:
                self.log.warning("Could not delete the half-created Cognito "
                                 "user %s: %s", username, e)


def scrub(text, secrets):
    """`text`, or '' when it contains one of `secrets`."""
    if any(secret and secret in text for secret in secrets):
        return ''
    return text


class CognitoIdentityProvider(Component):
    """Signs learners in with the Cognito user pool of `[cognito]` (or its
    local emulator) and creates users in it.

    One boto3 client per environment, created on first use; boto3 clients
    may be shared between threads.
    """

    def __init__(self):
        self._pool = None
        self._pool_lock = threading.Lock()

    def sign_in(self, username, password):
        """`Tokens` for `username` and `password`; `CognitoError`
        (`not_authorized`, `user_not_found`, `password_reset_required`,
        `unavailable`, ...) otherwise."""
        return self.user_pool.sign_in(username, password)

    def refresh(self, refresh_token):
        """Fresh `Tokens` for a refresh token, which they keep;
        `CognitoError('not_authorized')` when it expired or was revoked."""
        return self.user_pool.refresh(refresh_token)

    def sign_out(self, access_token):
        """Revoke the user's refresh tokens (`GlobalSignOut`). True when
        Cognito did; False, logged, on any failure: never raises."""
        try:
            pool = self.user_pool
        except CognitoError as e:
            self.log.warning("Cognito sign-out skipped: %s", e)
            return False
        return pool.sign_out(access_token)

    def create_user(self, username, password, email=None, name=None,
                    groups=()):
        """Create a confirmed user in `groups`; returns its `sub`."""
        return self.user_pool.create_user(username, password, email=email,
                                          name=name, groups=groups)

    def user_sub(self, username):
        """The `sub` of `username`; `CognitoError('user_not_found')` when
        there is no such user."""
        return self.user_pool.user_sub(username)

    def ensure_group(self, name):
        """Create the Cognito group `name` unless it exists; True when it
        was created."""
        return self.user_pool.ensure_group(name)

    @property
    def user_pool(self):
        """The `UserPool` of the `[cognito]` settings."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = self._make_user_pool()
        return self._pool

    def _make_user_pool(self):
        settings = CognitoConfig(self.env)
        if not settings.configured:
            raise CognitoError(MISCONFIGURED, _(
                "`[cognito] user_pool_id` and `client_id` are not set in "
                "trac.ini: TracLearn does not know which user pool to use."))
        emulator = settings.is_emulator
        client = make_client(settings.region, settings.endpoint_url or None,
                             settings.timeout, emulator=emulator)
        return UserPool(client, settings.user_pool_id, settings.client_id,
                        emulator=emulator, log=self.log)
