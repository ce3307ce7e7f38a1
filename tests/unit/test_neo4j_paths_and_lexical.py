"""The Neo4j store's prerequisite relationships, full-text index and the
reads built on them (`lexical_search`, `similarities`,
`prerequisite_closure`), against a stand-in driver.

The stand-in records every Cypher statement with its parameters and keeps
the nodes and relationships the loader writes, so the tests check what is
sent (parameterised, bounded, in which order) and what comes back,
without a server. How the three reads behave on a real Neo4j is checked
by the store-parametrised suites when `NEO4J_URI` is set.
"""

import re

import numpy as np
import pytest

import support.envs  # noqa: F401  (loads every TracLearn module)
from support.fake_neo4j import Result, Session, serve
from tracl.search import neo4j_store
from tracl.search.neo4j_store import (LEXICAL_MAX_WORDS, PREREQUISITE_DEPTH,
                                      Neo4jChunkStore, lexical_words,
                                      load_chunks, lucene_query,
                                      prerequisite_links)

MODEL = 'test-model-v1'
DIMENSION = 8
HOSTILE = 'title:x OR *:* AND "'


# A stand-in Neo4j ----------------------------------------------------------

class RecordingNeo4j(object):
    """Records each statement and its parameters, and answers the store's
    Cypher from the nodes and relationships it was given or loaded."""

    def __init__(self, chunks=(), vectors=(), links=(), hits=(),
                 label='Chunk'):
        self.label = label
        self.nodes = {chunk['id']: dict(chunk, embedding=list(vector))
                      for chunk, vector in zip(chunks, vectors)}
        self.links = set(links)         # (needing id, needed id)
        self.hits = list(hits)          # (id, score) of a full-text query
        self.calls = []
        self.modes = []

    # The driver

    def session(self, database=None, default_access_mode=None):
        self.modes.append(default_access_mode)
        return Session(self)

    def close(self):
        pass

    # The server

    def statements(self):
        return [text for text, _params in self.calls]

    def answer(self, text, params):
        self.calls.append((text, params))
        if text.startswith(('CREATE ', 'CALL db.awaitIndex')):
            return Result()
        if text.startswith('SHOW INDEXES'):
            return Result([{
                'name': 'chunk_embeddings', 'type': 'VECTOR',
                'state': 'ONLINE', 'labelsOrTypes': [self.label],
                'properties': ['embedding'],
                'options': {'indexConfig': {
                    'vector.dimensions': DIMENSION}}}])
        if 'count(c) AS n' in text:
            return Result([{'n': sum(i in self.nodes for i in params['ids'])}])
        if 'AS has_prerequisite' in text:
            return Result({key: node.get(key) for key in (
                'id', 'subject', 'concept', 'has_prerequisite',
                'prerequisite_for')} for node in self.nodes.values()
                if node['id'] not in params['ids'])
        if 'NOT c.id IN $ids' in text:      # no conflicting stored chunk
            return Result()
        if 'MERGE (c:' in text:
            for row in params['rows']:
                self.nodes[row['id']] = dict(row)
            return Result()
        if 'DELETE r' in text:
            for row in params['rows']:
                self.links -= {(a, b) for a, b in self.links
                               if a == row['id'] and b not in row['needs']}
            return Result()
        if 'MERGE (a)-[:HAS_PREREQUISITE]->(b)' in text:
            for row in params['rows']:
                self.links |= {(row['id'], need) for need in row['needs']
                               if need in self.nodes and need != row['id']}
            return Result()
        if 'db.index.fulltext.queryNodes' in text:
            return Result({'id': chunk_id, 'score': score,
                           'text': ' '.join(self.nodes[chunk_id][field]
                                            for field in ('subject',
                                                          'concept',
                                                          'content'))}
                          for chunk_id, score in self.hits[:params['limit']])
        if 'vector.similarity.cosine' in text:
            query = np.asarray(params['vector'])
            return Result(
                {'id': node['id'],
                 'score': (1 + float(np.dot(node['embedding'], query))) / 2}
                for node in self.nodes.values()
                if node['id'] in params['ids'] and node.get('embedding'))
        if 'HAS_PREREQUISITE*1..' in text:
            depth = int(re.search(r'\*1\.\.(\d+)\]', text).group(1))
            return Result(self._closure(params['ids'], depth))
        raise AssertionError('unexpected Cypher: %s' % text)

    def _closure(self, ids, depth):
        needed_by = {}
        for start in ids:
            if start not in self.nodes:
                continue
            seen, frontier = set(), {start}
            for _ in range(depth):
                frontier = {b for a, b in self.links if a in frontier} - seen
                seen |= frontier
            for found in seen - set(ids):
                needed_by.setdefault(found, []).append(start)
        return [{'id': found, 'needed_by': starts}
                for found, starts in needed_by.items()]


@pytest.fixture
def db_uri():
    """The environment only holds the store's configuration."""
    return 'sqlite::memory:'


@pytest.fixture
def fake(monkeypatch):
    """Makes the store and the loader talk to a `RecordingNeo4j`: call it
    with what the database should hold."""
    monkeypatch.setenv('NEO4J_PASSWORD', 'read-secret')

    def install(*args, **kwargs):
        return serve(monkeypatch, RecordingNeo4j(*args, **kwargs))
    yield install
    neo4j_store.close_drivers()


@pytest.fixture
def store(make_env):
    env = make_env(config=[('learning', 'chunk_store', 'Neo4jChunkStore'),
                           ('neo4j', 'uri', 'neo4j+s://example.test')])
    return Neo4jChunkStore(env)


def chunk(id_, concept, needs=None, needed_by=None, subject='Networks'):
    return {'id': id_, 'subject': subject, 'concept': concept,
            'content': 'Notes on %s for %s.' % (concept, subject),
            'has_prerequisite': needs, 'prerequisite_for': needed_by,
            'difficulty_level': 2, 'source': 'test'}


def unit_vectors(count, seed=3):
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSION))
    return (vectors / np.linalg.norm(vectors, axis=1,
                                     keepdims=True)).astype(np.float32)


def load(chunks, batch_size=500, label='Chunk'):
    return load_chunks('neo4j+s://example.test', 'loader', 'write-secret',
                       chunks, unit_vectors(len(chunks)), MODEL, DIMENSION,
                       batch_size=batch_size, label=label)


# Loading: the full-text index and the relationships -------------------------

def test_load_creates_the_fulltext_index_and_waits_for_it(fake):
    server = fake()
    load([chunk('n1', 'Packets')])
    texts = server.statements()
    created = [text for text in texts if 'FULLTEXT' in text]
    assert created == ['CREATE FULLTEXT INDEX `chunk_text` IF NOT EXISTS '
                       'FOR (c:`Chunk`) ON EACH '
                       '[c.subject, c.concept, c.content]']
    waits = [params['name'] for text, params in server.calls
             if text.startswith('CALL db.awaitIndex')]
    assert waits == ['chunk_embeddings', 'chunk_text']
    # The index exists before the first chunk is written.
    assert texts.index(created[0]) < min(
        n for n, text in enumerate(texts) if 'MERGE' in text)


def test_the_fulltext_index_is_named_after_the_label(fake):
    server = fake(label='Course_B')
    load([chunk('n1', 'Packets')], label='Course_B')
    assert any(text.startswith('CREATE FULLTEXT INDEX `course_b_text` IF '
                               'NOT EXISTS FOR (c:`Course_B`)')
               for text in server.statements())
    assert neo4j_store.fulltext_index_name('Course_B') == 'course_b_text'


def test_relationships_are_merged_only_after_every_node_of_the_load(fake):
    server = fake()
    # n1 needs n3, which comes in the last batch.
    chunks = [chunk('n1', 'Routing', needs='Addressing'),
              chunk('n2', 'Packets'),
              chunk('n3', 'Addressing')]
    load(chunks, batch_size=1)
    texts = server.statements()
    node_merges = [n for n, text in enumerate(texts) if 'MERGE (c:' in text]
    link_merges = [n for n, text in enumerate(texts)
                   if 'MERGE (a)-[:HAS_PREREQUISITE]->(b)' in text]
    assert len(node_merges) == 3 and link_merges
    assert max(node_merges) < min(link_merges)
    assert server.links == {('n1', 'n3')}


def test_relationship_statements_are_parameterised_and_never_self_loops(
        fake):
    # A chunk naming its own concept is refused before it is stored; one
    # stored by hand is never linked to itself.
    server = fake([chunk('old', 'Paging', needs='Paging')], unit_vectors(1))
    load([chunk("x' }) DETACH DELETE (a) //", 'Routing',
                needs=['Addressing']),
          chunk('n3', 'Addressing')])
    for text, params in server.calls:
        assert 'DETACH' not in text
        if 'HAS_PREREQUISITE' in text:
            assert text.startswith('UNWIND $rows AS row ')
    merge = [text for text in server.statements()
             if 'MERGE (a)-[:HAS_PREREQUISITE]->(b)' in text][0]
    assert 'WHERE b <> a' in merge
    rows = [row for text, params in server.calls if 'MERGE (a)' in text
            for row in params['rows']]
    assert {'id': 'old', 'needs': []} in rows
    assert server.links == {("x' }) DETACH DELETE (a) //", 'n3')}


def test_names_link_either_way_within_a_subject_and_unknown_names_nothing(
        fake):
    server = fake()
    load([chunk('n1', 'Routing', needs=['Addressing', 'No Such Concept']),
          chunk('n2', 'Addressing', needed_by='Congestion'),
          chunk('n3', 'Congestion'),
          # Same concept name in another subject: never linked.
          chunk('m1', 'Addressing', needs='Routing', subject='Memory'),
          chunk('m2', 'Paging', needs='  Addressing  ', subject='Memory')])
    assert server.links == {('n1', 'n2'), ('n3', 'n2'), ('m2', 'm1')}


def test_a_load_links_to_and_from_chunks_loaded_before(fake):
    stored = [chunk('old1', 'Addressing'),
              chunk('old2', 'Congestion', needs='Routing')]
    server = fake(stored, unit_vectors(2))
    load([chunk('new1', 'Routing', needs='Addressing')])
    assert server.links == {('new1', 'old1'), ('old2', 'new1')}


def test_loading_again_changes_nothing_and_drops_links_whose_names_went(
        fake):
    server = fake()
    chunks = [chunk('n1', 'Routing', needs='Addressing'),
              chunk('n2', 'Addressing')]
    load(chunks)
    load(chunks)
    assert server.links == {('n1', 'n2')}
    merges = [params['rows'] for text, params in server.calls
              if 'MERGE (a)-[:HAS_PREREQUISITE]->(b)' in text]
    assert merges[0] == merges[1] == [{'id': 'n1', 'needs': ['n2']},
                                      {'id': 'n2', 'needs': []}]
    load([chunk('n1', 'Routing'), chunk('n2', 'Addressing')])
    assert server.links == set()
    # In each batch the stale links go before the missing ones come.
    texts = server.statements()
    deletes = [n for n, text in enumerate(texts) if 'DELETE r' in text]
    links = [n for n, text in enumerate(texts)
             if 'MERGE (a)-[:HAS_PREREQUISITE]->(b)' in text]
    assert [n + 1 for n in deletes] == links


def test_prerequisite_links_of_the_starter_corpus_stay_in_their_subjects():
    from tracl.corpus import load_starter_corpus, validate_chunks
    chunks = [dict(c) for c in validate_chunks(load_starter_corpus()).valid]
    subjects = {c['id']: c['subject'] for c in chunks}
    links = prerequisite_links(chunks)
    assert set(links) == set(subjects)
    pairs = [(a, b) for a, needs in links.items() for b in needs]
    assert pairs and all(subjects[a] == subjects[b] and a != b
                         for a, b in pairs)
    # Every has_prerequisite of the starter corpus names a concept.
    named = sum(len(neo4j_store.prerequisite_names(c['has_prerequisite']))
                for c in chunks)
    assert sum(len(needs) for needs in links.values()) >= named


# prerequisite_closure -------------------------------------------------------

def test_closure_is_one_bounded_parameterised_traversal(fake, store):
    server = fake([chunk(i, i) for i in ('a', 'b', 'c', 'd', 'e')],
                  unit_vectors(5),
                  links={('a', 'b'), ('b', 'c'), ('c', 'a'), ('d', 'e')})
    hostile = "a' OR 1=1 //"
    result = store.prerequisite_closure(['a', 'd', hostile, 'a'])
    assert result == {'b': ['a'], 'c': ['a'], 'e': ['d']}
    [(text, params)] = server.calls
    assert text == ('MATCH (c:`Chunk`) WHERE c.id IN $ids '
                    'MATCH (c)-[:HAS_PREREQUISITE*1..%d]->(p:`Chunk`) '
                    'WHERE NOT p.id IN $ids '
                    'RETURN p.id AS id, collect(DISTINCT c.id) AS needed_by'
                    % PREREQUISITE_DEPTH)
    assert params == {'ids': ['a', 'd', hostile]}
    assert server.modes == [neo4j_store.neo4j.READ_ACCESS]


def test_closure_lists_every_asking_chunk_that_needs_a_prerequisite(
        fake, store):
    fake([chunk(i, i) for i in ('a', 'b', 'c', 'd')], unit_vectors(4),
         links={('a', 'c'), ('b', 'c'), ('c', 'd')})
    # b is asked for too, so it is not a prerequisite to add.
    assert store.prerequisite_closure(['b', 'a']) == {'c': ['a', 'b'],
                                                      'd': ['a', 'b']}
    assert store.prerequisite_closure(['a', 'c']) == {'d': ['a', 'c']}


def test_closure_of_nothing_does_not_ask_neo4j(fake, store):
    server = fake()
    assert store.prerequisite_closure([]) == {}
    assert server.calls == []


def test_the_depth_bound_covers_the_longest_starter_chain():
    from tracl.corpus import load_starter_corpus, longest_chain, \
        validate_chunks
    chains = longest_chain(validate_chunks(load_starter_corpus()).valid)
    assert max(len(chain) - 1 for chain in chains.values()) < \
        PREREQUISITE_DEPTH


# lexical_search -------------------------------------------------------------

def test_learner_text_is_sent_as_escaped_quoted_words_never_as_cypher(
        fake, store):
    server = fake([chunk('n1', 'Title Routing')], unit_vectors(1),
                  hits=[('n1', 3.0)])
    store.lexical_search(HOSTILE, 5)
    [(text, params)] = server.calls
    assert 'title' not in text.lower().replace('c.subject', '')
    assert '*:*' not in text
    assert text.startswith('CALL db.index.fulltext.queryNodes($index, '
                           '$terms, {limit: $limit})')
    # "x" is too short to search, "OR" and "AND" are stop words.
    assert params == {'index': 'chunk_text', 'terms': '"title"',
                      'limit': 5}


@pytest.mark.parametrize('text, query', [
    (HOSTILE, '"title"'),
    ('NOT (alpha || beta) && gamma~2^3 [delta TO eps] {zeta} eta?theta! '
     'iota\\kappa /lambda/',
     '"alpha" OR "beta" OR "gamma" OR "2" OR "3" OR "delta" OR "eps" OR '
     '"zeta" OR "eta" OR "theta" OR "iota" OR "kappa" OR "lambda"'),
    ("Shor's algorithm, Shor's period-finding; pi is 3.14",
     '"shor\'s" OR "algorithm" OR "period" OR "finding" OR "pi" OR "3.14"'),
    ('Ünïcode words, ΣΩ and 数据', '"ünïcode" OR "words" OR "σω" OR "数据"'),
])
def test_hostile_text_becomes_plain_words(text, query):
    assert lucene_query(lexical_words(text)) == query


def test_lucene_syntax_in_a_word_is_escaped():
    assert lucene_query(['a"b', 'c:d*', 'e\\f']) == \
        '"a\\"b" OR "c\\:d\\*" OR "e\\\\f"'
    # Outside the escaped quotes, only the OR between terms remains.
    for word in ('+-&|!(){}[]^"~*?:\\/', 'OR', 'AND'):
        query = lucene_query([word, 'x'])
        unquoted = re.sub(r'"(?:\\.|[^"\\])*"', '', query)
        assert unquoted == ' OR '


def test_a_text_without_a_word_searches_nothing(fake, store):
    server = fake()
    for text in ('', '   ', '*:* && "" ?', '___', 'what is it, and why?',
                 None):
        assert store.lexical_search(text, 10) == []
    assert store.lexical_search('routing', 0) == []
    assert server.calls == []


def test_at_most_a_bounded_number_of_words_is_sent(fake, store):
    server = fake([chunk('n1', 'w1')], unit_vectors(1), hits=[('n1', 1.0)])
    store.lexical_search(' '.join('w%d' % n for n in range(500)), 3)
    query = server.calls[0][1]['terms']
    assert query.count(' OR ') + 1 == LEXICAL_MAX_WORDS


def test_lexical_is_the_score_over_the_top_score_times_the_words_shared(
        fake, store):
    chunks = [chunk('n1', 'Congestion Window'), chunk('n2', 'Routing'),
              chunk('n3', 'Addressing'), chunk('n4', 'Paging')]
    fake(chunks, unit_vectors(4),
         hits=[('n1', 8.0), ('n2', 4.0), ('n3', 2.0), ('n4', 2.0)])
    # The top hit holds "congestion" and "window", not "tcp" nor "slow".
    hits = store.lexical_search('TCP congestion window slow', 10)
    assert hits == [('n1', 0.5), ('n2', 0.25), ('n3', 0.125),
                    ('n4', 0.125)]


def test_lexical_values_are_in_0_1_and_monotone_in_the_score(fake, store):
    chunks = [chunk('n%d' % n, 'Routing %d' % n) for n in range(6)]
    scores = [12.5, 7.0, 7.0, 3.25, 0.5, 0.01]
    fake(chunks, unit_vectors(6),
         hits=list(zip([c['id'] for c in chunks], scores)))
    hits = store.lexical_search('Routing notes networks', 10)
    values = [value for _id, value in hits]
    assert [chunk_id for chunk_id, _ in hits] == [c['id'] for c in chunks]
    assert values[0] == pytest.approx(1.0)     # holds all three words
    assert all(0.0 <= value <= 1.0 for value in values)
    assert values == sorted(values, reverse=True)
    assert values[1] == values[2]
    assert values[3] / values[4] == pytest.approx(3.25 / 0.5)


def test_a_top_hit_our_words_miss_still_counts_one_word(fake, store):
    fake([chunk('n1', 'Routing')], unit_vectors(1), hits=[('n1', 2.0)])
    # Lucene matched a word our tokenizer does not find in the text.
    assert store.lexical_search('tcp udp', 5) == [('n1', 0.5)]


def test_no_hit_is_an_empty_list(fake, store):
    fake([chunk('n1', 'Routing')], unit_vectors(1), hits=[])
    assert store.lexical_search('quantum', 5) == []


def test_the_limit_is_passed_to_the_index(fake, store):
    server = fake([chunk('n%d' % n, 'c%d' % n) for n in range(4)],
                  unit_vectors(4),
                  hits=[('n%d' % n, 4.0 - n) for n in range(4)])
    assert len(store.lexical_search('notes', 2)) == 2
    assert server.calls[0][1]['limit'] == 2


# similarities ---------------------------------------------------------------

def test_similarities_are_raw_cosines_of_the_given_chunks_only(fake, store):
    chunks = [chunk('n%d' % n, 'c%d' % n) for n in range(4)]
    vectors = unit_vectors(4)
    server = fake(chunks, vectors)
    server.nodes['n3']['embedding'] = None      # stored without a vector
    query = vectors[0]
    result = store.similarities(query, ['n0', 'n1', 'n3', 'missing', 'n1'])
    assert set(result) == {'n0', 'n1'}
    assert result['n0'] == pytest.approx(1.0, abs=1e-5)
    assert result['n1'] == pytest.approx(float(vectors[1] @ query),
                                         abs=1e-5)
    assert store.similarities(-query, ['n0'])['n0'] == \
        pytest.approx(-1.0, abs=1e-5)
    text, params = [call for call in server.calls
                    if 'vector.similarity.cosine' in call[0]][0]
    assert text == ('MATCH (c:`Chunk`) WHERE c.id IN $ids AND '
                    'c.embedding IS NOT NULL RETURN c.id AS id, '
                    'vector.similarity.cosine(c.embedding, $vector) AS score')
    assert params['ids'] == ['n0', 'n1', 'n3', 'missing']
    assert params['vector'] == pytest.approx(query.tolist())


def test_similarities_refuse_a_vector_of_another_dimension(fake, store):
    server = fake([chunk('n1', 'c1')], unit_vectors(1))
    with pytest.raises(ValueError) as raised:
        store.similarities(np.ones(DIMENSION + 1) / 3.0, ['n1'])
    assert '%d dimensions' % (DIMENSION + 1) in str(raised.value)
    assert not any('vector.similarity' in text
                   for text in server.statements())


def test_similarities_of_no_chunk_ask_no_similarity(fake, store):
    server = fake([chunk('n1', 'c1')], unit_vectors(1))
    assert store.similarities(unit_vectors(1)[0], []) == {}
    assert not any('vector.similarity' in text
                   for text in server.statements())
