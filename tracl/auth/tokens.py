"""Validating Cognito JSON Web Tokens: the checks awslabs/aws-jwt-verify
makes, done with PyJWT, and the cache of the user pool's public keys.

`CognitoTokenVerifier(env).verify(token)` answers the claims of a Cognito
ID or access token issued by the pool of `[cognito]`, or raises
`InvalidToken`. What a caller does with a refusal:

- `reason` in `SERVER_REASONS` ('keys_unavailable', 'not_configured'): we
  could not check the token. Answer 503 (the client may retry), do not sign
  the learner out.
- any other reason: the token is not acceptable. Answer 401.

Neither the message nor the log ever contains the token.

The key set is fetched once, kept `jwks_max_age` seconds and shared by every
thread. A token naming a key id the set does not have causes one refetch
(Cognito rotated its keys), then none for `jwks_refresh_cooldown` seconds,
so forged key ids cannot hammer the key set's server. When a refresh fails,
the keys already known stay in use and the next attempt waits
`RETRY_AFTER_FAILURE` seconds.
"""

import threading
from collections import namedtuple
from time import monotonic, time
from urllib.parse import urlsplit

import httpx
import jwt

from trac.core import Component
from trac.util.translation import _

from tracl.auth.config import CognitoConfig

#: The only signature algorithm Cognito uses, and the only one accepted.
ALGORITHM = 'RS256'

#: Header parameters that would let the token name its own key. Never used:
#: a token carrying one of them is refused.
FORBIDDEN_HEADERS = frozenset(['jku', 'x5u', 'jwk', 'x5c'])

#: Claims every Cognito token carries and TracLearn relies on.
REQUIRED_CLAIMS = ('exp', 'iat', 'sub', 'iss', 'token_use')

#: `token_use` values accepted; a refresh token is not a JWT for us.
TOKEN_USES = ('id', 'access')

#: Host serving a real Cognito pool's keys (over https only).
COGNITO_KEYS_HOST = 'cognito-idp.%s.amazonaws.com'

#: Smallest RSA key accepted from a key set (Cognito uses 2048 bits).
MIN_KEY_BITS = 2048

#: Longest token looked at: Cognito tokens are a few KiB even with many
#: groups, and longer input is refused before any parsing.
MAX_TOKEN_LENGTH = 16384

#: Seconds after a failed fetch of the key set before the next attempt.
RETRY_AFTER_FAILURE = 5.0

#: Every `InvalidToken.reason`, with its meaning.
REASONS = {
    'malformed': "not a well-formed JWT",
    'forbidden_header': "header names its own key (jku, x5u, jwk, x5c)",
    'bad_algorithm': "not signed with RS256",
    'unknown_key': "no `kid`, or a `kid` the pool's key set does not have",
    'bad_signature': "the signature does not match the pool's key",
    'expired': "`exp` is past (beyond the leeway)",
    'not_yet_valid': "`iat` or `nbf` is in the future (beyond the leeway)",
    'missing_claim': "one of exp, iat, sub, iss, token_use is missing",
    'wrong_issuer': "`iss` is not exactly our pool",
    'wrong_token_use': "`token_use` is neither 'id' nor 'access'",
    'wrong_audience': "`aud` (ID token) or `client_id` (access token) is "
                      "not our app client",
    'untrusted_emulator': "the keys come from an emulator and "
                          "`allow_emulator` is off",
    'keys_unavailable': "the pool's key set could not be fetched",
    'not_configured': "`[cognito]` names no user pool or app client",
}

#: Reasons that say nothing about the token, only that we could not check
#: it: answer 503 rather than 401.
SERVER_REASONS = frozenset(['keys_unavailable', 'not_configured'])

#: The cached key set: where it came from, `{kid: PyJWK}`, and when.
KeySet = namedtuple('KeySet', 'uri keys fetched_at')


class InvalidToken(Exception):
    """A token TracLearn does not accept.

    `reason` is one of `REASONS`, for programs; `message` says what
    happened, for people. Neither contains the token.
    """

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message

    @property
    def server_side(self):
        """Whether the token could not be checked (answer 503, not 401)."""
        return self.reason in SERVER_REASONS

    def __repr__(self):
        return 'InvalidToken(%r, %r)' % (self.reason, self.message)


class KeysUnavailable(Exception):
    """The key set could not be fetched or had no usable key."""


class CognitoTokenVerifier(Component):
    """Checks Cognito ID and access tokens against the user pool of
    `[cognito]` and its public keys, and answers their claims."""

    def __init__(self):
        self._config = CognitoConfig(self.env)
        self._lock = threading.Lock()
        self._key_set = None            # a KeySet, replaced whole
        self._unknown_kid_fetch_at = None
        self._retry_at = 0.0
        self._fetch_failing = False
        self._untrusted_logged = False

    def verify(self, token):
        """The claims of `token` (a `dict`) when it is an ID or access token
        our pool issued for our app client, unexpired and signed with one
        of the pool's keys; raises `InvalidToken` otherwise."""
        config = self._config
        if not config.configured:
            raise InvalidToken('not_configured', _(
                "Sign-in is not set up: [cognito] user_pool_id and "
                "client_id must both be set in trac.ini."))
        header = self._checked_header(token)
        keys_uri = config.keys_uri
        self._check_keys_trusted(keys_uri, config)
        key = self._signing_key(header['kid'], keys_uri, config)
        claims = self._decoded_claims(token, key, config)
        self._check_token_use(claims, config.client_id)
        return claims

    # Header

    def _checked_header(self, token):
        """The token's header, once alg, kid and the key-naming parameters
        are acceptable: all of it checked before any key is chosen."""
        if not isinstance(token, (str, bytes)) or \
                len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken('malformed', _(
                "The token is not a JWT of at most %(size)s characters.",
                size=MAX_TOKEN_LENGTH))
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken('malformed', _(
                "The token is not a well-formed JWT.")) from None
        forbidden = sorted(FORBIDDEN_HEADERS.intersection(header))
        if forbidden:
            raise InvalidToken('forbidden_header', _(
                "The token's header carries %(names)s: TracLearn never "
                "takes a key from the token itself.",
                names=', '.join(forbidden)))
        if header.get('alg') != ALGORITHM:
            raise InvalidToken('bad_algorithm', _(
                "The token is not signed with %(alg)s, the only algorithm "
                "Cognito uses.", alg=ALGORITHM))
        kid = header.get('kid')
        if not isinstance(kid, str) or not kid:
            raise InvalidToken('unknown_key', _(
                "The token's header names no signing key (kid)."))
        return header

    # Trust in the key set

    def _check_keys_trusted(self, keys_uri, config):
        """Refuse every token when the keys are not Cognito's own and the
        admin has not allowed an emulator: the emulator's private key is
        public, so its tokens prove nothing."""
        if config.allow_emulator or is_cognito_keys_uri(keys_uri,
                                                        config.region):
            return
        if not self._untrusted_logged:
            self._untrusted_logged = True
            self.log.error("Refusing every Cognito token: the key set at "
                           "%s is not Cognito's own (https://%s/...). Set "
                           "[cognito] allow_emulator = true only for a "
                           "local emulator in a demo or test.",
                           keys_uri, COGNITO_KEYS_HOST % config.region)
        raise InvalidToken('untrusted_emulator', _(
            "The sign-in keys come from a local emulator, which this site "
            "does not trust ([cognito] allow_emulator is off)."))

    # Keys

    def _signing_key(self, kid, keys_uri, config):
        """The `PyJWK` named `kid`, refetching the key set at most once per
        cooldown when it does not have that key."""
        key_set, fetched_now = self._current_key_set(keys_uri, config)
        key = key_set.keys.get(kid)
        if key is None:
            key_set = self._key_set_for_unknown_kid(kid, keys_uri, config,
                                                    fetched_now)
            key = key_set.keys.get(kid)
        if key is None:
            raise InvalidToken('unknown_key', _(
                "The token is signed with a key the user pool does not "
                "have."))
        return key

    def _current_key_set(self, keys_uri, config):
        """The key set of `keys_uri`, fetched when missing or older than
        `jwks_max_age`, and whether it was fetched by this call."""
        key_set = self._key_set
        if self._is_fresh(key_set, keys_uri, config.jwks_max_age):
            return key_set, False
        with self._lock:
            key_set = self._key_set
            if key_set is not None and key_set.uri != keys_uri:
                key_set = None       # [cognito] changed: forget the old keys
            if self._is_fresh(key_set, keys_uri, config.jwks_max_age):
                return key_set, False
            if monotonic() < self._retry_at:
                if key_set is not None:
                    return key_set, False
                raise self._keys_unavailable()
            try:
                key_set = self._fetch(keys_uri, config.timeout)
            except KeysUnavailable as e:
                self._fetch_failed(keys_uri, e, stale=key_set)
                if key_set is not None:
                    return key_set, False
                raise self._keys_unavailable() from None
            self._fetch_succeeded(key_set)
            return key_set, True

    def _key_set_for_unknown_kid(self, kid, keys_uri, config, fetched_now):
        """The key set after a token named `kid`, which it did not have:
        refetched unless that was just done or a refetch for an unknown
        kid happened less than `jwks_refresh_cooldown` seconds ago."""
        with self._lock:
            key_set = self._key_set
            if key_set is None or key_set.uri != keys_uri:
                key_set = KeySet(keys_uri, {}, 0.0)
            elif kid in key_set.keys:
                return key_set       # another thread refetched meanwhile
            now = monotonic()
            last = self._unknown_kid_fetch_at
            if fetched_now:
                self._unknown_kid_fetch_at = now
                return key_set
            if last is not None and now - last < config.jwks_refresh_cooldown:
                return key_set
            self._unknown_kid_fetch_at = now
            try:
                key_set = self._fetch(keys_uri, config.timeout)
            except KeysUnavailable as e:
                self._fetch_failed(keys_uri, e,
                                   stale=key_set if key_set.keys else None)
                raise self._keys_unavailable() from None
            self._fetch_succeeded(key_set)
            return key_set

    @staticmethod
    def _is_fresh(key_set, keys_uri, max_age):
        return key_set is not None and key_set.uri == keys_uri and \
            monotonic() - key_set.fetched_at < max_age

    def _fetch(self, keys_uri, timeout):
        """A `KeySet` read from `keys_uri`; raises `KeysUnavailable`."""
        try:
            response = httpx.get(keys_uri, timeout=timeout,
                                 headers={'Accept': 'application/json'})
            response.raise_for_status()
            document = response.json()
        except httpx.HTTPError as e:
            raise KeysUnavailable(str(e) or e.__class__.__name__)
        except ValueError:
            raise KeysUnavailable("the answer is not JSON")
        keys = self._usable_keys(document, keys_uri)
        if not keys:
            raise KeysUnavailable("it holds no RSA signing key usable "
                                  "with %s" % ALGORITHM)
        return KeySet(keys_uri, keys, monotonic())

    def _usable_keys(self, document, keys_uri):
        """`{kid: PyJWK}` of the RSA signing keys of a JWKS document;
        other keys are skipped."""
        entries = document.get('keys') if isinstance(document, dict) else None
        keys = {}
        for data in entries if isinstance(entries, list) else ():
            if not isinstance(data, dict):
                continue
            kid = data.get('kid')
            if not isinstance(kid, str) or not kid or kid in keys or \
                    data.get('kty') != 'RSA' or 'd' in data or \
                    data.get('use', 'sig') != 'sig' or \
                    data.get('alg', ALGORITHM) != ALGORITHM:
                continue
            try:
                key = jwt.PyJWK(data, algorithm=ALGORITHM)
            except (jwt.PyJWTError, ValueError, TypeError) as e:
                self.log.warning("Skipping key %s of %s: %s", kid, keys_uri,
                                 e)
                continue
            if key.key.key_size < MIN_KEY_BITS:
                self.log.warning("Skipping key %s of %s: %d bits, fewer "
                                 "than %d", kid, keys_uri, key.key.key_size,
                                 MIN_KEY_BITS)
                continue
            keys[kid] = key
        return keys

    def _fetch_succeeded(self, key_set):
        self._key_set = key_set
        self._retry_at = 0.0
        if self._fetch_failing:
            self._fetch_failing = False
            self.log.info("The Cognito key set at %s answers again",
                          key_set.uri)

    def _fetch_failed(self, keys_uri, error, stale):
        self._retry_at = monotonic() + RETRY_AFTER_FAILURE
        if self._fetch_failing:
            return
        self._fetch_failing = True
        if stale is not None:
            self.log.warning("Could not refresh the Cognito key set at %s "
                             "(%s): still using the keys fetched %d s ago",
                             keys_uri, error,
                             monotonic() - stale.fetched_at)
        else:
            self.log.error("Could not fetch the Cognito key set at %s "
                           "(%s): no token can be checked until it "
                           "answers. Is [cognito] jwks_uri right?",
                           keys_uri, error)

    @staticmethod
    def _keys_unavailable():
        return InvalidToken('keys_unavailable', _(
            "The user pool's keys cannot be fetched (the log says why), so "
            "the token cannot be checked now: try again shortly."))

    # Claims

    def _decoded_claims(self, token, key, config):
        """The claims once signature, required claims, times and issuer
        are checked. PyJWT is told `algorithms` again and `require`s the
        claims, since it accepts a token without `exp` unless told."""
        leeway = config.leeway
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[ALGORITHM],
                issuer=config.issuer, leeway=leeway,
                options={'require': list(REQUIRED_CLAIMS),
                         'verify_aud': False,
                         # checked below: PyJWT means to stop (pyjwt#939)
                         'verify_iat': False,
                         'enforce_minimum_key_length': True})
        except jwt.PyJWTError as e:
            raise refusal(e, leeway) from None
        iat = claims['iat']
        if not isinstance(iat, (int, float)) or isinstance(iat, bool):
            raise InvalidToken('malformed', _(
                "The token's issue time (iat) is not a number."))
        if iat > time() + leeway:
            raise refusal(jwt.ImmatureSignatureError(), leeway)
        return claims

    @staticmethod
    def _check_token_use(claims, client_id):
        """ID tokens name our app client in `aud`, access tokens in
        `client_id` (they have no `aud`)."""
        token_use = claims['token_use']
        if token_use not in TOKEN_USES:
            raise InvalidToken('wrong_token_use', _(
                "The token is neither an ID token nor an access token."))
        claim = 'aud' if token_use == 'id' else 'client_id'
        if claims.get(claim) != client_id:
            raise InvalidToken('wrong_audience', _(
                "The token was issued for another app client (%(claim)s).",
                claim=claim))


def is_cognito_keys_uri(keys_uri, region):
    """Whether `keys_uri` is served by Cognito itself for `region` (https,
    host `cognito-idp.{region}.amazonaws.com`, default port)."""
    parts = urlsplit(keys_uri)
    try:
        port = parts.port
    except ValueError:
        return False
    return parts.scheme == 'https' and port in (None, 443) and \
        parts.hostname == COGNITO_KEYS_HOST % region


def refusal(error, leeway):
    """The `InvalidToken` for a PyJWT error (its message is not reused: it
    may quote the token)."""
    if isinstance(error, jwt.InvalidAlgorithmError):
        return InvalidToken('bad_algorithm', _(
            "The token is not signed with %(alg)s.", alg=ALGORITHM))
    if isinstance(error, jwt.InvalidSignatureError):
        return InvalidToken('bad_signature', _(
            "The token's signature does not match the user pool's key: it "
            "was altered or forged."))
    if isinstance(error, jwt.ExpiredSignatureError):
        return InvalidToken('expired', _(
            "The token has expired: sign in again."))
    if isinstance(error, jwt.ImmatureSignatureError):
        return InvalidToken('not_yet_valid', _(
            "The token is dated more than %(leeway)s s in the future: is "
            "this server's clock right?", leeway=leeway))
    if isinstance(error, jwt.MissingRequiredClaimError):
        return InvalidToken('missing_claim', _(
            "The token lacks the %(claim)s claim.", claim=error.claim))
    if isinstance(error, jwt.InvalidIssuerError):
        return InvalidToken('wrong_issuer', _(
            "The token was not issued by this site's user pool."))
    return InvalidToken('malformed', _(
        "The token is not a well-formed Cognito JWT."))
