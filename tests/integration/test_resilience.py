"""Resilience (issue 9): the API keeps answering from the database when
Redis is killed, flushed or cut off; the Neo4j chunk store's circuit
breaker opens after repeated failures, shows in `GET /api/v1/health`,
lets cached searches answer and refuses the rest with a quick 503, then
lets a trial call through after its reset time.

Redis here is a redis-server of the test's own on a free loopback port
(never the shared one). Neo4j cannot run on this machine: its failures are
real driver errors against a closed port, or against a listener that
accepts connections and never answers; only the recovery at the end, which
needs a Neo4j that answers, uses a stand-in driver.
"""

import socket
import threading
import time
import uuid

import pytest

from support.api_client import LearnerClient
from support.corpus import fill_store
from support.providers import ScriptedLLMProvider
from support.redis_servers import RedisServer, free_port
from support.study import GOOD_ANSWERS, LEDGERS, MERKLE, make_path
from support.web import call
from tracl.cache import LearningCache, session_key
from tracl.embedding import LearningEmbedder
from tracl.graph.service import KnowledgeGraphs
from tracl.search import neo4j_store
from tracl.search.neo4j_store import Neo4jChunkStore

API = '/api/v1'

ALICE = 'sub-alice'

BLOCKCHAIN = 'I want to understand blockchain technology'
SIGNATURES = 'digital signatures and hash functions'
UNCACHED = 'merkle trees and hashing'

#: Seconds a refusal by an open circuit may take at most: it contacts no
#: service (a behaviour bound, not a benchmark).
QUICK = 1.0


class Learner(LearnerClient):
    """A signed-in browser calling the API and reading every view of
    its progress."""

    def views(self):
        """Everything the learner reads: paths, the path, progress on two
        concepts, subjects, profile."""
        path_id = self.path['path_id']
        return {
            'paths': self.read('/learning-paths'),
            'path': self.read('/learning-paths/' + path_id),
            'ledgers': self.read('/progress/%d' % self.concept(LEDGERS)),
            'merkle': self.read('/progress/%d' % self.concept(MERKLE)),
            'subjects': self.read('/progress'),
            'me': self.read('/me'),
        }


def statuses(views):
    """The facts each view shows about the learner's progress."""
    summary, = views['paths']['paths']
    return {
        'list': (summary['mastered'], summary['studying']),
        'path': sorted((c['concept'], c['status'])
                       for c in views['path']['concepts']
                       if c['concept'] in (LEDGERS, MERKLE)),
        'ledgers': (views['ledgers']['status'],
                    len(views['ledgers']['attempts'])),
        'merkle': (views['merkle']['status'],
                   len(views['merkle']['attempts'])),
        'subjects': sorted((s['subject'], s['mastered'])
                           for s in views['subjects']['subjects']),
        'active_path': views['me']['active_path'],
    }


def learning_env(make_env, *config):
    """Trac's default data, the scripted provider counting what a search
    costs the model, no rate limit, no foundations (the faults are drilled
    on the concepts the search finds) and `config`."""
    return make_env(default_data=True, provider=True,
                    config=[('learning', 'api_rate_limit', '0'),
                            ('learning', 'max_foundations', '0')] +
                    list(config))


# Redis killed, flushed or cut off -------------------------------------------

RETRY_INTERVAL = 0.2


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_env(make_env, own_redis):
    prefix = 'tracl-resilience-%s:' % uuid.uuid4().hex
    return learning_env(make_env, ('learning', 'cache', 'RedisCache'),
                        ('redis', 'url', own_redis.url),
                        ('redis', 'key_prefix', prefix),
                        ('redis', 'retry_interval', str(RETRY_INTERVAL)))


def cached_key_kinds(server):
    """The spec 8.1 patterns of the keys Redis holds."""
    client = server.client()
    try:
        kinds = set()
        for key in client.scan_iter():
            parts = key.decode().split(':')[1:]     # after the prefix
            kinds.add(parts[0] if parts[0] != 'api' else
                      'api:' + parts[1])
        return kinds
    finally:
        client.close()


def expected_after_ledgers(path_id):
    return {'list': (1, 0),
            'path': [(LEDGERS, 'mastered'), (MERKLE, 'not_started')],
            'ledgers': ('mastered', 1), 'merkle': ('not_started', 0),
            'subjects': [('Blockchain Fundamentals', 1)],
            'active_path': path_id}


def expected_after_both(path_id):
    return dict(expected_after_ledgers(path_id), list=(2, 0),
                path=[(LEDGERS, 'mastered'), (MERKLE, 'mastered')],
                merkle=('mastered', 1),
                subjects=[('Blockchain Fundamentals', 2)])


def test_every_spec_key_pattern_is_in_use(redis_env, own_redis):
    alice = Learner(redis_env, ALICE)
    alice.path = make_path(redis_env, ALICE, query=BLOCKCHAIN)
    alice.views()
    assert alice.generate(BLOCKCHAIN).json()['cached'] is True
    alice.answer(alice.concept(LEDGERS), GOOD_ANSWERS[LEDGERS])
    alice.views()
    drawing = KnowledgeGraphs(redis_env).draw(
        ALICE, lambda ticket_id: '/ticket/%d' % ticket_id, 'dot')
    assert drawing.cached is False

    assert {'search', 'progress', 'progress_version', 'graph', 'session',
            'api:progress', 'api:learning-paths',
            'api:learning-path-ordered'} <= cached_key_kinds(own_redis)


def test_redis_killed_mid_use_every_call_answers_from_the_database(
        redis_env, own_redis):
    alice = Learner(redis_env, ALICE)
    alice.path = make_path(redis_env, ALICE, query=BLOCKCHAIN)
    path_id = alice.path['path_id']
    before = statuses(alice.views())
    assert before['list'] == (0, 0) and before['active_path'] == path_id

    own_redis.stop()

    assert alice.answer(alice.concept(LEDGERS),
                        GOOD_ANSWERS[LEDGERS])['mastered'] is True
    assert statuses(alice.views()) == expected_after_ledgers(path_id)
    search = alice.generate(BLOCKCHAIN)
    assert search.status == 200 and search.json()['chunks']
    health = call(redis_env, 'GET', API + '/health')
    assert health.status == 200
    assert 'does not answer' in health.json()['checks']['cache']

    own_redis.start()       # the same port, empty: Redis was flushed
    time.sleep(RETRY_INTERVAL + 0.05)

    assert statuses(alice.views()) == expected_after_ledgers(path_id)
    alice.answer(alice.concept(MERKLE), GOOD_ANSWERS[MERKLE])
    assert statuses(alice.views()) == expected_after_both(path_id)
    assert call(redis_env, 'GET', API + '/health').json()['checks'][
        'cache'] == 'ok'


def test_redis_flushed_mid_use_every_call_answers_from_the_database(
        redis_env, own_redis):
    alice = Learner(redis_env, ALICE)
    alice.path = make_path(redis_env, ALICE, query=BLOCKCHAIN)
    path_id = alice.path['path_id']
    alice.views()
    alice.answer(alice.concept(LEDGERS), GOOD_ANSWERS[LEDGERS])
    assert statuses(alice.views()) == expected_after_ledgers(path_id)

    client = own_redis.client()
    try:
        client.flushall()
        assert statuses(alice.views()) == expected_after_ledgers(path_id)
        alice.answer(alice.concept(MERKLE), GOOD_ANSWERS[MERKLE])
        assert statuses(alice.views()) == expected_after_both(path_id)
        assert client.dbsize() > 0     # the cache filled again
    finally:
        client.close()


def test_redis_cut_off_mid_use_then_back_with_its_data_serves_no_stale_view(
        redis_env, own_redis):
    """A partition (or a failover to a replica): the answer graded while
    Redis did not answer retired views that Redis, back with its data,
    still holds. They are not served."""
    alice = Learner(redis_env, ALICE)
    alice.path = make_path(redis_env, ALICE, query=BLOCKCHAIN)
    path_id = alice.path['path_id']
    before = statuses(alice.views())

    own_redis.pause()
    started = time.monotonic()
    alice.answer(alice.concept(LEDGERS), GOOD_ANSWERS[LEDGERS])
    # Each Redis call waits at most its socket timeout, then the breaker
    # answers at once: the learner is not kept waiting on Redis.
    assert time.monotonic() - started < 5
    own_redis.resume()
    time.sleep(RETRY_INTERVAL + 0.05)

    after = statuses(alice.views())
    assert after != before
    assert after == expected_after_ledgers(path_id)


# The active path in the session data (FR-CS-2.3) ---------------------------

def test_the_path_created_or_opened_last_is_the_active_one(make_env):
    env = learning_env(make_env)
    fill_store(env)
    alice = Learner(env, ALICE)
    assert alice.read('/me')['active_path'] is None
    first = alice.create(BLOCKCHAIN).json()['path_id']
    assert alice.read('/me')['active_path'] == first
    second = alice.create(SIGNATURES).json()['path_id']
    assert alice.read('/me')['active_path'] == second

    alice.read('/learning-paths/' + first)
    assert alice.read('/me')['active_path'] == first
    # The session data is kept in the Trac session: the cached copy may go.
    LearningCache(env).delete(session_key(ALICE))
    assert alice.read('/me')['active_path'] == first

    # An administrator reading the learner's path changes neither.
    admin = Learner(env, 'sub-admin', groups=('Administrators',))
    admin.read('/learning-paths/' + second, query='user=' + ALICE)
    assert admin.read('/me')['active_path'] is None
    assert alice.read('/me')['active_path'] == first


# The Neo4j circuit breaker --------------------------------------------------

class FakeClock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def store_env(make_env, monkeypatch):
    """A learner's environment whose searches for BLOCKCHAIN and
    SIGNATURES were cached while the chunk store answered; the store is
    then Neo4j at a closed port (3 failures open the circuit for 30 s,
    on a clock the test moves)."""
    env = learning_env(make_env)
    fill_store(env)
    alice = Learner(env, ALICE)
    for query in (BLOCKCHAIN, SIGNATURES):
        response = alice.generate(query)
        assert response.status == 200 and response.json()['chunks']
    monkeypatch.setenv('NEO4J_PASSWORD', 'read-secret')
    env.config.set('learning', 'chunk_store', 'Neo4jChunkStore')
    env.config.set('neo4j', 'uri', 'bolt://127.0.0.1:%d' % free_port())
    env.config.set('neo4j', 'circuit_failures', '3')
    env.config.set('neo4j', 'circuit_reset', '30')
    store = Neo4jChunkStore(env)
    store._clock = FakeClock()
    yield env, alice, store
    neo4j_store.close_drivers()


def health(env):
    response = call(env, 'GET', API + '/health')
    assert response.status == 200
    return response.json()


def assert_unavailable(response):
    assert response.status == 503, response
    assert response.json()['error']['code'] == 'chunk_store_unavailable'
    assert response.header('Retry-After')


def test_health_shows_no_circuit_of_services_not_configured(env):
    assert health(env)['circuits'] == {}


def test_neo4j_down_opens_the_circuit_cached_searches_answer_others_503(
        store_env):
    env, alice, store = store_env
    llm = ScriptedLLMProvider(env)

    # A cached search answers without contacting Neo4j.
    cached = alice.generate(BLOCKCHAIN)
    assert cached.status == 200 and cached.json()['cached'] is True
    assert store.circuit_state() == 'closed'
    assert store._breaker.failures == 0

    for n in range(3):
        assert_unavailable(alice.generate(UNCACHED))
    assert store.circuit_state() == 'open'

    body = health(env)
    assert body['status'] == 'degraded'
    assert body['circuits'] == {'chunk_store': {
        'state': 'open', 'failures': 3, 'retry_in': 30}}
    assert 'circuit open' in body['checks']['chunk_store']

    asked = llm.sentence_calls
    started = time.monotonic()
    assert_unavailable(alice.generate(UNCACHED))
    assert time.monotonic() - started < QUICK
    assert llm.sentence_calls == asked     # refused before the LLM

    cached = alice.generate(BLOCKCHAIN)
    assert cached.status == 200 and cached.json()['cached'] is True
    assert cached.json()['chunks']

    # The first path needs nothing from the store beyond the cached search.
    created = alice.create(BLOCKCHAIN)
    assert created.status == 201, created
    # A second one links the learner's other concepts, whose chunks are in
    # the store: refused, nothing written.
    started = time.monotonic()
    assert_unavailable(alice.create(SIGNATURES))
    assert time.monotonic() - started < QUICK
    paths = alice.read('/learning-paths')['paths']
    assert [p['path_id'] for p in paths] == [created.json()['path_id']]


def test_neo4j_circuit_half_opens_after_the_reset_time_then_closes(
        store_env, monkeypatch):
    env, alice, store = store_env
    for n in range(3):
        assert_unavailable(alice.generate(UNCACHED))

    store._clock.now += 29
    assert health(env)['circuits']['chunk_store'] == {
        'state': 'open', 'failures': 3, 'retry_in': 1}
    assert_unavailable(alice.generate(UNCACHED))

    store._clock.now += 1.5
    assert store.circuit_state() == 'half-open'
    assert [state() for name, state in store.get_circuit_breakers()] == [
        {'state': 'half-open', 'failures': 3, 'retry_in': None}]
    # The health check is the trial call: Neo4j still does not answer, so
    # the circuit opens again for the whole reset time.
    body = health(env)
    assert body['circuits']['chunk_store'] == {
        'state': 'open', 'failures': 4, 'retry_in': 30}
    assert 'does not answer' in body['checks']['chunk_store']

    # Neo4j is back (a stand-in driver: no Neo4j runs here).
    store._clock.now += 30
    neo4j_store.close_drivers()
    dimension = LearningEmbedder(env).embedder.dimension()
    monkeypatch.setattr(neo4j_store.neo4j.GraphDatabase, 'driver',
                        lambda uri, auth=None, **config:
                        AnsweringDriver(dimension))
    body = health(env)
    assert body['circuits']['chunk_store'] == {
        'state': 'closed', 'failures': 0, 'retry_in': None}
    assert body['checks']['chunk_store'] == 'ok'
    assert [m for level, m in env.log_messages
            if level == 'INFO' and 'circuit closed' in m]


class AnsweringDriver(object):
    """A Neo4j that answers `SHOW INDEXES` with an online vector index."""

    def __init__(self, dimension):
        self.dimension = dimension

    def session(self, **kwargs):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def run(self, query, **params):
        assert getattr(query, 'text', query).startswith('SHOW INDEXES')
        return [{'name': 'chunk_embeddings', 'type': 'VECTOR',
                 'state': 'ONLINE', 'options': {'indexConfig': {
                     'vector.dimensions': self.dimension}}}]

    def close(self):
        pass


class SilentServer(object):
    """Accepts TCP connections and never answers, as a hung Neo4j; counts
    the connections."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(('127.0.0.1', 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.connections = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _address = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self):
        self.socket.close()
        for connection in self.connections:
            connection.close()


def test_a_hung_neo4j_costs_at_most_its_timeout_until_the_circuit_opens(
        make_env, monkeypatch):
    env = learning_env(make_env)
    silent = SilentServer()
    try:
        monkeypatch.setenv('NEO4J_PASSWORD', 'read-secret')
        env.config.set('learning', 'chunk_store', 'Neo4jChunkStore')
        env.config.set('neo4j', 'uri', 'bolt://127.0.0.1:%d' % silent.port)
        env.config.set('neo4j', 'timeout', '0.3')
        env.config.set('neo4j', 'circuit_failures', '2')
        alice = Learner(env, ALICE)

        for n in range(2):
            started = time.monotonic()
            assert_unavailable(alice.generate(UNCACHED))
            elapsed = time.monotonic() - started
            assert 0.3 <= elapsed < 0.3 + QUICK
        contacted = len(silent.connections)
        assert contacted >= 2

        started = time.monotonic()
        assert_unavailable(alice.generate(UNCACHED))
        assert time.monotonic() - started < QUICK
        assert len(silent.connections) == contacted   # not contacted
        assert health(env)['circuits']['chunk_store']['state'] == 'open'
    finally:
        silent.close()
        neo4j_store.close_drivers()


def test_health_shows_the_llm_circuit_open_after_failures(make_env,
                                                         monkeypatch):
    from tracl.llm import LLMUnavailable
    from tracl.llm.anthropic_provider import AnthropicLLMProvider
    monkeypatch.setenv('ANTHROPIC_API_KEY', 'test-key-not-sent-anywhere')
    env = make_env(config=[
        ('learning', 'llm_provider', 'AnthropicLLMProvider'),
        ('anthropic', 'base_url', 'http://127.0.0.1:%d' % free_port()),
        ('anthropic', 'max_retries', '0'),
        ('anthropic', 'circuit_failures', '2'),
        ('anthropic', 'circuit_reset', '30')])
    provider = AnthropicLLMProvider(env)
    for n in range(2):
        with pytest.raises(LLMUnavailable):
            provider.academic_sentences('hash functions')
    assert provider.circuit_state() == 'open'

    body = health(env)
    assert body['circuits']['llm']['state'] == 'open'
    assert body['circuits']['llm']['failures'] == 2
    assert 0 < body['circuits']['llm']['retry_in'] <= 30
