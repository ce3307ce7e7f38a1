#!/usr/bin/env python3
"""Exact vector search in LocalChunkStore over 100,000 chunks, on SQLite and
on PostgreSQL (goal: warm p95 of `search()` <= 50 ms).

The starter corpus is embedded once with the local embedder (156 vectors of
all-MiniLM-L6-v2, as `learning import` embeds them); each database is then
filled directly with noisy copies of those vectors (COUNT rows, each with
its original chunk's text) and searched with the embedded labelled queries
of `tests/data/queries/` (80, and noisy variants of them up to 200).

Printed per database: the time to fill it, the cold load of the matrix (a
new environment object, so a new connection: what the first search of a
server process pays), the change check a search makes every
`[learning] chunk_store_check_interval` seconds (and the
`COUNT(*), MAX(updated_at)` scan it replaces), the matrix's memory, and the
warm latency of `search(vector, 20)` (matrix product, top-k, and the 20 hit
rows read back) next to the top-k alone.

Usage: .venv/bin/python bench/search_bench.py [COUNT]   (default 100000;
SQLite in a temporary file; PostgreSQL on TRACL_TEST_PG_URI's server, in a
fresh database dropped at the end)
"""

import glob
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from common import machine, measure, report  # noqa: E402
from support import pg  # noqa: E402
from support.envs import ENABLED, destroy_env, learning_env  # noqa: E402
from trac.test import EnvironmentStub  # noqa: E402

from tracl.corpus import load_starter_corpus, validate_chunks  # noqa: E402
from tracl.embedding import LearningEmbedder  # noqa: E402
from tracl.schema import sql  # noqa: E402
from tracl.search.local_store import (STORED_DTYPE,  # noqa: E402
                                      LocalChunkStore, mark_chunks_changed)
from tracl.search.relevance import chunk_text  # noqa: E402

PG_SERVER = os.environ.get('TRACL_TEST_PG_URI',
                           'postgres://postgres@127.0.0.1:5432/postgres')
QUERY_FILES = os.path.join(HERE, '..', 'tests', 'data', 'queries', '*.jsonl')

#: Standard deviation of the noise added to each coordinate of a copy:
#: a copy keeps a cosine of about 0.93 with its original.
NOISE = 0.02
QUERIES = 200
LIMIT = 20
COLD_LOADS = 3
INSERT_BATCH = 2000


def noisy_copies(vectors, count, seed=5):
    """`count` unit vectors: vector `i % len(vectors)` plus noise."""
    rng = np.random.default_rng(seed)
    base = vectors[np.arange(count) % len(vectors)]
    copies = base + rng.normal(0, NOISE, base.shape).astype(np.float32)
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    return copies.astype(np.float32)


def rows(chunks, vectors, model, count):
    """The `{chunks}` rows of `count` copies, made as they are inserted."""
    now = int(time.time() * 1000000)
    copies = noisy_copies(vectors, count)
    for i in range(count):
        chunk = chunks[i % len(chunks)]
        copy = i // len(chunks)
        yield ('bench_%07d' % i, chunk['subject'],
               '%s #%d' % (chunk['concept'], copy), chunk['content'],
               names(chunk['has_prerequisite']),
               names(chunk['prerequisite_for']),
               chunk['difficulty_level'], chunk['source'],
               copies[i].astype(STORED_DTYPE).tobytes(), model,
               copies.shape[1], now, now)


def names(value):
    """A prerequisite field as the store keeps it: JSON, or NULL."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


INSERT = """INSERT INTO {chunks} (id, subject, concept, content,
    has_prerequisite, prerequisite_for, difficulty_level, source, embedding,
    embedding_model, embedding_dim, created_at, updated_at)
    VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"""


def batches(generated):
    batch = []
    for row in generated:
        batch.append(row)
        if len(batch) == INSERT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill_sqlite(env, generated):
    with env.db_transaction as db:
        cursor = db.cursor()
        for batch in batches(generated):
            cursor.executemany(sql(env, INSERT), batch)


def fill_postgres(env, uri, generated):
    from psycopg2.extras import execute_values
    cnx = pg.connect(uri)
    try:
        cnx.autocommit = False
        values = INSERT.split('VALUES')[0] + 'VALUES %s'
        with cnx.cursor() as cursor:
            for batch in batches(generated):
                execute_values(cursor, sql('postgres', values), batch,
                               page_size=len(batch))
            cursor.execute(sql('postgres', 'ANALYZE {chunks}'))
        cnx.commit()
    finally:
        cnx.close()


def starter_chunks_and_vectors(embedder):
    """The starter corpus and its vectors, embedded as `learning import`
    embeds them."""
    chunks = validate_chunks(load_starter_corpus()).valid
    return chunks, embedder.embed([chunk_text(c) for c in chunks])


def query_vectors(embedder):
    """The labelled queries, embedded, and noisy variants up to QUERIES."""
    texts = []
    for path in sorted(glob.glob(QUERY_FILES)):
        with open(path, encoding='utf-8') as f:
            texts.extend(json.loads(line)['query'] for line in f
                         if line.strip())
    vectors = embedder.embed(texts)
    return noisy_copies(vectors, QUERIES, seed=9), len(texts)


def cold_store():
    """A LocalChunkStore of a new environment object on the same database,
    as a new server process has."""
    return LocalChunkStore(EnvironmentStub(enable=ENABLED, destroying=True))


def bench(label, env, fill, count, chunks, vectors, model, queries):
    started = time.perf_counter()
    fill(rows(chunks, vectors, model, count))
    with env.db_transaction as db:
        mark_chunks_changed(db)
    print('%s: %d chunks inserted in %.1f s' % (label, count,
                                                time.perf_counter() - started),
          flush=True)

    loads = []
    for attempt in range(COLD_LOADS):
        store = cold_store()
        start = time.perf_counter()
        store.search(queries[0], LIMIT)
        loads.append(time.perf_counter() - start)
        store.env.shutdown()
    print('  cold load of the matrix (first search of a process): median '
          '%.2f s of %s' % (statistics.median(loads),
                            ', '.join('%.2f' % s for s in loads)))
    # Once more, untimed, counting allocations (numpy's included).
    store = cold_store()
    tracemalloc.start()
    store.search(queries[0], LIMIT)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    matrix = store._matrix
    print('  memory: matrix %d x %d float32 = %.1f MB; the load keeps %.1f '
          'MB (ids included), peaks at %.1f MB'
          % (matrix.vectors.shape[0], matrix.vectors.shape[1],
             matrix.vectors.nbytes / 1e6, kept / 1e6, peak / 1e6),
          flush=True)

    report('change check (version token in system)',
           measure(store._marker, 50, warmup=3))
    report('COUNT(*), MAX(updated_at) scan, for comparison',
           measure(lambda: store.env.db_query(sql(
               store.env, 'SELECT COUNT(*), MAX(updated_at) FROM {chunks}')),
               10, warmup=1))

    position = iter(range(10 ** 9))

    def next_query():
        return queries[next(position) % len(queries)]
    report('top-%d alone (matrix @ q, argpartition)' % LIMIT,
           measure(lambda: matrix.nearest(next_query(), LIMIT), QUERIES))
    report('search(vector, %d), warm, check every %.0f s'
           % (LIMIT, store.check_interval),
           measure(lambda: store.search(next_query(), LIMIT), QUERIES))
    store.env.shutdown()


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    begun = time.perf_counter()
    print('Chunk store search benchmark on %s (load average %.1f)'
          % (machine(), os.getloadavg()[0]))
    os.environ['TRAC_TEST_DB_URI'] = 'sqlite::memory:'
    started = time.perf_counter()
    embedder = LearningEmbedder(learning_env()).embedder
    model = embedder.model_name()
    chunks, vectors = starter_chunks_and_vectors(embedder)
    queries, labelled = query_vectors(embedder)
    print('Embedded %d starter chunks and %d labelled queries with %s in '
          '%.1f s' % (len(chunks), labelled, model,
                      time.perf_counter() - started), flush=True)

    folder = tempfile.mkdtemp(prefix='tracl-search-bench-')
    os.environ['TRAC_TEST_DB_URI'] = 'sqlite:%s' % os.path.join(folder,
                                                                'trac.db')
    env = learning_env()
    try:
        bench('SQLite (file)', env, lambda rows: fill_sqlite(env, rows),
              count, chunks, vectors, model, queries)
    finally:
        destroy_env(env)
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)

    name = 'tracl_bench_%s' % uuid.uuid4().hex[:8]
    uri = pg.create_database(PG_SERVER, name)
    os.environ['TRAC_TEST_DB_URI'] = uri
    try:
        env = learning_env()
        try:
            bench('PostgreSQL 15', env,
                  lambda rows: fill_postgres(env, uri, rows),
                  count, chunks, vectors, model, queries)
        finally:
            destroy_env(env)
    finally:
        pg.drop_database(PG_SERVER, name)
    print('Benchmark took %.0f s' % (time.perf_counter() - begun))


if __name__ == '__main__':
    main()
