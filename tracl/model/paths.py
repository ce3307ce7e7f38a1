"""Learning paths: a learner's query turned into concept tickets, and the
path summaries of *My learning* and the API.

A concept is a `learning_concept` ticket owned by the learner's `sub`; a
path lists concepts (`path_concepts`), and a concept may be in several of
the learner's paths. Prerequisite links are stored once, between the
learner's concept tickets.
"""

import uuid
from collections import namedtuple

from trac.ticket.model import Milestone, Ticket
from trac.util.datefmt import datetime_now, from_utimestamp, to_utimestamp, \
    utc

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.chunks import DEFAULT_DIFFICULTY, prerequisite_names
from tracl.model.concepts import (NO_LOCKS, concept_description,
                                  learner_status, locks)
from tracl.model.questions import (STARTER_AUTHOR, pick_question,
                                   question_record, store_question)
from tracl.model.study_order import (OrderedConcept, next_step,
                                     study_order, unlock_counts)
from tracl.schema import dialect, sql

#: Who reports the concept tickets a learning path creates.
REPORTER = 'learning-system'

#: Longest path title, as the `paths.title` column.
MAX_TITLE = 200

PathSummary = namedtuple('PathSummary', [
    'path_id', 'title', 'query', 'created', 'total', 'mastered', 'studying',
    'completion'])

#: A path's summary row (the path summary view, with the learner's
#: query); callers add the WHERE clause.
_SUMMARY_SQL = """
    SELECT v.path_id, v.path_title, p.query_text, v.created_at,
           v.total_concepts, v.mastered_concepts, v.studying_concepts,
           v.completion_percentage
    FROM {path_summary_view} v JOIN {paths} p ON p.id = v.path_id
    """


def _summary(row):
    path_id, title, query, created, total, mastered, studying, done = row
    return PathSummary(str(path_id), title, query, from_utimestamp(created),
                       int(total), int(mastered), int(studying),
                       float(done or 0))

#: What `create_learning_path` needs per concept: the chunk, its relevance
#: and raw cosine, and its question (None when the learner's concept is
#: reused): a stored question (`question_id` set), or one a provider wrote
#: (a `tracl.llm.GeneratedQuestion` whose rubric passed the rules) to be
#: stored in the path's transaction under `author`. A written question
#: without `author` (a provider that writes no rubric) is kept in the
#: concept's ticket alone, as before questions were stored.
NewConcept = namedtuple('NewConcept', ['chunk', 'relevance', 'cosine',
                                       'question', 'question_id', 'author'],
                        defaults=(None, None))



CreatedConcept = namedtuple('CreatedConcept', [
    'ticket_id', 'chunk_id', 'concept', 'subject', 'question', 'reused'])


def path_summaries(env, sub):
    """The learner's paths, newest first, with their progress counts (the
    path summary view)."""
    with env.db_query as db:
        rows = db(sql(env, _SUMMARY_SQL + """
            WHERE v.cognito_user_id=%s
            ORDER BY v.created_at DESC, v.path_id"""), (sub,))
    return [_summary(row) for row in rows]


def paths_holding(env, sub, ticket_id):
    """The ids of `sub`'s paths that list concept `ticket_id`, newest
    first."""
    return [str(path_id) for path_id, in env.db_query(sql(env, """
        SELECT p.id FROM {path_concepts} pc
        JOIN {paths} p ON p.id = pc.path_id
        WHERE pc.ticket_id=%s AND p.cognito_user_id=%s
        ORDER BY p.created_at DESC, p.id"""), (ticket_id, sub))]


def learner_concepts_by_chunk(env, sub, chunk_ids):
    """`{chunk_id: ticket_id}` of the learner's existing concepts among
    `chunk_ids`."""
    chunk_ids = list(chunk_ids)
    if not chunk_ids:
        return {}
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT cm.chunk_id, cm.ticket_id
            FROM {concept_metadata} cm JOIN ticket t ON t.id = cm.ticket_id
            WHERE t.owner=%%s AND t.type=%%s AND cm.chunk_id IN (%s)
            """ % ','.join(['%s'] * len(chunk_ids))),
            [sub, CONCEPT_TICKET_TYPE] + chunk_ids)
    return {chunk_id: ticket_id for chunk_id, ticket_id in rows}


def learner_concept_index(env, sub):
    """`{(subject, concept name): (ticket_id, chunk_id)}` of every concept
    the learner has."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT t.id, t.milestone, t.summary, cm.chunk_id
            FROM ticket t JOIN {concept_metadata} cm ON cm.ticket_id = t.id
            WHERE t.owner=%s AND t.type=%s
            """), (sub, CONCEPT_TICKET_TYPE))
    return {(subject, name): (ticket_id, chunk_id)
            for ticket_id, subject, name, chunk_id in rows}


def path_title(topic):
    title = ' '.join(topic.split())
    return (title[:MAX_TITLE - 1] + '\u2026') if len(title) > MAX_TITLE \
        else title


def create_learning_path(env, sub, query, title, difficulty, concepts,
                         chunk_lookup):
    """Write a learning path in ONE transaction and return
    `(path_id, [CreatedConcept])`.

    `concepts` are `NewConcept`s in the order the path shows them; a
    concept whose chunk the learner already has is reused, never
    duplicated. `chunk_lookup(chunk_ids)` returns the chunks of the
    learner's other concepts, so prerequisite links to and from them are
    made too. A failure rolls everything back.
    """
    now_dt = datetime_now(utc)
    now = to_utimestamp(now_dt)
    path_id = str(uuid.uuid4())
    created = []
    with env.db_transaction as db:
        # Two creates of one learner must not both decide a chunk is new:
        # serialise them. The path row is written first (SQLite then holds
        # its write lock), and PostgreSQL takes a lock on the learner.
        if dialect(env) == 'postgres':
            db("SELECT pg_advisory_xact_lock(hashtext(%s))",
               ('tracl-path:' + sub,))
        db(sql(env, """
            INSERT INTO {paths} (id, title, query_text, cognito_user_id,
                                 created_at, total_chunks, question_difficulty)
            VALUES (%s, %s, %s, %s, %s, %s, %s)"""),
           (path_id, title, query, sub, now, len(concepts), difficulty))
        existing = learner_concepts_by_chunk(
            env, sub, [c.chunk['id'] for c in concepts])
        milestones = {m.name for m in Milestone.select(env,
                                                       include_completed=True)}
        for index, item in enumerate(concepts):
            chunk = item.chunk
            # A foundation (a chunk the search added because its results
            # need it) has no relevance of its own: it ranks before every
            # search result of the path, since it is needed first.
            position = index - len(concepts) if item.relevance is None \
                else index
            ticket_id = existing.get(chunk['id'])
            reused = ticket_id is not None
            if not reused:
                if chunk['subject'] not in milestones:
                    milestone = Milestone(env)
                    milestone.name = chunk['subject']
                    milestone.description = \
                        'Concepts of %s, from learning paths.' % \
                        chunk['subject']
                    milestone.insert()
                    milestones.add(chunk['subject'])
                item = _stored_question(env, db, item)
                ticket_id = _insert_concept_ticket(env, sub, query, item,
                                                   now_dt)
                # The expected answer is still written beside the question
                # id for readers that know no question store; the study
                # loop reads the question's own.
                db(sql(env, """
                    INSERT INTO {concept_metadata} (ticket_id, chunk_id,
                        relevance, cosine, expected_answer,
                        question_generated, created_at, question_id)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"""),
                   (ticket_id, chunk['id'], item.relevance, item.cosine,
                    item.question.expected_answer,
                    item.question_id is None or item.author != STARTER_AUTHOR,
                    now, item.question_id))
                existing[chunk['id']] = ticket_id
            db(sql(env, """
                INSERT INTO {path_concepts} (path_id, ticket_id, position,
                                             added_at)
                VALUES (%s, %s, %s, %s)"""),
               (path_id, ticket_id, position, now))
            created.append(CreatedConcept(
                ticket_id, chunk['id'], chunk['concept'], chunk['subject'],
                item.question.question if item.question else None, reused))
        _link_prerequisites(env, db, sub, concepts, chunk_lookup, now)
    return path_id, created


def _stored_question(env, db, item):
    """`item` with its question stored: a question another create stored
    for the chunk meanwhile is used rather than storing a second one; a
    provider's question is stored once, for every learner."""
    if item.question_id is not None or item.author is None:
        return item
    chunk = item.chunk
    found = pick_question(env, chunk['id'], item.question.difficulty)
    if found is None:
        found = store_question(env, question_record(chunk['id'],
                                                    item.question),
                               chunk['content'], item.author, db=db)
    return item._replace(question=found, question_id=found.id,
                         author=found.author)


def _insert_concept_ticket(env, sub, query, item, when):
    ticket = Ticket(env)
    # Set the values directly: `populate` drops fields missing from Trac's
    # cached field list (a type or milestone added in this transaction).
    values = {
        'type': CONCEPT_TICKET_TYPE, 'status': 'new',
        'summary': item.chunk['concept'],
        'description': concept_description(item.chunk['content']),
        'milestone': item.chunk['subject'], 'owner': sub,
        'reporter': REPORTER,
        'question': item.question.question,
        'question_difficulty': str(item.question.difficulty),
        'question_context': query,
    }
    for name, value in values.items():
        ticket[name] = value
    return ticket.insert(when=when)


def _link_prerequisites(env, db, sub, concepts, chunk_lookup, now):
    """Link the learner's concepts by their chunks' prerequisite metadata:
    names resolve within the chunk's subject, among the learner's own
    concepts. Links touching a concept of this path are added."""
    index = learner_concept_index(env, sub)
    by_chunk = {chunk_id: ticket_id
                for ticket_id, chunk_id in index.values()}
    chunks = {c.chunk['id']: c.chunk for c in concepts}
    others = [chunk_id for chunk_id in by_chunk if chunk_id not in chunks]
    chunks.update(chunk_lookup(others) if others else {})
    in_path = {by_chunk[c.chunk['id']] for c in concepts
               if c.chunk['id'] in by_chunk}
    links = set()
    for chunk_id, chunk in chunks.items():
        concept = by_chunk.get(chunk_id)
        if concept is None:
            continue
        for name in prerequisite_names(chunk.get('has_prerequisite')):
            found = index.get((chunk['subject'], name))
            if found and found[0] != concept:
                links.add((concept, found[0]))
        for name in prerequisite_names(chunk.get('prerequisite_for')):
            found = index.get((chunk['subject'], name))
            if found and found[0] != concept:
                links.add((found[0], concept))
    for concept, prerequisite in sorted(links):
        if concept in in_path or prerequisite in in_path:
            db(sql(env, """
                INSERT INTO {prerequisites} (concept_ticket_id,
                    prerequisite_ticket_id, created_at)
                VALUES (%s, %s, %s)
                ON CONFLICT (concept_ticket_id, prerequisite_ticket_id)
                DO NOTHING"""), (concept, prerequisite, now))


def path_detail(env, sub, path_id):
    """The learner's path with its concepts in study order
    (`tracl.model.study_order`) and the concept to study next, or None
    (no such path, or another learner's). Whether a concept is locked is
    the concept rule's (`tracl.model.concepts.locks`).

    `next_up` is None when every concept is mastered or what is left is
    locked (by a prerequisite outside the path), else `{ticket_id,
    concept, start}`, `start` being true while nothing of the path has
    been started."""
    with env.db_query as db:
        rows = db(sql(env, _SUMMARY_SQL + """
            WHERE v.path_id=%s AND v.cognito_user_id=%s"""),
                  (path_id, sub))
        if not rows:
            return None
        summary = _summary(rows[0])
        concepts = db(sql(env, """
            SELECT t.id, t.summary, t.milestone, %s, p.answer_score,
                   p.best_score, pc.position, d.value
            FROM {path_concepts} pc
            JOIN ticket t ON t.id = pc.ticket_id
            LEFT JOIN {progress} p
                ON p.ticket_id = t.id AND p.cognito_user_id=%%s
            LEFT JOIN ticket_custom d
                ON d.ticket = t.id AND d.name = 'question_difficulty'
            WHERE pc.path_id=%%s
            ORDER BY pc.position, t.id""" % learner_status('p')),
                      (sub, path_id))
        found = locks(env, sub, [row[0] for row in concepts])
    listed = {}
    for ticket_id, name, subject, status, score, best, position, \
            difficulty in concepts:
        lock = found.get(ticket_id, NO_LOCKS)
        listed[ticket_id] = {
            'ticket_id': ticket_id, 'concept': name, 'subject': subject,
            'status': status,
            'score': None if score is None else float(score),
            'best_score': None if best is None else float(best),
            'prerequisites': [p.ticket_id for p in lock.prerequisites],
            'locked': bool(lock.blockers),
            'difficulty': _difficulty(difficulty),
            'position': position,
        }
    ordering = [OrderedConcept(c['ticket_id'], c.pop('position'),
                               c['difficulty'], c['prerequisites'])
                for c in listed.values()]
    order = study_order(ordering)
    unlocks = unlock_counts(ordering)
    for ticket_id, concept in listed.items():
        concept['unlocks'] = unlocks[ticket_id]
    studiable = {t for t, c in listed.items()
                 if not c['locked'] and c['status'] != 'mastered'}
    following = next_step(order, unlocks, studiable)
    return {
        'summary': summary,
        'concepts': [listed[ticket_id] for ticket_id in order],
        'next_up': None if following is None else {
            'ticket_id': following,
            'concept': listed[following]['concept'],
            'start': all(c['status'] == 'not_started'
                         for c in listed.values())},
    }


def _difficulty(value):
    """A concept's question difficulty as stored in its ticket (text), or
    the middle of the scale when it is missing or not a number."""
    try:
        return min(5, max(1, int(value)))
    except (TypeError, ValueError):
        return DEFAULT_DIFFICULTY
