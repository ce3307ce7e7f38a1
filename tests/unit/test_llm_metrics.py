"""The agreement figures of `learning grade-eval`, against hand-computed
values."""

import math

import pytest

from tracl.llm.metrics import agreement, auc, pearson, rmse, spearman


def test_auc_counts_correctly_ordered_pairs_with_ties_as_half():
    # Pairs (pos, neg): (0.9,0.1) (0.9,0.5) (0.5,0.1) (0.5,0.5)=tie
    assert auc([0.9, 0.5, 0.1, 0.5], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_auc_of_a_perfect_and_an_inverted_grader():
    assert auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0


def test_auc_needs_both_classes():
    assert math.isnan(auc([0.1, 0.2], [1, 1]))


def test_spearman_uses_ranks_and_pearson_values():
    x = [1, 2, 3, 4, 5]
    y = [1, 4, 9, 16, 100]
    assert spearman(x, y) == pytest.approx(1.0)
    assert pearson(x, y) < 0.95


def test_rmse():
    assert rmse([0.5, 1.0], [0.0, 1.0]) == pytest.approx(math.sqrt(0.125))


def test_agreement_reports_mastery_accuracy_at_the_threshold():
    figures = agreement([0.9, 0.7, 0.85, 0.2], [1, 1, 0, 0], 0.8)
    assert figures['n'] == 4
    assert figures['mastery_accuracy'] == pytest.approx(0.5)
    assert figures['auc'] == pytest.approx(0.75)


def test_agreement_has_no_auc_for_graded_marks():
    assert agreement([0.1, 0.5, 0.9], [0.0, 0.5, 1.0], 0.8)['auc'] is None


def test_bias_balanced_accuracy_and_the_false_rates():
    from tracl.llm.metrics import (balanced_accuracy, best_threshold, bias,
                                   false_mastery_rate, false_refusal_rate)
    scores, marks = [0.9, 0.7, 0.85, 0.2], [1, 1, 0, 0]
    assert bias(scores, marks) == pytest.approx(0.1625)
    assert false_mastery_rate(scores, marks, 0.8) == 0.5
    assert false_refusal_rate(scores, marks, 0.8) == 0.5
    assert balanced_accuracy(scores, marks, 0.8) == 0.5
    cut, best = best_threshold(scores, marks, 0.8)
    assert (cut, best) == (0.7, 0.75)
    figures = agreement(scores, marks, 0.8)
    assert figures['bias'] == pytest.approx(0.1625)
    assert figures['balanced_accuracy'] == 0.5
