"""How a knowledge graph is laid out: the direction that draws it narrower
on a page (`choose_direction`), the ranks it rests on, and the size cap
that only a PNG gets."""

import re

import pytest

from tracl.graph.dot import (AUTO, MAX_SIZE, build_dot, choose_direction,
                             ranks)
from tracl.graph.model import Graph, Node


def node(ticket_id, subject='Subject'):
    return Node(ticket_id, 'Concept %d' % ticket_id, subject, 'not_started',
                None, False, None)


def chain(length, subject='Subject', first=1):
    ids = list(range(first, first + length))
    return [node(i, subject) for i in ids], list(zip(ids, ids[1:]))


def href(ticket_id):
    return '/ticket/%d' % ticket_id


def test_ranks_are_the_longest_chain_of_prerequisites():
    # 1 -> 2 -> 3 and 1 -> 3: 3 stands after 2, as dot ranks it.
    graph = Graph([node(1), node(2), node(3), node(4)],
                  [(1, 2), (2, 3), (1, 3)])
    assert ranks(graph) == {1: 0, 2: 1, 3: 2, 4: 0}


def test_ranks_survive_a_long_chain_and_a_cycle():
    nodes, edges = chain(3000)
    assert ranks(Graph(nodes, edges))[3000] == 2999
    cyclic = Graph([node(1), node(2)], [(1, 2), (2, 1)])
    assert set(ranks(cyclic)) == {1, 2}


def test_a_short_chain_goes_left_to_right():
    nodes, edges = chain(4)
    assert choose_direction(Graph(nodes, edges)) == 'LR'
    # However many concepts stand side by side.
    wide = Graph([node(i) for i in range(1, 40)], [])
    assert choose_direction(wide) == 'LR'


def test_a_long_chain_goes_top_to_bottom():
    nodes, edges = chain(12)
    assert choose_direction(Graph(nodes, edges)) == 'TB'


def test_long_chains_of_several_subjects_side_by_side():
    nodes, edges = [], []
    for index, subject in enumerate(('A', 'B', 'C')):
        more_nodes, more_edges = chain(10, subject, 1 + 100 * index)
        nodes += more_nodes
        edges += more_edges
    # Top to bottom: three subjects across, ten ranks down.
    assert choose_direction(Graph(nodes, edges)) == 'TB'


def test_many_side_by_side_stay_left_to_right():
    # Six ranks deep, but twenty concepts on the first rank: top to
    # bottom would be wider.
    nodes, edges = chain(6)
    nodes += [node(100 + i) for i in range(20)]
    edges += [(100 + i, 2) for i in range(20)]
    assert choose_direction(Graph(nodes, edges)) == 'LR'


@pytest.mark.parametrize('direction, expected', [
    ('LR', 'rankdir=LR'), ('TB', 'rankdir=TB'), (AUTO, 'rankdir=TB'),
    ('auto', 'rankdir=TB')])
def test_build_dot_resolves_auto(direction, expected):
    nodes, edges = chain(12)
    assert expected in build_dot(Graph(nodes, edges), href,
                                 direction).source


def test_only_a_capped_drawing_has_a_size():
    nodes, edges = chain(3)
    graph = Graph(nodes, edges)
    assert 'size="%s"' % MAX_SIZE in build_dot(graph, href).source
    assert not re.search(r'\bsize=',
                         build_dot(graph, href, size=None).source)
