"""The embedded chunk store: chunks and their embeddings in the Trac
database, searched in memory.

Storage. Each chunk is a row of `{chunks}` (`learning.chunks` on PostgreSQL,
`learning_chunks` on SQLite). The embedding is kept as little-endian float32
bytes beside the name of the model that made it and its dimension;
`has_prerequisite` and `prerequisite_for` hold JSON (a name or a list of
names; SQL NULL for none). A store holds the vectors of one model: an upsert
that would mix models or dimensions is refused, unless it replaces every
stored embedding at once (a reindex with a new model).

Search. The first search of an environment reads every embedding into one
normalised float32 matrix, and in the same scan every chunk's words (a BM25
index, `tracl.search.lexical`) and prerequisite names (`tracl.search.
foundations`), so the three searches answer from one snapshot; the chunks
themselves are read back for the hits. A reload after a change is done by
one thread while the others answer from the previous load. The vector
search answers exactly with one matrix product and
`numpy.argpartition`: one pass over 154 MB for 100,000 chunks of 384
dimensions, 5 to 20 ms depending on how busy the machine's memory is. With
`[learning] hnsw_min_chunks` chunks or more and faiss-cpu installed, an HNSW
index (M = 16) is built in the background and answers instead, once ready.

Freshness. Every upsert that changes a row also writes a new token in Trac's
`system` table (`learning_chunks_version`), in the same transaction. A search
compares that token with the one its matrix was loaded at, at most once every
`[learning] chunk_store_check_interval` seconds, and reloads the matrix when
they differ: so an import by `trac-admin` in another process reaches every
server process within the interval. This process's own upserts take effect
at its next search. The check is one primary-key look-up (well under a
millisecond); `COUNT(*), MAX(updated_at)` reads the whole table instead
(140 ms on SQLite, 60 ms on PostgreSQL for 100,000 chunks: see
`bench/search_bench.py`). Code that writes `{chunks}` without `upsert` must
call `mark_chunks_changed()` in its transaction.

Threads. A matrix is never changed once built; a reload builds a new one and
swaps it in. Only one thread reloads at a time; meanwhile the others answer
from the previous matrix, unless they have none yet or wrote a change
themselves, and then they wait for the new one.
"""

import json
import operator
import threading
import time
import uuid

import numpy as np

from trac.config import FloatOption, IntOption
from trac.core import Component, implements

from tracl.api import IChunkStore, IHealthContributor
from tracl.model.chunks import FIELDS, check_chunks, read_chunk
from tracl.schema import dialect, sql
from tracl.search import ChunkStoreUnavailable
from tracl.search.foundations import PrerequisiteGraph
from tracl.search.lexical import LexicalIndex
from tracl.search.relevance import chunk_text
from tracl.search.vectors import (check_embeddings, check_model_name,
                                  check_query)

#: How an embedding is stored: little-endian float32.
STORED_DTYPE = np.dtype('<f4')

#: The entry of Trac's `system` table that changes with every write.
VERSION_NAME = 'learning_chunks_version'

#: Chunks named in one `IN (...)` list.
ID_BATCH = 500

#: Rows read per statement when loading the matrix or listing chunks.
PAGE_SIZE = 5000

#: Neighbours per node of the HNSW graph (faiss `IndexHNSWFlat`).
HNSW_M = 16

_CHUNK_COLUMNS = ('id, subject, concept, content, has_prerequisite, '
                  'prerequisite_for, difficulty_level, source')

_STORED_COLUMNS = _CHUNK_COLUMNS + ', embedding, embedding_model, ' \
                                   'embedding_dim'


class LocalChunkStore(Component):
    """Chunks and embeddings in the Trac database, searched in memory."""

    implements(IChunkStore, IHealthContributor)

    check_interval = FloatOption('learning', 'chunk_store_check_interval',
        2.0,
        """Most seconds a search of `LocalChunkStore` goes without checking
        whether the chunks changed (an import by another process); a change
        reloads the vectors held in memory. 0 checks at every search.""")

    hnsw_min_chunks = IntOption('learning', 'hnsw_min_chunks', 200000,
        """`LocalChunkStore` searches through an HNSW index (approximate,
        under 1 ms) from this many chunks on, when faiss-cpu is installed;
        below it, or without faiss, search is exact (5 to 20 ms per
        100,000 chunks of 384 dimensions). The index is built in the
        background after each reload (minutes for a million chunks) and
        takes about as much memory again as the vectors.""")

    hnsw_ef_search = IntOption('learning', 'hnsw_ef_search', 128,
        """Candidates the HNSW index examines per query (faiss `efSearch`):
        higher is slower and closer to exact. 128 to 256 gave a recall of
        0.975 to 0.994 on a million chunks.""")

    #: Build the HNSW index in a background thread (searches stay exact
    #: until it is ready). Tests set it to False on the component to build
    #: it while loading.
    _build_in_background = True

    def __init__(self):
        self._matrix = None           # the current `_Matrix`, or None
        self._stale = False           # this process wrote since the load
        self._checked_at = 0.0        # monotonic time of the last check
        self._load_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._builder = None          # the thread building an HNSW index
        self._build_pending = None    # the matrix it should index next
        self._faiss_missing_logged = False
        self._dialect = None

    # IChunkStore methods

    def search(self, vector, limit):
        limit = operator.index(limit)
        query = check_query(vector)
        matrix = self._current_matrix()
        if matrix.dimension is not None and query.shape[0] != matrix.dimension:
            raise ValueError(
                'The query vector has %d dimensions but the chunks were '
                'embedded with %s in %d dimensions: embed queries with the '
                "store's model, or reindex the chunks with the configured "
                'embedder (trac-admin ENV learning reindex).'
                % (query.shape[0], matrix.model, matrix.dimension))
        if limit <= 0 or not matrix.ids:
            return []
        positions, cosines = matrix.nearest(query, limit)
        chunks = self.get_chunks([matrix.ids[p] for p in positions])
        # A chunk deleted since the load is left out.
        return [(chunks[matrix.ids[p]], float(cosine))
                for p, cosine in zip(positions, cosines)
                if matrix.ids[p] in chunks]

    def get_chunks(self, chunk_ids):
        ids = list(dict.fromkeys(chunk_ids))
        found = {}
        with self.env.db_query as db:
            for start in range(0, len(ids), ID_BATCH):
                batch = ids[start:start + ID_BATCH]
                for row in db(self._sql(
                        'SELECT %s FROM {chunks} WHERE id IN (%s)'
                        % (_CHUNK_COLUMNS, ','.join(['%s'] * len(batch)))),
                        batch):
                    found[row[0]] = _chunk_from_row(row)
        return found

    def lexical_search(self, text, limit):
        limit = operator.index(limit)
        catalogue = self._current_catalogue()
        positions, scores = catalogue.lexical.search(text, limit)
        return [(catalogue.ids[p], float(score))
                for p, score in zip(positions, scores)]

    def similarities(self, vector, chunk_ids):
        query = check_query(vector)
        matrix = self._current_matrix()
        if matrix.dimension is not None and query.shape[0] != matrix.dimension:
            raise ValueError(
                'The query vector has %d dimensions but the chunks were '
                'embedded in %d' % (query.shape[0], matrix.dimension))
        positions = matrix.positions()
        found = [(chunk_id, positions[chunk_id])
                 for chunk_id in dict.fromkeys(chunk_ids)
                 if chunk_id in positions]
        if not found:
            return {}
        cosines = matrix.vectors[[p for _id, p in found]] @ query
        return {chunk_id: float(np.clip(cosine, -1.0, 1.0))
                for (chunk_id, _p), cosine in zip(found, cosines)}

    def prerequisite_closure(self, chunk_ids):
        return self._current_catalogue().prerequisites.closure(chunk_ids)

    def upsert(self, chunks, embeddings, model_name):
        chunks = check_chunks(chunks)
        vectors = check_embeddings(embeddings, len(chunks))
        check_model_name(model_name)
        if not chunks:
            return 0, 0
        dimension = vectors.shape[1]
        rows = {chunk.id: _row(chunk, vector, model_name, dimension)
                for chunk, vector in zip(chunks, vectors)}
        try:
            with self.env.db_transaction as db:
                self._refuse_mixing(db, rows, model_name, dimension)
                self._refuse_concept_clashes(db, chunks)
                stored = self._stored_rows(db, list(rows))
                new = [row for id_, row in rows.items() if id_ not in stored]
                changed = [row for id_, row in rows.items()
                           if id_ in stored and stored[id_] != row]
                now = int(time.time() * 1000000)
                cursor = db.cursor()
                if new:
                    cursor.executemany(self._sql(
                        'INSERT INTO {chunks} (%s, created_at, updated_at) '
                        'VALUES (%s) ON CONFLICT (id) DO UPDATE SET %s'
                        % (_STORED_COLUMNS, ','.join(['%s'] * 13),
                           ', '.join('%s = excluded.%s' % (c, c)
                                     for c in _update_columns()))),
                        [row + (now, now) for row in new])
                if changed:
                    cursor.executemany(self._sql(
                        'UPDATE {chunks} SET %s WHERE id = %%s'
                        % ', '.join('%s = %%s' % c
                                    for c in _update_columns())),
                        [row[1:] + (now, row[0]) for row in changed])
                if new or changed:
                    mark_chunks_changed(db)
        except self.env.db_exc.IntegrityError as e:
            raise ValueError('The database refused the chunks (%s): a '
                             'concept name must be unique within its '
                             'subject.' % str(e).strip()) from e
        if new or changed:
            self._stale = True
            self.log.info('Chunk store: %d new and %d changed chunks '
                          '(%s, %d dimensions)', len(new), len(changed),
                          model_name, dimension)
        return len(new), len(stored)

    def iter_chunks(self):
        after = ''
        while True:
            rows = self.env.db_query(self._sql(
                'SELECT %s FROM {chunks} WHERE id > %%s ORDER BY id '
                'LIMIT %d' % (_CHUNK_COLUMNS, PAGE_SIZE)), (after,))
            for row in rows:
                yield _chunk_from_row(row)
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1][0]

    def stats(self):
        with self.env.db_query as db:
            subjects = dict(db(self._sql(
                'SELECT subject, COUNT(*) FROM {chunks} GROUP BY subject '
                'ORDER BY subject')))
            models = db(self._sql(
                'SELECT embedding_model, embedding_dim, COUNT(*) '
                'FROM {chunks} WHERE embedding IS NOT NULL '
                'GROUP BY embedding_model, embedding_dim '
                'ORDER BY COUNT(*) DESC'))
        matrix = self._matrix
        stats = {
            'chunks': sum(subjects.values()),
            'subjects': subjects,
            'embedding_model': models[0][0] if models else None,
            'dimension': models[0][1] if models else None,
            'store': self.__class__.__name__,
            'database': self._dialect_name(),
            'loaded_vectors': len(matrix.ids) if matrix else None,
            'matrix_bytes': matrix.vectors.nbytes if matrix else None,
            'search': matrix.method if matrix else None,
        }
        if len(models) > 1:
            stats['embedding_models'] = ['%s (%d dimensions): %d chunks'
                                         % row for row in models]
        return stats

    def describe(self):
        matrix = self._matrix
        where = 'the Trac database (%s)' % {
            'postgres': 'PostgreSQL', 'sqlite': 'SQLite'}[self._dialect_name()]
        if matrix is None:
            return 'Chunks in %s, searched in memory (not loaded yet)' % where
        if matrix.dimension is None:
            return 'Chunks in %s, searched in memory (empty)' % where
        return ('Chunks in %s, searched in memory: %d vectors of %s '
                '(%d dimensions), %s search'
                % (where, len(matrix.ids), matrix.model, matrix.dimension,
                   matrix.method))

    def check_available(self):
        # The database is the Trac database: a request that got this far
        # reached it, so there is no outage to refuse early.
        return None

    # IHealthContributor methods

    def get_health_checks(self):
        if self.config.get('learning', 'chunk_store') == \
                self.__class__.__name__:
            yield 'chunk_store', self.health

    # Public methods

    def health(self):
        """`None` when the chunks can be searched with the configured
        embedder's vectors, else a sentence saying what is wrong."""
        try:
            rows = self.env.db_query(self._sql(
                'SELECT embedding_model, embedding_dim FROM {chunks} '
                'WHERE embedding IS NOT NULL LIMIT 1'))
        except self.env.db_exc.DatabaseError as e:
            return ('the chunks table cannot be read (%s): run trac-admin '
                    'ENV upgrade' % str(e).strip())
        if not rows:
            return ('no chunks yet: import a corpus with trac-admin ENV '
                    'learning import FILE.jsonl')
        model, dimension = rows[0]
        from tracl.embedding import LearningEmbedder
        try:
            embedder = LearningEmbedder(self.env).embedder
            wanted = (embedder.model_name(), embedder.dimension())
        except Exception:       # the embedder reports its own health
            return None
        if wanted != (model, dimension):
            return ('the chunks were embedded with %s (%d dimensions) but '
                    '[learning] embedder gives %s (%d dimensions): reindex '
                    'the chunks (trac-admin ENV learning reindex)'
                    % (model, dimension, wanted[0], wanted[1]))
        return None

    # Internal methods

    def _dialect_name(self):
        if self._dialect is None:
            self._dialect = dialect(self.env)
        return self._dialect

    def _sql(self, text):
        return sql(self._dialect_name(), text)

    def _marker(self):
        """What changes whenever the chunks do: the version token."""
        rows = self.env.db_query('SELECT value FROM system WHERE name = %s',
                                 (VERSION_NAME,))
        return rows[0][0] if rows else None

    def _current_matrix(self):
        """The matrix to search, reloaded when the chunks changed."""
        matrix = self._matrix
        if matrix is not None and not self._stale and \
                time.monotonic() - self._checked_at < self.check_interval:
            return matrix
        # Without a matrix, or after our own write, wait for the reload;
        # otherwise let the thread already checking do it.
        if not self._load_lock.acquire(blocking=matrix is None
                                       or self._stale):
            return matrix
        try:
            matrix = self._matrix
            stale = self._stale
            if matrix is not None and not stale and \
                    time.monotonic() - self._checked_at < self.check_interval:
                return matrix
            self._stale = False     # a write from now on flags it again
            try:
                marker = self._marker()
                self._checked_at = time.monotonic()
                if matrix is None or stale or marker != matrix.marker:
                    matrix = self._load(marker)
                    self._matrix = matrix
                    if len(matrix.ids) >= max(self.hnsw_min_chunks, 1):
                        self._index(matrix)
            except Exception as e:
                self._stale = self._stale or stale
                if isinstance(e, self.env.db_exc.DatabaseError):
                    raise ChunkStoreUnavailable(
                        'The chunks cannot be read from the Trac database '
                        '(%s); check it with trac-admin ENV learning doctor.'
                        % str(e).strip()) from e
                raise
            return matrix
        finally:
            self._load_lock.release()

    def _current_catalogue(self):
        """The words and prerequisite links of the current load, read in
        the same scan as its vectors (one snapshot of the chunks)."""
        return self._current_matrix().catalogue

    def _load(self, marker):
        """Read every embedding into a new `_Matrix`."""
        started = time.perf_counter()
        (expected,), = self.env.db_query(self._sql(
            'SELECT COUNT(*) FROM {chunks}'))
        ids, vectors, model, dimension = [], None, None, None
        texts, concepts = [], []
        after = ''
        while True:
            rows = self.env.db_query(self._sql(
                'SELECT id, embedding, embedding_model, embedding_dim, '
                'subject, concept, content, has_prerequisite, '
                'prerequisite_for '
                'FROM {chunks} WHERE embedding IS NOT NULL AND id > %%s '
                'ORDER BY id LIMIT %d' % PAGE_SIZE), (after,))
            if not rows:
                break
            after = rows[-1][0]
            if vectors is None:
                model, dimension = rows[0][2], rows[0][3]
                vectors = np.empty((max(expected, len(rows)), dimension),
                                   dtype=np.float32)
            page_ids, blobs = [], []
            for id_, blob, row_model, row_dimension, subject, concept, \
                    content, needs, needed_for in rows:
                if (row_model, row_dimension) != (model, dimension):
                    raise ChunkStoreUnavailable(
                        'The chunk store mixes embeddings of %s (%d '
                        'dimensions) and %s (%d dimensions, chunk %s), '
                        'which cannot be compared: reindex every chunk with '
                        'one model (trac-admin ENV learning reindex).'
                        % (model, dimension, row_model, row_dimension, id_))
                if len(blob) != dimension * STORED_DTYPE.itemsize:
                    self.log.warning('Chunk store: the embedding of chunk '
                                     '%s has %d bytes, not %d; it is left '
                                     'out of searches', id_, len(blob),
                                     dimension * STORED_DTYPE.itemsize)
                    continue
                page_ids.append(id_)
                blobs.append(blob)
                texts.append(chunk_text({'subject': subject,
                                         'concept': concept,
                                         'content': content}))
                # Every concept, also one without links: others name it.
                concepts.append({'id': id_, 'subject': subject,
                                 'concept': concept,
                                 'has_prerequisite': _decode_names(needs),
                                 'prerequisite_for':
                                     _decode_names(needed_for)})
            page = np.frombuffer(b''.join(blobs), dtype=STORED_DTYPE)
            start = len(ids)
            if start + len(page_ids) > len(vectors):     # rows were added
                vectors = np.concatenate([vectors[:start], np.empty(
                    (len(page_ids) + PAGE_SIZE, dimension), np.float32)])
            vectors[start:start + len(page_ids)] = \
                page.reshape(len(page_ids), dimension)
            ids.extend(page_ids)
            if len(rows) < PAGE_SIZE:
                break
        if vectors is None:
            vectors = np.zeros((0, 0), dtype=np.float32)
        elif len(vectors) != len(ids):
            vectors = vectors[:len(ids)].copy()
        # Row norms without a temporary copy of the matrix.
        norms = np.sqrt(np.einsum('ij,ij->i', vectors, vectors))
        norms[norms == 0] = 1.0
        vectors /= norms[:, np.newaxis]
        # The words and links of the same rows, so that the lexical search
        # and the closure answer from the snapshot the vectors come from.
        catalogue = _Catalogue(ids, LexicalIndex(texts),
                               PrerequisiteGraph(concepts))
        matrix = _Matrix(marker, ids, vectors, model, dimension, catalogue)
        self.log.info('Chunk store: %d vectors of %s, their words and '
                      'links loaded in %.2f s (%.1f MB of vectors)',
                      len(ids), model, time.perf_counter() - started,
                      vectors.nbytes / 1e6)
        return matrix

    def _index(self, matrix):
        """Give `matrix` an HNSW index, when faiss-cpu is installed."""
        try:
            import faiss
        except ImportError:
            if not self._faiss_missing_logged:
                self._faiss_missing_logged = True
                self.log.warning(
                    'Chunk store: %d chunks reach [learning] hnsw_min_chunks '
                    '(%d) but faiss-cpu is not installed; searching exactly '
                    'instead (pip install faiss-cpu for the HNSW index)',
                    len(matrix.ids), self.hnsw_min_chunks)
            return
        if not self._build_in_background:
            self._build(faiss, matrix)
            return
        with self._build_lock:
            self._build_pending = matrix
            if self._builder is None:
                self._builder = threading.Thread(
                    target=self._build_loop, args=(faiss,), daemon=True,
                    name='tracl-hnsw-build')
                self._builder.start()

    def _build_loop(self, faiss):
        while True:
            with self._build_lock:
                matrix, self._build_pending = self._build_pending, None
                if matrix is None:
                    self._builder = None
                    return
            if matrix is self._matrix:      # else a newer load replaced it
                self._build(faiss, matrix)

    def _build(self, faiss, matrix):
        started = time.perf_counter()
        try:
            index = faiss.IndexHNSWFlat(matrix.dimension, HNSW_M,
                                        faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = max(1, self.hnsw_ef_search)
            index.add(matrix.vectors)
        except Exception as e:
            self.log.error('Chunk store: building the HNSW index failed '
                           '(%s); searching exactly', e)
            return
        matrix.hnsw = index
        self.log.info('Chunk store: HNSW index of %d vectors built in '
                      '%.1f s', len(matrix.ids), time.perf_counter() - started)

    def _refuse_mixing(self, db, rows, model_name, dimension):
        """Refuse vectors of another model or dimension than the stored
        ones, unless they replace every stored vector."""
        stored = db(self._sql('SELECT embedding_model, embedding_dim '
                              'FROM {chunks} WHERE embedding IS NOT NULL '
                              'LIMIT 1'))
        if not stored or tuple(stored[0]) == (model_name, dimension):
            return
        others = [id_ for id_, in db(self._sql(
                  'SELECT id FROM {chunks} WHERE embedding IS NOT NULL'))
                  if id_ not in rows]
        if others:
            raise ValueError(
                'The chunk store holds embeddings of %s (%d dimensions); '
                'these are of %s (%d dimensions), and the two cannot be '
                'searched together. Embed with %s (set [learning] embedder '
                'to match), or re-embed every chunk at once (trac-admin ENV '
                'learning reindex): %d stored chunks, such as %s, are not '
                'in this upsert.'
                % (stored[0][0], stored[0][1], model_name, dimension,
                   stored[0][0], len(others), others[0]))

    def _refuse_concept_clashes(self, db, chunks):
        """Refuse a concept name already used by another chunk of its
        subject (the table's UNIQUE (subject, concept)), with its name."""
        ids = {chunk.id for chunk in chunks}
        pairs = [(chunk.subject, chunk.concept) for chunk in chunks]
        batch_size = ID_BATCH // 2
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            for id_, subject, concept in db(self._sql(
                    'SELECT id, subject, concept FROM {chunks} '
                    'WHERE (subject, concept) IN (%s)'
                    % ','.join(['(%s, %s)'] * len(batch))),
                    [value for pair in batch for value in pair]):
                if id_ in ids:
                    continue
                owner = next(chunk.id for chunk in chunks
                             if (chunk.subject, chunk.concept)
                             == (subject, concept))
                raise ValueError(
                    'Chunk %s: concept %r already exists in subject %r as '
                    'chunk %s; a concept name must be unique within its '
                    'subject.' % (owner, concept, subject, id_))

    def _stored_rows(self, db, ids):
        """`{id: row}` of the stored chunks among `ids`, as `_row` makes
        them, to tell changed chunks from identical ones."""
        stored = {}
        for start in range(0, len(ids), ID_BATCH):
            batch = ids[start:start + ID_BATCH]
            for row in db(self._sql(
                    'SELECT %s FROM {chunks} WHERE id IN (%s)'
                    % (_STORED_COLUMNS, ','.join(['%s'] * len(batch)))),
                    batch):
                row = list(row)
                row[8] = bytes(row[8]) if row[8] is not None else None
                stored[row[0]] = tuple(row)
        return stored


class _Catalogue(object):
    """The words and prerequisite links of the chunks of one load:
    `ids[i]` is the chunk of document `i` of `lexical`."""

    def __init__(self, ids, lexical, prerequisites):
        self.ids = ids
        self.lexical = lexical
        self.prerequisites = prerequisites


class _Matrix(object):
    """The vectors of one load: `ids[i]` is the chunk of row `i` of
    `vectors` (unit rows). Never changed once built, but for `hnsw`, set
    once the background build is done."""

    def __init__(self, marker, ids, vectors, model, dimension, catalogue):
        self.marker = marker
        self.catalogue = catalogue
        self.ids = ids
        self.vectors = vectors
        self.model = model
        self.dimension = dimension
        self.hnsw = None
        self._positions = None

    @property
    def method(self):
        return 'exact' if self.hnsw is None else 'hnsw'

    def positions(self):
        """`{chunk_id: row}`, made on first use (a dict of every id)."""
        positions = self._positions
        if positions is None:
            positions = self._positions = {
                chunk_id: row for row, chunk_id in enumerate(self.ids)}
        return positions

    def nearest(self, query, limit):
        """Positions and cosines of the `limit` rows nearest to `query`,
        best first (ties in row order)."""
        count = len(self.ids)
        k = min(limit, count)
        index = self.hnsw
        if index is not None:
            cosines, positions = index.search(query.reshape(1, -1), k)
            keep = positions[0] >= 0
            return positions[0][keep], np.clip(cosines[0][keep], -1.0, 1.0)
        scores = self.vectors @ query
        if k < count:
            top = np.argpartition(-scores, k - 1)[:k]
        else:
            top = np.arange(count)
        top = top[np.lexsort((top, -scores[top]))]
        return top, np.clip(scores[top], -1.0, 1.0)


# Storing and reading values -----------------------------------------------

def mark_chunks_changed(db):
    """Record, in the transaction of `db`, that the chunks changed: every
    `LocalChunkStore` reloads its vectors at its next check."""
    db("INSERT INTO system (name, value) VALUES (%s, %s) "
       "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
       (VERSION_NAME, uuid.uuid4().hex))


def _update_columns():
    """The columns an update rewrites (all but `id` and `created_at`)."""
    return [c.strip() for c in _STORED_COLUMNS.split(',')][1:] + \
        ['updated_at']


def _encode_names(value):
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _decode_names(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:      # a bare name written by hand
        return text


def _row(chunk, vector, model_name, dimension):
    """The stored columns of a `Chunk` (`_STORED_COLUMNS`), in order."""
    return (chunk.id, chunk.subject, chunk.concept, chunk.content,
            _encode_names(chunk.has_prerequisite),
            _encode_names(chunk.prerequisite_for),
            chunk.difficulty_level, chunk.source,
            vector.astype(STORED_DTYPE).tobytes(), model_name, dimension)


def _chunk_from_row(row):
    """The chunk of a row of `_CHUNK_COLUMNS`."""
    record = dict(zip(FIELDS, row))
    for field in ('has_prerequisite', 'prerequisite_for'):
        record[field] = _decode_names(record[field])
    return read_chunk(record)
