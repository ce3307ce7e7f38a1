"""A learner's progress on their concepts: graded attempts,
status, scores, notes and time spent, and the concept ticket moving with
them.

Progress rows are keyed by `(cognito_user_id, ticket_id)`; every graded
answer is an `attempts` row hanging off its progress row. Times are
microseconds since the epoch, as in Trac's tables.
"""

from collections import namedtuple
from datetime import timedelta

from trac.ticket.model import Ticket
from trac.util.datefmt import datetime_now, from_utimestamp, to_utimestamp, \
    utc

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model import questions, reviews
from tracl.model.concepts import learner_status
from tracl.model.evidence import (NO_EVIDENCE, evidence_from_row,
                                  evidence_json)
from tracl.schema import dialect, sql

#: What recording an attempt did.
AttemptResult = namedtuple('AttemptResult', [
    'ticket_id', 'attempt', 'score', 'best_score', 'feedback', 'status',
    'mastered', 'ticket_status', 'question_id', 'evidence', 'follow_up',
    'review'], defaults=(None, NO_EVIDENCE, None, None))


def _time(value):
    return None if value is None else from_utimestamp(value)


def read_progress(env, sub, ticket_id):
    """`sub`'s progress on concept `ticket_id` as a dict (a concept not yet
    touched reads as `not_started`), attempts newest first."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT status, answer_score, best_score, time_spent_minutes,
                   notes, started_at, last_accessed, completed_at,
                   answer_feedback, last_answer
            FROM {progress} WHERE cognito_user_id=%s AND ticket_id=%s"""),
                  (sub, ticket_id))
        attempts = db(sql(env, """
            SELECT attempt, answer, score, feedback, grader, created_at,
                   time_spent_seconds, evidence, confidence,
                   confidence_reason
            FROM {attempts} WHERE cognito_user_id=%s AND ticket_id=%s
            ORDER BY attempt DESC"""), (sub, ticket_id))
    status, score, best, minutes, notes, started, accessed, completed, \
        feedback, last_answer = rows[0] if rows else \
        ('not_started', None, None, 0, None, None, None, None, None, None)
    return {
        'ticket_id': ticket_id, 'status': status,
        'score': None if score is None else float(score),
        'best_score': None if best is None else float(best),
        'time_spent_minutes': float(minutes or 0),
        'notes': notes or '', 'feedback': feedback, 'last_answer': last_answer,
        'started_at': _time(started), 'last_accessed': _time(accessed),
        'completed_at': _time(completed),
        'attempts': [{'attempt': n, 'answer': answer, 'score': float(s),
                      'feedback': fb or '', 'grader': grader,
                      'created_at': from_utimestamp(created),
                      'time_spent_seconds': secs,
                      'evidence': evidence_from_row(evidence, level, reason)}
                     for n, answer, s, fb, grader, created, secs, evidence,
                     level, reason in attempts],
    }


#: Seconds of clock skew and network delay a time report may add to the
#: time since the learner's last activity.
TIME_SLACK = 5


def credited_seconds(seconds, cap, last_accessed, now):
    """Seconds of a time report to count: at most `cap`, and at most the
    time since the learner was last active (`last_accessed`, `now`: Trac
    timestamps), so repeated or parallel reports never count the same
    minute twice."""
    if not seconds:
        return 0
    seconds = min(int(seconds), cap)
    if last_accessed is not None:
        elapsed = max(0, (now - last_accessed) // 1000000)
        seconds = min(seconds, elapsed + TIME_SLACK)
    return seconds


def lock_progress_row(env, db, sub, ticket_id):
    """Create the learner's progress row if needed, lock it for this
    transaction and return `(status, best_score, started_at, completed_at,
    last_accessed)`. Concurrent writes on one concept wait for each other
    (PostgreSQL locks the row; SQLite's first write takes the database's
    write lock), so attempt numbers and time credits are never computed
    twice from the same state."""
    db(sql(env, """
        INSERT INTO {progress} (cognito_user_id, ticket_id, status,
                                updated_by)
        VALUES (%s, %s, 'not_started', %s)
        ON CONFLICT (cognito_user_id, ticket_id) DO NOTHING"""),
       (sub, ticket_id, sub))
    lock = ' FOR UPDATE' if dialect(env) == 'postgres' else ''
    return db(sql(env, """
        SELECT status, best_score, started_at, completed_at, last_accessed
        FROM {progress} WHERE cognito_user_id=%s AND ticket_id=%s""") + lock,
              (sub, ticket_id))[0]


def after_last_change(ticket, when):
    """`when`, or just after `ticket`'s last change when that is not
    earlier: Trac keys a ticket's changes by their time."""
    if ticket['changetime'] is not None and when <= ticket['changetime']:
        return ticket['changetime'] + timedelta(microseconds=1)
    return when


def record_attempt(env, sub, concept, answer, evaluation, score, feedback,
                   seconds, max_seconds, threshold, comment,
                   evidence=NO_EVIDENCE, schedule=None, clock=None,
                   scheduler_name=None, rotate=True,
                   first_review_question=None):
    """Record a graded answer in ONE transaction and return an
    `AttemptResult`.

    Writes the attempt row (with the question it answered, the
    concept's current one), the progress row (status, last answer, scores,
    feedback, times; `seconds` reported, at most `max_seconds` credited)
    and moves the ticket: new -> assigned on a first attempt, closed/fixed
    when the concept becomes mastered, with a change comment
    (`comment(attempt, score, newly_mastered, lapsed)`) for Trac's
    timeline. `score` and `feedback` are what the study loop decided (the
    grader's, or capped), `evaluation` the grader's record, `evidence`
    what the grade rests on (`tracl.model.evidence`).

    With `schedule` (`tracl.study.retention`: `(card, passed, at) ->
    Card`), the answer is also a review (`tracl.model.reviews`): the
    first mastery starts the concept's card; an answer to a due concept
    reviews it, and one short of mastery is a lapse: the concept is
    studied again (its ticket reopened) until it is mastered again; an
    answer before it is due is practice, and the concept stays mastered.
    The card and the review log are written in the same transaction, and
    (with `rotate`) the concept moves to another of its chunk's questions
    for its next review: `first_review_question` (a `StoredQuestion`)
    after a first mastery when given, else the one answered least.
    `clock()` (the review clock) stamps the answer. Without
    `schedule`, a mastered concept simply stays mastered.
    """
    with env.db_transaction as db:
        status, best, started, completed, last = \
            lock_progress_row(env, db, sub, concept.ticket_id)
        # The time is taken once the lock is held: attempts and ticket
        # changes are stamped in the order they are written. A clock set
        # to a moment (an admin's, a test's) may stand still: the ticket's
        # change is still stamped after its last one.
        ticket = Ticket(env, concept.ticket_id)
        now_dt = after_last_change(ticket, clock() if clock is not None
                                   else datetime_now(utc))
        now = to_utimestamp(now_dt)
        credited = credited_seconds(seconds, max_seconds, last, now)
        attempt = db(sql(env, """
            SELECT COALESCE(MAX(attempt), 0) + 1 FROM {attempts}
            WHERE cognito_user_id=%s AND ticket_id=%s"""),
            (sub, concept.ticket_id))[0][0]
        passed = score >= threshold
        review = None
        if schedule is None:
            mastered = status == 'mastered' or passed
        else:
            card = reviews.read_card(env, db, sub, concept.ticket_id)
            review = _review(reviews.answer_kind(
                completed is not None, status, card, now_dt), card, passed,
                schedule, now_dt)
            mastered = passed if review.kind in (
                reviews.STUDY, reviews.FIRST, reviews.RELEARNED) \
                else not review.lapsed
        new_status = 'mastered' if mastered else 'studying'
        best = score if best is None else max(float(best), score)
        # `completed_at` is the first mastery and is never cleared: the
        # lock rule (tracl.model.concepts) reads it as "ever mastered".
        if mastered and completed is None:
            completed = now
        db(sql(env, """
            INSERT INTO {attempts} (cognito_user_id, ticket_id, attempt,
                answer, score, feedback, grader, grader_version, model,
                raw_output, time_spent_seconds, created_at, question_id,
                evidence, confidence, confidence_reason)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    %s, %s, %s)"""),
           (sub, concept.ticket_id, attempt, answer, score, feedback,
            evaluation.grader, evaluation.grader_version, evaluation.model,
            evaluation.raw_output, seconds, now, concept.question_id,
            evidence_json(evidence), evidence.confidence,
            evidence.confidence_reason))
        db(sql(env, """
            UPDATE {progress}
            SET status=%s, started_at=%s, last_accessed=%s, completed_at=%s,
                last_answer=%s, answer_score=%s, best_score=%s,
                answer_feedback=%s,
                time_spent_minutes=time_spent_minutes + %s, updated_by=%s
            WHERE cognito_user_id=%s AND ticket_id=%s"""),
           (new_status, started or now, now, completed, answer, score, best,
            feedback, credited / 60.0, sub, sub, concept.ticket_id))
        if review is not None and review.rating is not None:
            reviews.write_card(env, db, sub, concept.ticket_id, review.card)
            reviews.log_review(env, db, sub, concept.ticket_id, review,
                               now_dt, score, attempt, card,
                               scheduler_name or 'unknown')
            # The next review asks another of the chunk's questions.
            following = None
            if rotate and review.kind == reviews.FIRST and \
                    first_review_question is not None and \
                    first_review_question.id != concept.question_id:
                following = first_review_question
            elif rotate:
                following = questions.next_review_question(
                    env, db, sub, concept.ticket_id, concept.question_id)
            if following is not None:
                questions.ask_question(env, db, ticket, following)
        lapsed = review is not None and review.lapsed
        if mastered and ticket['status'] != 'closed':
            ticket['status'] = 'closed'
            ticket['resolution'] = 'fixed'
        elif lapsed:
            # Trac's own status for a ticket closed and open again.
            ticket['status'] = 'reopened'
            ticket['resolution'] = ''
        elif not mastered and ticket['status'] == 'new':
            ticket['status'] = 'assigned'
        ticket.save_changes(sub, comment(attempt, score, mastered and
                                         status != 'mastered', lapsed),
                            now_dt)
    return AttemptResult(concept.ticket_id, attempt, score, best, feedback,
                         new_status, mastered, ticket['status'],
                         concept.question_id, evidence, review=review)


def _review(kind, card, passed, schedule, at):
    """The `Review` of an answer of `kind` to the concept of `card`."""
    if kind == reviews.PRACTICE or (kind == reviews.STUDY and not passed):
        return reviews.Review(kind, None, card, False)
    if kind == reviews.STUDY:
        kind = reviews.FIRST
    after = schedule(card, passed, at)
    return reviews.Review(kind, reviews.GOOD if passed else reviews.AGAIN,
                          after, kind == reviews.REVIEWED and not passed)


def last_mastered_question(env, sub, ticket_id, threshold):
    """The question of `sub`'s latest mastering answer to the concept (an
    answer an instructor overrode does not count), or None."""
    for question_id, in env.db_query(sql(env, """
            SELECT question_id FROM {attempts}
            WHERE cognito_user_id=%s AND ticket_id=%s AND score >= %s
              AND overridden_by IS NULL
            ORDER BY attempt DESC LIMIT 1"""), (sub, ticket_id, threshold)):
        return question_id
    return None


def add_time(env, sub, ticket_id, seconds, max_seconds):
    """Count `seconds` of study on the concept (at most `max_seconds`, and
    at most the time since the learner's last activity), mark it accessed
    now and return the seconds credited."""
    with env.db_transaction as db:
        last = lock_progress_row(env, db, sub, ticket_id)[4]
        now = to_utimestamp(datetime_now(utc))
        credited = credited_seconds(seconds, max_seconds, last, now)
        db(sql(env, """
            UPDATE {progress}
            SET time_spent_minutes=time_spent_minutes + %s,
                last_accessed=%s, updated_by=%s
            WHERE cognito_user_id=%s AND ticket_id=%s"""),
           (credited / 60.0, now, sub, sub, ticket_id))
    return credited


def save_notes(env, sub, ticket_id, notes):
    """Keep `sub`'s private notes on the concept."""
    with env.db_transaction as db:
        lock_progress_row(env, db, sub, ticket_id)
        db(sql(env, """
            UPDATE {progress} SET notes=%s, updated_by=%s
            WHERE cognito_user_id=%s AND ticket_id=%s"""),
           (notes, sub, sub, ticket_id))


def subject_summaries(env, sub):
    """`sub`'s concepts counted per subject (milestone): `[{subject, total,
    not_started, studying, mastered, completion}]`, by subject name."""
    rows = env.db_query(sql(env, """
        SELECT t.milestone,
               COUNT(*),
               SUM(CASE WHEN p.status = 'studying' THEN 1 ELSE 0 END),
               SUM(CASE WHEN p.status = 'mastered' THEN 1 ELSE 0 END)
        FROM ticket t
        LEFT JOIN {progress} p
            ON p.ticket_id = t.id AND p.cognito_user_id = t.owner
        WHERE t.owner=%s AND t.type=%s
        GROUP BY t.milestone
        ORDER BY t.milestone"""), (sub, CONCEPT_TICKET_TYPE))
    summaries = []
    for subject, total, studying, mastered in rows:
        total, studying, mastered = int(total), int(studying or 0), \
            int(mastered or 0)
        summaries.append({
            'subject': subject or '', 'total': total,
            'not_started': total - studying - mastered,
            'studying': studying, 'mastered': mastered,
            'completion': round(100.0 * mastered / total, 1) if total
            else 0.0})
    return summaries


def concept_statuses(env, ticket_ids):
    """`{ticket_id: (owner, status)}` of the concept tickets among
    `ticket_ids`, status as their owner's progress (`not_started` without
    any). Tickets of other types are left out."""
    ticket_ids = list(ticket_ids)
    found = {}
    # Stay well below SQLite's limit of bound parameters.
    for start in range(0, len(ticket_ids), 500):
        batch = ticket_ids[start:start + 500]
        placeholders = ','.join(['%s'] * len(batch))
        for ticket_id, owner, status in env.db_query(sql(env, """
                SELECT t.id, t.owner, %s
                FROM ticket t
                LEFT JOIN {progress} p
                    ON p.ticket_id = t.id AND p.cognito_user_id = t.owner
                WHERE t.type=%%s AND t.id IN (%s)""" % (
                learner_status('p'), placeholders)),
                [CONCEPT_TICKET_TYPE] + batch):
            found[ticket_id] = (owner, status)
    return found

