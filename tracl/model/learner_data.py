"""A learner's own learning data: everything TracLearn keeps of them, to
take away (`export_learner_data`) or to delete (`delete_learner_data`).

What is the learner's: their learning paths, their concept tickets (with
the ticket's custom fields, changes and attachments, the concept's
metadata and prerequisite links), their progress on each concept (status,
scores, notes, time spent), every graded attempt (answer, grade, feedback,
what the grade rested on), their disputes, follow-up questions, review
cards and review log. Both functions read and remove the same kinds.

What is not the learner's and stays: the chunks and their shared
questions and rubrics (a concept asks one, it does not own it); the
subjects' milestones (every learner studying a subject shares one); the
instructors' decisions, kept as the audit of the grading with the learner
replaced by an anonymous marker (`deleted-learner:` and a random token)
and, since the attempts go, without the answer they decided; the
learner's Trac session (name, email, preferences) and sign-in, which are
their identity (only its active path goes, with the paths): the account
itself is Cognito's, removed there by an administrator. A concept is a
concept ticket the learner owns; progress they hold on another ticket
goes with their other rows, the ticket stays.

The export shows the expected answer only where the concept's page does
(the study loop decides), and people by name, never by sub.

Deleting is one transaction: a failure anywhere leaves every row as it
was. What is not in the database (cached views, attachment files, the
listeners of ticket deletions) follows once it has committed.
"""

import json
import os
import uuid
from collections import namedtuple

from trac.attachment import Attachment, AttachmentModule
from trac.ticket.api import TicketSystem
from trac.ticket.model import Ticket
from trac.util.datefmt import datetime_now, from_utimestamp, utc

from tracl.auth.names import person_name
from tracl.auth.profile import ACTIVE_PATH_ATTRIBUTE, LearnerProfiles
from tracl.cache import LearningCache, progress_key
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.decisions import (ANONYMOUS_LEARNER_PREFIX,
                                   INSTRUCTOR_GRADER)
from tracl.schema import sql
from tracl.study.loop import StudyLoop

#: How an instructor's decision names its grader (`instructor:<sub>`).
INSTRUCTOR_PREFIX = INSTRUCTOR_GRADER % ''

#: The version of the export's layout.
EXPORT_FORMAT = 'tracl-learner-data'
EXPORT_VERSION = 1

#: What a deletion removed, counted per kind, and how many decisions it
#: anonymised.
Deleted = namedtuple('Deleted', [
    'concepts', 'paths', 'progress', 'attempts', 'disputes', 'follow_ups',
    'review_cards', 'review_log', 'decisions_anonymised'])


def _time(value):
    """An ISO 8601 UTC time for Trac's microseconds (None stays None)."""
    if value is None:
        return None
    return from_utimestamp(value).isoformat()


def _float(value):
    return None if value is None else float(value)


def _json(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def concept_ids(env, db, sub):
    """The ids of `sub`'s concepts: the concept tickets they own, in id
    order. Progress they hold on another ticket is theirs (it goes with
    their other rows), the ticket is not."""
    rows = db("SELECT id FROM ticket WHERE type=%s AND owner=%s",
              (CONCEPT_TICKET_TYPE, sub))
    return sorted(int(r[0]) for r in rows)


def _grouped(rows, key=0):
    groups = {}
    for row in rows:
        groups.setdefault(int(row[key]), []).append(row)
    return groups


def _in(ids):
    """`IN (%s, ...)` for `ids` (never empty)."""
    return 'IN (%s)' % ', '.join(['%s'] * len(ids))


def _batches(ids, size=500):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# Export -------------------------------------------------------------------

def export_learner_data(env, sub, name=None, username=None):
    """Everything TracLearn keeps of learner `sub`, as a JSON-ready dict:
    their paths, concepts (each with its progress, notes, time spent,
    attempts with grades and feedback, disputes, follow-ups, review card
    and review log, and the decisions instructors made on their answers)
    and totals. `name` and `username` are written as given, else as the
    learner's profile has them."""
    if name is None and username is None:
        profile = LearnerProfiles(env).get(sub)
        name = profile.get('name')
        # The profile's username falls back to the sub: not a username.
        username = profile.get('username') \
            if profile.get('username') != sub else None
    with env.db_query as db:
        ids = concept_ids(env, db, sub)
        paths = db(sql(env, """
            SELECT id, title, query_text, question_difficulty, created_at
            FROM {paths} WHERE cognito_user_id=%s
            ORDER BY created_at, id"""), (sub,))
        path_concepts = _by_path(db(sql(env, """
            SELECT pc.path_id, pc.ticket_id FROM {path_concepts} pc
            JOIN {paths} p ON p.id = pc.path_id
            WHERE p.cognito_user_id=%s
            ORDER BY pc.path_id, pc.position, pc.ticket_id"""), (sub,)))
        concepts = [_concept_rows(env, db, sub, batch)
                    for batch in _batches(ids)]
    merged = {}
    for part in concepts:
        merged.update(part)
    concept_list = [merged[i] for i in ids if i in merged]
    loop = StudyLoop(env)
    people = _People(env, sub)
    for concept in concept_list:
        # The answer the concept's page shows, by the study loop's rule:
        # none before mastery, none while a review is due.
        loaded = loop.concept(sub, concept['id'])
        concept['expected_answer'] = loop.expected_answer(sub, loaded) \
            if loaded is not None else None
        for attempt in concept['attempts']:
            grader = attempt['grader'] or ''
            if grader.startswith(INSTRUCTOR_PREFIX):
                attempt['grader'] = INSTRUCTOR_PREFIX.rstrip(':')
                attempt['instructor'] = people.name(
                    grader[len(INSTRUCTOR_PREFIX):])
        for decision in concept['decisions']:
            decision['decided_by'] = people.name(decision['decided_by'])
        for comment in concept['comments']:
            comment['author'] = people.name(comment['author'])
    attempts = sum(len(c['attempts']) for c in concept_list)
    return {
        'format': EXPORT_FORMAT, 'version': EXPORT_VERSION,
        'exported_at': datetime_now(utc).isoformat(),
        'learner': {'sub': sub, 'username': username, 'name': name},
        'totals': {
            'paths': len(paths), 'concepts': len(concept_list),
            'attempts': attempts,
            'mastered': sum(1 for c in concept_list
                            if c['progress']['status'] == 'mastered'),
            'time_spent_minutes': round(sum(
                c['progress']['time_spent_minutes'] for c in concept_list),
                2)},
        'paths': [{
            'id': str(path_id), 'title': title, 'query': query,
            'question_difficulty': int(difficulty),
            'created_at': _time(created),
            'concepts': path_concepts.get(str(path_id), [])}
            for path_id, title, query, difficulty, created in paths],
        'concepts': concept_list,
    }


class _People(object):
    """The names an export shows for people (comment authors,
    instructors): their Trac session's name, else their Cognito username,
    as every page names them; never another person's sub. The learner's
    own sub stays when they have neither (the export names it anyway)."""

    def __init__(self, env, sub):
        self.env = env
        self.sub = sub
        self._names = {}

    def name(self, person):
        if not person:
            return None
        if person not in self._names:
            self._names[person] = person_name(self.env, person) or \
                (person if person == self.sub else None)
        return self._names[person]


def _by_path(rows):
    found = {}
    for path_id, ticket_id in rows:
        found.setdefault(str(path_id), []).append(int(ticket_id))
    return found


def _concept_rows(env, db, sub, ids):
    """The export of concepts `ids` of `sub`, by id."""
    where = _in(ids)
    tickets = db("""
        SELECT id, summary, milestone, status, resolution, time, changetime
        FROM ticket WHERE id %s""" % where, ids)
    custom = _grouped(db("""
        SELECT ticket, name, value FROM ticket_custom WHERE ticket %s
        ORDER BY ticket, name""" % where, ids))
    comments = _grouped(db("""
        SELECT ticket, time, author, newvalue FROM ticket_change
        WHERE ticket %s AND field='comment' AND newvalue <> ''
        ORDER BY ticket, time""" % where, ids))
    # The expected answer is not read here: the study loop decides
    # whether the learner may see it (`export_learner_data`).
    chunks = {int(r[0]): r[1] for r in db(sql(env, """
        SELECT ticket_id, chunk_id FROM {concept_metadata}
        WHERE ticket_id %s""" % where), ids)}
    prerequisites = _grouped(db(sql(env, """
        SELECT concept_ticket_id, prerequisite_ticket_id
        FROM {prerequisites} WHERE concept_ticket_id %s
        ORDER BY concept_ticket_id, prerequisite_ticket_id""" % where), ids))
    args = [sub] + list(ids)
    progress = {int(r[0]): r[1:] for r in db(sql(env, """
        SELECT ticket_id, status, answer_score, best_score,
               time_spent_minutes, notes, started_at, last_accessed,
               completed_at, last_answer, answer_feedback
        FROM {progress} WHERE cognito_user_id=%%s AND ticket_id %s"""
        % where), args)}
    attempts = _grouped(db(sql(env, """
        SELECT a.ticket_id, a.attempt, a.answer, a.score, a.feedback,
               a.grader, a.time_spent_seconds, a.created_at, a.evidence,
               a.confidence, a.confidence_reason, a.overridden_by,
               q.question
        FROM {attempts} a LEFT JOIN {questions} q ON q.id = a.question_id
        WHERE a.cognito_user_id=%%s AND a.ticket_id %s
        ORDER BY a.ticket_id, a.attempt""" % where), args))
    disputes = _grouped(db(sql(env, """
        SELECT ticket_id, attempt, reason, status, created_at, closed_at
        FROM {disputes} WHERE cognito_user_id=%%s AND ticket_id %s
        ORDER BY ticket_id, created_at, id""" % where), args))
    follow_ups = _grouped(db(sql(env, """
        SELECT ticket_id, attempt, question, key_point, status,
               answered_attempt, created_at
        FROM {follow_ups} WHERE cognito_user_id=%%s AND ticket_id %s
        ORDER BY ticket_id, created_at, id""" % where), args))
    decisions = _grouped(db(sql(env, """
        SELECT ticket_id, attempt, decision_attempt, kind, old_score,
               new_score, comment, created_at, decided_by
        FROM {decisions} WHERE cognito_user_id=%%s AND ticket_id %s
        ORDER BY ticket_id, created_at, id""" % where), args))
    cards = {int(r[0]): r[1:] for r in db(sql(env, """
        SELECT ticket_id, state, stability, difficulty, due, last_review,
               reviews, lapses
        FROM {review_cards} WHERE cognito_user_id=%%s AND ticket_id %s"""
        % where), args)}
    review_log = _grouped(db(sql(env, """
        SELECT ticket_id, reviewed_at, kind, rating, score, attempt,
               elapsed_days, due
        FROM {review_log} WHERE cognito_user_id=%%s AND ticket_id %s
        ORDER BY ticket_id, reviewed_at, id""" % where), args))
    concepts = {}
    for ticket_id, summary, milestone, status, resolution, created, \
            changed in tickets:
        ticket_id = int(ticket_id)
        fields = {name: value for _t, name, value
                  in custom.get(ticket_id, [])}
        chunk_id = chunks.get(ticket_id)
        p = progress.get(ticket_id)
        concepts[ticket_id] = {
            'id': ticket_id, 'concept': summary, 'subject': milestone or None,
            'ticket_status': status, 'resolution': resolution or None,
            'created_at': _time(created), 'changed_at': _time(changed),
            'question': fields.get('question'),
            'question_difficulty': fields.get('question_difficulty'),
            'chunk_id': chunk_id, 'expected_answer': None,
            'prerequisites': [int(r[1])
                              for r in prerequisites.get(ticket_id, [])],
            'progress': _progress(p),
            'attempts': [{
                'attempt': int(a[1]), 'question': a[12], 'answer': a[2],
                'score': _float(a[3]), 'feedback': a[4], 'grader': a[5],
                'time_spent_seconds': a[6], 'created_at': _time(a[7]),
                'evidence': _json(a[8]), 'confidence': a[9],
                'confidence_reason': a[10],
                'overridden_by': None if a[11] is None else int(a[11])}
                for a in attempts.get(ticket_id, [])],
            'disputes': [{
                'attempt': int(d[1]), 'reason': d[2], 'status': d[3],
                'created_at': _time(d[4]), 'closed_at': _time(d[5])}
                for d in disputes.get(ticket_id, [])],
            'follow_ups': [{
                'attempt': int(f[1]), 'question': f[2], 'key_point': f[3],
                'status': f[4], 'answered_attempt': f[5],
                'created_at': _time(f[6])}
                for f in follow_ups.get(ticket_id, [])],
            'decisions': [{
                'attempt': int(d[1]), 'decision_attempt': int(d[2]),
                'kind': d[3], 'old_score': _float(d[4]),
                'new_score': _float(d[5]), 'comment': d[6],
                'created_at': _time(d[7]), 'decided_by': d[8]}
                for d in decisions.get(ticket_id, [])],
            'review_card': _card(cards.get(ticket_id)),
            'review_log': [{
                'reviewed_at': _time(r[1]), 'kind': r[2],
                'rating': int(r[3]), 'score': _float(r[4]),
                'attempt': r[5], 'elapsed_days': _float(r[6]),
                'due': _time(r[7])}
                for r in review_log.get(ticket_id, [])],
            'comments': [{
                'time': _time(c[1]), 'author': c[2], 'text': c[3]}
                for c in comments.get(ticket_id, [])],
        }
    return concepts


def _progress(row):
    if row is None:
        return {'status': 'not_started', 'score': None, 'best_score': None,
                'time_spent_minutes': 0.0, 'notes': '', 'started_at': None,
                'last_accessed': None, 'completed_at': None,
                'last_answer': None, 'feedback': None}
    status, score, best, minutes, notes, started, accessed, completed, \
        last_answer, feedback = row
    return {'status': status, 'score': _float(score),
            'best_score': _float(best),
            'time_spent_minutes': float(minutes or 0), 'notes': notes or '',
            'started_at': _time(started), 'last_accessed': _time(accessed),
            'completed_at': _time(completed), 'last_answer': last_answer,
            'feedback': feedback}


def _card(row):
    if row is None:
        return None
    state, stability, difficulty, due, last, reviews, lapses = row
    return {'state': {1: 'learning', 2: 'review', 3: 'relearning'}.get(
                int(state), str(state)),
            'stability': _float(stability), 'difficulty': _float(difficulty),
            'due': _time(due), 'last_review': _time(last),
            'reviews': int(reviews), 'lapses': int(lapses)}


def export_filename(now=None):
    """The name a download of the export is saved under."""
    now = now or datetime_now(utc)
    return 'tracl-learning-data-%s.json' % now.strftime('%Y-%m-%d')


# Delete -------------------------------------------------------------------

def delete_learner_data(env, sub):
    """Delete everything TracLearn keeps of learner `sub` (see the module's
    doc) in one transaction; returns `Deleted`. The instructors' decisions
    on their answers stay, under an anonymous marker. Afterwards the
    learner's cached views are retired, the concept tickets' attachment
    files removed and the listeners of ticket deletions told."""
    if not sub:
        raise ValueError("a learner's sub is required")
    marker = ANONYMOUS_LEARNER_PREFIX + uuid.uuid4().hex
    with env.db_transaction as db:
        # A write first: on SQLite it takes the database's write lock (and
        # opens the transaction), so no path can be created between the
        # reads below and the deletes. Before the attempts go: a decision
        # keeps its audit record, under the marker, and no longer names or
        # reaches the learner's answers.
        db(sql(env, "UPDATE {decisions} SET cognito_user_id=%s "
                    "WHERE cognito_user_id=%s"), (marker, sub))
        anonymised = _count(env, db, 'decisions', marker)
        counts = {}
        for table in ('review_log', 'review_cards', 'follow_ups',
                      'disputes', 'attempts', 'progress', 'paths'):
            counts[table] = _count(env, db, table, sub)
        # Children first, so that none of it depends on cascades (the
        # tickets' own cascades clear concept metadata and links).
        for table in ('review_log', 'review_cards', 'follow_ups',
                      'disputes', 'attempts', 'progress'):
            db(sql(env, "DELETE FROM {%s} WHERE cognito_user_id=%%s"
                        % table), (sub,))
        db(sql(env, """
            DELETE FROM {path_concepts} WHERE path_id IN (
                SELECT id FROM {paths} WHERE cognito_user_id=%s)"""), (sub,))
        db(sql(env, "DELETE FROM {paths} WHERE cognito_user_id=%s"), (sub,))
        # The active path named a path that is gone.
        db("""DELETE FROM session_attribute
              WHERE sid=%s AND authenticated=1 AND name=%s""",
           (sub, ACTIVE_PATH_ATTRIBUTE))
        ids, tickets, attachments = [], [], []
        # Until none is left: on PostgreSQL each statement sees what other
        # transactions committed meanwhile, so a path created while this
        # runs may add concept tickets after the first read.
        while True:
            found = [i for i in concept_ids(env, db, sub) if i not in ids]
            if not found:
                break
            tickets.extend(Ticket(env, ticket_id) for ticket_id in found)
            attachments.extend(
                a for ticket_id in found
                for a in Attachment.select(env, 'ticket', ticket_id))
            _delete_tickets(env, db, found)
            ids.extend(found)
    _after_commit(env, sub, ids, tickets, attachments)
    return Deleted(len(ids), counts['paths'], counts['progress'],
                   counts['attempts'], counts['disputes'],
                   counts['follow_ups'], counts['review_cards'],
                   counts['review_log'], anonymised)


def _count(env, db, table, sub):
    return int(db(sql(env, "SELECT COUNT(*) FROM {%s} "
                           "WHERE cognito_user_id=%%s" % table),
                  (sub,))[0][0])


def _delete_tickets(env, db, ids):
    """Delete concept tickets `ids` as Trac's `Ticket.delete` does, rows
    only: their attachments' records, custom fields, changes and the
    tickets (the learning rows referencing them cascade). Files and
    listeners wait for the commit (`_after_commit`)."""
    for batch in _batches(ids):
        where = _in(batch)
        db("DELETE FROM attachment WHERE type='ticket' AND id %s" % where,
           [str(i) for i in batch])
        db("DELETE FROM ticket_custom WHERE ticket %s" % where, batch)
        db("DELETE FROM ticket_change WHERE ticket %s" % where, batch)
        db("DELETE FROM ticket WHERE id %s" % where, batch)


def _after_commit(env, sub, ids, tickets, attachments):
    """What follows a committed deletion outside the database."""
    cache = LearningCache(env)
    cache.bump_progress_version(sub)
    cache.delete(*[progress_key(sub, i) for i in ids])
    # The cached profile still names the deleted active path.
    LearnerProfiles(env).forget(sub)
    directories = set()
    for attachment in attachments:
        directories.add(os.path.dirname(attachment.path))
        try:
            os.unlink(attachment.path)
        except OSError as e:
            env.log.warning("Cannot delete attachment file %s: %s",
                            attachment.path, e)
    for directory in directories:
        try:
            os.rmdir(directory)
        except OSError:
            pass
    for attachment in attachments:
        for listener in AttachmentModule(env).change_listeners:
            _tell(env, listener.attachment_deleted, attachment)
    for ticket in tickets:
        for listener in TicketSystem(env).change_listeners:
            _tell(env, listener.ticket_deleted, ticket)


def _tell(env, notify, subject):
    # The rows are gone for good: a listener failing must not make the
    # caller believe the deletion failed.
    try:
        notify(subject)
    except Exception as e:
        env.log.error("A listener failed after a learner's data was "
                      "deleted: %s", e)
