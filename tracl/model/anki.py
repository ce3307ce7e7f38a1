"""What a learner's Anki deck is made of, read from the database: their
concepts with their status, chunk and last good answer.

Only the learner's own concepts are read (ticket owner = their `sub`). The
"last good answer" is the answer of their latest attempt that scored at
least the mastery threshold and was not overridden by an instructor's
decision; a decision stands in the place of the attempt it decided, as
`tracl.model.decisions.recount_progress` orders them.
"""

from collections import namedtuple

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.concepts import learner_status
from tracl.schema import sql

#: One of the learner's concepts as a deck needs it: `status` is
#: `not_started`, `studying` or `mastered`; `chunk_id` None for a concept
#: without metadata; `good_answer` None when no answer reached the
#: threshold.
ExportedConcept = namedtuple('ExportedConcept', [
    'ticket_id', 'concept', 'subject', 'status', 'chunk_id', 'good_answer'])


def exported_concepts(env, sub, threshold):
    """`sub`'s concepts as `ExportedConcept`s, by subject then ticket id;
    `threshold` is the mastery threshold a good answer reaches."""
    with env.db_query as db:
        concepts = db(sql(env, """
            SELECT t.id, t.summary, t.milestone, %s, cm.chunk_id
            FROM ticket t
            LEFT JOIN {progress} p
                ON p.ticket_id = t.id AND p.cognito_user_id = t.owner
            LEFT JOIN {concept_metadata} cm ON cm.ticket_id = t.id
            WHERE t.owner=%%s AND t.type=%%s
            ORDER BY t.milestone, t.id""" % learner_status('p')),
                      (sub, CONCEPT_TICKET_TYPE))
        # Oldest first, so the last row of a concept is its last good one.
        answers = db(sql(env, """
            SELECT a.ticket_id, a.answer
            FROM {attempts} a
            JOIN ticket t ON t.id = a.ticket_id
                AND t.owner = a.cognito_user_id AND t.type=%s
            LEFT JOIN {decisions} d
                ON d.cognito_user_id = a.cognito_user_id
               AND d.ticket_id = a.ticket_id AND d.decision_attempt = a.attempt
            WHERE a.cognito_user_id=%s AND a.overridden_by IS NULL
              AND a.score >= %s
            ORDER BY a.ticket_id, COALESCE(d.attempt, a.attempt),
                     a.attempt"""),
                     (CONCEPT_TICKET_TYPE, sub, threshold))
    good = {ticket_id: answer for ticket_id, answer in answers}
    return [ExportedConcept(ticket_id, name or '', subject or '', status,
                            chunk_id, good.get(ticket_id))
            for ticket_id, name, subject, status, chunk_id in concepts]
