"""The order in which a learning path's concepts are best studied, and the
concept to study next.

Study order puts every concept after the concepts of the same path it
needs (prerequisites first). Among the concepts whose prerequisites are
already placed, the path's own ranking decides (its position: the search's
relevance, with the foundations the search added after the results), then
the easier concept. A concept in several paths is ordered by each path's
own ranking, since the position belongs to the path.

The next step is the unlocked concept not yet mastered that unlocks the
most: the concept that most of the path's concepts wait on, directly or
through others, so that mastering it opens the most of the path. Ties go
to the earlier concept in study order.

Only the standard library is used: both functions take plain values, so
the rules are tested without a database.
"""

import heapq
from collections import namedtuple

#: What ordering needs of a concept: its ticket id, its position in the
#: path (the path's ranking), its question difficulty (1-5) and the ticket
#: ids of its prerequisites (any of the learner's concepts; those outside
#: the path do not order it).
OrderedConcept = namedtuple('OrderedConcept', [
    'ticket_id', 'position', 'difficulty', 'prerequisites'])


def study_order(concepts):
    """The ticket ids of `concepts` (`OrderedConcept`s) in study order.

    Prerequisite links never form a cycle (the links refuse one), but a
    concept caught in one anyway is placed by its ranking rather than
    dropped, so a path always lists all of its concepts."""
    by_id = {c.ticket_id: c for c in concepts}
    waiting = {c.ticket_id: {p for p in c.prerequisites
                             if p in by_id and p != c.ticket_id}
               for c in concepts}
    dependents = {ticket_id: [] for ticket_id in by_id}
    for ticket_id, needs in waiting.items():
        for prerequisite in needs:
            dependents[prerequisite].append(ticket_id)

    def rank(ticket_id):
        concept = by_id[ticket_id]
        return (concept.position, concept.difficulty, ticket_id)

    ready = [rank(t) for t, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    order, placed = [], set()
    while len(order) < len(by_id):
        if not ready:
            # A cycle: release its best-ranked concept.
            heapq.heappush(ready, min(rank(t) for t in by_id
                                      if t not in placed))
        ticket_id = heapq.heappop(ready)[-1]
        if ticket_id in placed:
            continue
        placed.add(ticket_id)
        order.append(ticket_id)
        for dependent in dependents[ticket_id]:
            needs = waiting[dependent]
            needs.discard(ticket_id)
            if not needs and dependent not in placed:
                heapq.heappush(ready, rank(dependent))
    return order


def unlock_counts(concepts):
    """`{ticket_id: n}`: how many of the path's `concepts` wait on each
    one, directly or through other concepts of the path."""
    by_id = {c.ticket_id: c for c in concepts}
    dependents = {ticket_id: set() for ticket_id in by_id}
    for concept in concepts:
        for prerequisite in concept.prerequisites:
            if prerequisite in by_id and prerequisite != concept.ticket_id:
                dependents[prerequisite].add(concept.ticket_id)
    counts = {}
    for ticket_id in by_id:
        seen, frontier = set(), [ticket_id]
        while frontier:
            for dependent in dependents[frontier.pop()]:
                if dependent not in seen and dependent != ticket_id:
                    seen.add(dependent)
                    frontier.append(dependent)
        counts[ticket_id] = len(seen)
    return counts


def next_step(order, unlocks, studiable):
    """The ticket id to study next: among `order` (study order), those
    `studiable` (unlocked and not mastered), the one with the most
    `unlocks`, the earliest on a tie; None when there is none."""
    best = None
    for ticket_id in order:
        if ticket_id in studiable and (
                best is None or unlocks.get(ticket_id, 0) >
                unlocks.get(best, 0)):
            best = ticket_id
    return best
