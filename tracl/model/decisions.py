"""Disputes and instructors' decisions: a learner asks for a review of a
grade, an instructor decides it, and the concept's progress follows.

A decision is an attempt of its own, graded `instructor:<sub>` with the
instructor's score and comment. The attempt it decides is marked
overridden: it stays in the history, but the score, the best score and
mastery are counted again from the attempts not overridden. So a decision
can master a concept (the ticket closes) or reopen one that the grader
mastered by mistake (the ticket is assigned again and the concept no
longer counts as ever mastered); a later attempt that masters keeps the
concept mastered whatever is decided about an earlier one. Everything
changes in one transaction; the first decision on an attempt wins.
"""

import uuid
from collections import namedtuple

from trac.ticket.model import Ticket
from trac.util.datefmt import datetime_now, from_utimestamp, to_utimestamp, \
    utc
from trac.util.translation import _

from tracl.model import reviews
from tracl.model.progress import after_last_change, lock_progress_row
from tracl.schema import sql

#: What an instructor's decision did: the concept's `status` and its
#: ticket's afterwards, and the decision's own attempt number.
Decision = namedtuple('Decision', ['ticket_id', 'attempt', 'decision_attempt',
                                   'score', 'status', 'ticket_status',
                                   'grader'])

#: A dispute as the learner and the pages see it.
Dispute = namedtuple('Dispute', ['id', 'attempt', 'reason', 'status',
                                 'created_at', 'closed_at'])

#: The grader name of a decision by instructor `sub`.
INSTRUCTOR_GRADER = 'instructor:%s'

#: How a decision names its learner once its concept ticket was deleted
#: through Trac: the prefix and a random token per ticket and learner.
DELETED_CONCEPT_PREFIX = 'deleted-concept:'

#: How a decision names a learner who deleted their learning data
#: (`tracl.model.learner_data`): the prefix and a random token per
#: deletion, so that the decisions of one deleted learner can be told
#: apart from another's but never linked back to either.
ANONYMOUS_LEARNER_PREFIX = 'deleted-learner:'


class AttemptNotFound(LookupError):
    """No such attempt of that learner's concept."""


class DisputeOpen(Exception):
    """The concept already has an open dispute."""


class AlreadyDecided(Exception):
    """The attempt was decided before: the first decision wins."""


class NotDisputable(Exception):
    """An instructor's decision is not disputed again."""


def _now():
    now = datetime_now(utc)
    return now, to_utimestamp(now)


def detach_from_deleted_concept(env, ticket_id):
    """Keep the decisions on concept ticket `ticket_id`, which no longer
    exists, as an audit that no longer matches any learner's attempts:
    each learner they name is replaced by a marker of their own (the
    ticket id stays, as the audit's record of what was decided). The
    attempts they decided went with the ticket.

    Without this the decisions would wait under the learner and the
    ticket's id, and SQLite gives the id of the highest deleted ticket to
    the next one created: the learner's next concept under that id would
    find its attempts already decided. Returns how many were detached."""
    detached = 0
    with env.db_transaction as db:
        learners = [sub for sub, in db(sql(env, """
            SELECT DISTINCT cognito_user_id FROM {decisions}
            WHERE ticket_id=%s AND cognito_user_id NOT LIKE %s
              AND cognito_user_id NOT LIKE %s"""),
            (ticket_id, DELETED_CONCEPT_PREFIX + '%',
             ANONYMOUS_LEARNER_PREFIX + '%'))]
        for sub in learners:
            marker = DELETED_CONCEPT_PREFIX + uuid.uuid4().hex
            db(sql(env, """
                UPDATE {decisions} SET cognito_user_id=%s
                WHERE cognito_user_id=%s AND ticket_id=%s"""),
               (marker, sub, ticket_id))
            (count,), = db(sql(env, """
                SELECT COUNT(*) FROM {decisions}
                WHERE cognito_user_id=%s"""), (marker,))
            detached += count
    return detached


def open_dispute(env, sub, ticket_id, attempt, reason):
    """Ask for a review of attempt `attempt` of `sub`'s concept; returns
    the new dispute's id. Raises `AttemptNotFound`, `NotDisputable` (a
    decision) and `DisputeOpen` (one per concept)."""
    _dt, now = _now()
    with env.db_transaction as db:
        found = db(sql(env, """
            SELECT grader FROM {attempts}
            WHERE cognito_user_id=%s AND ticket_id=%s AND attempt=%s"""),
            (sub, ticket_id, attempt))
        if not found:
            raise AttemptNotFound(attempt)
        if found[0][0].startswith(INSTRUCTOR_GRADER % ''):
            raise NotDisputable(attempt)
        if db(sql(env, """
                SELECT 1 FROM {disputes} WHERE cognito_user_id=%s
                AND ticket_id=%s AND status='open'"""), (sub, ticket_id)):
            raise DisputeOpen(ticket_id)
        try:
            db(sql(env, """
                INSERT INTO {disputes} (cognito_user_id, ticket_id, attempt,
                                        reason, status, created_at)
                VALUES (%s, %s, %s, %s, 'open', %s)"""),
               (sub, ticket_id, attempt, reason, now))
        except env.db_exc.IntegrityError:
            # Another request opened one first (the partial unique index).
            raise DisputeOpen(ticket_id)
        return db(sql(env, """
            SELECT id FROM {disputes} WHERE cognito_user_id=%s
            AND ticket_id=%s AND status='open'"""), (sub, ticket_id))[0][0]


def withdraw_dispute(env, sub, ticket_id, dispute_id):
    """Withdraw `sub`'s open dispute `dispute_id` on the concept; returns
    whether there was one to withdraw."""
    _dt, now = _now()
    with env.db_transaction as db:
        db(sql(env, """
            UPDATE {disputes} SET status='withdrawn', closed_at=%s
            WHERE id=%s AND cognito_user_id=%s AND ticket_id=%s
            AND status='open'"""), (now, dispute_id, sub, ticket_id))
        return bool(db(sql(env, """
            SELECT 1 FROM {disputes} WHERE id=%s AND status='withdrawn'
            AND closed_at=%s"""), (dispute_id, now)))


def disputes_since(env, sub, since):
    """How many disputes `sub` opened since `since` (microseconds), and
    when the oldest of them was opened."""
    with env.db_query as db:
        count, oldest = db(sql(env, """
            SELECT COUNT(*), MIN(created_at) FROM {disputes}
            WHERE cognito_user_id=%s AND created_at > %s"""),
            (sub, since))[0]
    return count, oldest


def concept_disputes(env, sub, ticket_id):
    """Every dispute of `sub`'s concept, newest first."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT id, attempt, reason, status, created_at, closed_at
            FROM {disputes} WHERE cognito_user_id=%s AND ticket_id=%s
            ORDER BY created_at DESC, id DESC"""), (sub, ticket_id))
    return [Dispute(int(i), int(a), reason, status, from_utimestamp(c),
                    from_utimestamp(closed) if closed else None)
            for i, a, reason, status, c, closed in rows]


def decide(env, instructor, ticket_id, attempt, score, comment, threshold,
           ticket_comment, schedule=None, clock=None, scheduler_name=None):
    """Record instructor `instructor`'s `score` (0..1) and `comment` on
    attempt `attempt` of concept `ticket_id`, in one transaction: the
    decision's own attempt, the decided attempt marked overridden, an open
    dispute on it closed as decided, the progress counted again from the
    attempts not overridden and the ticket moved with it
    (`ticket_comment(attempt, score, mastered)` for the timeline). Returns
    a `Decision`. Raises `AttemptNotFound` and `AlreadyDecided`.

    With `schedule` (as `tracl.model.progress.record_attempt` takes it),
    the decision is a review too (`_decided_review`): one that masters
    counts as a Good review, or starts the schedule of a concept never
    mastered; one that refuses an answer the grader passed at a due
    review is a lapse; and a concept being learnt again after a lapse
    stays so unless the decision masters it."""
    now_dt, now = _now()
    if clock is not None:
        now_dt = clock()
        now = to_utimestamp(now_dt)
    grader = INSTRUCTOR_GRADER % instructor
    with env.db_transaction as db:
        found = db(sql(env, """
            SELECT a.cognito_user_id, a.answer, a.score, a.question_id,
                   a.grader, a.overridden_by
            FROM {attempts} a JOIN ticket t ON t.id = a.ticket_id
            WHERE a.ticket_id=%s AND a.attempt=%s
            AND a.cognito_user_id = t.owner"""), (ticket_id, attempt))
        if not found:
            raise AttemptNotFound(attempt)
        sub, answer, old_score, question_id, old_grader, overridden = \
            found[0]
        if overridden is not None or old_grader.startswith(
                INSTRUCTOR_GRADER % ''):
            raise AlreadyDecided(attempt)
        lock_progress_row(env, db, sub, ticket_id)
        disputed = bool(db(sql(env, """
            SELECT 1 FROM {disputes} WHERE cognito_user_id=%s
            AND ticket_id=%s AND attempt=%s AND status='open'"""),
            (sub, ticket_id, attempt)))
        number = db(sql(env, """
            SELECT COALESCE(MAX(attempt), 0) + 1 FROM {attempts}
            WHERE cognito_user_id=%s AND ticket_id=%s"""),
            (sub, ticket_id))[0][0]
        try:
            db(sql(env, """
                INSERT INTO {decisions} (cognito_user_id, ticket_id, attempt,
                    decision_attempt, kind, old_score, new_score, comment,
                    decided_by, created_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""),
               (sub, ticket_id, attempt, number,
                'disputed' if disputed else 'uncertain', old_score, score,
                comment, instructor, now))
        except env.db_exc.IntegrityError:
            raise AlreadyDecided(attempt)
        db(sql(env, """
            INSERT INTO {attempts} (cognito_user_id, ticket_id, attempt,
                answer, score, feedback, grader, grader_version,
                time_spent_seconds, created_at, question_id, confidence,
                confidence_reason)
            VALUES (%s, %s, %s, %s, %s, %s, %s, '', 0, %s, %s, 'high', %s)"""),
           (sub, ticket_id, number, answer, score, comment, grader, now,
            question_id, "An instructor decided this grade."))
        db(sql(env, """
            UPDATE {attempts} SET overridden_by=%s
            WHERE cognito_user_id=%s AND ticket_id=%s AND attempt=%s"""),
           (number, sub, ticket_id, attempt))
        db(sql(env, """
            UPDATE {disputes} SET status='decided', closed_at=%s
            WHERE cognito_user_id=%s AND ticket_id=%s AND attempt=%s
            AND status='open'"""), (now, sub, ticket_id, attempt))
        status, mastered = recount_progress(env, db, sub, ticket_id,
                                            threshold, comment, instructor)
        lapsed = False
        if schedule is not None:
            status, mastered, lapsed = _decided_review(
                env, db, sub, ticket_id, attempt, number, score,
                score >= threshold, status, mastered, schedule, now_dt,
                scheduler_name or 'unknown')
        ticket = Ticket(env, ticket_id)
        now_dt = after_last_change(ticket, now_dt)
        if mastered and ticket['status'] != 'closed':
            ticket['status'], ticket['resolution'] = 'closed', 'fixed'
        elif lapsed:
            ticket['status'], ticket['resolution'] = 'reopened', ''
        elif not mastered and ticket['status'] == 'closed':
            ticket['status'], ticket['resolution'] = 'assigned', ''
        ticket.save_changes(instructor, ticket_comment(attempt, score,
                                                       mastered), now_dt)
    return Decision(ticket_id, attempt, number, score, status,
                    ticket['status'], grader)


def _decided_review(env, db, sub, ticket_id, attempt, number, score,
                    passed, status, mastered, schedule, at, scheduler):
    """The review an instructor's decision on `attempt` is (see
    `decide`); returns `(status, mastered, lapsed)` afterwards, the
    progress row set to match."""
    card = reviews.read_card(env, db, sub, ticket_id)
    reviewed = db(sql(env, """
        SELECT kind, rating FROM {review_log}
        WHERE cognito_user_id=%s AND ticket_id=%s AND attempt=%s"""),
        (sub, ticket_id, attempt))
    kind, rating = reviewed[0] if reviewed else (None, None)
    if not mastered:
        # Counted again, no answer masters the concept: it was never
        # mastered, so it has no schedule either.
        db(sql(env, """
            DELETE FROM {review_cards}
            WHERE cognito_user_id=%s AND ticket_id=%s"""), (sub, ticket_id))
        return status, mastered, False
    review = None
    # A decision confirming a Good review changes nothing: only one that
    # turns a failed review, or a relearning, into mastery reviews Good.
    if passed and (card is None or rating == reviews.AGAIN or
                   card.state == reviews.RELEARNING):
        review = reviews.Review('decision', reviews.GOOD,
                                schedule(card, True, at), False)
    elif not passed and rating == reviews.GOOD and card is not None \
            and kind != reviews.FIRST:
        review = reviews.Review('decision', reviews.AGAIN,
                                schedule(card, False, at), True)
    if review is not None:
        reviews.write_card(env, db, sub, ticket_id, review.card)
        reviews.log_review(env, db, sub, ticket_id, review, at, score,
                           number, card, scheduler)
    after = review.card if review is not None else card
    if after is not None and after.state == reviews.RELEARNING:
        # Forgotten at a review and not mastered again since.
        db(sql(env, """
            UPDATE {progress} SET status='studying'
            WHERE cognito_user_id=%s AND ticket_id=%s"""), (sub, ticket_id))
        return 'studying', False, review is not None and review.lapsed
    return status, mastered, False


def recount_progress(env, db, sub, ticket_id, threshold, feedback, by):
    """Count `sub`'s progress on the concept again from its attempts not
    overridden, each decision in the place of the attempt it decided: the
    last one's score and answer, the best score, mastered
    when one of them reaches `threshold` (first mastered at the first
    such attempt; never mastered otherwise). Returns `(status,
    mastered)`."""
    # A decision stands in the place of the attempt it decided: deciding
    # an old attempt does not make its score the concept's last one.
    rows = db(sql(env, """
        SELECT a.attempt, a.answer, a.score, a.created_at
        FROM {attempts} a
        LEFT JOIN {decisions} d ON d.cognito_user_id = a.cognito_user_id
            AND d.ticket_id = a.ticket_id AND d.decision_attempt = a.attempt
        WHERE a.cognito_user_id=%s AND a.ticket_id=%s
          AND a.overridden_by IS NULL
        ORDER BY COALESCE(d.attempt, a.attempt), a.attempt"""),
              (sub, ticket_id))
    if not rows:
        return 'not_started', False
    mastering = [created for _n, _a, score, created in rows
                 if float(score) >= threshold]
    mastered = bool(mastering)
    status = 'mastered' if mastered else 'studying'
    _n, answer, last_score, _c = rows[-1]
    db(sql(env, """
        UPDATE {progress}
        SET status=%s, answer_score=%s, best_score=%s, last_answer=%s,
            answer_feedback=%s, completed_at=%s, updated_by=%s
        WHERE cognito_user_id=%s AND ticket_id=%s"""),
       (status, float(last_score), max(float(r[2]) for r in rows), answer,
        feedback, mastering[0] if mastered else None, by, sub, ticket_id))
    return status, mastered


#: An attempt waiting for an instructor: disputed by its learner, or
#: graded with low confidence. `learner` is the learner's name (never
#: their `sub`), `cursor` what the next page starts after.
QueueItem = namedtuple('QueueItem', [
    'ticket_id', 'attempt', 'learner', 'concept', 'subject', 'score',
    'confidence', 'kind', 'reason', 'created_at', 'cursor'])

#: The queue's kinds of item.
QUEUE_KINDS = ('disputed', 'uncertain')

# Open disputes, and the latest graded attempt of each concept when its
# grade is of low confidence, not decided and not disputed; oldest first.
# Each branch reads its index in queue order ((status | confidence,
# created_at, ticket_id, attempt)) from the cursor on, so a page stops
# after `limit` rows however long the queue; names and tickets are joined
# to the page only.
_DISPUTED = """
    SELECT d.created_at, 'disputed' AS kind, d.ticket_id, d.attempt,
           d.cognito_user_id, d.reason, t.summary, t.milestone
    FROM {disputes} d JOIN ticket t ON t.id = d.ticket_id
    WHERE d.status = 'open' %(filters)s
    ORDER BY d.created_at, d.ticket_id, d.attempt LIMIT %%s
"""
_UNCERTAIN = """
    SELECT a.created_at, 'uncertain' AS kind, a.ticket_id, a.attempt,
           a.cognito_user_id, a.confidence_reason AS reason, t.summary,
           t.milestone
    FROM {attempts} a JOIN ticket t ON t.id = a.ticket_id
    WHERE a.confidence = 'low' AND a.overridden_by IS NULL
      AND NOT EXISTS (SELECT 1 FROM {attempts} l
                      WHERE l.cognito_user_id = a.cognito_user_id
                        AND l.ticket_id = a.ticket_id
                        AND l.attempt > a.attempt)
      AND NOT EXISTS (SELECT 1 FROM {disputes} o
                      WHERE o.cognito_user_id = a.cognito_user_id
                        AND o.ticket_id = a.ticket_id
                        AND o.attempt = a.attempt AND o.status = 'open')
      %(filters)s
    ORDER BY a.created_at, a.ticket_id, a.attempt LIMIT %%s
"""
_PAGE = """
SELECT p.created_at, p.kind, p.ticket_id, p.attempt, p.reason, a.score,
       a.confidence, p.summary, p.milestone,
       COALESCE(n.value, u.value), p.cognito_user_id
FROM (
    SELECT * FROM (%(branches)s) q
    ORDER BY q.created_at, q.ticket_id, q.attempt
    LIMIT %%s
) p
JOIN {attempts} a ON a.cognito_user_id = p.cognito_user_id
    AND a.ticket_id = p.ticket_id AND a.attempt = p.attempt
LEFT JOIN session_attribute n ON n.sid = p.cognito_user_id
    AND n.authenticated = 1 AND n.name = 'name' AND n.value <> ''
LEFT JOIN session_attribute u ON u.sid = p.cognito_user_id
    AND u.authenticated = 1 AND u.name = 'tracl_username'
ORDER BY p.created_at, p.ticket_id, p.attempt
"""


def grading_queue(env, subject=None, learner=None, kind=None, limit=50,
                  after=None):
    """The attempts waiting for an instructor, oldest first: at most
    `limit` `QueueItem`s after cursor `after` (a previous item's
    `cursor`), of subject `subject`, learner `learner` (a `sub`) and
    `kind` ('disputed' or 'uncertain') when given."""
    branches, args = [], []
    for name, template, alias in (('disputed', _DISPUTED, 'd'),
                                  ('uncertain', _UNCERTAIN, 'a')):
        if kind and kind != name:
            continue
        filters = []
        if learner:
            filters.append('AND %s.cognito_user_id = %%s' % alias)
            args.append(learner)
        if subject:
            filters.append('AND t.milestone = %s')
            args.append(subject)
        if after is not None:
            filters.append('AND (%(a)s.created_at, %(a)s.ticket_id, '
                           '%(a)s.attempt) > (%%s, %%s, %%s)' % {'a': alias})
            args.extend(after)
        args.append(limit)
        # Each branch sorted and cut to the page by itself (so it reads its
        # index in order and stops), then the two merged and cut again.
        branches.append('SELECT * FROM (%s) %s_page' % (
            template % {'filters': ' '.join(filters)}, name))
    statement = _PAGE % {'branches': ' UNION ALL '.join(branches)}
    with env.db_query as db:
        rows = db(sql(env, statement), args + [limit])
    # A username that is the sub itself (a learner who never gave one)
    # is not a name to show.
    return [QueueItem(int(ticket_id), int(attempt),
                      name if name and name != sub else _('a learner'),
                      concept, subject_name, float(score), confidence,
                      kind_name, reason or '', from_utimestamp(created),
                      '%d.%d.%d' % (created, ticket_id, attempt))
            for created, kind_name, ticket_id, attempt, reason, score,
            confidence, concept, subject_name, name, sub in rows]


def parse_cursor(text):
    """The `(created_at, ticket_id, attempt)` of a queue cursor, or None
    when `text` is not one."""
    parts = str(text or '').split('.')
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)
