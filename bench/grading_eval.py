#!/usr/bin/env python3
"""Calibration and evaluation of the offline grader
(`tracl.llm.offline_grader`) on SciEntsBank: 4,969 human-marked answers
to 135 science questions (SemEval-2013 task 7, Dzikovska et al. 2013;
SciEntsBank, Nielsen et al. 2008; CC BY 4.0).

Every answer is analysed once with the configured embedder (the local
all-MiniLM-L6-v2), then 5-fold cross-validation grouped by question_id
(no question on both sides of a split, fixed seed) fits the logistic model
on four folds and grades the fifth, guards included. The cosine-only
baseline is the same procedure with one feature, the cosine between answer
and expected answer. Printed for both: AUC, accuracy at the mastery
threshold (score >= 0.8 vs the human mark), Pearson, Spearman and RMSE
against the 0/1 marks, and the AUC of each fold; then what the guards
caught, and the grading latency per answer after warm-up.

`--fit` also fits the model on all answers and prints the constants to
paste into `tracl/llm/offline_grader.py`.

Usage: .venv/bin/python bench/grading_eval.py [train.csv] [--fit]
       [--folds 5] [--seed 20130]
(default file: ../shared/data/scientsbank/train.csv from the repository)
"""

import argparse
import csv
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, 'tests'))
sys.path.insert(0, REPO)

from common import machine, measure, report  # noqa: E402

from tracl.llm import MASTERY_THRESHOLD  # noqa: E402
from tracl.llm.calibration import fit_calibration  # noqa: E402
from tracl.llm.metrics import (auc, balanced_accuracy,  # noqa: E402
                               best_threshold, bias, false_mastery_rate,
                               false_refusal_rate, pearson, rmse, spearman)
from tracl.llm.offline_grader import (FEATURES, GUARD_CAPS,  # noqa: E402
                                      SCORE_DIGITS, LogisticModel,
                                      OfflineGrader, calibrate)

DEFAULT_DATA = os.path.join(REPO, '..', 'shared', 'data', 'scientsbank',
                            'train.csv')
STARTER_DATA = os.path.join(REPO, 'tests', 'data', 'grading',
                            'starter_answers.csv')
SEED = 20130
FOLDS = 5
#: L2 penalty of the logistic fit, on standardised features.
L2 = 1.0
BASELINE_FEATURES = ('similarity',)
#: The features of the first-round grader (offline-grader-1), scored with
#: its calibration and guards alone (`today_score`): "today's score" the
#: figures compare with.
TODAY_FEATURES = FEATURES[:5]


def load_rows(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def grouped_folds(question_ids, folds=FOLDS, seed=SEED):
    """The fold (0 to folds - 1) of each answer: questions are shuffled
    with `seed` and dealt round-robin, so all answers to a question share
    a fold."""
    questions = np.array(sorted(set(question_ids)))
    np.random.default_rng(seed).shuffle(questions)
    fold_of = {q: i % folds for i, q in enumerate(questions)}
    return np.array([fold_of[q] for q in question_ids])


def fit_logistic(X, y, l2=L2, iterations=50):
    """Logistic regression by Newton's method with an L2 penalty on
    standardised features; returns the `LogisticModel` on raw features."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    mean, std = X.mean(0), X.std(0)
    std[std == 0] = 1.0
    Z = np.c_[np.ones(len(X)), (X - mean) / std]
    penalty = l2 * np.diag(np.r_[0.0, np.ones(X.shape[1])])
    w = np.zeros(Z.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-Z @ w))
        gradient = Z.T @ (p - y) + penalty @ w
        hessian = (Z * (p * (1 - p))[:, None]).T @ Z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    coefficients = w[1:] / std
    intercept = w[0] - (coefficients * mean).sum()
    return LogisticModel(float(intercept), tuple(float(c)
                                                 for c in coefficients))


def matrix(features, names):
    return np.array([[f[name] for name in names] for f in features])


def analyse_all(grader, rows):
    start = time.perf_counter()
    analysed = [grader.analyse(r['question'], r['reference_answer'],
                               r['student_answer'])[0] for r in rows]
    print('Analysed %d answers in %.1f s' % (len(rows),
                                             time.perf_counter() - start))
    return analysed


def cross_validate(features, labels, fold, names, guarded, fitted=True):
    """Scores of every answer by the model of the folds it is not in.
    `guarded`: the grader's rules apply (guards, errors, full coverage);
    `fitted`: the calibration is fitted on the same folds as the model
    (else the first round's fixed one, and its guards alone)."""
    scores = np.zeros(len(labels))
    X = matrix(features, names)
    for k in sorted(set(fold)):
        train, test = fold != k, fold == k
        model = fit_logistic(X[train], labels[train])
        p = probabilities(model, X)
        calibration = fit_calibration(
            [features[i] for i in np.flatnonzero(train)], p[train],
            labels[train]) if fitted else None
        for i in np.flatnonzero(test):
            if not fitted:
                scores[i] = today_score(features[i], p[i], guarded)
            elif not guarded:
                scores[i] = round(calibrate(p[i], calibration), SCORE_DIGITS)
            else:
                scores[i] = OfflineGrader.score(features[i], p[i],
                                                calibration)
    return scores


def probabilities(model, X):
    z = model.intercept + X @ np.array(model.coefficients)
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


def today_score(features, probability, guarded=True):
    """The first round's score: its map (quadratic up to 0.8 at
    probability 0.5, then linear) and its guards, no rubric rules."""
    p = min(1.0, max(0.0, probability))
    score = MASTERY_THRESHOLD * (p / 0.5) ** 2 if p <= 0.5 else \
        MASTERY_THRESHOLD + (1 - MASTERY_THRESHOLD) * (p - 0.5) / 0.5
    if guarded:
        for guard in features['guards']:
            score *= GUARD_CAPS[guard]
        if not features['content_words']:
            score = 0.0
    return round(score, 4)


def print_figures(label, scores, labels, fold):
    per_fold = [auc(scores[fold == k], labels[fold == k])
                for k in sorted(set(fold))]
    accuracy = np.mean((scores >= MASTERY_THRESHOLD) == (labels == 1))
    cut, best = best_threshold(scores, labels, MASTERY_THRESHOLD)
    print('  %-26s AUC %.3f  accuracy %.3f  Pearson %.3f  Spearman %.3f  '
          'RMSE %.3f' % (label, auc(scores, labels), accuracy,
                         pearson(scores, labels), spearman(scores, labels),
                         rmse(scores, labels)))
    print('  %-26s bias %+.3f  balanced accuracy %.3f (best threshold %.3f '
          'reaches %.3f)  false mastery %.3f  false refusal %.3f' % (
              '', bias(scores, labels),
              balanced_accuracy(scores, labels, MASTERY_THRESHOLD), cut,
              best, false_mastery_rate(scores, labels, MASTERY_THRESHOLD),
              false_refusal_rate(scores, labels, MASTERY_THRESHOLD)))
    print('  %-26s per-fold AUC %s  (mean %.3f)' % (
        '', ' '.join('%.3f' % a for a in per_fold), np.mean(per_fold)))


def print_guards(features, labels):
    print('Guards (all answers; share the human marked correct):')
    for guard in ('empty', 'copy', 'salad'):
        hit = np.array([guard in f['guards'] for f in features])
        print('  %-6s %4d answers, %.0f%% marked correct'
              % (guard, hit.sum(), 100 * labels[hit].mean() if hit.any()
                 else 0))
    removed = sum(f['instructions_removed'] for f in features)
    print('  instructions removed from %d answers' % removed)


def print_constants(model, calibration, n, cv_auc, baseline_auc,
                    cv_accuracy):
    print('Constants for tracl/llm/offline_grader.py (fitted on all %d '
          'answers; grouped CV: AUC %.3f, baseline %.3f, accuracy %.3f):'
          % (n, cv_auc, baseline_auc, cv_accuracy))
    print('INTERCEPT = %.3f' % model.intercept)
    print('COEFFICIENTS = (%s)' % ', '.join('%.3f' % c
                                            for c in model.coefficients))
    for name, c in zip(FEATURES, model.coefficients):
        print('    # %-22s %+.3f' % (name, c))
    print('CALIBRATION = Calibration(%.4f, %.4f, %.1f)' % calibration)


def bench_latency(embedder, rows):
    """Per-answer grading time after warm-up, on 200 answers spread over
    the file: with the expected answer's embeddings kept (its question was
    graded or prepared before) and for the first answer to a question
    (a new grader each time, so the expected answer is embedded too)."""
    sample = rows[::max(1, len(rows) // 200)][:200]
    grader = OfflineGrader(embedder)
    state = {'i': 0}

    def grade_next(fresh):
        row = sample[state['i'] % len(sample)]
        state['i'] += 1
        (OfflineGrader(embedder) if fresh else grader).grade(
            row['question'], row['reference_answer'], row['student_answer'])
    for row in sample:
        grader.prepare(row['reference_answer'])
    print('Latency per answer (%s):' % machine())
    report('grade, expected answer embedded before',
           measure(lambda: grade_next(False), len(sample) * 2))
    report('grade, first answer to a question',
           measure(lambda: grade_next(True), len(sample)))


def starter_questions():
    """The first question of each chunk in the starter question files, as
    (question, expected answer, `Rubric`) by chunk id (for timing the
    grader alone)."""
    import glob
    import json
    from tracl.model.questions import rubric_from_record
    questions = {}
    for path in sorted(glob.glob(os.path.join(REPO, 'tracl', 'data',
                                              'questions', '*.jsonl'))):
        with open(path, encoding='utf-8') as f:
            for line in f:
                q = json.loads(line)
                questions.setdefault(q['chunk_id'], (
                    q['question'], q['expected_answer'],
                    rubric_from_record(q)))
    return questions


def product_grade_eval(path):
    """`learning grade-eval --json --rows` on `path` in a new environment
    holding the starter corpus and its questions: the figures a learner's
    grades get, the copy check and every question's grading rubric
    included. Returns the parsed JSON."""
    import contextlib
    import io
    import json
    from support.corpus import fill_store
    from support.envs import destroy_env, learning_env
    from tracl.admin.intelligence import IntelligenceAdminCommands
    from tracl.admin.questions import QuestionAdminCommands
    env = learning_env()
    try:
        fill_store(env)
        QuestionAdminCommands(env).import_starter()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            IntelligenceAdminCommands(env)._grade_eval(path, '--json',
                                                       '--rows')
        return json.loads(out.getvalue().strip().splitlines()[-1])
    finally:
        destroy_env(env)


def starter_eval(embedder, path=STARTER_DATA):
    """Agreement with the hand-marked answers to starter questions, by
    kind of answer, as `learning grade-eval` grades them; and the time
    to grade an answer with a rubric, the question's embeddings kept (as
    submit-answer does after the first answer to a question) and not."""
    if not os.path.exists(path):
        return
    rows = load_rows(path)
    result = product_grade_eval(path)
    scores = np.array([r['score'] for r in result['rows']])
    marks = np.array([float(r['score01']) for r in rows])
    agree = (scores >= MASTERY_THRESHOLD) == (marks >= 0.5)
    print('Starter questions with rubrics, as learning grade-eval grades '
          'them (%s): %d answers' % (os.path.relpath(path, REPO), len(rows)))
    for kind in sorted(set(r['kind'] for r in rows)):
        of_kind = np.array([r['kind'] == kind for r in rows])
        print('  %-16s %3d answers, agreement %.3f, mastered %d' % (
            kind, of_kind.sum(), agree[of_kind].mean(),
            (scores[of_kind] >= MASTERY_THRESHOLD).sum()))
    print('  agreement %.3f  bias %+.3f  balanced accuracy %.3f  '
          'false mastery %.3f  false refusal %.3f' % (
              agree.mean(), bias(scores, marks),
              balanced_accuracy(scores, marks, MASTERY_THRESHOLD),
              false_mastery_rate(scores, marks, MASTERY_THRESHOLD),
              false_refusal_rate(scores, marks, MASTERY_THRESHOLD)))
    questions = starter_questions()
    grader = OfflineGrader(embedder)
    state = {'i': 0}

    def grade_next(fresh):
        row = rows[state['i'] % len(rows)]
        state['i'] += 1
        question, expected, rubric = questions[row['chunk_id']]
        (OfflineGrader(embedder) if fresh else grader).grade(
            question, expected, row['student_answer'], rubric)
    print('Latency per answer with a rubric (%s):' % machine())
    report('grade, question embedded before',
           measure(lambda: grade_next(False), len(rows) * 2))
    report('grade, first answer to a question',
           measure(lambda: grade_next(True), len(rows)))


def cosine_features(embedder, rows):
    """The baseline's one feature: the cosine between the answer and the
    expected answer, each embedded whole."""
    texts = sorted(set(r['reference_answer'] for r in rows) |
                   set(r['student_answer'] for r in rows))
    vectors = dict(zip(texts, embedder.embed(texts)))
    return [{'similarity': float(vectors[r['student_answer']] @
                                 vectors[r['reference_answer']])}
            for r in rows]


def local_embedder():
    from support.envs import load_plugin_modules
    from trac.test import EnvironmentStub
    import tracl.embedding.local  # noqa: F401 (registers LocalEmbedder)
    from tracl.embedding import LearningEmbedder
    load_plugin_modules()
    env = EnvironmentStub(enable=['trac.*', 'tracl.*'])
    return LearningEmbedder(env).embedder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data', nargs='?', default=DEFAULT_DATA)
    parser.add_argument('--fit', action='store_true',
                        help='print the constants fitted on all answers')
    parser.add_argument('--folds', type=int, default=FOLDS)
    parser.add_argument('--seed', type=int, default=SEED)
    args = parser.parse_args(argv)

    rows = load_rows(args.data)
    labels = np.array([int(r['score01']) for r in rows])
    fold = grouped_folds([r['question_id'] for r in rows], args.folds,
                         args.seed)
    print('%s: %d answers, %d questions, %.3f marked correct (majority '
          'class %.3f)' % (os.path.basename(args.data), len(rows),
                           len(set(r['question_id'] for r in rows)),
                           labels.mean(), max(labels.mean(),
                                              1 - labels.mean())))
    embedder = local_embedder()
    features = analyse_all(OfflineGrader(embedder), rows)
    cosines = cosine_features(embedder, rows)

    print('%d-fold cross-validation grouped by question_id (seed %d), '
          'mastery at score >= %.1f:' % (args.folds, args.seed,
                                         MASTERY_THRESHOLD))
    baseline = cross_validate(cosines, labels, fold, BASELINE_FEATURES,
                              guarded=False, fitted=False)
    today = cross_validate(features, labels, fold, TODAY_FEATURES,
                           guarded=True, fitted=False)
    graded = cross_validate(features, labels, fold, FEATURES, guarded=True)
    unguarded = cross_validate(features, labels, fold, FEATURES,
                               guarded=False)
    print_figures('cosine-only baseline', baseline, labels, fold)
    print_figures('first-round grader', today, labels, fold)
    print_figures('grader', graded, labels, fold)
    print_figures('grader without rules', unguarded, labels, fold)
    print_guards(features, labels)

    if args.fit:
        X = matrix(features, FEATURES)
        model = fit_logistic(X, labels)
        calibration = fit_calibration(features, probabilities(model, X),
                                      labels)
        print_constants(model, calibration, len(rows), auc(graded, labels),
                        auc(baseline, labels),
                        np.mean((graded >= MASTERY_THRESHOLD) ==
                                (labels == 1)))
    bench_latency(embedder, rows)
    starter_eval(embedder)


if __name__ == '__main__':
    main()
