"""Agreement between a grader's scores and human marks: what `learning
grade-eval` and the calibration bench print. numpy only."""

import numpy as np


def _ranks(values):
    """Average ranks (ties share their mean rank), starting at 1."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind='mergesort')
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2.0
            start = end
    return ranks


def pearson(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float('nan')
    return float(np.corrcoef(x, y)[0, 1])


def spearman(x, y):
    return pearson(_ranks(x), _ranks(y))


def rmse(scores, marks):
    scores, marks = np.asarray(scores, float), np.asarray(marks, float)
    return float(np.sqrt(np.mean((scores - marks) ** 2)))


def auc(scores, labels):
    """Area under the ROC curve of `scores` for binary `labels` (the
    Mann-Whitney U statistic); NaN unless both classes are present."""
    labels = np.asarray(labels, dtype=float)
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((labels == 0).sum())
    if n_pos == 0 or n_neg == 0 or n_pos + n_neg != len(labels):
        return float('nan')
    ranks = _ranks(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0)
                 / (n_pos * n_neg))


def agreement(scores, marks, threshold):
    """The figures of `learning grade-eval --json`: n, pearson, spearman,
    rmse, mastery_accuracy (score >= threshold vs mark >= threshold) and
    auc (when the marks are binary)."""
    scores, marks = np.asarray(scores, float), np.asarray(marks, float)
    binary = bool(len(marks)) and set(np.unique(marks)) <= {0.0, 1.0}
    return {
        'n': int(len(scores)),
        'pearson': pearson(scores, marks),
        'spearman': spearman(scores, marks),
        'rmse': rmse(scores, marks) if len(scores) else float('nan'),
        'mastery_accuracy': float(np.mean((scores >= threshold) ==
                                          (marks >= threshold)))
        if len(scores) else float('nan'),
        'auc': auc(scores, marks) if binary else None,
    }
