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
    rmse, mastery_accuracy (score >= threshold vs mark >= threshold), auc
    (when the marks are binary), bias, balanced_accuracy and the false
    mastery and false refusal rates."""
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
        'bias': bias(scores, marks),
        'balanced_accuracy': balanced_accuracy(scores, marks, threshold),
        'false_mastery_rate': false_mastery_rate(scores, marks, threshold),
        'false_refusal_rate': false_refusal_rate(scores, marks, threshold),
    }


def bias(scores, marks):
    """Mean score minus mean mark: how far the grader is harsher
    (negative) or kinder (positive) than the markers on average."""
    scores, marks = np.asarray(scores, float), np.asarray(marks, float)
    return float(scores.mean() - marks.mean()) if len(scores) \
        else float('nan')


def false_mastery_rate(scores, marks, threshold):
    """Share of the answers the markers refuse that the grader masters."""
    scores, marks = np.asarray(scores, float), np.asarray(marks, float)
    refused = marks < threshold
    return float(np.mean(scores[refused] >= threshold)) if refused.any() \
        else float('nan')


def false_refusal_rate(scores, marks, threshold):
    """Share of the answers the markers accept that the grader refuses."""
    scores, marks = np.asarray(scores, float), np.asarray(marks, float)
    accepted = marks >= threshold
    return float(np.mean(scores[accepted] < threshold)) if accepted.any() \
        else float('nan')


def balanced_accuracy(scores, marks, threshold):
    """Mean of the rates of right decisions on accepted and on refused
    answers (the mastery decision: score >= threshold); a grader that
    always says the same thing gets 0.5, whatever the class balance."""
    return 1.0 - (false_mastery_rate(scores, marks, threshold) +
                  false_refusal_rate(scores, marks, threshold)) / 2.0


def best_threshold(scores, marks, threshold):
    """The cut on `scores` with the highest balanced accuracy against
    marks >= `threshold`, and that balanced accuracy: what moving the
    mastery threshold alone could reach."""
    scores, marks = np.asarray(scores, float), np.asarray(marks, float)
    accepted = (marks >= threshold).astype(float)
    best = (float('nan'), float('nan'))
    for cut in np.unique(scores):
        ba = balanced_accuracy((scores >= cut).astype(float), accepted, 0.5)
        if not ba <= best[1]:
            best = (float(cut), ba)
    return best
