"""What a learner's knowledge graph shows: their concepts with status, best
score and whether they are locked (the concept rule's, in
`tracl.model.concepts`), their review schedule, and the links between the
concepts shown."""

import hashlib
from collections import namedtuple

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.concepts import NO_LOCKS, learner_status, locks
from tracl.model.reviews import RELEARNING, cards
from tracl.schema import sql

#: A concept in the graph; `review` is its `Review` (None before its first
#: mastery).
Node = namedtuple('Node', ['ticket_id', 'concept', 'subject', 'status',
                           'best_score', 'locked', 'review'],
                  defaults=(None,))

#: A concept's review schedule as the graph shows it: its next review
#: (`due`, a datetime), whether it is mastered and due at the moment the
#: graph was read (`due_now`), and whether it lapsed and is studied again.
Review = namedtuple('Review', ['due', 'due_now', 'lapsed'])


def review_stamp(env, sub, now):
    """`(stamp, {ticket_id: Review})`: `sub`'s review schedules at `now`.
    The stamp changes when a due date changes or a concept falls due, so
    a drawing keyed on it is drawn again when time alone changes it."""
    found = {ticket_id: Review(card.due, card.due <= now,
                               card.state == RELEARNING)
             for ticket_id, card in cards(env, sub).items()}
    stamp = hashlib.sha1(repr(sorted(
        (t, review.due.isoformat(), review.due_now, review.lapsed)
        for t, review in found.items())).encode('ascii')).hexdigest()[:16]
    return stamp, found

#: The concepts and the links `(prerequisite_id, concept_id)` between them.
Graph = namedtuple('Graph', ['nodes', 'edges'])


def learner_graph(env, sub, milestone=None, path_id=None, ticket_id=None,
                  schedules=None):
    """`sub`'s graph: all their concepts, or those of subject `milestone`,
    of path `path_id`, or concept `ticket_id` with its prerequisites and
    the concepts it unlocks; `schedules` (`{ticket_id: Review}`, from
    `review_stamp`) gives the nodes their review schedule."""
    schedules = schedules or {}
    where, args = ['t.owner=%s', 't.type=%s'], [sub, CONCEPT_TICKET_TYPE]
    if milestone is not None:
        where.append('t.milestone=%s')
        args.append(milestone)
    if path_id is not None:
        where.append(sql(env, """t.id IN (SELECT ticket_id
            FROM {path_concepts} WHERE path_id=%s)"""))
        args.append(path_id)
    if ticket_id is not None:
        where.append(sql(env, """(t.id=%s
            OR t.id IN (SELECT prerequisite_ticket_id FROM {prerequisites}
                        WHERE concept_ticket_id=%s)
            OR t.id IN (SELECT concept_ticket_id FROM {prerequisites}
                        WHERE prerequisite_ticket_id=%s))"""))
        args.extend([ticket_id] * 3)
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT t.id, t.summary, t.milestone, %s, p.best_score
            FROM ticket t
            LEFT JOIN {progress} p
                ON p.ticket_id = t.id AND p.cognito_user_id = t.owner
            WHERE %s
            ORDER BY t.milestone, t.id""" % (learner_status('p'),
                                             ' AND '.join(where))), args)
        # Every link of the learner: a concept is locked by any
        # prerequisite, shown or not.
        found = locks(env, sub)
    nodes = [Node(ticket_id_, name, subject or '', status,
                  None if best is None else float(best),
                  bool(found.get(ticket_id_, NO_LOCKS).blockers),
                  _review(schedules.get(ticket_id_), status))
             for ticket_id_, name, subject, status, best in rows]
    shown = {node.ticket_id for node in nodes}
    edges = sorted((prerequisite.ticket_id, concept)
                   for concept, links in found.items()
                   for prerequisite in links.prerequisites
                   if prerequisite.ticket_id in shown and concept in shown)
    return Graph(nodes, edges)


def _review(review, status):
    """What the graph shows of a concept's schedule with progress
    `status`: due only while mastered, lapsed only while not."""
    if review is None:
        return None
    mastered = status == 'mastered'
    return review._replace(due_now=review.due_now and mastered,
                           lapsed=review.lapsed and not mastered)


def links_stamp(env, sub):
    """A stamp of `sub`'s prerequisite links that changes when one is added
    or removed: `count-latest`."""
    for count, latest in env.db_query(sql(env, """
            SELECT COUNT(*), MAX(r.created_at)
            FROM {prerequisites} r
            JOIN ticket t ON t.id = r.concept_ticket_id
            WHERE t.owner=%s AND t.type=%s"""), (sub, CONCEPT_TICKET_TYPE)):
        return '%d-%s' % (count, latest or 0)
    return '0-0'
