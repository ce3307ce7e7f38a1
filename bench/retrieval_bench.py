#!/usr/bin/env python3
"""Retrieval on real text: the Python documentation's paragraphs.

Data (`make bench-data`, see docs/retrieval-benchmark.md): about 3,700
paragraphs of 79 pages of the Python 3.11 documentation that Debian's
python3-doc ships, one chunk per paragraph, subject = page; 155 questions
written by hand, each with the paragraph that answers it; 32 topic
queries, each with the page that should fill its results.

The chunks are imported into a fresh environment's in-process store
(embedded with the configured embedder, all-MiniLM-L6-v2 by default; the
vectors are kept in bench/data/retrieval/ beside the chunks so a second run
does not embed again) and searched four ways:
- dense: the vector search alone (the pipeline's search vector);
- lexical: BM25 alone (`lexical_search` on the query's words);
- hybrid: both, fused by the calibrated sum, no floor;
- pipeline: `SearchPipeline.run`, with the relevance floor and the cut
  of 20 (foundations left out: this data has no prerequisites).

Prints question recall@1/5/20 (the answer paragraph among the first k),
topic precision@20 (the share of returned chunks from the topic's page,
an empty result counting 0), how many answerable questions got nothing,
and the pipeline's search time (distinct queries, no cache).

Usage: make bench-data && .venv/bin/python bench/retrieval_bench.py
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # the source tree, not an installed copy
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

import numpy as np  # noqa: E402

from common import machine, percentile  # noqa: E402
from support.envs import destroy_env, learning_env  # noqa: E402

from tracl.embedding import LearningEmbedder  # noqa: E402
from tracl.search.local_store import LocalChunkStore  # noqa: E402
from tracl.search.pipeline import SearchPipeline  # noqa: E402
from tracl.search.relevance import chunk_text  # noqa: E402

DATA = os.path.join(HERE, 'data', 'retrieval')
CUTS = (1, 5, 20)


def read_jsonl(name):
    with open(os.path.join(DATA, name), encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def vectors_for(chunks, embedder):
    """The chunks' vectors, embedded once and kept beside the data."""
    path = os.path.join(DATA, 'vectors-%s.npy'
                        % embedder.model_name().replace('/', '_'))
    if os.path.exists(path):
        vectors = np.load(path)
        if vectors.shape[0] == len(chunks):
            return vectors
    started = time.perf_counter()
    vectors = embedder.embed([chunk_text(c) for c in chunks])
    print('embedded %d chunks in %.0f s' % (len(chunks),
                                            time.perf_counter() - started))
    np.save(path, vectors)
    return vectors


def ranked_ids(mode, pipeline, store, query):
    if mode == 'dense':
        embedder = LearningEmbedder(pipeline.env).embedder
        vector = pipeline.search_vector(query, embedder)
        return [c['id'] for c, _cos in store.search(vector, 20)]
    if mode == 'lexical':
        return [i for i, _s in store.lexical_search(query, 20)]
    if mode == 'hybrid':
        return [hit.chunk['id'] for hit in pipeline.rank(query).hits[:20]]
    return [c['chunk_id'] for c in pipeline.run(query)['chunks']
            if not c['foundation_for']]


def main():
    chunks = read_jsonl('chunks.jsonl')
    questions = read_jsonl('questions.jsonl')
    topics = read_jsonl('topics.jsonl')
    subject = {c['id']: c['subject'] for c in chunks}
    env = learning_env()
    try:
        embedder = LearningEmbedder(env).embedder
        store = LocalChunkStore(env)
        store.upsert(chunks, vectors_for(chunks, embedder),
                     embedder.model_name())
        pipeline = SearchPipeline(env)
        print('Retrieval on real text: %d chunks of %d pages, %d questions, '
              '%d topics' % (len(chunks), len(set(subject.values())),
                             len(questions), len(topics)))
        print('machine: %s; embedder %s' % (machine(),
                                            embedder.model_name()))
        store.lexical_search('warm up', 1)
        print('%-9s %9s %9s %9s %7s %9s' % ('mode', 'recall@1', 'recall@5',
                                            'recall@20', 'empty',
                                            'topic P@20'))
        timings = []
        for mode in ('dense', 'lexical', 'hybrid', 'pipeline'):
            hits = {k: 0 for k in CUTS}
            empty = 0
            for question in questions:
                started = time.perf_counter()
                ids = ranked_ids(mode, pipeline, store, question['question'])
                if mode == 'pipeline':
                    timings.append((time.perf_counter() - started) * 1000)
                empty += not ids
                for k in CUTS:
                    hits[k] += question['answer_id'] in ids[:k]
            precisions = []
            for topic in topics:
                ids = ranked_ids(mode, pipeline, store, topic['query'])[:20]
                precisions.append(
                    sum(subject[i] == topic['document'] for i in ids)
                    / len(ids) if ids else 0.0)
            print('%-9s %9.3f %9.3f %9.3f %7d %9.3f' % (
                mode, hits[1] / len(questions), hits[5] / len(questions),
                hits[20] / len(questions), empty,
                sum(precisions) / len(precisions)), flush=True)
        print('pipeline search (the query vector cached, as the dense '
              'mode ran first): median %.1f ms, p95 %.1f ms'
              % (percentile(timings, 0.5), percentile(timings, 0.95)))
    finally:
        destroy_env(env)


if __name__ == '__main__':
    main()
