"""Checking Cognito tokens (GUIDE section 4): what `CognitoTokenVerifier`
accepts, every forgery it must refuse with the reason it gives, and how it
fetches, caches and refetches the pool's key set.

Tokens are signed with RSA keys made here; their JWKS is served by a real
HTTP server on a loopback port, which counts requests. One test signs in on
a real moto server (the local Cognito emulator) and checks its tokens; the
shapes of those tokens are recorded in `tests/fixtures/cognito/`
(`TRACL_RECORD_COGNITO_FIXTURES=1` rewrites them).
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

import support.envs  # noqa: F401 (loads the plugin modules)


from tracl.auth import tokens
from tracl.auth.tokens import (CognitoTokenVerifier, InvalidToken,
                               is_cognito_keys_uri)

REGION = 'us-east-1'
POOL_ID = 'us-east-1_TracLearn1'
CLIENT_ID = '4tracl3arn5client6id7abcd8'
ISSUER = 'https://cognito-idp.%s.amazonaws.com/%s' % (REGION, POOL_ID)
JWKS_PATH = '/%s/.well-known/jwks.json' % POOL_ID
LEEWAY = 30
COOLDOWN = 60
MAX_AGE = 3600

FIXTURES = Path(__file__).resolve().parents[1] / 'fixtures' / 'cognito'
RECORD_VARIABLE = 'TRACL_RECORD_COGNITO_FIXTURES'

#: Marks a claim or header parameter to leave out of a token.
DROP = object()


def new_rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


KEY_A = new_rsa_key()
KEY_B = new_rsa_key()
ATTACKER_KEY = new_rsa_key()


# -- Helpers: keys, key sets, tokens

def jwk_of(key, kid, **extra):
    """The public JWK of `key` as Cognito publishes it."""
    data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    data.update(kid=kid, alg='RS256', use='sig')
    data.update(extra)
    return data


def id_claims(**changes):
    """The claims of a Cognito ID token of our pool and client."""
    now = int(time.time())
    claims = {
        'sub': 'a5b1c2d3-1111-2222-3333-444455556666',
        'aud': CLIENT_ID,
        'token_use': 'id',
        'iss': ISSUER,
        'iat': now,
        'auth_time': now,
        'exp': now + 3600,
        'cognito:username': 'learner1',
        'cognito:groups': ['Students'],
        'email': 'learner1@example.org',
        'jti': str(uuid.uuid4()),
    }
    return changed(claims, changes)


def access_claims(**changes):
    """The claims of a Cognito access token of our pool and client."""
    now = int(time.time())
    claims = {
        'sub': 'a5b1c2d3-1111-2222-3333-444455556666',
        'client_id': CLIENT_ID,
        'token_use': 'access',
        'iss': ISSUER,
        'iat': now,
        'auth_time': now,
        'exp': now + 3600,
        'scope': 'aws.cognito.signin.user.admin',
        'username': 'learner1',
        'jti': str(uuid.uuid4()),
    }
    return changed(claims, changes)


def changed(mapping, changes):
    result = dict(mapping)
    for name, value in changes.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def sign(claims, key=KEY_A, kid='key-a', **headers):
    """`claims` signed with RS256 by `key`, the header naming `kid`."""
    if kid is not DROP:
        headers['kid'] = kid
    return jwt.encode(claims, key, algorithm='RS256', headers=headers)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def hand_made(header, claims, signature=b''):
    """A compact JWT assembled by hand (PyJWT refuses to make these)."""
    return '%s.%s.%s' % (b64url(json.dumps(header).encode()),
                         b64url(json.dumps(claims).encode()),
                         b64url(signature))


def signed_by_hand(claims, key=KEY_A, kid='key-a'):
    """An RS256 token built without PyJWT, which refuses to sign some of
    the claims an attacker would try."""
    header = {'alg': 'RS256', 'typ': 'JWT', 'kid': kid}
    signing_input = '%s.%s' % (b64url(json.dumps(header).encode()),
                               b64url(json.dumps(claims).encode()))
    signature = key.sign(signing_input.encode('ascii'), padding.PKCS1v15(),
                         hashes.SHA256())
    return '%s.%s' % (signing_input, b64url(signature))


def hs256_with_public_key(claims, key=KEY_A, kid='key-a'):
    """The classic confusion attack: HS256 keyed with the RSA public key's
    PEM, which anyone can download from the JWKS."""
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {'alg': 'HS256', 'typ': 'JWT', 'kid': kid}
    signing_input = '%s.%s' % (b64url(json.dumps(header).encode()),
                               b64url(json.dumps(claims).encode()))
    mac = hmac.new(pem, signing_input.encode('ascii'), hashlib.sha256)
    return '%s.%s' % (signing_input, b64url(mac.digest()))


def segments(token):
    return token.split('.')


class JwksServer(object):
    """A JWKS served over HTTP on a free loopback port; `document` may be
    replaced at any time, `status` forces an error answer, `requests`
    counts the requests for the key set."""

    def __init__(self, *keys):
        self.document = {'keys': list(keys)}
        self.status = 200
        self.requests = 0
        self._count_lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                with server._count_lock:
                    server.requests += 1
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={'poll_interval': 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def uri(self):
        return 'http://127.0.0.1:%d%s' % (self.httpd.server_address[1],
                                          JWKS_PATH)

    def publish(self, *keys):
        self.document = {'keys': list(keys)}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class Clock(object):
    """Stands in for `time.monotonic` in the verifier, so tests can step
    past the max age and the cooldown without sleeping."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self):
        return self.real() + self.offset

    real = staticmethod(time.monotonic)

    def advance(self, seconds):
        self.offset += seconds


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def refusal(verifier, token):
    """The `InvalidToken` `verifier` raises for `token`."""
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token)
    return info.value


def logged(env, level):
    return [message for lvl, message in env.log_messages if lvl == level]


# -- Fixtures

@pytest.fixture
def jwks():
    server = JwksServer(jwk_of(KEY_A, 'key-a'))
    yield server
    server.stop()


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(tokens, 'monotonic', clock)
    return clock


@pytest.fixture
def make_cognito_env(make_stub_env):
    """Stub environments with `[cognito]` set for our test pool, trusting
    the key set at `jwks_uri`; `options` override the pool's settings."""
    def make(jwks_uri, **options):
        settings = {'region': REGION, 'user_pool_id': POOL_ID,
                    'client_id': CLIENT_ID, 'jwks_uri': jwks_uri,
                    'allow_emulator': 'true', 'leeway': LEEWAY,
                    'jwks_refresh_cooldown': COOLDOWN,
                    'jwks_max_age': MAX_AGE, 'timeout': 2}
        settings.update(options)
        return make_stub_env(*[('cognito', name, str(value))
                               for name, value in settings.items()])
    return make


@pytest.fixture
def verifier(make_cognito_env, jwks, clock):
    """The verifier of an environment trusting the local key set."""
    return CognitoTokenVerifier(make_cognito_env(jwks.uri))


# -- Valid tokens

def test_valid_id_token_returns_its_claims(verifier):
    claims = id_claims()
    assert verifier.verify(sign(claims)) == claims


def test_valid_access_token_returns_its_claims(verifier):
    claims = access_claims()
    assert verifier.verify(sign(claims)) == claims


def test_token_given_as_bytes_is_accepted(verifier):
    claims = id_claims()
    assert verifier.verify(sign(claims).encode('ascii')) == claims


@pytest.mark.parametrize('skew', [
    {'iat': 10},                    # issuer's clock 10 s ahead of ours
    {'nbf': 10},
    {'exp': -10},                   # our clock 10 s ahead of the issuer's
])
def test_ten_seconds_of_clock_skew_are_tolerated(verifier, skew):
    now = int(time.time())
    claims = id_claims(**{name: now + offset
                          for name, offset in skew.items()})
    assert verifier.verify(sign(claims)) == claims


def test_warm_verifications_make_no_further_key_requests(verifier, jwks):
    for _ in range(50):
        verifier.verify(sign(id_claims()))
    assert jwks.requests == 1


# -- Algorithm attacks

@pytest.mark.parametrize('alg', ['none', 'None', 'NONE', 'nOnE'])
def test_unsigned_token_is_refused_whatever_the_case_of_none(verifier, alg):
    token = hand_made({'alg': alg, 'typ': 'JWT', 'kid': 'key-a'},
                      id_claims())
    assert refusal(verifier, token).reason == 'bad_algorithm'


def test_unsigned_token_with_a_signature_is_refused(verifier):
    token = hand_made({'alg': 'none', 'kid': 'key-a'}, id_claims(),
                      signature=b'anything')
    assert refusal(verifier, token).reason == 'bad_algorithm'


def test_rs256_token_resigned_as_hs256_with_the_public_key_is_refused(
        verifier, jwks):
    token = hs256_with_public_key(id_claims())
    assert refusal(verifier, token).reason == 'bad_algorithm'
    assert jwks.requests == 0      # refused before any key was looked up


@pytest.mark.parametrize('alg', ['HS256', 'RS384', 'RS512', 'PS256',
                                 'ES256', 'rs256', ''])
def test_any_algorithm_but_rs256_is_refused(verifier, alg):
    token = hand_made({'alg': alg, 'kid': 'key-a'}, id_claims(),
                      signature=b'x' * 256)
    assert refusal(verifier, token).reason == 'bad_algorithm'


def test_token_without_alg_is_refused(verifier):
    token = hand_made({'kid': 'key-a'}, id_claims(), signature=b'x' * 256)
    assert refusal(verifier, token).reason == 'bad_algorithm'


# -- Key selection attacks

def test_token_without_kid_is_refused_without_fetching_keys(verifier, jwks):
    token = sign(id_claims(), kid=DROP)
    assert refusal(verifier, token).reason == 'unknown_key'
    assert jwks.requests == 0


@pytest.mark.parametrize('header', [
    {'jku': 'https://attacker.example/jwks.json'},
    {'x5u': 'https://attacker.example/cert.pem'},
    {'jwk': jwk_of(ATTACKER_KEY, 'key-a')},
    {'x5c': ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA']},
])
def test_header_naming_its_own_key_is_refused_even_when_signed_right(
        verifier, jwks, header):
    token = sign(id_claims(), **header)
    assert refusal(verifier, token).reason == 'forbidden_header'
    assert jwks.requests == 0


def test_token_signed_by_the_key_embedded_in_its_jwk_header_is_refused(
        verifier):
    token = sign(id_claims(), key=ATTACKER_KEY,
                 jwk=jwk_of(ATTACKER_KEY, 'key-a'))
    assert refusal(verifier, token).reason == 'forbidden_header'


def test_token_signed_by_another_key_under_a_known_kid_is_refused(verifier):
    token = sign(id_claims(), key=ATTACKER_KEY, kid='key-a')
    assert refusal(verifier, token).reason == 'bad_signature'


def test_unknown_kid_causes_one_refetch_then_none_during_the_cooldown(
        verifier, jwks, clock):
    verifier.verify(sign(id_claims()))
    assert jwks.requests == 1
    for _ in range(100):
        token = sign(id_claims(), key=ATTACKER_KEY, kid=uuid.uuid4().hex)
        assert refusal(verifier, token).reason == 'unknown_key'
    assert jwks.requests == 2
    clock.advance(COOLDOWN - 1)
    refusal(verifier, sign(id_claims(), key=ATTACKER_KEY, kid='later'))
    assert jwks.requests == 2
    clock.advance(2)
    refusal(verifier, sign(id_claims(), key=ATTACKER_KEY, kid='after'))
    assert jwks.requests == 3


def test_concurrent_flood_of_unknown_kids_causes_one_refetch(verifier, jwks):
    verifier.verify(sign(id_claims()))
    forged = [sign(id_claims(), key=ATTACKER_KEY, kid=uuid.uuid4().hex)
              for _ in range(100)]

    def reason(token):
        try:
            verifier.verify(token)
        except InvalidToken as e:
            return e.reason
    with ThreadPoolExecutor(max_workers=16) as pool:
        reasons = list(pool.map(reason, forged))
    assert set(reasons) == {'unknown_key'}
    assert jwks.requests == 2
    assert verifier.verify(sign(id_claims()))['token_use'] == 'id'


def test_unknown_kid_on_first_use_fetches_the_key_set_once(verifier, jwks):
    token = sign(id_claims(), key=ATTACKER_KEY, kid='nobody')
    assert refusal(verifier, token).reason == 'unknown_key'
    assert refusal(verifier, token).reason == 'unknown_key'
    assert jwks.requests == 1


# -- Key rotation

def test_both_keys_of_a_rotating_key_set_are_accepted(verifier, jwks):
    jwks.publish(jwk_of(KEY_A, 'key-a'), jwk_of(KEY_B, 'key-b'))
    assert verifier.verify(sign(id_claims(), KEY_A, 'key-a'))
    assert verifier.verify(sign(access_claims(), KEY_B, 'key-b'))
    assert jwks.requests == 1


def test_removed_key_is_refused_once_the_key_set_is_older_than_max_age(
        verifier, jwks, clock):
    jwks.publish(jwk_of(KEY_A, 'key-a'), jwk_of(KEY_B, 'key-b'))
    verifier.verify(sign(id_claims(), KEY_A, 'key-a'))
    jwks.publish(jwk_of(KEY_B, 'key-b'))
    # Until the cached set is refreshed, the removed key is still known.
    verifier.verify(sign(id_claims(), KEY_A, 'key-a'))
    clock.advance(MAX_AGE + 1)
    token = sign(id_claims(), KEY_A, 'key-a')
    assert refusal(verifier, token).reason == 'unknown_key'
    assert verifier.verify(sign(id_claims(), KEY_B, 'key-b'))
    assert jwks.requests == 2


def test_new_key_is_fetched_on_first_sight_and_removed_key_then_refused(
        verifier, jwks):
    verifier.verify(sign(id_claims(), KEY_A, 'key-a'))
    jwks.publish(jwk_of(KEY_B, 'key-b'))
    assert verifier.verify(sign(id_claims(), KEY_B, 'key-b'))
    token = sign(id_claims(), KEY_A, 'key-a')
    assert refusal(verifier, token).reason == 'unknown_key'
    assert jwks.requests == 2


@pytest.mark.filterwarnings(
    'ignore::jwt.warnings.InsecureKeyLengthWarning')    # signing with 1024
def test_keys_unfit_for_rs256_signatures_are_ignored(verifier, jwks):
    small_key = new_rsa_key(1024)
    oct_key = {'kty': 'oct', 'kid': 'key-oct', 'k': b64url(b'secret' * 8)}
    private = RSAAlgorithm.to_jwk(ATTACKER_KEY, as_dict=True)
    private.update(kid='key-private')
    jwks.publish(jwk_of(KEY_A, 'key-a'),
                 jwk_of(KEY_B, 'key-enc', use='enc'),
                 jwk_of(KEY_B, 'key-rs512', alg='RS512'),
                 jwk_of(small_key, 'key-small'),
                 oct_key, private,
                 {'kty': 'EC', 'kid': 'key-ec', 'crv': 'P-256'})
    for key, kid in [(KEY_B, 'key-enc'), (KEY_B, 'key-rs512'),
                     (small_key, 'key-small'), (ATTACKER_KEY, 'key-private'),
                     (KEY_B, 'key-ec')]:
        assert refusal(verifier, sign(id_claims(), key, kid)).reason == \
            'unknown_key', kid
    assert refusal(verifier, hs256_with_public_key(
        id_claims(), kid='key-oct')).reason == 'bad_algorithm'
    assert verifier.verify(sign(id_claims(), KEY_A, 'key-a'))


def test_key_without_use_or_alg_is_accepted(verifier, jwks):
    data = jwk_of(KEY_B, 'key-b')
    del data['use'], data['alg']
    jwks.publish(data)
    assert verifier.verify(sign(id_claims(), KEY_B, 'key-b'))


# -- Unreachable key set

def test_unreachable_key_set_makes_tokens_uncheckable(make_cognito_env, clock):
    uri = 'http://127.0.0.1:%d%s' % (free_port(), JWKS_PATH)
    env = make_cognito_env(uri, timeout=1)
    error = refusal(CognitoTokenVerifier(env), sign(id_claims()))
    assert error.reason == 'keys_unavailable'
    assert error.server_side
    assert len(logged(env, 'ERROR')) == 1


def test_key_set_answering_an_error_makes_tokens_uncheckable(verifier, jwks):
    jwks.status = 503
    assert refusal(verifier, sign(id_claims())).reason == 'keys_unavailable'


def test_failed_fetch_is_not_retried_for_a_few_seconds(verifier, jwks,
                                                        clock):
    jwks.status = 500
    for _ in range(10):
        refusal(verifier, sign(id_claims()))
    assert jwks.requests == 1
    jwks.status = 200
    clock.advance(tokens.RETRY_AFTER_FAILURE + 1)
    assert verifier.verify(sign(id_claims()))
    assert jwks.requests == 2


def test_known_keys_stay_in_use_when_a_refresh_fails(verifier, jwks, clock):
    verifier.verify(sign(id_claims()))
    jwks.status = 500
    clock.advance(MAX_AGE + 1)
    assert verifier.verify(sign(id_claims()))
    assert verifier.verify(sign(id_claims()))
    assert jwks.requests == 2


def test_key_set_without_usable_keys_makes_tokens_uncheckable(verifier,
                                                               jwks):
    jwks.publish({'kty': 'oct', 'kid': 'key-oct', 'k': 'c2VjcmV0'})
    assert refusal(verifier, sign(id_claims())).reason == 'keys_unavailable'


# -- Emulator trust

def test_local_key_set_is_not_trusted_without_allow_emulator(make_cognito_env, jwks,
                                                             clock):
    env = make_cognito_env(jwks.uri, allow_emulator='false')
    verifier = CognitoTokenVerifier(env)
    for _ in range(3):
        error = refusal(verifier, sign(id_claims()))
        assert error.reason == 'untrusted_emulator'
        assert not error.server_side
    assert jwks.requests == 0
    errors = logged(env, 'ERROR')
    assert len(errors) == 1 and jwks.uri in errors[0]


@pytest.mark.parametrize('uri, trusted', [
    ('https://cognito-idp.us-east-1.amazonaws.com/%s/.well-known/jwks.json'
     % POOL_ID, True),
    ('https://cognito-idp.us-east-1.amazonaws.com:443/p/jwks.json', True),
    ('http://cognito-idp.us-east-1.amazonaws.com/p/jwks.json', False),
    ('https://cognito-idp.eu-west-1.amazonaws.com/p/jwks.json', False),
    ('https://cognito-idp.us-east-1.amazonaws.com.evil.example/p', False),
    ('https://cognito-idp.us-east-1.amazonaws.com@evil.example/p', False),
    ('https://evil.example/cognito-idp.us-east-1.amazonaws.com/p', False),
    ('https://cognito-idp.us-east-1.amazonaws.com:8443/p', False),
    ('https://127.0.0.1/p/.well-known/jwks.json', False),
])
def test_only_cognitos_own_https_host_counts_as_cognito(uri, trusted):
    assert is_cognito_keys_uri(uri, REGION) is trusted


def test_pool_without_client_id_accepts_nothing(make_cognito_env, jwks):
    verifier = CognitoTokenVerifier(make_cognito_env(jwks.uri, client_id=''))
    error = refusal(verifier, sign(id_claims(aud='')))
    assert error.reason == 'not_configured' and error.server_side


# -- Altered tokens

def test_tampered_payload_is_refused(verifier):
    header, _, signature = segments(sign(id_claims()))
    forged = b64url(json.dumps(id_claims(sub='someone-else')).encode())
    token = '.'.join([header, forged, signature])
    assert refusal(verifier, token).reason == 'bad_signature'


def test_token_with_its_signature_stripped_is_refused(verifier):
    header, payload, _ = segments(sign(id_claims()))
    assert refusal(verifier, '%s.%s.' % (header, payload)).reason == \
        'bad_signature'
    assert refusal(verifier, '%s.%s' % (header, payload)).reason == \
        'malformed'


@pytest.mark.parametrize('token', ['', 'garbage', 'a.b.c', '...',
                                   None, 12345, 'x' * 20000])
def test_input_that_is_no_jwt_is_refused_as_malformed(verifier, token):
    assert refusal(verifier, token).reason == 'malformed'


# -- Times

def test_expired_token_is_refused(verifier):
    token = sign(id_claims(exp=int(time.time()) - LEEWAY - 10))
    assert refusal(verifier, token).reason == 'expired'


def test_token_not_valid_before_a_future_time_is_refused(verifier):
    token = sign(id_claims(nbf=int(time.time()) + LEEWAY + 60))
    assert refusal(verifier, token).reason == 'not_yet_valid'


def test_token_issued_in_the_future_is_refused(verifier):
    token = sign(id_claims(iat=int(time.time()) + LEEWAY + 60))
    assert refusal(verifier, token).reason == 'not_yet_valid'


def test_token_with_a_textual_issue_time_is_refused(verifier):
    token = sign(id_claims(iat='%d' % time.time()))
    assert refusal(verifier, token).reason == 'malformed'


# -- Required claims

@pytest.mark.parametrize('claim', ['exp', 'iat', 'sub', 'iss', 'token_use'])
def test_token_missing_a_required_claim_is_refused(verifier, claim):
    token = sign(id_claims(**{claim: DROP}))
    error = refusal(verifier, token)
    assert error.reason == 'missing_claim' and claim in error.message


# -- Issuer

@pytest.mark.parametrize('issuer', [
    'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool9',
    ISSUER + '/',
    ISSUER + 'x',
    ISSUER[:-1],
    ISSUER.replace('https://', 'http://'),
    ISSUER.replace(REGION, 'eu-west-1'),
    ISSUER.upper(),
    ' ' + ISSUER,
])
def test_issuer_that_is_not_exactly_our_pool_is_refused(verifier, issuer):
    for claims in id_claims(iss=issuer), access_claims(iss=issuer):
        assert refusal(verifier, sign(claims)).reason == 'wrong_issuer'


def test_issuer_given_as_a_list_is_refused(verifier):
    token = signed_by_hand(id_claims(iss=[ISSUER]))
    assert refusal(verifier, token).reason == 'wrong_issuer'


def test_valid_token_of_another_pool_signed_with_the_same_key_is_refused(
        verifier):
    # The emulator signs every pool's tokens with one key.
    other = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other42'
    token = sign(id_claims(iss=other, aud='otherclient1234567890abcde'))
    assert refusal(verifier, token).reason == 'wrong_issuer'


# -- Audience and token use

@pytest.mark.parametrize('audience', ['otherclient1234567890abcde', '',
                                      CLIENT_ID + 'x', [CLIENT_ID],
                                      DROP])
def test_id_token_for_another_client_is_refused(verifier, audience):
    token = sign(id_claims(aud=audience))
    assert refusal(verifier, token).reason == 'wrong_audience'


@pytest.mark.parametrize('client_id', ['otherclient1234567890abcde', '',
                                       CLIENT_ID.upper(), DROP])
def test_access_token_for_another_client_is_refused(verifier, client_id):
    token = sign(access_claims(client_id=client_id))
    assert refusal(verifier, token).reason == 'wrong_audience'


def test_access_token_is_judged_by_client_id_not_by_aud(verifier):
    token = sign(access_claims(aud=CLIENT_ID, client_id='someoneelse12'))
    assert refusal(verifier, token).reason == 'wrong_audience'
    claims = access_claims(aud='anything-at-all')
    assert verifier.verify(sign(claims)) == claims


@pytest.mark.parametrize('claims', [
    id_claims(token_use='access'),
    access_claims(token_use='id'),
], ids=['id-token-claiming-access', 'access-token-claiming-id'])
def test_token_claiming_the_other_use_is_refused(verifier, claims):
    assert refusal(verifier, sign(claims)).reason == 'wrong_audience'


@pytest.mark.parametrize('token_use', ['refresh', 'ID', 'Access', '', 'both',
                                       ['id']])
def test_token_use_other_than_id_or_access_is_refused(verifier, token_use):
    token = sign(id_claims(token_use=token_use))
    assert refusal(verifier, token).reason == 'wrong_token_use'


# -- Secrecy

def test_refusals_and_logs_never_quote_the_token(make_cognito_env, jwks, clock):
    env = make_cognito_env(jwks.uri)
    verifier = CognitoTokenVerifier(env)
    attacks = [
        sign(id_claims(exp=1)),
        sign(id_claims(), key=ATTACKER_KEY),
        sign(id_claims(), key=ATTACKER_KEY, kid='kid-' + 'z' * 40),
        sign(id_claims(iss='https://evil.example/' + 'y' * 40)),
        sign(id_claims(aud='aud-' + 'w' * 40)),
        hand_made({'alg': 'none', 'kid': 'key-a'}, id_claims()),
        sign(id_claims(), jku='https://evil.example/' + 'v' * 40),
    ]
    for token in attacks:
        error = refusal(verifier, token)
        text = ' '.join([str(error), repr(error)] +
                        [message for _, message in env.log_messages])
        for part in segments(token):
            assert not part or part not in text
        assert 'z' * 40 not in text and 'y' * 40 not in text
        assert 'w' * 40 not in text and 'v' * 40 not in text


# -- The real emulator

@pytest.fixture(scope='module')
def moto_server():
    """A moto server (the local Cognito emulator) on a free loopback port."""
    program = Path(sys.executable).with_name('moto_server')
    if not program.exists():
        program = Path(shutil.which('moto_server'))
    port = free_port()
    process = subprocess.Popen([str(program), '-H', '127.0.0.1',
                                '-p', str(port)],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = 'http://127.0.0.1:%d' % port
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + '/moto-api/', timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or \
                        time.monotonic() > deadline:
                    raise RuntimeError('moto_server did not start on %s'
                                       % url)
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def sign_in_on_moto(endpoint):
    """Pool, app client, group and user made on the emulator as in
    production; answers the pool id, the client id and InitiateAuth's
    AuthenticationResult."""
    client = boto3.client('cognito-idp', region_name=REGION,
                          endpoint_url=endpoint,
                          aws_access_key_id='testing',
                          aws_secret_access_key='testing',
                          aws_session_token='testing')
    pool_id = client.create_user_pool(
        PoolName='tracl-test-%s' % uuid.uuid4().hex[:8])['UserPool']['Id']
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName='tracl', GenerateSecret=False,
        ExplicitAuthFlows=['ALLOW_USER_PASSWORD_AUTH',
                           'ALLOW_REFRESH_TOKEN_AUTH'],
        # Cognito lets a client read every attribute unless told; moto
        # puts none in the ID token unless they are listed.
        ReadAttributes=['email', 'email_verified'],
    )['UserPoolClient']['ClientId']
    client.create_group(UserPoolId=pool_id, GroupName='Students')
    username, password = 'learner1', 'Correct-Horse-9-Battery'
    client.admin_create_user(
        UserPoolId=pool_id, Username=username, MessageAction='SUPPRESS',
        TemporaryPassword='Temporary-Pass-1',
        UserAttributes=[{'Name': 'email', 'Value': 'learner1@example.org'},
                        {'Name': 'email_verified', 'Value': 'true'}])
    client.admin_set_user_password(UserPoolId=pool_id, Username=username,
                                   Password=password, Permanent=True)
    client.admin_add_user_to_group(UserPoolId=pool_id, Username=username,
                                   GroupName='Students')
    result = client.initiate_auth(
        ClientId=client_id, AuthFlow='USER_PASSWORD_AUTH',
        AuthParameters={'USERNAME': username, 'PASSWORD': password},
    )['AuthenticationResult']
    return pool_id, client_id, result


def token_shape(token):
    """A token's decoded header and claims, without its signature."""
    header, payload, _ = segments(token)
    return {'header': json.loads(base64.urlsafe_b64decode(header + '==')),
            'payload': json.loads(base64.urlsafe_b64decode(payload + '=='))}


def test_real_emulator_tokens_verify_only_when_the_emulator_is_trusted(
        make_cognito_env, moto_server):
    pool_id, client_id, result = sign_in_on_moto(moto_server)
    jwks_uri = '%s/%s/.well-known/jwks.json' % (moto_server, pool_id)
    config = {'user_pool_id': pool_id, 'client_id': client_id}
    trusting = CognitoTokenVerifier(make_cognito_env(jwks_uri, **config))
    wary = CognitoTokenVerifier(make_cognito_env(jwks_uri, allow_emulator='false',
                                         **config))
    issuer = 'https://cognito-idp.%s.amazonaws.com/%s' % (REGION, pool_id)
    for use, token in [('id', result['IdToken']),
                       ('access', result['AccessToken'])]:
        claims = trusting.verify(token)
        assert claims['token_use'] == use and claims['iss'] == issuer
        assert claims['cognito:groups'] == ['Students']
        assert refusal(wary, token).reason == 'untrusted_emulator'
        shape = token_shape(token)
        fixture = FIXTURES / ('moto_%s_token.json' % use)
        if os.environ.get(RECORD_VARIABLE):
            FIXTURES.mkdir(parents=True, exist_ok=True)
            fixture.write_text(json.dumps(shape, indent=2, sort_keys=True)
                               + '\n', encoding='utf-8')
        recorded = json.loads(fixture.read_text(encoding='utf-8'))
        assert shape['header'] == recorded['header']
        assert sorted(shape['payload']) == sorted(recorded['payload'])
