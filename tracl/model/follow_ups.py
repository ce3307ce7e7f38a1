"""Follow-up questions: when a grade is a close call and the grader is
unsure, one more question aimed at the key point in doubt, whose reply is
graded together with the answer it follows.

A concept has at most one open follow-up: the one of its latest attempt.
It lapses when the learner sends a fresh answer instead, or after
`LIFETIME` seconds; answered, it is closed with the attempt that answered
it.
"""

from collections import namedtuple

from trac.util.datefmt import datetime_now, to_utimestamp, utc
from trac.util.translation import _

from tracl.llm.text import GENERIC_WORDS, content_stems, words
from tracl.model.rubrics import MISSING, PARTIAL
from tracl.schema import sql

#: Seconds a follow-up stays open.
LIFETIME = 24 * 3600

#: Terms of the doubtful key point a follow-up question names, at most.
QUESTION_TERMS = 3

#: An open follow-up: the attempt it follows and that attempt's answer.
FollowUp = namedtuple('FollowUp', ['id', 'attempt', 'question', 'key_point',
                                   'answer'])


class FollowUpLapsed(Exception):
    """No such open follow-up: answered, lapsed, or another concept's."""


def doubtful_point(evidence):
    """The key point a follow-up asks about: the first partly given, else
    the first missing (None when every point is covered)."""
    for status in (PARTIAL, MISSING):
        for grade in evidence:
            if grade.status == status:
                return grade.point
    return None


def follow_up_question(point, question):
    """A question aimed at key point `point` that does not give it away:
    it names the point's own terms (those the concept's `question` does
    not already use, and no word too general to be a term: "keeps",
    "uses") and asks the learner to explain them."""
    asked = set(content_stems(words(question)))
    terms = []
    for word in words(point):
        if len(word) > 2 and word not in GENERIC_WORDS and \
                content_stems([word]) and \
                content_stems([word])[0] not in asked and word not in terms:
            terms.append(word)
    terms = terms[:QUESTION_TERMS]
    if not terms:
        return _("Your answer was a close call. In a sentence or two of "
                 "your own, say more about the part of the question your "
                 "answer covered least.")
    if len(terms) == 1:
        named = '"%s"' % terms[0]
    else:
        named = ', '.join('"%s"' % t for t in terms[:-1]) + \
            _(" and ") + '"%s"' % terms[-1]
    return _("Your answer was a close call. In a sentence or two of your "
             "own: what part do %(terms)s play in the answer to the "
             "question?", terms=named)


def open_follow_up(env, sub, ticket_id, follow_up_id, now=None):
    """The open `FollowUp` `follow_up_id` of `sub`'s concept, asked for its
    latest attempt less than `LIFETIME` ago; raises `FollowUpLapsed`."""
    now = now or to_utimestamp(datetime_now(utc))
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT f.id, f.attempt, f.question, f.key_point, a.answer,
                   f.created_at,
                   (SELECT MAX(l.attempt) FROM {attempts} l
                    WHERE l.cognito_user_id = f.cognito_user_id
                      AND l.ticket_id = f.ticket_id)
            FROM {follow_ups} f
            JOIN {attempts} a ON a.cognito_user_id = f.cognito_user_id
                AND a.ticket_id = f.ticket_id AND a.attempt = f.attempt
            WHERE f.id=%s AND f.cognito_user_id=%s AND f.ticket_id=%s
              AND f.status='open'"""), (follow_up_id, sub, ticket_id))
    if not rows:
        raise FollowUpLapsed(follow_up_id)
    fid, attempt, question, point, answer, created, latest = rows[0]
    if latest != attempt or now - created > LIFETIME * 1000000:
        raise FollowUpLapsed(follow_up_id)
    return FollowUp(int(fid), int(attempt), question, point, answer)


def close_open(env, db, sub, ticket_id, answered=None, answered_attempt=None):
    """In transaction `db`: close the concept's open follow-ups, as
    answered by `answered_attempt` for follow-up `answered`, the others as
    lapsed. Returns whether `answered` was still open."""
    found = True
    if answered is not None:
        found = bool(db(sql(env, """
            SELECT 1 FROM {follow_ups} WHERE id=%s AND status='open'"""),
            (answered,)))
        db(sql(env, """
            UPDATE {follow_ups} SET status='answered', answered_attempt=%s
            WHERE id=%s AND status='open'"""), (answered_attempt, answered))
    db(sql(env, """
        UPDATE {follow_ups} SET status='lapsed'
        WHERE cognito_user_id=%s AND ticket_id=%s AND status='open'"""),
       (sub, ticket_id))
    return found


def ask(env, db, sub, ticket_id, attempt, question, point):
    """In transaction `db`: ask follow-up `question` about key point
    `point` after attempt `attempt`; returns its id."""
    now = to_utimestamp(datetime_now(utc))
    db(sql(env, """
        INSERT INTO {follow_ups} (cognito_user_id, ticket_id, attempt,
            question, key_point, status, created_at)
        VALUES (%s, %s, %s, %s, %s, 'open', %s)"""),
       (sub, ticket_id, attempt, question, point, now))
    return db(sql(env, """
        SELECT id FROM {follow_ups} WHERE cognito_user_id=%s
        AND ticket_id=%s AND status='open'"""), (sub, ticket_id))[0][0]


def current_follow_up(env, sub, ticket_id):
    """`(id, question)` of the concept's open follow-up still to answer,
    or None."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT id FROM {follow_ups} WHERE cognito_user_id=%s
            AND ticket_id=%s AND status='open'"""), (sub, ticket_id))
    for fid, in rows:
        try:
            found = open_follow_up(env, sub, ticket_id, fid)
        except FollowUpLapsed:
            return None
        return found.id, found.question
    return None
