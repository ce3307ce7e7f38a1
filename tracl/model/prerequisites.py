"""Prerequisite links between a learner's concepts: which concepts need
which, and the admin's edits of the links.

A link `(concept, prerequisite)` says the learner studies `concept` once
`prerequisite` is mastered. Both are concepts of the same learner; a link
never points at itself and the links never form a cycle. Whether a link
locks its concept now is the concept rule's (`tracl.model.concepts`).
"""

from trac.util.datefmt import datetime_now, to_utimestamp, utc

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.concepts import Prerequisite, learner_status
from tracl.schema import sql


class PrerequisiteError(ValueError):
    """A link that cannot be made or removed; the message says why."""


def prerequisites_of(env, sub, ticket_id):
    """The prerequisites of concept `ticket_id`, with learner `sub`'s
    status on each (`not_started` without progress)."""
    return [Prerequisite(*row) for row in env.db_query(sql(env, """
        SELECT r.prerequisite_ticket_id, t.summary, %s
        FROM {prerequisites} r
        JOIN ticket t ON t.id = r.prerequisite_ticket_id
        LEFT JOIN {progress} p
            ON p.ticket_id = r.prerequisite_ticket_id
           AND p.cognito_user_id=%%s
        WHERE r.concept_ticket_id=%%s
        ORDER BY r.prerequisite_ticket_id""" % learner_status('p')),
        (sub, ticket_id))]


def dependents_of(env, sub, ticket_id):
    """The concepts that `ticket_id` is a prerequisite of (what mastering
    it unlocks), with `sub`'s status on each."""
    return [Prerequisite(*row) for row in env.db_query(sql(env, """
        SELECT r.concept_ticket_id, t.summary, %s
        FROM {prerequisites} r
        JOIN ticket t ON t.id = r.concept_ticket_id
        LEFT JOIN {progress} p
            ON p.ticket_id = r.concept_ticket_id AND p.cognito_user_id=%%s
        WHERE r.prerequisite_ticket_id=%%s
        ORDER BY r.concept_ticket_id""" % learner_status('p')),
        (sub, ticket_id))]


def _concept_owner(db, ticket_id):
    for ticket_type, owner in db("SELECT type, owner FROM ticket WHERE id=%s",
                                 (ticket_id,)):
        if ticket_type == CONCEPT_TICKET_TYPE:
            return owner
    return None


def _reaches(env, db, start, goal):
    """Whether following prerequisite links from `start` reaches `goal`."""
    seen, frontier = {start}, [start]
    while frontier:
        placeholders = ','.join(['%s'] * len(frontier))
        rows = db(sql(env, """
            SELECT prerequisite_ticket_id FROM {prerequisites}
            WHERE concept_ticket_id IN (%s)""" % placeholders), frontier)
        frontier = []
        for prerequisite, in rows:
            if prerequisite == goal:
                return True
            if prerequisite not in seen:
                seen.add(prerequisite)
                frontier.append(prerequisite)
    return False


def add_prerequisite(env, concept_id, prerequisite_id):
    """Make `prerequisite_id` a prerequisite of `concept_id`; returns the
    learner's `sub`. Raises `PrerequisiteError` for a self-link, a ticket
    that is not a concept, concepts of two learners, an existing link or a
    link closing a cycle."""
    if concept_id == prerequisite_id:
        raise PrerequisiteError("A concept cannot be its own prerequisite.")
    with env.db_transaction as db:
        owners = [_concept_owner(db, t) for t in (concept_id, prerequisite_id)]
        for ticket_id, owner in zip((concept_id, prerequisite_id), owners):
            if owner is None:
                raise PrerequisiteError("Ticket #%s is not a learning "
                                        "concept." % ticket_id)
        if owners[0] != owners[1]:
            raise PrerequisiteError("#%s and #%s belong to different "
                                    "learners." % (concept_id,
                                                   prerequisite_id))
        if db(sql(env, """
                SELECT 1 FROM {prerequisites}
                WHERE concept_ticket_id=%s AND prerequisite_ticket_id=%s"""),
              (concept_id, prerequisite_id)):
            raise PrerequisiteError("#%s is already a prerequisite of #%s."
                                    % (prerequisite_id, concept_id))
        if _reaches(env, db, prerequisite_id, concept_id):
            raise PrerequisiteError(
                "#%s already depends on #%s: the link would make a cycle."
                % (prerequisite_id, concept_id))
        db(sql(env, """
            INSERT INTO {prerequisites} (concept_ticket_id,
                prerequisite_ticket_id, created_at)
            VALUES (%s, %s, %s)"""),
           (concept_id, prerequisite_id, to_utimestamp(datetime_now(utc))))
    return owners[0]


def remove_prerequisite(env, concept_id, prerequisite_id):
    """Remove a link; returns the learner's `sub`. Raises
    `PrerequisiteError` when there is no such link."""
    with env.db_transaction as db:
        if not db(sql(env, """
                SELECT 1 FROM {prerequisites}
                WHERE concept_ticket_id=%s AND prerequisite_ticket_id=%s"""),
                  (concept_id, prerequisite_id)):
            raise PrerequisiteError("#%s is not a prerequisite of #%s."
                                    % (prerequisite_id, concept_id))
        db(sql(env, """
            DELETE FROM {prerequisites}
            WHERE concept_ticket_id=%s AND prerequisite_ticket_id=%s"""),
           (concept_id, prerequisite_id))
        return _concept_owner(db, concept_id)


def learner_links(env, sub):
    """Every `(concept_id, concept, prerequisite_id, prerequisite)` link
    between `sub`'s concepts."""
    return env.db_query(sql(env, """
        SELECT r.concept_ticket_id, c.summary, r.prerequisite_ticket_id,
               p.summary
        FROM {prerequisites} r
        JOIN ticket c ON c.id = r.concept_ticket_id
        JOIN ticket p ON p.id = r.prerequisite_ticket_id
        WHERE c.owner=%s AND c.type=%s
        ORDER BY c.milestone, r.concept_ticket_id,
                 r.prerequisite_ticket_id"""), (sub, CONCEPT_TICKET_TYPE))


def every_link(env):
    """Every `(learner, concept_id, concept, prerequisite_id,
    prerequisite)` link, learner by learner."""
    return env.db_query(sql(env, """
        SELECT c.owner, r.concept_ticket_id, c.summary,
               r.prerequisite_ticket_id, p.summary
        FROM {prerequisites} r
        JOIN ticket c ON c.id = r.concept_ticket_id
        JOIN ticket p ON p.id = r.prerequisite_ticket_id
        WHERE c.type=%s
        ORDER BY c.owner, c.milestone, r.concept_ticket_id,
                 r.prerequisite_ticket_id"""), (CONCEPT_TICKET_TYPE,))
