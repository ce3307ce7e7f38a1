"""The API fuzzed against its own document: schemathesis reads
`/api/v1/openapi.json` from the live server and sends every operation
generated requests, valid and invalid, once as a caller without a valid
token (no credentials, or credentials schemathesis makes up) and once with
a learner's Bearer token. schemathesis leaves out the operation serving
the document itself; `test_the_document_describes_the_api` covers it.

Whatever it sends, the API must not answer 5xx, and every answer must
match the document: a documented status, a documented content type, a
body that fits the documented schema.

Time-boxed for `make test`: a few examples per operation on top of
schemathesis' own examples and coverage cases, derandomized so a run can
be repeated exactly.
"""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, \
    response_schema_conformance, status_code_conformance

#: What every answer is checked for.
CHECKS = [not_a_server_error, status_code_conformance,
          content_type_conformance, response_schema_conformance]

#: Random examples per operation (fuzzing phase), beyond schemathesis'
#: explicit and coverage cases (about 40 a run). Keeps this file well
#: under a minute, and the token run (about 80 rate-counted calls) within
#: one learner's default rate budget (`[learning] api_rate_limit`, 120 a
#: minute), so the answers are the endpoints' own rather than 429s.
MAX_EXAMPLES = 20

#: The learner whose token the authenticated run carries.
FUZZ_USERNAME = 'fuzzer'
FUZZ_PASSWORD = 'Fuzz4Schema'

#: The same Hypothesis settings for both runs: reproducible, no example
#: database written into the source tree, no per-example deadline and no
#: slowness health check (the server is a real process, and `make test`
#: may run on a busy two-core machine).
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES, derandomize=True, database=None,
    deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope='module')
def api_schema(live_server):
    """The document as the live server serves it; its `servers` entry
    points the generated requests at that server."""
    return schemathesis.openapi.from_url(live_server.api + '/openapi.json')


@pytest.fixture(scope='module')
def fuzz_token(live_server):
    """An ID token of a learner of their own (the journey's learner and
    rate budget stay untouched)."""
    live_server.add_user(FUZZ_USERNAME, FUZZ_PASSWORD)
    return live_server.token(FUZZ_USERNAME, FUZZ_PASSWORD)


@pytest.fixture(autouse=True)
def node_id_for_schemathesis(request):
    """schemathesis 4.32's `from_fixture` reads and rewrites the test
    item's `_nodeid`, which pytest 9.2 no longer has: give it one."""
    if not hasattr(request.node, '_nodeid'):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture('api_schema')


@schema.parametrize()
@FUZZ_SETTINGS
def test_callers_without_a_valid_token_get_documented_answers(case,
                                                             fuzz_stats):
    response = case.call()
    fuzz_stats.record('without a valid token', case, response)
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_a_learner_with_a_token_gets_documented_answers(case, fuzz_token,
                                                        fuzz_stats):
    headers = {'Authorization': 'Bearer %s' % fuzz_token}
    response = case.call(headers=headers)
    fuzz_stats.record('with a Bearer token', case, response)
    case.validate_response(response, checks=CHECKS, headers=headers)


def test_the_document_describes_the_api(live_server):
    response = httpx.get(live_server.api + '/openapi.json', timeout=30.0)
    assert response.status_code == 200
    assert response.headers['Content-Type'].startswith('application/json')
    document = response.json()
    assert document['openapi'].startswith('3.1')
    assert document['servers'] == [{'url': live_server.api}]
    operations = {(method.upper(), path)
                  for path, item in document['paths'].items()
                  for method in item}
    assert {('GET', '/health'), ('GET', '/openapi.json'), ('GET', '/me'),
            ('PUT', '/me/preferences')} <= operations
