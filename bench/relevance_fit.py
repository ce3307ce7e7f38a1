#!/usr/bin/env python3
"""Fits the relevance calibration (`tracl/search/relevance.py`) on the TRAIN
queries and evaluates it on the TEST queries.

Data: the starter corpus (156 chunks) and the labelled queries of
`tests/data/queries/*.jsonl` (broad, narrow and off-topic, each TRAIN or
TEST). The chunk vectors embed `chunk_text(chunk)`; the query vector is the
pipeline's (the offline provider's five academic sentences, embedded,
averaged and normalised with `query_vector`), compared with the raw query
embedded alone.

Prints, with the machine:
1. which chunk text ranks best on TRAIN (content, "concept: content",
   "subject: concept: content");
2. raw cosine percentiles of relevant and non-relevant pairs;
3. the fitted constants to paste into `CALIBRATIONS`, and whether the
   shipped ones agree;
4. TEST (and TRAIN) figures at the 0.65 threshold and for 0.50-0.80:
   precision and recall over (query, chunk) pairs after the pipeline's
   top-20 cut, on-topic queries left empty, off-topic queries answered with
   nothing; narrow MRR and recall@5, broad recall@20 (ranks, no threshold).

How the map is fitted: relevance = 1 / (1 + exp(-(slope * cos + intercept))).
The slope is a logistic regression of the label on the cosine over each
TRAIN query's top 20 chunks (off-topic queries' too: all non-relevant),
both classes weighted equally. The intercept
puts relevance 0.65 on the cosine floor that maximises pair F1 on TRAIN
among the floors that leave every off-topic TRAIN query empty.

Usage: .venv/bin/python bench/relevance_fit.py
"""

import glob
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # the source tree, not an installed copy
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

import numpy as np  # noqa: E402

from common import machine  # noqa: E402
from support.envs import load_plugin_modules  # noqa: E402
from trac.test import EnvironmentStub  # noqa: E402

from tracl.corpus import load_starter_corpus  # noqa: E402
from tracl.embedding import LearningEmbedder  # noqa: E402
from tracl.llm.offline import OfflineLLMProvider  # noqa: E402
from tracl.search.lexical import LexicalIndex  # noqa: E402
from tracl.search.relevance import (DEFAULT_THRESHOLD,  # noqa: E402
                                    calibration_for, chunk_text,
                                    query_vector, relevances)

QUERY_FILES = os.path.join(ROOT, 'tests', 'data', 'queries', '*.jsonl')

#: The pipeline's cut: at most this many chunks a search returns.
TOP_K = 20

#: Weights of the lexical match tried, and the one the pipeline uses (its
#: calibration's).
LEXICAL_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
HYBRID = 'hybrid (pipeline)'

#: Thresholds of the table.
THRESHOLDS = (0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80)

#: The chunk texts compared.
CHUNK_TEXTS = [
    ('content', lambda c: c['content']),
    ('concept: content', lambda c: '%s: %s' % (c['concept'], c['content'])),
    ('subject: concept: content', chunk_text),
]


def load_queries():
    queries = []
    for path in sorted(glob.glob(QUERY_FILES)):
        with open(path, encoding='utf-8') as f:
            queries.extend(json.loads(line) for line in f if line.strip())
    return queries


class Split(object):
    """The cosines of one split's queries against every chunk, with labels."""

    def __init__(self, queries, cosines, chunk_ids):
        self.queries = queries
        self.cosines = cosines                      # (queries, chunks)
        position = {cid: i for i, cid in enumerate(chunk_ids)}
        self.labels = np.zeros(cosines.shape, dtype=bool)
        for row, query in enumerate(queries):
            self.labels[row, [position[c] for c in query['relevant']]] = True
        self.kinds = np.array([q['kind'] for q in queries])
        self.order = np.argsort(-cosines, axis=1, kind='stable')

    def rows(self, kind):
        return np.flatnonzero(self.kinds == kind)

    def on_topic(self):
        return np.flatnonzero(self.kinds != 'none')

    def top(self, row, k=TOP_K):
        return self.order[row, :k]


# -- Ranking (no threshold)

def ranking(split):
    reciprocal, recall5, recall20 = [], [], []
    for row in split.rows('narrow'):
        hits = split.labels[row, split.order[row]]
        reciprocal.append(1.0 / (1 + int(np.argmax(hits))))
        recall5.append(hits[:5].sum() / hits.sum())
    for row in split.rows('broad'):
        hits = split.labels[row, split.order[row]]
        recall20.append(hits[:TOP_K].sum() / hits.sum())
    rows = split.on_topic()
    return {'narrow_mrr': float(np.mean(reciprocal)),
            'narrow_recall5': float(np.mean(recall5)),
            'broad_recall20': float(np.mean(recall20)),
            'pair_auc': auc(split.cosines[rows][split.labels[rows]],
                            split.cosines[rows][~split.labels[rows]])}


def auc(positive, negative):
    """ROC AUC (Mann-Whitney), ties counted half."""
    values = np.concatenate([positive, negative])
    order = values.argsort(kind='stable')
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):           # average ranks of ties
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    n = len(positive)
    return float((ranks[:n].sum() - n * (n + 1) / 2) / (n * len(negative)))


# -- Threshold

def at_threshold(split, relevance_of, threshold):
    """Figures of the pipeline (top 20 by cosine, then relevance >=
    threshold) over a split; `relevance_of(cosines)` maps cosines."""
    tp = fp = fn = 0
    emptied = 0
    off_topic_empty = off_topic_hits = 0
    narrow_found5 = []
    broad_recall = []
    for row in range(len(split.queries)):
        top = split.top(row)
        kept = top[relevance_of(split.cosines[row, top]) >= threshold]
        labels = split.labels[row]
        if split.kinds[row] == 'none':
            off_topic_empty += len(kept) == 0
            off_topic_hits += len(kept)
            continue
        found = int(labels[kept].sum())
        tp += found
        fp += len(kept) - found
        fn += int(labels.sum()) - found
        emptied += len(kept) == 0
        if split.kinds[row] == 'narrow':
            narrow_found5.append(bool(labels[kept[:5]].any()))
        else:
            broad_recall.append(found / labels.sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn)
    off_topic = len(split.rows('none'))
    return {'precision': precision, 'recall': recall,
            'f1': f1(precision, recall),
            'kept_per_query': (tp + fp) / len(split.on_topic()),
            'emptied': emptied, 'on_topic': len(split.on_topic()),
            'off_topic_empty_share': off_topic_empty / off_topic,
            'off_topic_hits': off_topic_hits,
            'narrow_found5': float(np.mean(narrow_found5)),
            'broad_recall_kept': float(np.mean(broad_recall))}


def f1(precision, recall):
    return 2 * precision * recall / (precision + recall) \
        if precision + recall else 0.0


# -- Fit

def candidate_pairs(split):
    """Cosine, label and off-topic flag of each query's top-20 pairs."""
    cosines, labels, off_topic = [], [], []
    for row in range(len(split.queries)):
        top = split.top(row)
        cosines.append(split.cosines[row, top])
        labels.append(split.labels[row, top])
        off_topic.append(np.full(len(top), split.kinds[row] == 'none'))
    return (np.concatenate(cosines), np.concatenate(labels),
            np.concatenate(off_topic))


def balanced_logistic(x, y, iterations=50):
    """(slope, intercept) of a logistic regression of y on x, both classes
    weighted equally, by Newton's method."""
    y = y.astype(np.float64)
    weights = np.where(y > 0, 0.5 / y.sum(), 0.5 / (1 - y).sum()) * len(y)
    design = np.column_stack([x, np.ones_like(x)])
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-design @ w))
        gradient = design.T @ (weights * (y - p))
        hessian = design.T @ (design * (weights * p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def best_floor(split):
    """The cosine floor maximising pair F1 over the top-20 candidates with
    no off-topic query answered: (floor, precision, recall, f1, band),
    band being the floors whose F1 is within 0.01 of the best."""
    cosines, labels, off_topic = candidate_pairs(split)
    relevant_total = int(split.labels[split.on_topic()].sum())
    order = np.argsort(-cosines, kind='stable')
    cosines, labels, off_topic = cosines[order], labels[order], \
        off_topic[order]
    on = ~off_topic
    tp = np.cumsum(labels & on)
    kept = np.cumsum(on)
    off_hits = np.cumsum(off_topic)
    precision = tp / np.maximum(kept, 1)
    recall = tp / relevant_total
    scores = np.where(precision + recall > 0,
                      2 * precision * recall /
                      np.maximum(precision + recall, 1e-12), 0)
    # A floor between pair i and i + 1 keeps pairs 0..i; ties stay together.
    valid = (off_hits == 0) & np.append(cosines[1:] < cosines[:-1], True)
    scores = np.where(valid, scores, -1)
    best = int(np.argmax(scores))
    near = np.flatnonzero(scores >= scores[best] - 0.01)
    band = (float(cosines[near].min()), float(cosines[near].max()))
    # The floor is against junk, not a filter: of the floors within 0.01
    # of the best F1, the lowest, which keeps the most.
    i = int(near.max())
    following = cosines[i + 1] if i + 1 < len(cosines) else cosines[i] - .01
    floor = (cosines[i] + following) / 2
    return float(floor), float(precision[i]), float(recall[i]), \
        float(scores[i]), band


def fit(split):
    """The fitted (slope, intercept) and what fixed them."""
    cosines, labels, _ = candidate_pairs(split)
    slope, balanced_intercept = balanced_logistic(cosines, labels)
    floor, precision, recall, score, band = best_floor(split)
    target = math.log(DEFAULT_THRESHOLD / (1 - DEFAULT_THRESHOLD))
    intercept = target - slope * floor
    return {'slope': slope, 'intercept': intercept, 'floor': floor,
            'precision': precision, 'recall': recall, 'f1': score,
            'band': band, 'pairs': len(cosines),
            'relevant_pairs': int(labels.sum()),
            'balanced_065_cosine': (target - balanced_intercept) / slope}


def logistic(slope, intercept):
    return lambda c: 1 / (1 + np.exp(-(slope * np.asarray(c) + intercept)))


def unweighted_065_cosine(split):
    """Where an ordinary (unweighted) logistic fit puts relevance 0.65."""
    x, y, _ = candidate_pairs(split)
    y = y.astype(np.float64)
    design = np.column_stack([x, np.ones_like(x)])
    w = np.zeros(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ w))
        w += np.linalg.solve(design.T @ (design * (p * (1 - p))[:, None]),
                             design.T @ (y - p))
    return (math.log(DEFAULT_THRESHOLD / (1 - DEFAULT_THRESHOLD)) - w[1]) \
        / w[0]


# -- Printing

def percentiles(values):
    if len(values) == 0:
        return '      -'
    return '%.2f / %.2f / %.2f' % tuple(np.percentile(values, [10, 50, 90]))


def print_distributions(label, split):
    rows = split.on_topic()
    cos, lab = split.cosines[rows], split.labels[rows]
    near = np.zeros_like(lab)
    for i, row in enumerate(rows):
        near[i, split.top(row)] = True
    off = split.cosines[split.rows('none')]
    print('  %-34s relevant %s   non-relevant %s   non-relevant in top 20 '
          '%s   off-topic best %s' % (
              label, percentiles(cos[lab]), percentiles(cos[~lab]),
              percentiles(cos[~lab & near]),
              ', '.join('%.2f' % v for v in np.sort(off.max(axis=1)))))


def print_threshold_line(label, figures):
    print('  %-40s P %.3f  R %.3f  F1 %.3f  kept/q %4.1f  emptied %2d/%d  '
          'off-topic empty %3.0f%% (%d hits)  narrow top-5 %.2f  broad R %.3f'
          % (label, figures['precision'], figures['recall'], figures['f1'],
             figures['kept_per_query'], figures['emptied'],
             figures['on_topic'], 100 * figures['off_topic_empty_share'],
             figures['off_topic_hits'], figures['narrow_found5'],
             figures['broad_recall_kept']))


def print_ranking(label, figures):
    print('  %-40s narrow MRR %.3f  narrow recall@5 %.3f  broad recall@20 '
          '%.3f  pair AUC %.3f' % (label, figures['narrow_mrr'],
                                   figures['narrow_recall5'],
                                   figures['broad_recall20'],
                                   figures['pair_auc']))


def main():
    load_plugin_modules()
    start = time.perf_counter()
    env = EnvironmentStub(enable=['trac.*', 'tracl.*'],
                          config=[('learning', 'embedding_threads', '0')])
    embedder = LearningEmbedder(env).embedder
    provider = OfflineLLMProvider(env)
    model = embedder.model_name()
    shipped = calibration_for(model)
    lexical_weight = shipped.lexical_weight if shipped else 0.0
    chunks = load_starter_corpus()
    chunk_ids = [c['id'] for c in chunks]
    queries = load_queries()
    print('Relevance calibration: %s' % model)
    print('Machine: %s' % machine())
    print('Data: %d chunks; %d queries (%s)' % (
        len(chunks), len(queries), ', '.join(
            '%s %s %d' % (s, k, sum(1 for q in queries if q['split'] == s
                                    and q['kind'] == k))
            for s in ('train', 'test') for k in ('broad', 'narrow', 'none'))))

    sentences = [provider.academic_sentences(q['query']) for q in queries]
    flat = embedder.embed([s for group in sentences for s in group])
    own = embedder.embed([q['query'] for q in queries])
    at = np.cumsum([0] + [len(g) for g in sentences])
    vectors = {
        'sentences': np.vstack([query_vector(flat[at[i]:at[i + 1]])
                                for i in range(len(queries))]),
        'raw query': np.vstack([query_vector(v) for v in own]),
        'sentences + query': np.vstack([
            query_vector(flat[at[i]:at[i + 1]], own[i])
            for i in range(len(queries))]),
    }
    index = LexicalIndex([chunk_text(c) for c in chunks])
    lexical = np.zeros((len(queries), len(chunks)))
    for row, query in enumerate(queries):
        positions, scores = index.search(query['query'], len(chunks))
        lexical[row, positions] = scores

    def splits(chunk_vectors, query_vectors, weight=0.0):
        cosines = query_vectors @ chunk_vectors.T + weight * lexical
        return {name: Split([q for q in queries if q['split'] == name],
                            cosines[[i for i, q in enumerate(queries)
                                     if q['split'] == name]], chunk_ids)
                for name in ('train', 'test')}

    print('\n1. Chunk text, ranked on TRAIN (ranks need no calibration)')
    chosen = None
    for label, text in CHUNK_TEXTS:
        chunk_vectors = embedder.embed([text(c) for c in chunks])
        for query_label, query_vectors in vectors.items():
            data = splits(chunk_vectors, query_vectors)
            floor = best_floor(data['train'])
            print_ranking('%s / %s' % (label, query_label),
                          ranking(data['train']))
            print('  %-40s best pair F1 %.3f at cosine floor %.3f' % (
                '', floor[3], floor[0]))
        if text is chunk_text:
            chosen = chunk_vectors
    print('  chunk_text() embeds "subject: concept: content"')

    data = {label: splits(chosen, v) for label, v in vectors.items()}

    print('\n1b. Lexical weight of the hybrid score (cosine with the '
          'pipeline vector + weight * lexical), ranked on TRAIN')
    weights = {}
    for weight in LEXICAL_WEIGHTS:
        figures = ranking(splits(chosen, vectors['sentences + query'],
                                 weight)['train'])
        weights[weight] = figures['pair_auc']
        print_ranking('weight %.2f' % weight, figures)
    print('  chosen: %.2f (the best TRAIN pair AUC; the shipped weight is '
          '%.2f)' % (max(weights, key=weights.get), lexical_weight))
    # The relevance (and so the floor) reads the fused score without the
    # subject term, which only chooses among candidates.
    data[HYBRID] = splits(chosen, vectors['sentences + query'],
                          lexical_weight)

    print('\n2. Raw cosines, 10th / 50th / 90th percentile (chunk_text)')
    for label in data:
        for name in ('train', 'test'):
            print_distributions('%s, %s' % (label, name.upper()),
                                data[label][name])

    print('\n3. Fit on TRAIN')
    fits = {}
    for label in data:
        fitted = fits[label] = fit(data[label]['train'])
        print('  %s: %d candidate pairs (top 20 of %d queries), '
              '%d relevant' % (label, fitted['pairs'],
                               len(data[label]['train'].queries),
                               fitted['relevant_pairs']))
        print('    slope %.2f (balanced logistic); floor cosine %.3f: '
              'P %.3f R %.3f F1 %.3f, floors within 0.01 of that F1: '
              '%.3f-%.3f' % (fitted['slope'], fitted['floor'],
                             fitted['precision'], fitted['recall'],
                             fitted['f1'], *fitted['band']))
        print('    intercept %.4f (relevance 0.65 at the floor); '
              'balanced fit alone would put 0.65 at %.3f, unweighted at '
              '%.3f' % (fitted['intercept'], fitted['balanced_065_cosine'],
                        unweighted_065_cosine(data[label]['train'])))
    pipeline = fits[HYBRID]
    print('\n  Paste into CALIBRATIONS[%r]:' % model)
    print('    Calibration(slope=%.2f, intercept=%.4f, ..., '
          'lexical_weight=%.2f, subject_weight=...)' % (
              pipeline['slope'], round(pipeline['intercept'], 4),
              lexical_weight))
    shipped = calibration_for(model)
    if shipped is None:
        print('  (no calibration shipped for this model yet)')
    else:
        floor = (math.log(DEFAULT_THRESHOLD / (1 - DEFAULT_THRESHOLD)) -
                 shipped.intercept) / shipped.slope
        agree = abs(shipped.slope - pipeline['slope']) < 0.01 and \
            abs(floor - pipeline['floor']) < 0.001
        print('  shipped: slope %.2f intercept %.4f (0.65 at cosine %.3f): '
              '%s' % (shipped.slope, shipped.intercept, floor,
                      'agrees with this fit' if agree
                      else 'DIFFERS from this fit'))

    def shipped_map(c):
        return relevances(c, model)

    maps = [('hybrid (pipeline), shipped calibration', HYBRID,
             shipped_map),
            ('sentences alone, its own TRAIN fit', 'sentences',
             logistic(fits['sentences']['slope'],
                      fits['sentences']['intercept'])),
            ('raw query, its own TRAIN fit', 'raw query',
             logistic(fits['raw query']['slope'],
                      fits['raw query']['intercept']))]

    print('\n4. Threshold %.2f (top 20 by cosine, then relevance >= '
          'threshold)' % DEFAULT_THRESHOLD)
    for name in ('test', 'train'):
        print(' %s' % name.upper())
        for label, vector_label, relevance_of in maps:
            print_threshold_line(label, at_threshold(
                data[vector_label][name], relevance_of, DEFAULT_THRESHOLD))
    print('\n  Ranks (no threshold)')
    for name in ('test', 'train'):
        for label in data:
            print_ranking('%s, %s' % (label, name.upper()),
                          ranking(data[label][name]))

    print('\n5. Thresholds on TEST')
    for label, vector_label, relevance_of in (maps[0], maps[2]):
        print(' %s' % label)
        for threshold in THRESHOLDS:
            print_threshold_line('%.2f' % threshold, at_threshold(
                data[vector_label]['test'], relevance_of, threshold))
    print('\n(%.0f s)' % (time.perf_counter() - start))


if __name__ == '__main__':
    main()
