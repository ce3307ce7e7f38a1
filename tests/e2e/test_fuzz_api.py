"""The API fuzzed against its own document: schemathesis reads
`/api/v1/openapi.json` from the live server and sends every operation
generated requests, valid and invalid, once as a caller without a valid
token (no credentials, or credentials schemathesis makes up) and once with
a learner's Bearer token. schemathesis leaves out the operation serving
the document itself; `test_the_document_describes_the_api` covers it.

Whatever it sends, the API must not answer 5xx, and every answer must
match the document: a documented status, a documented content type, a
body that fits the documented schema.

The learner of the token run owns two learning paths (seven concepts, one
of them locked behind two prerequisites), and most generated ticket and
path ids in the URL are swapped for theirs, so the fuzzing reaches what an
endpoint does with a real concept (200, 204, 409), not only its 404. The
server runs without API rate limiting (see conftest.py), so the answers
are the endpoints' own rather than 429s.

Time-boxed for `make test`: a few examples per operation on top of
schemathesis' own examples and coverage cases, derandomized so a run can
be repeated exactly.
"""

import re
import zlib
from dataclasses import dataclass

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
#: under a minute.
MAX_EXAMPLES = 20

#: The learner whose token the authenticated run carries.
FUZZ_USERNAME = 'fuzzer'
FUZZ_PASSWORD = 'Fuzz4Schema'

#: The learner's paths: what they asked, and the concepts they chose (the
#: second path's first concept is gated by the second and by a concept of
#: the first path).
FUZZ_PATHS = (
    ('I want to understand blockchain technology', None),
    ('How do hash functions and digital signatures work?',
     ('Digital Signatures', 'Cryptographic Hash Functions')),
)
FIRST_PATH_CONCEPTS = 5

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


@dataclass
class FuzzLearner:
    """The learner of the token run: their token, and the ids of their
    concepts and learning paths."""

    token: str
    ticket_ids: list    # the locked concept first
    path_ids: list
    query: str          # the first path's query...
    chunk_ids: list     # ... and the chunks it found

    @property
    def headers(self):
        return {'Authorization': 'Bearer %s' % self.token}

    def own_ids(self, case):
        """Swap the generated `ticket_id` or `path_id` of `case` for one of
        the learner's, unless the value is one the route refuses anyway
        (not a number of at most 9 digits: the 404 of no route) or falls
        on the share kept as generated (someone else's or no one's: 404).
        Deterministic, like the generated values."""
        params = case.path_parameters
        if not params:
            return
        ticket_id = params.get('ticket_id')
        # Generated as a number, or as text (the coverage phase's '0').
        number = ticket_id if type(ticket_id) is int else \
            int(ticket_id) if isinstance(ticket_id, str) and \
            re.fullmatch(r'[0-9]{1,9}', ticket_id) else None
        if number is not None and number < 10 ** 9:
            choices = self.ticket_ids + [number]
            chosen = choices[number % len(choices)]
            params = dict(params, ticket_id=chosen if type(ticket_id) is int
                          else str(chosen))
        path_id = params.get('path_id')
        if isinstance(path_id, str):
            choices = self.path_ids + [path_id]
            index = zlib.crc32(path_id.encode('utf-8', 'surrogatepass')) \
                % len(choices)
            params = dict(params, path_id=choices[index])
        if params != case.path_parameters:
            case.path_parameters = params

    def own_chunks(self, case):
        """Make a share of the generated bodies of `POST
        /learning-paths/create` ask the learner's first query for chunks
        it found (a path made, or its concepts reused: 201); the other
        generated values (a difficulty, types and lengths) are kept."""
        body = case.body
        if case.operation.label != 'POST /learning-paths/create' or \
                not isinstance(body, dict) or \
                not isinstance(body.get('query'), str) or \
                zlib.crc32(body['query'].encode('utf-8', 'surrogatepass')) \
                % 3:
            return
        body = dict(body, query=self.query)
        chunk_ids = body.get('chunk_ids')
        if isinstance(chunk_ids, list) and \
                all(isinstance(c, str) for c in chunk_ids):
            body['chunk_ids'] = self.chunk_ids[:max(1, len(chunk_ids))]
        case.body = body


def create_path(client, headers, query, concepts):
    """Create a path from the chunks found for `query`: those of
    `concepts` (names), or the first `FIRST_PATH_CONCEPTS`."""
    found = client.post('/learning-paths/generate', headers=headers,
                        json={'query': query})
    assert found.status_code == 200, found.text
    chunks = found.json()['chunks']
    if concepts is None:
        chosen = [c['chunk_id'] for c in chunks[:FIRST_PATH_CONCEPTS]]
    else:
        by_concept = {c['concept']: c['chunk_id'] for c in chunks}
        chosen = [by_concept[name] for name in concepts]
    created = client.post('/learning-paths/create', headers=headers,
                          json={'query': query, 'chunk_ids': chosen})
    assert created.status_code == 201, created.text
    return chosen, created.json()


@pytest.fixture(scope='module')
def fuzz_learner(live_server):
    """A learner of their own (the journey's learner stays untouched),
    with the paths of `FUZZ_PATHS`."""
    live_server.add_user(FUZZ_USERNAME, FUZZ_PASSWORD)
    learner = FuzzLearner(live_server.token(FUZZ_USERNAME, FUZZ_PASSWORD),
                          [], [], FUZZ_PATHS[0][0], [])
    with httpx.Client(base_url=live_server.api, timeout=30.0) as client:
        for query, concepts in FUZZ_PATHS:
            chosen, path = create_path(client, learner.headers, query,
                                       concepts)
            learner.chunk_ids = learner.chunk_ids or chosen
            learner.path_ids.append(path['path_id'])
            learner.ticket_ids.extend(t['ticket_id']
                                      for t in path['tickets'])
    gated = path['tickets'][0]
    assert len(gated['prerequisites']) == 2, path
    # First: the small ids schemathesis favours (0, 8...) hit the lock.
    learner.ticket_ids.remove(gated['ticket_id'])
    learner.ticket_ids.insert(0, gated['ticket_id'])
    assert len(learner.ticket_ids) == FIRST_PATH_CONCEPTS + 2
    return learner


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
def test_a_learner_with_a_token_gets_documented_answers(case, fuzz_learner,
                                                        fuzz_stats):
    fuzz_learner.own_ids(case)
    fuzz_learner.own_chunks(case)
    headers = fuzz_learner.headers
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
