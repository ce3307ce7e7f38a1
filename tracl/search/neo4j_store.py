"""The production chunk store: a Neo4j 5 vector index, read-only at run time.

Each chunk is a node (`:Chunk` by default) whose properties are the chunk's
fields, `has_prerequisite` and `prerequisite_for` kept as a string or a list
of strings (absent for none), plus `embedding` (a list of floats),
`embedding_model` and `embedding_dim`. A vector index with cosine similarity
on `embedding` answers searches through `db.index.vector.queryNodes`; its
score is (1 + cosine) / 2, converted back to the raw cosine the search
pipeline expects from every store. Never `gds.similarity.cosine` over every
node: the index is hundreds of times faster.

A chunk's prerequisites are also relationships, `(a)-[:HAS_PREREQUISITE]->(b)`
when chunk a needs chunk b: a's `has_prerequisite` names b's concept, or
b's `prerequisite_for` names a's, within one subject. The names stay the
fact; the relationships are derived from them at each load, so a graph
query can follow them. A full-text index (`chunk_text` for `:Chunk`) holds
the words of each chunk's subject, concept and content.

Besides `search`, three reads serve the hybrid search and the making of
a path: `lexical_search` asks the full-text index through
`db.index.fulltext.queryNodes`, with the learner's words escaped and
quoted, and maps Lucene's unbounded score into [0, 1] (see the method);
`similarities` computes `vector.similarity.cosine` for given chunks only,
converted back to raw cosines as the index scores are; and
`prerequisite_closure` follows the relationships in one variable-length
match, bounded to `PREREQUISITE_DEPTH` links.

Running: one driver per process for each (uri, user), shared by every
environment; sessions are read-only and the password comes from
`NEO4J_PASSWORD`. Give that user a role that can only read. The dimension of
the index (from `SHOW INDEXES`, or from a stored vector when the role may not
list indexes) is checked against each query vector, so a model mismatch
fails with a sentence instead of an empty result.

Failures: every wait is bounded by `[neo4j] timeout` (connecting, the Bolt
handshake, taking a connection from the pool, the query on the server), and
a read that failed for a passing reason is retried by the driver, with
backoff, for at most `[neo4j] retry_time` seconds (reads only: they are safe
to repeat). A circuit breaker stands in front: after `circuit_failures`
calls in a row that found Neo4j unreachable, calls fail at once for
`circuit_reset` seconds (a search answers 503 before asking the language
model), then one trial call is let through; its state is in `GET
/api/v1/health`. A server that completes the handshake and then stops
answering is bounded only by the query timeout it enforces itself and TCP
keep-alive: the driver has no read timeout of its own.

Loading: `load_chunks()` (behind `trac-admin ENV learning neo4j load`) uses
another user's password, `NEO4J_WRITE_PASSWORD`: it creates the uniqueness
constraint on the chunk id, the vector index and the full-text index when
missing, then MERGEs the chunks in batches, one write transaction each. The
indexes are created in their own transactions, before the writes, since an
index does not see the writes of the transaction that creates it. Once
every chunk is stored, the prerequisite relationships of all chunks of the
label are derived again from the names (a name may refer to a chunk of a
later batch or of an earlier load, and an earlier chunk may name one of
this load): missing ones are MERGEd, ones whose names are gone deleted.
"""

import atexit
import hashlib
import math
import operator
import os
import re
import threading
import time
from urllib.parse import urlsplit

import numpy as np

from trac.config import FloatOption, IntOption, Option
from trac.core import Component, implements

from tracl.api import IChunkStore, IHealthContributor
from tracl.breaker import CircuitBreaker, ICircuitBreakers
from tracl.llm.text import is_content
from tracl.model.chunks import check_chunks, prerequisite_names, read_chunk
from tracl.search import ChunkStoreUnavailable
from tracl.search.lexical import REQUEST_WORDS
from tracl.search.vectors import (check_embeddings, check_model_name,
                                  check_query)

try:
    import neo4j
    from neo4j import exceptions as neo4j_errors
except ImportError:     # pragma: no cover - a dependency of TracLearn
    neo4j = neo4j_errors = None

#: Environment variable holding the password of the reading user.
PASSWORD_VARIABLE = 'NEO4J_PASSWORD'

#: Environment variable holding the password of the loading user.
WRITE_PASSWORD_VARIABLE = 'NEO4J_WRITE_PASSWORD'

DEFAULT_INDEX = 'chunk_embeddings'
DEFAULT_LABEL = 'Chunk'

#: Chunks written per transaction by `load_chunks`.
LOAD_BATCH = 500

#: Chunks read per query by `iter_chunks`.
PAGE_SIZE = 1000

#: Seconds `load_chunks` waits for a new index to come online.
INDEX_WAIT_SECONDS = 300

#: Seconds a search trusts the index dimension it read.
DIMENSION_TTL = 60.0

#: Most prerequisite links `prerequisite_closure` follows from a chunk.
#: The longest chain of the starter corpus has 11 links (Linear Algebra,
#: Machine Learning); twice that leaves room for a deeper corpus, while
#: the bound keeps a variable-length match, which enumerates paths rather
#: than nodes, from exploding on a dense or cyclic graph of hand-written
#: prerequisites. A chain longer than this is cut at the bound.
PREREQUISITE_DEPTH = 24

#: Most distinct words of a learner's text sent to the full-text index:
#: Lucene refuses a query of more than 1024 clauses, and words past the
#: first hundred seldom change which chunks match best.
LEXICAL_MAX_WORDS = 100

#: The best full-text hits, with the text their words are counted in.
_LEXICAL_QUERY = (
    'CALL db.index.fulltext.queryNodes($index, $terms, {limit: $limit}) '
    'YIELD node AS c, score '
    "RETURN c.id AS id, score, "
    "c.subject + ' ' + c.concept + ' ' + c.content AS text "
    'ORDER BY score DESC, id')

# A word: letters and digits, joined by inner apostrophes and dots as
# Lucene's standard tokenizer joins them ("shor's", "3.14").
_WORD_RE = re.compile(r"[^\W_]+(?:['\u2019.][^\W_]+)*")

# What Lucene's query parser reads as syntax.
_LUCENE_SPECIAL_RE = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')

#: The chunk fields as node properties, read back as a map.
_PROJECTION = ('c {.id, .subject, .concept, .content, .has_prerequisite, '
               '.prerequisite_for, .difficulty_level, .source}')

_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')

# The drivers of this process: (uri, user) -> (driver, password digest).
_drivers = {}
_drivers_lock = threading.Lock()


class Neo4jChunkStore(Component):
    """Chunks in a Neo4j 5 vector index, searched read-only."""

    implements(IChunkStore, IHealthContributor, ICircuitBreakers)

    uri = Option('neo4j', 'uri', '',
        """Address of the Neo4j 5 database: `neo4j+s://xxxx.databases.neo4j.io`
        for Aura (TLS), `neo4j://host:7687` or `bolt://host:7687` for a
        server of yours. The password comes from the `NEO4J_PASSWORD`
        environment variable, never from here.""")

    user = Option('neo4j', 'user', 'neo4j',
        """User the application reads as; give it a role that can only read
        (`trac-admin ENV learning neo4j load` writes as another user, with
        `NEO4J_WRITE_PASSWORD`).""")

    database = Option('neo4j', 'database', '',
        """Name of the Neo4j database holding the chunks; empty for the
        server's default database.""")

    index_name = Option('neo4j', 'index_name', DEFAULT_INDEX,
        """Name of the vector index on the chunks' embeddings (letters,
        digits and underscores).""")

    label = Option('neo4j', 'label', DEFAULT_LABEL,
        """Label of the chunk nodes (letters, digits and underscores), so
        that several environments can share one database.""")

    timeout = FloatOption('neo4j', 'timeout', 5.0,
        """Seconds to wait for a connection to Neo4j, and for one query to
        finish.""")

    retry_time = FloatOption('neo4j', 'retry_time', 2.0,
        """Seconds during which a read that failed for a passing reason (a
        lost connection, a cluster leader change) is tried again, with
        backoff, before the search answers 503.""")

    circuit_failures = IntOption('neo4j', 'circuit_failures', 5,
        """Calls in a row that find Neo4j unreachable before the circuit
        opens: while it is open, searches answer 503 at once without
        contacting Neo4j (a search already cached still answers).""")

    circuit_reset = FloatOption('neo4j', 'circuit_reset', 60.0,
        """Seconds the circuit stays open before one trial call is let
        through; its success closes the circuit, its failure reopens it.""")

    #: Clock of the circuit (monotonic seconds); tests replace it on the
    #: component.
    _clock = staticmethod(time.monotonic)

    def __init__(self):
        self._dimension = None      # (dimension, monotonic time read)
        self._breaker = CircuitBreaker(
            lambda: self._clock(), self.log,
            lambda: 'Neo4j at %s' % safe_uri(self.uri), 'searches')

    # IChunkStore methods

    def search(self, vector, limit):
        limit = operator.index(limit)
        query = check_query(vector)
        dimension = self._index_dimension()
        if dimension is not None and query.shape[0] != dimension:
            raise _dimension_error(query.shape[0], dimension)
        if limit <= 0:
            return []

        def work(tx):
            result = tx.run(
                'CALL db.index.vector.queryNodes($index, $k, $vector) '
                'YIELD node AS c, score '
                'RETURN %s AS chunk, score' % _PROJECTION,
                index=self.index_name, k=limit, vector=query.tolist())
            return [(record['chunk'], record['score']) for record in result]
        try:
            records = self._read(work, 'search the vector index')
        except ValueError:
            self._dimension = None
            raise
        return [(read_chunk(chunk), _cosine(score))
                for chunk, score in records]

    def get_chunks(self, chunk_ids):
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}

        def work(tx):
            return [record['chunk'] for record in tx.run(
                'MATCH (c:%s) WHERE c.id IN $ids RETURN %s AS chunk'
                % (self._label(), _PROJECTION), ids=ids)]
        return {chunk['id']: read_chunk(chunk)
                for chunk in self._read(work, 'read chunks')}

    def lexical_search(self, text, limit):
        """The `limit` chunks of the full-text index that best match the
        words of `text`, as `(chunk_id, lexical)` pairs, best first.

        The learner's text never reaches Lucene as syntax: it is cut into
        plain words, stop words left out, each sent as a quoted and
        escaped term, OR-ed.

        Lucene's BM25 score has no upper bound, and the most a query could
        score (each word's idf at saturation, summed over the indexed
        fields) cannot be read from Neo4j. So `lexical` is the hit's score
        over the top hit's score, times the share of the query's words the
        top hit contains: the top hit gets that share, the others less in
        proportion to their scores, so the value is in [0, 1] and monotone
        in the score. Its limits, against the in-process store's exact
        form: it is relative to the best hit, so a top hit holding every
        word gets 1 however thinly it holds them; every word weighs the
        same in the share, where BM25 weighs rare words more; and the
        words are cut by our own tokenizer, close to but not exactly
        Lucene's standard analyzer.
        """
        limit = operator.index(limit)
        words = lexical_words(text)
        if not words or limit <= 0:
            return []

        self._label()       # a plain name, before it names the index
        index = fulltext_index_name(self.label)

        def work(tx):
            return [(record['id'], record['score'], record['text'])
                    for record in tx.run(_LEXICAL_QUERY, index=index,
                                         terms=lucene_query(words),
                                         limit=limit)]
        hits = self._read(work, 'search the full-text index %s (made by '
                          'trac-admin ENV learning neo4j load)' % index)
        if not hits or hits[0][1] <= 0:
            return []
        top = hits[0][1]
        # The top hit matched at least one word, whatever our tokenizer
        # finds in it.
        share = max(len(set(words) & set(lexical_words(hits[0][2], None))),
                    1) / len(words)
        return [(chunk_id, min(1.0, max(0.0, score / top)) * share)
                for chunk_id, score, _text in hits]

    def similarities(self, vector, chunk_ids):
        ids = list(dict.fromkeys(chunk_ids))
        query = check_query(vector)
        dimension = self._index_dimension()
        if dimension is not None and query.shape[0] != dimension:
            raise _dimension_error(query.shape[0], dimension)
        if not ids:
            return {}

        def work(tx):
            return [(record['id'], record['score']) for record in tx.run(
                'MATCH (c:%s) WHERE c.id IN $ids AND c.embedding IS NOT NULL '
                'RETURN c.id AS id, '
                'vector.similarity.cosine(c.embedding, $vector) AS score'
                % self._label(), ids=ids, vector=query.tolist())]
        try:
            records = self._read(work, 'compare vectors')
        except ValueError:
            self._dimension = None
            raise
        # Like the index, the function gives (1 + cosine) / 2.
        return {chunk_id: _cosine(score) for chunk_id, score in records
                if score is not None}

    def prerequisite_closure(self, chunk_ids):
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        label = self._label()

        def work(tx):
            return [(record['id'], record['needed_by']) for record in tx.run(
                'MATCH (c:%s) WHERE c.id IN $ids '
                'MATCH (c)-[:HAS_PREREQUISITE*1..%d]->(p:%s) '
                'WHERE NOT p.id IN $ids '
                'RETURN p.id AS id, collect(DISTINCT c.id) AS needed_by'
                % (label, PREREQUISITE_DEPTH, label), ids=ids)]
        return {chunk_id: sorted(needed_by)
                for chunk_id, needed_by in self._read(
                    work, 'follow prerequisites')}

    def upsert(self, chunks, embeddings, model_name):
        raise NotImplementedError(
            'Neo4jChunkStore is read-only at run time: load chunks with '
            'trac-admin ENV learning neo4j load FILE.jsonl, which writes '
            'with %s.' % WRITE_PASSWORD_VARIABLE)

    def iter_chunks(self):
        after = ''
        while True:
            def work(tx):
                return [record['chunk'] for record in tx.run(
                    'MATCH (c:%s) WHERE c.id > $after RETURN %s AS chunk '
                    'ORDER BY c.id LIMIT $n' % (self._label(), _PROJECTION),
                    after=after, n=PAGE_SIZE)]
            page = self._read(work, 'list chunks')
            for chunk in page:
                yield read_chunk(chunk)
            if len(page) < PAGE_SIZE:
                return
            after = page[-1]['id']

    def stats(self):
        def work(tx):
            subjects = {record['subject']: record['n'] for record in tx.run(
                'MATCH (c:%s) RETURN c.subject AS subject, count(*) AS n '
                'ORDER BY subject' % self._label())}
            models = [(record['model'], record['n']) for record in tx.run(
                'MATCH (c:%s) WHERE c.embedding IS NOT NULL '
                'RETURN c.embedding_model AS model, count(*) AS n '
                'ORDER BY n DESC' % self._label())]
            return subjects, models
        subjects, models = self._read(work, 'count chunks')
        index = self._index_info()
        stats = {
            'chunks': sum(subjects.values()),
            'subjects': subjects,
            'embedding_model': models[0][0] if models else None,
            'dimension': index['dimension'] if index else None,
            'store': self.__class__.__name__,
            'index': self.index_name,
            'index_state': index['state'] if index else None,
        }
        if len(models) > 1:
            stats['embedding_models'] = ['%s: %d chunks' % row
                                         for row in models]
        return stats

    def describe(self):
        return ('Neo4j at %s%s, vector index %s on :%s (read-only)'
                % (safe_uri(self.uri) or '(no [neo4j] uri)',
                   ', database %s' % self.database if self.database else '',
                   self.index_name, self.label))

    def check_available(self):
        """Raise `ChunkStoreUnavailable` while the circuit is open, so a
        search fails before it asks the language model and the embedder
        for a vector that cannot be searched."""
        if self._breaker.is_open(self.circuit_reset):
            raise self._circuit_open()

    # IHealthContributor methods

    def get_health_checks(self):
        if self._configured():
            yield 'chunk_store', self.health

    # ICircuitBreakers methods

    def get_circuit_breakers(self):
        if self._configured():
            yield 'chunk_store', \
                lambda: self._breaker.snapshot(self.circuit_reset)

    # Public methods

    def circuit_state(self):
        """`'closed'`, `'open'` or `'half-open'`."""
        return self._breaker.state(self.circuit_reset)

    def health(self):
        """`None` when the vector index can be searched, else a sentence
        saying what is wrong. Contacts Neo4j unless the circuit is open."""
        if self._breaker.is_open(self.circuit_reset):
            return str(self._circuit_open())
        try:
            index = self._index_info()
            if index is None:
                return ('Neo4j at %s has no vector index %s: load the chunks '
                        'with trac-admin ENV learning neo4j load FILE.jsonl'
                        % (safe_uri(self.uri), self.index_name))
        except ChunkStoreUnavailable as e:
            return str(e)
        if index['state'] not in (None, 'ONLINE'):
            return ('the vector index %s of Neo4j at %s is %s, not ONLINE'
                    % (self.index_name, safe_uri(self.uri), index['state']))
        from tracl.embedding import LearningEmbedder
        try:
            wanted = LearningEmbedder(self.env).embedder.dimension()
        except Exception:       # the embedder reports its own health
            return None
        if index['dimension'] is not None and index['dimension'] != wanted:
            return ('the vector index %s holds vectors of %d dimensions but '
                    '[learning] embedder gives %d: load the chunks again '
                    "with the embedder's model"
                    % (self.index_name, index['dimension'], wanted))
        return None

    # Internal methods

    def _configured(self):
        return self.config.get('learning', 'chunk_store') == \
            self.__class__.__name__

    def _label(self):
        return _quoted_name(self.label, '[neo4j] label')

    def _driver(self):
        password = os.environ.get(PASSWORD_VARIABLE)
        if not password:
            raise ChunkStoreUnavailable(
                'The Neo4j password is not set: export %s in the environment '
                'of the Trac server.' % PASSWORD_VARIABLE)
        return shared_driver(self.uri, self.user, password, self.timeout,
                             self.retry_time)

    def _read(self, work, what, auto_commit=False):
        """Run `work(tx)` in a read transaction (or `work(session)` for
        auto-commit queries) of a read-only session, through the circuit;
        Neo4j failures become `ChunkStoreUnavailable`."""
        driver = self._driver()
        with self._breaker.guard(self.circuit_failures, self.circuit_reset,
                                 self._circuit_open) as call:
            try:
                with driver.session(database=self.database or None,
                                    default_access_mode=neo4j.READ_ACCESS) \
                        as session:
                    if auto_commit:
                        return work(session)
                    return session.execute_read(
                        neo4j.unit_of_work(timeout=self.timeout)(work))
            except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as e:
                if _unreachable(e):
                    call.failed(_message(e))
                else:
                    call.answered()     # Neo4j answered, if only to refuse
                if isinstance(e, neo4j_errors.ClientError) and \
                        'dimension' in (e.message or '').lower():
                    raise ValueError('Neo4j refused the query vector: %s'
                                     % e.message) from e
                raise _unavailable(e, self.uri, self.user, what,
                                   PASSWORD_VARIABLE) from e

    def _circuit_open(self):
        wait = math.ceil(self._breaker.seconds_until_trial(
            self.circuit_reset)) or 1
        return ChunkStoreUnavailable(
            'Neo4j at %s is unavailable after %d failed calls in a row: '
            'calls are refused for another %d s (circuit open).'
            % (safe_uri(self.uri), self._breaker.failures, wait))

    def _index_dimension(self):
        """The index's dimension, read at most every `DIMENSION_TTL`
        seconds; `None` when it cannot be known (a user that may not list
        indexes, and no vector stored yet)."""
        cached = self._dimension
        if cached is not None and \
                time.monotonic() - cached[1] < DIMENSION_TTL:
            return cached[0]
        index = self._index_info()
        if index is None:
            raise ChunkStoreUnavailable(
                'Neo4j at %s has no vector index %s: load the chunks with '
                'trac-admin ENV learning neo4j load FILE.jsonl.'
                % (safe_uri(self.uri), self.index_name))
        self._dimension = (index['dimension'], time.monotonic())
        return index['dimension']

    def _index_info(self):
        """`{'dimension', 'state'}` of the vector index, or `None` when
        there is none. A user that may not list indexes gets the dimension
        of a stored vector and a state of `None`."""
        label = self._label()

        def work(session):      # SHOW commands run in their own transaction
            for record in session.run(neo4j.Query(
                    'SHOW INDEXES YIELD name, type, state, options',
                    timeout=self.timeout)):
                if record['name'] == self.index_name:
                    return dict(record)
            return None
        try:
            index = self._read(work, 'list its indexes', auto_commit=True)
        except ChunkStoreUnavailable as e:
            if not isinstance(e.__cause__, neo4j_errors.Forbidden):
                raise

            def stored(tx):
                record = tx.run('MATCH (c:%s) WHERE c.embedding IS NOT NULL '
                                'RETURN size(c.embedding) AS d LIMIT 1'
                                % label).single()
                return record['d'] if record else None
            dimension = self._read(stored, 'read a stored vector')
            return {'dimension': dimension, 'state': None}
        if index is None:
            return None
        if index['type'] != 'VECTOR':
            raise ChunkStoreUnavailable(
                'The index %s of Neo4j at %s is a %s index, not a vector '
                'index: set [neo4j] index_name to the vector index.'
                % (self.index_name, safe_uri(self.uri), index['type']))
        return {'dimension': index_dimension(index['options']),
                'state': index['state']}


# Drivers ------------------------------------------------------------------

def shared_driver(uri, user, password, timeout, retry_time=None):
    """The driver of this process for `uri` and `user`, created on first
    use; a changed password replaces it. `timeout` bounds connecting and
    taking a connection from the pool; `retry_time` (default `timeout`)
    how long the driver retries a read that failed for a passing
    reason."""
    if neo4j is None:
        raise ChunkStoreUnavailable('The Neo4j driver is not installed: pip '
                                    'install "neo4j>=5.20".')
    if not uri:
        raise ChunkStoreUnavailable('[neo4j] uri is not set: give the '
                                    'address of the Neo4j database, such as '
                                    'neo4j+s://xxxx.databases.neo4j.io.')
    key = (uri, user)
    digest = hashlib.sha256(password.encode('utf-8')).hexdigest()
    with _drivers_lock:
        entry = _drivers.get(key)
        if entry is not None and entry[1] == digest:
            return entry[0]
        driver = _new_driver(uri, user, password, timeout, retry_time)
        _drivers[key] = (driver, digest)
    if entry is not None:
        entry[0].close()
    return driver


def close_drivers():
    """Close every driver of this process."""
    with _drivers_lock:
        entries = list(_drivers.values())
        _drivers.clear()
    for driver, _ in entries:
        driver.close()


atexit.register(close_drivers)


def _new_driver(uri, user, password, timeout, retry_time=None):
    try:
        return neo4j.GraphDatabase.driver(
            uri, auth=(user, password), connection_timeout=timeout,
            connection_acquisition_timeout=timeout,
            max_transaction_retry_time=timeout if retry_time is None
            else max(0.0, retry_time),
            user_agent='TracLearn')
    except (ValueError, neo4j_errors.ConfigurationError) as e:
        raise ChunkStoreUnavailable(
            '%s is not a Neo4j address (%s): use neo4j+s://host for TLS, or '
            'neo4j://host:7687.' % (safe_uri(uri), e)) from e


def safe_uri(uri):
    """`uri` without any user or password, for messages."""
    parts = urlsplit(uri or '')
    if not parts.hostname:
        return uri or ''
    netloc = parts.hostname + (':%d' % parts.port if parts.port else '')
    return '%s://%s' % (parts.scheme, netloc)


def _unavailable(error, uri, user, what, variable):
    """A `ChunkStoreUnavailable` saying that Neo4j could not `what`."""
    where = safe_uri(uri)
    if isinstance(error, neo4j_errors.AuthError):
        return ChunkStoreUnavailable(
            'Neo4j at %s refused user %s: check [neo4j] user and %s.'
            % (where, user, variable))
    if isinstance(error, neo4j_errors.Forbidden):
        return ChunkStoreUnavailable(
            'Neo4j at %s does not let user %s %s: %s'
            % (where, user, what, error.message))
    if isinstance(error, (neo4j_errors.ServiceUnavailable,
                          neo4j_errors.SessionExpired,
                          neo4j_errors.TransientError,
                          neo4j_errors.DriverError)):
        return ChunkStoreUnavailable(
            'Neo4j at %s does not answer (%s): is the database running and '
            '[neo4j] uri right?' % (where, _message(error)))
    return ChunkStoreUnavailable('Neo4j at %s could not %s: %s'
                                 % (where, what, _message(error)))


def _unreachable(error):
    """Whether a Neo4j `error` shows that it cannot be reached or cannot
    serve (which counts for the circuit), rather than an answer refusing
    the request (a wrong password, a forbidden or malformed query)."""
    if isinstance(error, neo4j_errors.ClientError):
        # The server gave up on a query that took longer than `timeout`.
        return 'TransactionTimedOut' in (getattr(error, 'code', None) or '')
    return isinstance(error, (neo4j_errors.ServiceUnavailable,
                              neo4j_errors.SessionExpired,
                              neo4j_errors.TransientError,
                              neo4j_errors.DatabaseError,
                              # no pool left within `timeout` (driver 6)
                              getattr(neo4j_errors, 'ConnectionPoolError',
                                      ())))


def _message(error):
    return getattr(error, 'message', None) or str(error) or \
        type(error).__name__


# Loading ------------------------------------------------------------------

def load_chunks(uri, user, write_password, chunks, embeddings, model_name,
                dimension, database=None, index_name=DEFAULT_INDEX,
                label=DEFAULT_LABEL, batch_size=LOAD_BATCH, timeout=60.0):
    """Write `chunks` and their `embeddings` (made by `model_name`, of
    `dimension`) to Neo4j as user `user`; return `(new, updated)` counts.

    Creates the uniqueness constraint on the chunk id, the vector index
    (cosine, `dimension`) and the full-text index when missing and waits
    for them, then MERGEs the chunks by id, `batch_size` per write
    transaction, and last brings the prerequisite relationships of every
    chunk in line with the stored names; a run that stops half-way can
    simply be repeated. Raises `ValueError` when the chunks,
    the dimension or the model do not fit the index or the stored chunks,
    and `ChunkStoreUnavailable` when Neo4j refuses or does not answer.
    """
    chunks = check_chunks(chunks)
    vectors = check_embeddings(embeddings, len(chunks))
    if isinstance(dimension, bool) or not isinstance(dimension, int) or \
            dimension <= 0:
        raise ValueError('The dimension must be a positive whole number, '
                         'not %r' % (dimension,))
    if chunks and vectors.shape[1] != dimension:
        raise ValueError('The embeddings have %d dimensions, not %d'
                         % (vectors.shape[1], dimension))
    check_model_name(model_name)
    if not write_password:
        raise ChunkStoreUnavailable(
            'The password of the Neo4j user that loads chunks is not set: '
            'export %s.' % WRITE_PASSWORD_VARIABLE)
    node = _quoted_name(label, 'the label')
    index = _quoted_name(index_name, 'the index name')
    constraint = _quoted_name(constraint_name(label), 'the constraint name')
    text_index = _quoted_name(fulltext_index_name(label),
                              'the full-text index name')
    if neo4j is None:
        raise ChunkStoreUnavailable('The Neo4j driver is not installed: pip '
                                    'install "neo4j>=5.20".')
    driver = _new_driver(uri, user, write_password, timeout)
    loaded = 0
    step = 'connect'
    try:
        with driver.session(database=database or None,
                            default_access_mode=neo4j.WRITE_ACCESS) \
                as session:
            step = 'create the uniqueness constraint'
            session.run('CREATE CONSTRAINT %s IF NOT EXISTS FOR (c:%s) '
                        'REQUIRE c.id IS UNIQUE'
                        % (constraint, node)).consume()
            step = 'create the vector index'
            session.run(
                'CREATE VECTOR INDEX %s IF NOT EXISTS FOR (c:%s) '
                'ON (c.embedding) OPTIONS {indexConfig: {'
                '`vector.dimensions`: %d, '
                "`vector.similarity_function`: 'cosine'}}"
                % (index, node, dimension)).consume()
            step = 'wait for the vector index'
            session.run('CALL db.awaitIndex($name, $seconds)',
                        name=index_name, seconds=INDEX_WAIT_SECONDS).consume()
            step = 'read the vector index'
            _check_index(session, index_name, label, dimension)
            step = 'create the full-text index'
            session.run('CREATE FULLTEXT INDEX %s IF NOT EXISTS FOR (c:%s) '
                        'ON EACH [c.subject, c.concept, c.content]'
                        % (text_index, node)).consume()
            step = 'wait for the full-text index'
            session.run('CALL db.awaitIndex($name, $seconds)',
                        name=fulltext_index_name(label),
                        seconds=INDEX_WAIT_SECONDS).consume()
            step = 'compare with the stored chunks'
            session.execute_read(_refuse_conflicts, node, chunks, model_name)
            new = updated = 0
            for start in range(0, len(chunks), batch_size):
                step = 'write chunks'
                rows = [_node_row(chunk, vector) for chunk, vector in
                        zip(chunks[start:start + batch_size],
                            vectors[start:start + batch_size])]
                existed = session.execute_write(_merge_batch, node, rows,
                                                model_name, dimension)
                new += len(rows) - existed
                updated += existed
                loaded += len(rows)
            # Only now is every chunk a name may refer to stored.
            step = 'link prerequisites'
            _link_prerequisites(session, node, chunks, batch_size)
            return new, updated
    except ValueError:
        raise
    except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as e:
        error = _unavailable(e, uri, user, step, WRITE_PASSWORD_VARIABLE)
        if loaded:
            error = ChunkStoreUnavailable(
                '%s %d of %d chunks were written before; run the load again '
                '(chunks are merged by id).' % (error, loaded, len(chunks)))
        raise error from e
    finally:
        driver.close()


def constraint_name(label):
    """The name of the uniqueness constraint on the id of `label` nodes."""
    return '%s_id_unique' % label.lower()


def fulltext_index_name(label):
    """The name of the full-text index on the words of `label` nodes."""
    return '%s_text' % label.lower()


def prerequisite_links(chunks):
    """`{chunk_id: [ids of the chunks it needs]}` for each of `chunks`
    (mappings of the chunk fields), from their prerequisite names: a
    chunk needs the chunk of its subject that one of its
    `has_prerequisite` names, and is needed by the chunk of its subject
    that one of its `prerequisite_for` names. Names that match no concept
    give nothing, and a chunk never needs itself."""
    by_concept = {}
    for chunk in sorted(chunks, key=lambda chunk: chunk['id']):
        by_concept.setdefault((chunk['subject'], chunk['concept']),
                              chunk['id'])
    needs = {chunk['id']: set() for chunk in chunks}
    for chunk in chunks:
        for name in prerequisite_names(chunk.get('has_prerequisite')):
            other = by_concept.get((chunk['subject'], name))
            if other is not None and other != chunk['id']:
                needs[chunk['id']].add(other)
        for name in prerequisite_names(chunk.get('prerequisite_for')):
            other = by_concept.get((chunk['subject'], name))
            if other is not None and other != chunk['id']:
                needs[other].add(chunk['id'])
    return {chunk_id: sorted(ids) for chunk_id, ids in needs.items()}


def lexical_words(text, most=LEXICAL_MAX_WORDS):
    """The distinct content words of `text`, lower-cased, in the order
    they first appear, at most `most` of them (`None` for all). Stop words
    and a learner's request words ("want", "understand": `tracl.search.
    lexical.REQUEST_WORDS`) are left out, as the in-process store leaves
    them: they would match nearly every chunk, and count in the share of
    words a hit holds as if they said what the learner asks about. Words
    are Lucene's (letters of any script, "3.14" whole), not the
    in-process store's stems: the full-text index stems them its own
    way."""
    words = dict.fromkeys(word for word in
                          _WORD_RE.findall(str(text or '').casefold())
                          if is_content(word) and word not in REQUEST_WORDS)
    return list(words)[:most]


def lucene_query(words):
    """A Lucene query matching any of `words`: each is escaped and quoted,
    so that no character or word of a learner's text (`*`, `title:`,
    `OR`) is read as query syntax."""
    return ' OR '.join('"%s"' % _LUCENE_SPECIAL_RE.sub(r'\\\1', word)
                       for word in words)


def index_dimension(options):
    """The `vector.dimensions` of an index's `options` (from SHOW INDEXES),
    or `None`."""
    config = (options or {}).get('indexConfig') or {}
    value = config.get('vector.dimensions')
    return int(value) if value is not None else None


def _check_index(session, index_name, label, dimension):
    for record in session.run('SHOW INDEXES YIELD name, type, '
                              'labelsOrTypes, properties, options'):
        if record['name'] != index_name:
            continue
        if record['type'] != 'VECTOR' or \
                list(record['labelsOrTypes'] or []) != [label] or \
                list(record['properties'] or []) != ['embedding']:
            raise ValueError(
                'The index %s exists but is not a vector index on '
                ':%s(embedding): drop it or choose another [neo4j] '
                'index_name.' % (index_name, label))
        existing = index_dimension(record['options'])
        if existing != dimension:
            raise ValueError(
                'The vector index %s holds vectors of %s dimensions; these '
                'have %d. Load vectors of the same model, or drop the index '
                '(DROP INDEX %s) to rebuild it for the new model.'
                % (index_name, existing, dimension, index_name))
        return
    raise ValueError('The vector index %s was not created' % index_name)


def _refuse_conflicts(tx, node, chunks, model_name):
    """Refuse chunks whose concept another stored chunk of the subject
    has, and vectors of another model than stored chunks not being
    replaced."""
    ids = [chunk.id for chunk in chunks]
    record = tx.run(
        'MATCH (c:%s) WHERE NOT c.id IN $ids AND '
        'c.embedding_model <> $model '
        'RETURN c.id AS id, c.embedding_model AS model LIMIT 1' % node,
        ids=ids, model=model_name).single()
    if record is not None:
        raise ValueError(
            'Neo4j holds embeddings of %s (chunk %s, among others not in '
            'this load); these are of %s, and the two cannot be searched '
            'together. Load every chunk again with one model.'
            % (record['model'], record['id'], model_name))
    pairs = [[chunk.subject, chunk.concept] for chunk in chunks]
    record = tx.run(
        'MATCH (c:%s) WHERE NOT c.id IN $ids AND '
        '[c.subject, c.concept] IN $pairs '
        'RETURN c.id AS id, c.subject AS subject, c.concept AS concept '
        'LIMIT 1' % node, ids=ids, pairs=pairs).single()
    if record is not None:
        raise ValueError(
            'Concept %r already exists in subject %r as chunk %s; a concept '
            'name must be unique within its subject.'
            % (record['concept'], record['subject'], record['id']))


def _merge_batch(tx, node, rows, model_name, dimension):
    """MERGE `rows`; return how many of them existed before."""
    existed = tx.run('MATCH (c:%s) WHERE c.id IN $ids RETURN count(c) AS n'
                     % node, ids=[row['id'] for row in rows]).single()['n']
    tx.run('UNWIND $rows AS row '
           'MERGE (c:%s {id: row.id}) '
           'ON CREATE SET c.created_at = timestamp() '
           'SET c.subject = row.subject, c.concept = row.concept, '
           'c.content = row.content, '
           'c.has_prerequisite = row.has_prerequisite, '
           'c.prerequisite_for = row.prerequisite_for, '
           'c.difficulty_level = row.difficulty_level, '
           'c.source = row.source, c.embedding = row.embedding, '
           'c.embedding_model = $model, c.embedding_dim = $dimension, '
           'c.updated_at = timestamp()' % node,
           rows=rows, model=model_name, dimension=dimension).consume()
    return existed


def _link_prerequisites(session, node, chunks, batch_size):
    """Make the `HAS_PREREQUISITE` relationships of every `node` say what
    the stored names say: a name of this load may name a chunk loaded
    before, and a chunk loaded before may name one of this load, so the
    links of all chunks are derived again, and links whose names are gone
    are removed."""
    loaded = [chunk.as_dict() for chunk in chunks]
    stored = session.execute_read(_stored_names, node,
                                  [chunk['id'] for chunk in loaded])
    rows = [{'id': chunk_id, 'needs': needs} for chunk_id, needs in
            sorted(prerequisite_links(loaded + stored).items())]
    for start in range(0, len(rows), batch_size):
        session.execute_write(_link_batch, node,
                              rows[start:start + batch_size])


def _stored_names(tx, node, ids):
    """The naming fields of the stored chunks not among `ids`."""
    return [dict(record) for record in tx.run(
        'MATCH (c:%s) WHERE NOT c.id IN $ids '
        'RETURN c.id AS id, c.subject AS subject, c.concept AS concept, '
        'c.has_prerequisite AS has_prerequisite, '
        'c.prerequisite_for AS prerequisite_for' % node, ids=ids)]


def _link_batch(tx, node, rows):
    """Give each chunk of `rows` exactly the relationships to the chunks
    its row `needs`: MERGE makes a repeated load change nothing."""
    tx.run('UNWIND $rows AS row '
           'MATCH (a:%s {id: row.id})-[r:HAS_PREREQUISITE]->(b:%s) '
           'WHERE NOT b.id IN row.needs DELETE r' % (node, node),
           rows=rows).consume()
    tx.run('UNWIND $rows AS row '
           'MATCH (a:%s {id: row.id}) '
           'UNWIND row.needs AS need '
           'MATCH (b:%s {id: need}) WHERE b <> a '
           'MERGE (a)-[:HAS_PREREQUISITE]->(b)' % (node, node),
           rows=rows).consume()


def _node_row(chunk, vector):
    row = chunk.as_dict()
    row['embedding'] = [float(x) for x in vector]
    return row


# Values -------------------------------------------------------------------

def _quoted_name(name, what):
    """`name` quoted for Cypher, after checking it is a plain name (labels
    and index names cannot be parameters)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ChunkStoreUnavailable(
            '%s %r is not a plain name: use letters, digits and '
            'underscores.' % (what, name))
    return '`%s`' % name


def _cosine(score):
    """The cosine behind Neo4j's cosine score (1 + cos) / 2."""
    return float(np.clip(2.0 * score - 1.0, -1.0, 1.0))


def _dimension_error(got, dimension):
    return ValueError(
        'The query vector has %d dimensions but the Neo4j vector index holds '
        'vectors of %d: embed queries with the model the chunks were loaded '
        'with ([learning] embedder), or load the chunks again with the '
        "embedder's model." % (got, dimension))
