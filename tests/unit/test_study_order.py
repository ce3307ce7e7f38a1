"""Study order and the next step of a learning path (pure rules)."""

from tracl.model.study_order import (OrderedConcept, next_step, study_order,
                                     unlock_counts)


def concept(ticket_id, position, prerequisites=(), difficulty=3):
    return OrderedConcept(ticket_id, position, difficulty,
                          list(prerequisites))


def test_prerequisites_come_first_whatever_their_ranking():
    # 1 ranks first but needs 3, which needs 2.
    concepts = [concept(1, 0, [3]), concept(2, 2), concept(3, 1, [2])]
    assert study_order(concepts) == [2, 3, 1]


def test_ties_go_by_ranking_then_difficulty():
    concepts = [concept(10, 1, difficulty=2), concept(11, 0, difficulty=5),
                concept(12, 1, difficulty=1)]
    assert study_order(concepts) == [11, 12, 10]


def test_several_roots_interleave_by_ranking():
    # Two roots (20, 30); 21 needs 20, 31 needs 30.
    concepts = [concept(21, 0, [20]), concept(31, 1, [30]),
                concept(20, 2), concept(30, 3)]
    assert study_order(concepts) == [20, 21, 30, 31]


def test_prerequisites_outside_the_path_do_not_order_it():
    concepts = [concept(1, 1, [99]), concept(2, 0)]
    assert study_order(concepts) == [2, 1]


def test_a_cycle_still_lists_every_concept():
    concepts = [concept(1, 0, [2]), concept(2, 1, [1]), concept(3, 2)]
    order = study_order(concepts)
    # The free concept first, then the cycle from its best-ranked member.
    assert order == [3, 1, 2]


def test_unlock_counts_are_transitive_within_the_path():
    concepts = [concept(1, 0), concept(2, 1, [1]), concept(3, 2, [2]),
                concept(4, 3, [1]), concept(5, 4, [77])]
    assert unlock_counts(concepts) == {1: 3, 2: 1, 3: 0, 4: 0, 5: 0}


def test_next_step_is_the_studiable_concept_that_unlocks_most():
    order = [1, 2, 3, 4]
    unlocks = {1: 0, 2: 2, 3: 2, 4: 0}
    assert next_step(order, unlocks, {1, 2, 3, 4}) == 2
    assert next_step(order, unlocks, {1, 3, 4}) == 3
    assert next_step(order, unlocks, {1, 4}) == 1
    assert next_step(order, unlocks, set()) is None
