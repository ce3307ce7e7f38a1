"""The chunk stores (`IChunkStore`).

One contract, run on every store there is: `LocalChunkStore` on SQLite and on
PostgreSQL always, `Neo4jChunkStore` when `NEO4J_URI` names a Neo4j 5
database (read as `NEO4J_USER`, default `neo4j`, with `NEO4J_PASSWORD`;
loaded as `NEO4J_WRITE_USER`, default the same user, with
`NEO4J_WRITE_PASSWORD`; `NEO4J_DATABASE` optional). Each Neo4j test works
under a label and an index of its own and drops them afterwards.

Then what only the local store promises (changes made by another process,
one model per store, the HNSW fallback), the Neo4j adapter against a
stand-in driver (so its conversions and refusals are checked without a
server), and a search with the real local embedder.

Vectors are random unit vectors from a fixed seed, so the exact nearest
neighbours of any query are known from numpy.
"""

import importlib.util
import os
import sys
import threading
import uuid

import numpy as np
import pytest

import support.envs  # noqa: F401  (loads every TracLearn module)
from support.envs import ENABLED
from support.fake_neo4j import Result, Session, serve
from trac.test import EnvironmentStub

from tracl.corpus import load_starter_corpus, validate_chunks
from tracl.embedding import LearningEmbedder
from tracl.search import ChunkStoreUnavailable
from tracl.search import neo4j_store
from tracl.search.local_store import LocalChunkStore
from tracl.search.neo4j_store import Neo4jChunkStore, load_chunks
from tracl.search.relevance import chunk_text

MODEL = 'test-model-v1'
DIMENSION = 32

NEO4J_URI = os.environ.get('NEO4J_URI')

# The stores under test, decided at collection time: nothing is skipped.
LOCAL_BACKENDS = ['sqlite', pytest.param('postgres',
                                         marks=pytest.mark.postgres)]
BACKENDS = LOCAL_BACKENDS + (['neo4j'] if NEO4J_URI else [])

HAS_FAISS = importlib.util.find_spec('faiss') is not None


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def db_uri(backend, request):
    """The Trac database of each backend (overrides conftest's): Neo4j's
    environment only holds its configuration, on SQLite."""
    if backend == 'postgres':
        return request.getfixturevalue('pg_database')
    return 'sqlite::memory:'


class StoreUnderTest(object):
    """A store, and how to fill it: `upsert` for the local store,
    `load_chunks` (what `learning neo4j load` runs) for Neo4j."""

    def __init__(self, env, store, load):
        self.env = env
        self.store = store
        self.load = load


@pytest.fixture
def store(backend, make_env):
    if backend != 'neo4j':
        env = make_env()
        local = LocalChunkStore(env)
        yield StoreUnderTest(env, local, local.upsert)
        return
    suffix = uuid.uuid4().hex[:10]
    label, index = 'TracLearnTest_%s' % suffix, 'tracl_test_%s' % suffix
    database = os.environ.get('NEO4J_DATABASE') or None
    user = os.environ.get('NEO4J_USER', 'neo4j')
    writer = os.environ.get('NEO4J_WRITE_USER', user)
    password = os.environ['NEO4J_WRITE_PASSWORD']
    env = make_env(config=[('learning', 'chunk_store', 'Neo4jChunkStore'),
                           ('neo4j', 'uri', NEO4J_URI),
                           ('neo4j', 'user', user),
                           ('neo4j', 'database', database or ''),
                           ('neo4j', 'label', label),
                           ('neo4j', 'index_name', index)])

    def load(chunks, embeddings, model_name):
        embeddings = np.asarray(embeddings, dtype=np.float32)
        return load_chunks(NEO4J_URI, writer, password, chunks, embeddings,
                           model_name, embeddings.shape[1], database=database,
                           index_name=index, label=label)
    try:
        yield StoreUnderTest(env, Neo4jChunkStore(env), load)
    finally:
        drop_neo4j_chunks(NEO4J_URI, writer, password, database, label,
                          index)


def drop_neo4j_chunks(uri, user, password, database, label, index):
    import neo4j
    driver = neo4j.GraphDatabase.driver(uri, auth=(user, password))
    try:
        with driver.session(database=database) as session:
            session.run('DROP INDEX `%s` IF EXISTS' % index).consume()
            session.run('DROP INDEX `%s` IF EXISTS'
                        % neo4j_store.fulltext_index_name(label)).consume()
            session.run('DROP CONSTRAINT `%s` IF EXISTS'
                        % neo4j_store.constraint_name(label)).consume()
            session.run('MATCH (c:`%s`) DETACH DELETE c' % label).consume()
    finally:
        driver.close()


def starter_chunks():
    """The starter corpus, normalised as an import stores it."""
    return validate_chunks(load_starter_corpus()).valid


_embedded = {}


def embedded_starter_corpus(env):
    """`(chunks, vectors, embedder)`: the starter corpus embedded as
    `learning import` embeds it, once per test process (about 20 s)."""
    embedder = LearningEmbedder(env).embedder
    if not _embedded:
        chunks = starter_chunks()
        _embedded['value'] = (chunks, embedder.embed(
            [chunk_text(chunk) for chunk in chunks]))
    return _embedded['value'] + (embedder,)


def unit_vectors(count, dimension=DIMENSION, seed=7):
    vectors = np.random.default_rng(seed).standard_normal((count, dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def expected_order(vectors, query, chunks, limit):
    scores = vectors @ query
    order = sorted(range(len(chunks)), key=lambda i: (-scores[i], i))
    return [chunks[i]['id'] for i in order[:limit]], scores


def ids(hits):
    return [chunk['id'] for chunk, _cosine in hits]


# The contract --------------------------------------------------------------

def test_upserted_chunks_read_back_with_every_field(store):
    chunks = starter_chunks()
    store.load(chunks, unit_vectors(len(chunks)), MODEL)
    wanted = [chunks[0]['id'], chunks[77]['id'], 'no-such-chunk']
    found = store.store.get_chunks(wanted)
    assert sorted(found) == sorted(wanted[:2])
    assert found[chunks[0]['id']] == chunks[0]
    assert found[chunks[77]['id']] == chunks[77]
    assert store.store.get_chunks([]) == {}


def test_search_returns_the_exact_nearest_chunks_best_first(store):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    store.load(chunks, vectors, MODEL)
    hits = store.store.search(vectors[17], 10)
    order, scores = expected_order(vectors, vectors[17], chunks, 10)
    assert ids(hits) == order
    assert hits[0][0] == chunks[17]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [cosine for _chunk, cosine in hits] == pytest.approx(
        sorted(scores, reverse=True)[:10], abs=1e-5)


def test_search_of_a_query_between_chunks_ranks_them_by_cosine(store):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    store.load(chunks, vectors, MODEL)
    query = vectors[3] + vectors[40] + 0.5 * vectors[99]
    query /= np.linalg.norm(query)
    order, _ = expected_order(vectors, query, chunks, 5)
    assert ids(store.store.search(query, 5)) == order
    assert set(order[:2]) == {chunks[3]['id'], chunks[40]['id']}


def test_search_returns_at_most_the_limit(store):
    chunks = starter_chunks()
    store.load(chunks, unit_vectors(len(chunks)), MODEL)
    query = unit_vectors(1, seed=99)[0]
    assert len(store.store.search(query, 1)) == 1
    assert len(store.store.search(query, 20)) == 20
    assert len(store.store.search(query, 0)) == 0
    everything = store.store.search(query, len(chunks) + 50)
    assert sorted(ids(everything)) == sorted(c['id'] for c in chunks)


def test_cosines_lie_between_minus_one_and_one(store):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    store.load(chunks, vectors, MODEL)
    hits = store.store.search(-vectors[5], len(chunks))
    cosines = [cosine for _chunk, cosine in hits]
    assert all(-1.0 <= cosine <= 1.0 for cosine in cosines)
    assert cosines == sorted(cosines, reverse=True)
    assert hits[-1][0]['id'] == chunks[5]['id']
    assert hits[-1][1] == pytest.approx(-1.0, abs=1e-5)


def test_query_of_another_dimension_is_refused(store):
    chunks = starter_chunks()
    store.load(chunks, unit_vectors(len(chunks)), MODEL)
    with pytest.raises(ValueError) as raised:
        store.store.search(unit_vectors(1, dimension=DIMENSION + 1)[0], 5)
    assert '%d dimensions' % (DIMENSION + 1) in str(raised.value)
    assert str(DIMENSION) in str(raised.value)


def test_upserting_the_same_chunks_again_updates_them_without_duplicates(
        store):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    assert store.load(chunks, vectors, MODEL) == (len(chunks), 0)
    assert store.load(chunks, vectors, MODEL) == (0, len(chunks))
    assert store.store.stats()['chunks'] == len(chunks)
    listed = [chunk['id'] for chunk in store.store.iter_chunks()]
    assert listed == sorted(c['id'] for c in chunks)
    hits = store.store.search(vectors[0], len(chunks))
    assert len(set(ids(hits))) == len(chunks)


def test_a_changed_chunk_is_replaced_in_place(store):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    store.load(chunks, vectors, MODEL)
    changed = dict(chunks[10], content=chunks[10]['content'] + ' Revised.',
                   difficulty_level=5)
    new_vector = unit_vectors(1, seed=1234)
    assert store.load([changed], new_vector, MODEL) == (0, 1)
    assert store.store.get_chunks([changed['id']])[changed['id']] == changed
    hits = store.store.search(new_vector[0], 1)
    assert hits[0][0] == changed
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert store.store.stats()['chunks'] == len(chunks)


def test_prerequisites_round_trip_as_null_a_name_or_a_list(store):
    base = starter_chunks()[:3]
    chunks = [dict(base[0], has_prerequisite=None, prerequisite_for=None),
              dict(base[1], has_prerequisite='Hash Functions',
                   prerequisite_for=['Mining', 'Blocks and Chaining']),
              dict(base[2], has_prerequisite=['Merkle Trees', 'Hashing'],
                   prerequisite_for='Proof of Work')]
    vectors = unit_vectors(3)
    store.load(chunks, vectors, MODEL)
    found = store.store.get_chunks([c['id'] for c in chunks])
    for chunk in chunks:
        assert found[chunk['id']] == chunk
    assert list(store.store.iter_chunks()) == sorted(
        chunks, key=lambda c: c['id'])
    assert store.store.search(vectors[1], 1)[0][0] == chunks[1]


def test_stats_count_the_chunks_of_each_subject_with_model_and_dimension(
        store):
    chunks = starter_chunks()
    store.load(chunks, unit_vectors(len(chunks)), MODEL)
    stats = store.store.stats()
    assert stats['chunks'] == len(chunks) == 156
    assert stats['subjects'] == {
        'Blockchain Fundamentals': 26, 'Cell Biology': 26,
        'Computer Networks': 26, 'Linear Algebra': 26,
        'Machine Learning': 26, 'Quantum Computing': 26}
    assert stats['embedding_model'] == MODEL
    assert stats['dimension'] == DIMENSION
    assert store.store.describe()


@pytest.mark.slow
def test_real_embeddings_rank_the_chunks_that_explain_the_question_first(
        store):
    chunks, vectors, embedder = embedded_starter_corpus(store.env)
    store.load(chunks, vectors, embedder.model_name())

    def concepts(query, limit):
        return [chunk['concept'] for chunk, _cosine in
                store.store.search(embedder.embed([query])[0], limit)]
    # "Blocks and Chaining" says that "what makes rewriting costly is
    # combining chaining with ... proof of work"; MiniLM ranks it first
    # (cosine 0.54) and the Proof of Work chunk second (0.43).
    assert concepts('why is rewriting blockchain history expensive', 2) == \
        ['Blocks and Chaining', 'Proof of Work']
    assert concepts('how does proof of work secure bitcoin', 1) == \
        ['Proof of Work']


# The local store -----------------------------------------------------------

local_only = pytest.mark.parametrize('backend', LOCAL_BACKENDS, indirect=True)


def shared_database_envs(backend, make_env, monkeypatch, tmp_path, config):
    """Two environments on one database, as two server processes would
    have: on SQLite, a file database."""
    if backend == 'sqlite':
        monkeypatch.setenv('TRAC_TEST_DB_URI',
                           'sqlite:%s' % (tmp_path / 'trac.db'))
    first = make_env(config=config)
    second = EnvironmentStub(enable=ENABLED, config=config, destroying=True)
    return first, second


@local_only
def test_search_sees_a_change_made_by_another_process_after_the_interval(
        backend, make_env, monkeypatch, tmp_path):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    server, importer = shared_database_envs(
        backend, make_env, monkeypatch, tmp_path,
        [('learning', 'chunk_store_check_interval', '3600')])
    try:
        LocalChunkStore(importer).upsert(chunks[:100], vectors[:100], MODEL)
        searcher = LocalChunkStore(server)
        assert ids(searcher.search(vectors[120], 1)) != [chunks[120]['id']]

        moved = unit_vectors(1, seed=4321)
        LocalChunkStore(importer).upsert(chunks[100:], vectors[100:], MODEL)
        LocalChunkStore(importer).upsert([chunks[0]], moved, MODEL)
        # Within the interval, the matrix loaded before answers.
        assert ids(searcher.search(vectors[120], 1)) != [chunks[120]['id']]

        server.config.set('learning', 'chunk_store_check_interval', '0')
        assert ids(searcher.search(vectors[120], 1)) == [chunks[120]['id']]
        assert ids(searcher.search(moved[0], 1)) == [chunks[0]['id']]
        assert searcher.search(vectors[0], 1)[0][1] < 0.9
        assert searcher.stats()['loaded_vectors'] == len(chunks)
    finally:
        importer.shutdown()


@local_only
def test_own_upsert_is_seen_by_the_next_search_at_once(make_env):
    env = make_env(config=[('learning', 'chunk_store_check_interval',
                            '3600')])
    store = LocalChunkStore(env)
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    assert store.search(vectors[0], 5) == []
    store.upsert(chunks[:50], vectors[:50], MODEL)
    assert ids(store.search(vectors[0], 1)) == [chunks[0]['id']]
    store.upsert(chunks[50:], vectors[50:], MODEL)
    assert ids(store.search(vectors[150], 1)) == [chunks[150]['id']]


@local_only
def test_searches_from_many_threads_answer_while_chunks_are_upserted(
        backend, make_env, monkeypatch, tmp_path):
    if backend == 'sqlite':     # Trac gives each thread its own :memory:
        monkeypatch.setenv('TRAC_TEST_DB_URI',
                           'sqlite:%s' % (tmp_path / 'trac.db'))
    env = make_env(config=[('learning', 'chunk_store_check_interval', '0')])
    store = LocalChunkStore(env)
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    store.upsert(chunks[:50], vectors[:50], MODEL)
    failures = []

    def search_repeatedly():
        try:
            for i in range(40):
                hits = store.search(vectors[i % 50], 5)
                assert len(hits) == 5
                assert hits[0][0]['id'] == chunks[i % 50]['id']
        except Exception as e:      # reported below, with its thread's
            failures.append(e)
    threads = [threading.Thread(target=search_repeatedly) for _ in range(4)]
    for thread in threads:
        thread.start()
    for start in range(50, len(chunks), 20):
        store.upsert(chunks[start:start + 20], vectors[start:start + 20],
                     MODEL)
    for thread in threads:
        thread.join()
    assert failures == []
    assert ids(store.search(vectors[155], 1)) == [chunks[155]['id']]


@local_only
def test_vectors_of_another_model_are_refused_naming_both(make_env):
    store = LocalChunkStore(make_env())
    chunks = starter_chunks()
    store.upsert(chunks[:100], unit_vectors(100), MODEL)
    with pytest.raises(ValueError) as raised:
        store.upsert(chunks[100:], unit_vectors(56), 'other-model')
    assert MODEL in str(raised.value) and 'other-model' in str(raised.value)
    with pytest.raises(ValueError) as raised:
        store.upsert(chunks[100:], unit_vectors(56, dimension=48), MODEL)
    assert '32 dimensions' in str(raised.value)
    assert '48 dimensions' in str(raised.value)
    assert store.stats()['chunks'] == 100


@local_only
def test_reembedding_every_chunk_at_once_switches_the_model(make_env):
    store = LocalChunkStore(make_env())
    chunks = starter_chunks()
    store.upsert(chunks, unit_vectors(len(chunks)), MODEL)
    store.search(unit_vectors(1)[0], 1)
    vectors = unit_vectors(len(chunks), dimension=48, seed=3)
    assert store.upsert(chunks, vectors, 'model-v2') == (0, len(chunks))
    stats = store.stats()
    assert (stats['embedding_model'], stats['dimension']) == ('model-v2', 48)
    assert ids(store.search(vectors[9], 1)) == [chunks[9]['id']]
    with pytest.raises(ValueError):
        store.search(unit_vectors(1)[0], 1)


@local_only
def test_a_concept_name_taken_by_another_chunk_is_refused(make_env):
    store = LocalChunkStore(make_env())
    chunks = starter_chunks()[:5]
    store.upsert(chunks, unit_vectors(5), MODEL)
    twin = dict(chunks[2], id='bc_99')
    with pytest.raises(ValueError) as raised:
        store.upsert([twin], unit_vectors(1), MODEL)
    assert 'bc_99' in str(raised.value) and chunks[2]['id'] in str(
        raised.value)
    assert store.stats()['chunks'] == 5


@local_only
def test_malformed_chunks_and_embeddings_are_refused(make_env):
    store = LocalChunkStore(make_env())
    chunk = starter_chunks()[0]
    refused = [
        ([dict(chunk, content='')], unit_vectors(1)),
        ([dict(chunk, difficulty_level=9)], unit_vectors(1)),
        ([dict(chunk, has_prerequisite=[3])], unit_vectors(1)),
        ([chunk, chunk], unit_vectors(2)),
        ([chunk], unit_vectors(2)),
        ([chunk], np.zeros((1, DIMENSION))),
        ([chunk], np.full((1, DIMENSION), np.nan)),
    ]
    for chunks, vectors in refused:
        with pytest.raises(ValueError):
            store.upsert(chunks, vectors, MODEL)
    assert store.stats()['chunks'] == 0


@local_only
def test_search_of_an_empty_store_finds_nothing(make_env):
    store = LocalChunkStore(make_env())
    assert store.search(unit_vectors(1)[0], 10) == []
    assert store.stats()['chunks'] == 0
    assert list(store.iter_chunks()) == []


@local_only
def test_exact_search_stands_in_and_logs_once_when_faiss_is_missing(
        make_env, monkeypatch):
    monkeypatch.setitem(sys.modules, 'faiss', None)     # import fails
    env = make_env(config=[('learning', 'hnsw_min_chunks', '100'),
                           ('learning', 'chunk_store_check_interval', '0')])
    store = LocalChunkStore(env)
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    store.upsert(chunks[:120], vectors[:120], MODEL)
    assert ids(store.search(vectors[7], 1)) == [chunks[7]['id']]
    store.upsert(chunks[120:], vectors[120:], MODEL)
    assert ids(store.search(vectors[130], 1)) == [chunks[130]['id']]
    warnings = [message for level, message in env.log_messages
                if 'faiss-cpu is not installed' in message]
    assert len(warnings) == 1
    assert 'hnsw_min_chunks' in warnings[0]
    assert store.stats()['search'] == 'exact'


if HAS_FAISS:
    @local_only
    def test_hnsw_index_answers_above_the_threshold(make_env):
        env = make_env(config=[('learning', 'hnsw_min_chunks', '100')])
        store = LocalChunkStore(env)
        store._build_in_background = False
        chunks = starter_chunks()
        vectors = unit_vectors(len(chunks))
        store.upsert(chunks, vectors, MODEL)
        hits = store.search(vectors[42], 5)
        assert store.stats()['search'] == 'hnsw'
        assert ids(hits) == expected_order(vectors, vectors[42], chunks,
                                           5)[0]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)


@local_only
def test_health_reports_an_empty_store_and_another_model_than_the_embedder(
        make_env):
    store = LocalChunkStore(make_env())
    checks = dict(store.get_health_checks())
    assert list(checks) == ['chunk_store']
    assert 'no chunks' in checks['chunk_store']()
    chunks = starter_chunks()
    store.upsert(chunks, unit_vectors(len(chunks)), MODEL)
    assert MODEL in checks['chunk_store']()
    embedder = LearningEmbedder(store.env).embedder
    store.upsert(chunks, unit_vectors(len(chunks),
                                      dimension=embedder.dimension()),
                 embedder.model_name())
    assert checks['chunk_store']() is None


@local_only
def test_health_check_comes_only_from_the_configured_store(make_env):
    env = make_env(config=[('learning', 'chunk_store', 'Neo4jChunkStore')])
    assert list(LocalChunkStore(env).get_health_checks()) == []
    assert [name for name, _check in
            Neo4jChunkStore(env).get_health_checks()] == ['chunk_store']


# The Neo4j adapter, against a stand-in driver ------------------------------

class FakeNeo4j(object):
    """Answers the store's Cypher from a list of nodes, scoring as
    Neo4j's cosine vector index does: (1 + cos) / 2. Records the access
    mode of every session it opens."""

    def __init__(self, chunks, vectors, index='chunk_embeddings',
                 error=None, may_list_indexes=True):
        self.nodes = [dict(chunk, embedding=vector)
                      for chunk, vector in zip(chunks, vectors)]
        self.index = index
        self.dimension = len(vectors[0])
        self.error = error
        self.may_list_indexes = may_list_indexes
        self.modes = []
        self.statements = []
        self.calls = []
        self.closed = False

    # The driver

    def session(self, database=None, default_access_mode=None):
        self.modes.append(default_access_mode)
        return Session(self)

    def close(self):
        self.closed = True

    # The server

    def answer(self, query, params):
        text = getattr(query, 'text', query)
        self.statements.append(text)
        self.calls.append((text, params))
        if self.error is not None:
            raise self.error
        if text.startswith(('CREATE ', 'CALL db.awaitIndex', 'UNWIND')):
            return Result([])
        if 'count(c) AS n' in text:
            return Result([{'n': sum(node['id'] in params['ids']
                                     for node in self.nodes)}])
        if 'NOT c.id IN $ids' in text:     # no conflicting stored chunk
            return Result([])
        if text.startswith('SHOW INDEXES') and not self.may_list_indexes:
            from neo4j.exceptions import Forbidden
            raise Forbidden('SHOW INDEX is not allowed for this user')
        if 'size(c.embedding) AS d' in text:
            return Result([{'d': self.dimension}])
        if text.startswith('SHOW INDEXES'):
            return Result([{
                'name': self.index, 'type': 'VECTOR', 'state': 'ONLINE',
                'labelsOrTypes': ['Chunk'], 'properties': ['embedding'],
                'options': {'indexProvider': 'vector-2.0', 'indexConfig': {
                    'vector.dimensions': self.dimension,
                    'vector.similarity_function': 'COSINE'}}}])
        if 'queryNodes' in text:
            query_vector = np.asarray(params['vector'])
            scored = sorted(((1 + float(np.dot(node['embedding'],
                                               query_vector))) / 2, node)
                            for node in self.nodes)[::-1]
            return Result({'chunk': _props(node), 'score': score}
                          for score, node in scored[:params['k']])
        if 'c.id IN $ids' in text:
            return Result({'chunk': _props(node)} for node in self.nodes
                          if node['id'] in params['ids'])
        raise AssertionError('unexpected Cypher: %s' % text)


def _props(node):
    """Node properties as Neo4j returns them: no key for a null."""
    return {key: value for key, value in node.items()
            if key != 'embedding' and value is not None}


# The adapter does not use the Trac database: its environment is on SQLite.
on_sqlite = pytest.mark.parametrize('backend', ['sqlite'], indirect=True)


@pytest.fixture
def fake_neo4j(monkeypatch):
    """Makes `Neo4jChunkStore` talk to a `FakeNeo4j`: call it with the
    chunks and vectors it should hold."""
    monkeypatch.setenv('NEO4J_PASSWORD', 'read-secret-42')

    def install(chunks, vectors, **kwargs):
        return serve(monkeypatch, FakeNeo4j(chunks, vectors, **kwargs))
    yield install
    neo4j_store.close_drivers()


@pytest.fixture
def neo4j_env(make_env):
    return make_env(config=[('learning', 'chunk_store', 'Neo4jChunkStore'),
                            ('neo4j', 'uri', 'neo4j+s://example.test')])


@on_sqlite
def test_neo4j_scores_become_cosines_read_in_read_only_sessions(
        fake_neo4j, neo4j_env):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    fake = fake_neo4j(chunks, vectors)
    store = Neo4jChunkStore(neo4j_env)
    hits = store.search(vectors[17], 10)
    order, scores = expected_order(vectors, vectors[17], chunks, 10)
    assert ids(hits) == order
    assert hits[0][0] == chunks[17]
    assert [cosine for _chunk, cosine in hits] == pytest.approx(
        sorted(scores, reverse=True)[:10], abs=1e-5)
    assert store.search(-vectors[5], len(chunks))[-1][1] == \
        pytest.approx(-1.0, abs=1e-5)
    assert set(fake.modes) == {neo4j_store.neo4j.READ_ACCESS}
    assert any('db.index.vector.queryNodes' in s for s in fake.statements)
    assert not any('gds.similarity' in s for s in fake.statements)


@on_sqlite
def test_neo4j_store_refuses_a_query_of_another_dimension(fake_neo4j,
                                                          neo4j_env):
    chunks = starter_chunks()
    fake_neo4j(chunks, unit_vectors(len(chunks)))
    with pytest.raises(ValueError) as raised:
        Neo4jChunkStore(neo4j_env).search(unit_vectors(1, dimension=8)[0], 3)
    assert '8 dimensions' in str(raised.value)
    assert 'vectors of %d' % DIMENSION in str(raised.value)


@on_sqlite
def test_neo4j_user_that_may_not_list_indexes_gets_the_dimension_of_a_vector(
        fake_neo4j, neo4j_env):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    fake_neo4j(chunks, vectors, may_list_indexes=False)
    store = Neo4jChunkStore(neo4j_env)
    assert ids(store.search(vectors[3], 1)) == [chunks[3]['id']]
    with pytest.raises(ValueError):
        store.search(unit_vectors(1, dimension=8)[0], 3)
    # The configured embedder gives 384 dimensions: health says so.
    assert 'vectors of %d dimensions' % DIMENSION in store.health()


@on_sqlite
def test_neo4j_store_is_read_only_at_run_time(fake_neo4j, neo4j_env):
    chunks = starter_chunks()
    fake_neo4j(chunks, unit_vectors(len(chunks)))
    with pytest.raises(NotImplementedError) as raised:
        Neo4jChunkStore(neo4j_env).upsert(chunks, unit_vectors(156), MODEL)
    assert 'neo4j load' in str(raised.value)


@on_sqlite
def test_neo4j_store_shares_one_driver_per_process(fake_neo4j, make_env):
    chunks = starter_chunks()
    fake = fake_neo4j(chunks, unit_vectors(len(chunks)))
    config = [('neo4j', 'uri', 'neo4j+s://example.test'),
              ('neo4j', 'timeout', '3.5')]
    first = make_env(config=config)
    second = EnvironmentStub(enable=ENABLED, config=config, destroying=True)
    for env in (first, second):
        Neo4jChunkStore(env).get_chunks([chunks[0]['id']])
    assert len(fake.created) == 1
    uri, auth, options = fake.created[0]
    assert (uri, auth) == ('neo4j+s://example.test',
                           ('neo4j', 'read-secret-42'))
    assert options['connection_timeout'] == 3.5
    assert options['connection_acquisition_timeout'] == 3.5
    # Reads failing for a passing reason are retried for [neo4j] retry_time.
    assert options['max_transaction_retry_time'] == 2.0


@on_sqlite
def test_neo4j_failures_are_unavailable_and_never_show_the_password(
        fake_neo4j, neo4j_env):
    from neo4j.exceptions import AuthError, ServiceUnavailable
    chunks = starter_chunks()
    store = Neo4jChunkStore(neo4j_env)
    for error, words in ((ServiceUnavailable('connection refused'),
                          'does not answer'),
                         (AuthError('unauthorized'), 'refused user neo4j')):
        neo4j_store.close_drivers()
        fake_neo4j(chunks, unit_vectors(len(chunks)), error=error)
        store._dimension = None
        with pytest.raises(ChunkStoreUnavailable) as raised:
            store.search(unit_vectors(1)[0], 3)
        assert words in str(raised.value)
        assert 'neo4j+s://example.test' in str(raised.value)
        assert 'read-secret-42' not in str(raised.value)
        assert store.health() == str(raised.value)


@on_sqlite
def test_neo4j_store_without_a_password_says_which_variable_to_set(
        neo4j_env, monkeypatch):
    monkeypatch.delenv('NEO4J_PASSWORD', raising=False)
    with pytest.raises(ChunkStoreUnavailable) as raised:
        Neo4jChunkStore(neo4j_env).search(unit_vectors(1)[0], 3)
    assert 'NEO4J_PASSWORD' in str(raised.value)


def test_neo4j_load_creates_index_and_constraint_then_merges_in_batches(
        fake_neo4j):
    chunks = starter_chunks()
    vectors = unit_vectors(len(chunks))
    fake = fake_neo4j([dict(chunks[0])], vectors[:1])     # one is stored
    result = load_chunks('neo4j+s://example.test', 'loader', 'write-secret',
                         chunks, vectors, MODEL, DIMENSION, batch_size=100)
    assert result == (len(chunks) - 1, 1)
    statements = fake.calls
    texts = [text for text, _params in statements]
    assert texts[0].startswith('CREATE CONSTRAINT `chunk_id_unique` IF NOT '
                               'EXISTS FOR (c:`Chunk`) REQUIRE c.id IS '
                               'UNIQUE')
    assert texts[1].startswith('CREATE VECTOR INDEX `chunk_embeddings` IF '
                               'NOT EXISTS FOR (c:`Chunk`) ON (c.embedding)')
    assert '`vector.dimensions`: %d' % DIMENSION in texts[1]
    assert "'cosine'" in texts[1]
    merges = [params for text, params in statements if 'MERGE (c:' in text]
    assert [len(params['rows']) for params in merges] == [100, 56]
    assert merges[1]['rows'][-1]['embedding'] == pytest.approx(
        vectors[-1].tolist())
    assert fake.modes == [neo4j_store.neo4j.WRITE_ACCESS]
    assert fake.closed


def test_neo4j_load_refuses_vectors_that_do_not_fit_the_index(fake_neo4j):
    chunks = starter_chunks()
    fake = fake_neo4j([chunks[0]], unit_vectors(1, dimension=384))
    with pytest.raises(ValueError) as raised:
        load_chunks('neo4j+s://example.test', 'loader', 'write-secret',
                    chunks, unit_vectors(len(chunks)), MODEL, DIMENSION)
    assert '384 dimensions' in str(raised.value)
    assert 'DROP INDEX chunk_embeddings' in str(raised.value)
    assert not any('MERGE' in text for text in fake.statements)
    with pytest.raises(ValueError):
        load_chunks('neo4j+s://example.test', 'loader', 'write-secret',
                    chunks, unit_vectors(len(chunks)), MODEL, DIMENSION + 1)
    with pytest.raises(ChunkStoreUnavailable) as raised:
        load_chunks('neo4j+s://example.test', 'loader', '',
                    chunks, unit_vectors(len(chunks)), MODEL, DIMENSION)
    assert 'NEO4J_WRITE_PASSWORD' in str(raised.value)
