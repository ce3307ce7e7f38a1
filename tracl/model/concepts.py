"""A concept's rules: what a concept ticket is, how its chunk text is kept
in the ticket, how a learner's status on it is read, and when it is
locked.

Every part of TracLearn that shows or decides whether a concept is locked
(the learning path API, the knowledge graph, the study loop's submit, the
ticket form's guard, the concept page) asks this module, so they cannot
disagree.

The lock rule: *a concept is locked when the learner has never mastered it
and has never mastered one of its prerequisites.* It is written on "ever
mastered", not on the current status, because mastery is meant to be able
to lapse (a failed review) and a lapse must not lock anything again: what
was unlocked stays unlocked. A concept the learner has mastered is never
locked, even when an admin later adds a prerequisite they have not
mastered: they may answer it again.

"Ever mastered" is read from `progress.completed_at`: it is set when the
concept is first mastered and never cleared (the schema requires it on
every mastered row), whereas `status` says where the learner stands now.
Whatever later takes mastery back as a mistake (rather than as a lapse)
must clear `completed_at` too.
"""

from collections import namedtuple

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.questions import chunk_questions, grading_rubric
from tracl.schema import sql

#: A concept ticket as the study loop needs it. `question`, `difficulty`
#: and `expected_answer` are those of the question the concept asks now:
#: the stored question `question_id` with the `Rubric` its answers are
#: graded by (`rubric`: its key points, and the misconceptions of every
#: question of its chunk, `grading_rubric`), or, for
#: a concept made before questions were stored, the question of its ticket
#: fields (`question_id` and `rubric` None).
Concept = namedtuple('Concept', [
    'ticket_id', 'owner', 'concept', 'subject', 'ticket_status', 'question',
    'difficulty', 'context', 'content', 'expected_answer', 'question_id',
    'rubric'], defaults=(None, None))

#: A prerequisite of a concept, with the learner's status on it.
Prerequisite = namedtuple('Prerequisite', ['ticket_id', 'concept', 'status'])

#: A concept's prerequisites (every one, by ticket id) and those of them
#: that lock it (none when it is not locked).
Locks = namedtuple('Locks', ['prerequisites', 'blockers'])

#: The `Locks` of a concept without prerequisites.
NO_LOCKS = Locks((), ())


# The ticket description -------------------------------------------------

_PLAIN_OPEN, _PLAIN_CLOSE = '{{{#!text/plain\n', '\n}}}'


def concept_description(content):
    """A ticket description showing chunk `content` as plain text: chunks
    are hostile text, so they must not be read as wiki markup (links,
    macros, images)."""
    # A zero-width space keeps `{{{` and `}}}` inside the text from opening
    # or closing a block.
    safe = content.replace('}}}', '}\u200b}}').replace('{{{', '{\u200b{{')
    return _PLAIN_OPEN + safe + _PLAIN_CLOSE


def concept_text(description):
    """The chunk text of a concept's ticket description: the inverse of
    `concept_description`."""
    text = description or ''
    if text.startswith(_PLAIN_OPEN) and text.endswith(_PLAIN_CLOSE):
        text = text[len(_PLAIN_OPEN):-len(_PLAIN_CLOSE)]
    return text.replace('\u200b', '')


def load_concept(env, ticket_id):
    """The concept ticket `ticket_id`, or None when there is no such
    ticket or it is not a concept."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT t.owner, t.summary, t.milestone, t.status, t.description,
                   cm.expected_answer, q.id, q.question, q.difficulty,
                   q.expected_answer, q.chunk_id
            FROM ticket t
            LEFT JOIN {concept_metadata} cm ON cm.ticket_id = t.id
            LEFT JOIN {questions} q ON q.id = cm.question_id
            WHERE t.id=%s AND t.type=%s"""), (ticket_id, CONCEPT_TICKET_TYPE))
        if not rows:
            return None
        owner, name, subject, status, description, expected, question_id, \
            question, question_difficulty, question_expected, chunk_id = \
            rows[0]
        custom = dict(db("""
            SELECT name, value FROM ticket_custom
            WHERE ticket=%s AND name IN ('question', 'question_difficulty',
                                         'question_context')""",
                         (ticket_id,)))
    if question_id is not None:
        # The ticket keeps the first question; the stored one is current.
        # Its answers are graded against the misconceptions of all the
        # chunk's questions.
        siblings = chunk_questions(env, chunk_id)
        asked = [q for q in siblings if q.id == int(question_id)]
        return Concept(ticket_id, owner, name, subject, status, question,
                       int(question_difficulty),
                       custom.get('question_context') or '',
                       concept_text(description), question_expected,
                       int(question_id),
                       grading_rubric(asked[0], siblings))
    try:
        difficulty = int(custom.get('question_difficulty') or 0) or None
    except ValueError:
        difficulty = None
    return Concept(ticket_id, owner, name, subject, status,
                   custom.get('question') or '', difficulty,
                   custom.get('question_context') or '',
                   concept_text(description), expected or '')


# The learner's status -----------------------------------------------------

def learner_status(alias):
    """SQL for the learner's status on a concept, from the `progress` row
    joined (LEFT JOIN) as `alias`: a concept never touched has no row and
    reads as `not_started`."""
    return "COALESCE(%s.status, 'not_started')" % alias


def ever_mastered(alias):
    """SQL, 1 or 0, for whether the learner has ever mastered the concept,
    from the `progress` row joined (LEFT JOIN) as `alias`."""
    return "CASE WHEN %s.completed_at IS NULL THEN 0 ELSE 1 END" % alias


# The lock rule ------------------------------------------------------------

def blocking(concept_ever_mastered, prerequisites):
    """The prerequisites that lock a concept: none when the learner has
    ever mastered the concept, else those they have never mastered.
    `prerequisites` are `(prerequisite, ever_mastered)` pairs; the concept
    is locked when the result is not empty."""
    if concept_ever_mastered:
        return []
    return [prerequisite for prerequisite, mastered in prerequisites
            if not mastered]


def locks(env, sub, ticket_ids=None):
    """`{concept_id: Locks}` of learner `sub`'s concepts `ticket_ids` (all
    their concepts when None) that have prerequisites; prerequisites in
    ticket id order."""
    if ticket_ids is not None:
        ticket_ids = list(ticket_ids)
        if not ticket_ids:
            return {}
    where, args = 'c.owner=%s AND c.type=%s', [sub, CONCEPT_TICKET_TYPE]
    found = {}
    batches = [None] if ticket_ids is None else \
        [ticket_ids[i:i + 500] for i in range(0, len(ticket_ids), 500)]
    with env.db_query as db:
        for batch in batches:
            # Stay well below SQLite's limit of bound parameters.
            clause, params = where, list(args)
            if batch is not None:
                clause += ' AND c.id IN (%s)' % ','.join(['%s'] * len(batch))
                params += batch
            rows = db(sql(env, """
                SELECT r.concept_ticket_id, %s, r.prerequisite_ticket_id,
                       t.summary, %s, %s
                FROM {prerequisites} r
                JOIN ticket c ON c.id = r.concept_ticket_id
                JOIN ticket t ON t.id = r.prerequisite_ticket_id
                LEFT JOIN {progress} cp
                    ON cp.ticket_id = r.concept_ticket_id
                   AND cp.cognito_user_id = c.owner
                LEFT JOIN {progress} pp
                    ON pp.ticket_id = r.prerequisite_ticket_id
                   AND pp.cognito_user_id = c.owner
                WHERE %s
                ORDER BY r.concept_ticket_id, r.prerequisite_ticket_id""" % (
                ever_mastered('cp'), learner_status('pp'),
                ever_mastered('pp'), clause)), params)
            for concept, concept_mastered, prerequisite, name, status, \
                    mastered in rows:
                found.setdefault(concept, (concept_mastered, []))[1].append(
                    (Prerequisite(prerequisite, name, status), mastered))
    return {concept: Locks([p for p, _m in links], blocking(mastered, links))
            for concept, (mastered, links) in found.items()}


def blockers(env, sub, ticket_id):
    """The prerequisites that lock learner `sub`'s concept `ticket_id`
    (empty when it is not locked, or is not theirs)."""
    return list(locks(env, sub, [ticket_id]).get(ticket_id,
                                                 NO_LOCKS).blockers)
