#!/usr/bin/env python3
"""The search pipeline's time on 100,000 chunks: embedding, dense and
lexical retrieval, fusion, the relevance floor and the foundations.

The store (in-process, on SQLite) holds copies of the Python documentation's
paragraphs (`make bench-data`) with noisy vectors, each copy a subject of its
own, up to `--chunks` (100,000 by default), plus the starter corpus as it
ships, whose prerequisites give the foundations something to follow. Every
query is distinct (the benchmark's 155 questions and 32 topics, then the
starter corpus's labelled queries) and the caches are empty, so each search
embeds its query and the provider's sentences with the loaded model: the
time a learner waits for a new query.

Prints the median and 95th percentile of `SearchPipeline.run` and, for the
starter queries, of the prerequisite closure and foundations step alone.

Usage: make bench-data && .venv/bin/python bench/hybrid_scale_bench.py
"""

import argparse
import glob
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # the source tree, not an installed copy
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from common import machine, percentile  # noqa: E402
from retrieval_bench import read_jsonl, vectors_for  # noqa: E402
from search_bench import fill_sqlite, names, noisy_copies  # noqa: E402
from support.envs import destroy_env, learning_env  # noqa: E402

from tracl.corpus import load_starter_corpus, validate_chunks  # noqa: E402
from tracl.embedding import LearningEmbedder  # noqa: E402
from tracl.search.local_store import (LocalChunkStore,  # noqa: E402
                                      mark_chunks_changed)
from tracl.search.pipeline import SearchPipeline  # noqa: E402
from tracl.search.relevance import chunk_text  # noqa: E402

QUERY_FILES = os.path.join(ROOT, 'tests', 'data', 'queries', '*.jsonl')


def starter_queries():
    queries = []
    for path in sorted(glob.glob(QUERY_FILES)):
        with open(path, encoding='utf-8') as f:
            queries.extend(json.loads(line)['query'] for line in f
                           if line.strip())
    return queries


def chained_rows(chunks, vectors, model, count):
    """`{chunks}` rows of `count` copies of `chunks`, each paragraph of a
    copy needing the paragraph before it in its page: chains as long as
    the pages (up to a few hundred links) for the closure to walk."""
    now = int(time.time() * 1000000)
    copies = noisy_copies(vectors, count)
    previous = {}
    for i in range(count):
        chunk = chunks[i % len(chunks)]
        copy = i // len(chunks)
        concept = '%s #%d' % (chunk['concept'], copy)
        before = previous.get((chunk['subject'], copy))
        previous[(chunk['subject'], copy)] = concept
        yield ('bench_%07d' % i, chunk['subject'], concept, chunk['content'],
               names(before), None, chunk['difficulty_level'],
               chunk['source'], copies[i].astype('<f4').tobytes(), model,
               copies.shape[1], now, now)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, (time.perf_counter() - started) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--chunks', type=int, default=100000)
    options = parser.parse_args()
    chunks = read_jsonl('chunks.jsonl')
    env = learning_env()
    try:
        embedder = LearningEmbedder(env).embedder
        model = embedder.model_name()
        starter = validate_chunks(load_starter_corpus()).valid
        copies = options.chunks - len(starter)
        started = time.perf_counter()
        fill_sqlite(env, chained_rows(chunks, vectors_for(chunks, embedder),
                                      model, copies))
        store = LocalChunkStore(env)
        store.upsert(starter, embedder.embed([chunk_text(c)
                                              for c in starter]), model)
        with env.db_transaction as db:
            mark_chunks_changed(db)
        print('Hybrid search at scale: %d chunks (%d copies of the Python '
              'documentation, the starter corpus), filled in %.0f s'
              % (options.chunks, copies, time.perf_counter() - started))
        print('machine: %s; embedder %s' % (machine(), model))
        pipeline = SearchPipeline(env)
        _result, load = timed(pipeline.run, 'warm up the matrix and words')
        print('first search (reads the vectors and words, builds the '
              'index): %.1f s' % (load / 1000))
        questions = [q['question'] for q in read_jsonl('questions.jsonl')]
        topics = [t['query'] for t in read_jsonl('topics.jsonl')]
        searches = []
        for query in questions + topics:
            _result, ms = timed(pipeline.run, query)
            searches.append(ms)
        closures, totals = [], []
        for query in starter_queries():
            ranking = pipeline.rank(query)
            found = [hit.chunk for hit in ranking.hits
                     if hit.relevance >= pipeline.relevance_threshold][:20]
            _result, ms = timed(pipeline._foundations, ranking.store,
                                ranking.vector, found)
            closures.append(ms)
        for query in starter_queries():
            # Distinct from the ranks above: new wording, so no cache hit.
            _result, ms = timed(pipeline.run, query + ', please')
            totals.append(ms)
        print('search, %d distinct Python documentation queries: median '
              '%.1f ms, p95 %.1f ms' % (len(searches),
                                        percentile(searches, 0.5),
                                        percentile(searches, 0.95)))
        print('search, %d distinct starter queries (with foundations): '
              'median %.1f ms, p95 %.1f ms' % (len(totals),
                                               percentile(totals, 0.5),
                                               percentile(totals, 0.95)))
        print('closure and foundations alone: median %.2f ms, p95 %.2f ms'
              % (percentile(closures, 0.5), percentile(closures, 0.95)))
        deep = []
        for query in questions[:60]:
            ranking = pipeline.rank(query)
            found = [hit.chunk for hit in ranking.hits
                     if hit.relevance >= pipeline.relevance_threshold][:20]
            _result, ms = timed(pipeline._foundations, ranking.store,
                                ranking.vector, found)
            deep.append(ms)
        print('closure and foundations on chains of whole pages (%d '
              'queries): median %.2f ms, p95 %.2f ms'
              % (len(deep), percentile(deep, 0.5), percentile(deep, 0.95)))
        imported = dict(starter[0], id='bench_import',
                        concept='Imported After Start')
        store.upsert([imported], embedder.embed([chunk_text(imported)]),
                     model)
        _result, reload = timed(pipeline.run, 'the first search after an '
                                              'import')
        print('the first search after an import (this process reloads '
              'vectors, words and links; other threads answer from the '
              'previous load meanwhile): %.1f s' % (reload / 1000))
    finally:
        destroy_env(env)


if __name__ == '__main__':
    main()
