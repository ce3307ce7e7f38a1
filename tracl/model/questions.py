"""The question store: the one home of the SQL on the `questions` table.

Questions are keyed by chunk and shared by every learner: a question is
written once for a chunk (by hand for the starter corpus, or by the
provider the first time a learner needs one) and asked of everyone who
studies that chunk. A question is stored only once it passes the rubric
rules of `tracl.model.rubrics` against its chunk's text, and a chunk never
holds the same question twice: storing one that is already there returns
the stored row, so two learners creating the same chunk's concept at once
write it once.

Which question a concept asks now is `concept_metadata.question_id`; the
rules of a question and its rubric are `tracl.model.rubrics`'.
"""

import json
from collections import namedtuple

from trac.util.datefmt import datetime_now, to_utimestamp, utc

from tracl.model.rubrics import (MAX_GRADING_MISCONCEPTIONS, KeyPoint,
                                 Misconception, Question,
                                 QuestionError, Rubric, check_question,
                                 question_problems)
from tracl.schema import sql

#: Who wrote the questions shipped with the starter corpus.
STARTER_AUTHOR = 'starter'

_COLUMNS = ('id, chunk_id, difficulty, question, expected_answer, rubric, '
            'author, created_at')


class StoredQuestion(namedtuple('StoredQuestion', [
        'id', 'chunk_id', 'difficulty', 'question', 'expected_answer',
        'rubric', 'author', 'created_at'])):
    """A row of the question store: `rubric` is a `Rubric`, `author` who
    wrote it, `created_at` Trac's microseconds."""

    __slots__ = ()

    def as_question(self):
        """The stored question as a `tracl.model.rubrics.Question`."""
        return Question(self.chunk_id, self.question, self.difficulty,
                        self.expected_answer, self.rubric.key_points,
                        self.rubric.misconceptions)


#: What importing question records did: how many were added, how many
#: were there already, and the rejected ones as `(where, reason)`.
ImportReport = namedtuple('ImportReport', ['added', 'existing', 'rejected'])


# The rubric's JSON form ---------------------------------------------------

def rubric_json(rubric):
    """`rubric` as the JSON text the `rubric` column holds: the
    `key_points` and `misconceptions` of the question files."""
    return json.dumps({
        'key_points': [{'point': k.point, 'sources': list(k.sources)}
                       for k in rubric.key_points],
        'misconceptions': [{'claim': m.claim, 'correction': m.correction}
                           for m in rubric.misconceptions]},
        ensure_ascii=False, sort_keys=True)


def rubric_from_json(text):
    """The `Rubric` of a `rubric` column."""
    return rubric_from_record(json.loads(text or '{}'))


def rubric_from_record(record):
    """The `Rubric` of a question record (a `rubric` column's JSON, or a
    line of the starter question files: `key_points` and
    `misconceptions`)."""
    return Rubric(
        [KeyPoint(k['point'], list(k['sources']))
         for k in record.get('key_points', [])],
        [Misconception(m['claim'], m['correction'])
         for m in record.get('misconceptions', [])])


def question_record(chunk_id, generated):
    """The question record (as the question files write it) of a question
    a provider wrote (`tracl.llm.GeneratedQuestion`) about chunk
    `chunk_id`, ready for `question_problems`."""
    return {
        'chunk_id': chunk_id, 'question': generated.question,
        'difficulty': generated.difficulty,
        'expected_answer': generated.expected_answer,
        'key_points': [{'point': k.point, 'sources': list(k.sources)}
                       for k in generated.key_points],
        'misconceptions': [{'claim': m.claim, 'correction': m.correction}
                           for m in generated.misconceptions]}


def _row(row):
    qid, chunk_id, difficulty, question, expected, rubric, author, \
        created = row
    return StoredQuestion(int(qid), chunk_id, int(difficulty), question,
                          expected, rubric_from_json(rubric), author,
                          created)


# Reading ------------------------------------------------------------------

def load_question(env, question_id):
    """The stored question `question_id`, or None."""
    with env.db_query as db:
        rows = db(sql(env, 'SELECT %s FROM {questions} WHERE id=%%s'
                      % _COLUMNS), (question_id,))
    return _row(rows[0]) if rows else None


def chunk_questions(env, chunk_id):
    """Every stored question of chunk `chunk_id`, by difficulty, then
    oldest first."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT %s FROM {questions} WHERE chunk_id=%%s
            ORDER BY difficulty, created_at, id""" % _COLUMNS), (chunk_id,))
    return [_row(row) for row in rows]


def chunk_of(env, ticket_id):
    """The chunk id concept `ticket_id` was made from, or None."""
    for chunk_id, in env.db_query(sql(env, """
            SELECT chunk_id FROM {concept_metadata} WHERE ticket_id=%s"""),
            (ticket_id,)):
        return chunk_id
    return None


def current_question_id(env, db, ticket_id):
    """The id of the question concept `ticket_id` asks now (None for a
    concept made before questions were stored), read with `db`."""
    rows = db(sql(env, """
        SELECT question_id FROM {concept_metadata} WHERE ticket_id=%s"""),
        (ticket_id,))
    return rows[0][0] if rows else None


def next_review_question(env, db, sub, ticket_id, current_id):
    """The question the next review of `sub`'s concept asks, so that a
    review never repeats the question just answered: another stored
    question of its chunk, the one they answered least, then the nearest
    in difficulty to the current one, then the oldest; None when the
    chunk has no other."""
    found = db(sql(env, """
        SELECT chunk_id FROM {concept_metadata} WHERE ticket_id=%s"""),
        (ticket_id,))
    if not found:
        return None
    questions = [_row(row) for row in db(sql(env, """
        SELECT %s FROM {questions} WHERE chunk_id=%%s
        ORDER BY difficulty, created_at, id""" % _COLUMNS), (found[0][0],))]
    current = next((q for q in questions if q.id == current_id), None)
    others = [q for q in questions if q.id != current_id]
    if not others:
        return None
    answered = dict(db(sql(env, """
        SELECT question_id, COUNT(*) FROM {attempts}
        WHERE cognito_user_id=%s AND ticket_id=%s
          AND question_id IS NOT NULL
        GROUP BY question_id"""), (sub, ticket_id)))
    level = current.difficulty if current is not None else 3
    return min(others, key=lambda q: (answered.get(q.id, 0),
                                      abs(q.difficulty - level),
                                      q.created_at, q.id))


def ask_question(env, db, ticket, question):
    """Make the concept of `ticket` ask `question` (a `StoredQuestion`)
    from now on: its metadata and its ticket's question fields (saved
    with the ticket's next change)."""
    db(sql(env, """
        UPDATE {concept_metadata} SET question_id=%s, expected_answer=%s
        WHERE ticket_id=%s"""), (question.id, question.expected_answer,
                                    ticket.id))
    ticket['question'] = question.question
    ticket['question_difficulty'] = str(question.difficulty)


def grading_rubric(stored, siblings):
    """The `Rubric` an answer to `stored` is graded by: its own key
    points, and its misconceptions followed by those of `siblings` (the
    other questions of its chunk). A false claim about the chunk is wrong
    whichever of its questions the learner answers: "matrix
    multiplication is commutative" must not master the question that
    asks only how a product is computed."""
    known = list(stored.rubric.misconceptions)
    for other in siblings:
        if other.id != stored.id:
            known.extend(m for m in other.rubric.misconceptions
                         if m not in known)
    if len(known) == len(stored.rubric.misconceptions):
        return stored.rubric
    return Rubric(stored.rubric.key_points,
                  known[:MAX_GRADING_MISCONCEPTIONS])


def load_grading_rubric(env, question_id):
    """`grading_rubric` of the stored question `question_id` (None when
    there is no such question)."""
    stored = load_question(env, question_id)
    if stored is None:
        return None
    return grading_rubric(stored, chunk_questions(env, stored.chunk_id))


def pick_question(env, chunk_id, difficulty):
    """The question of chunk `chunk_id` to ask at `difficulty`, or None
    when the chunk has none."""
    return pick_questions(env, [chunk_id], difficulty).get(chunk_id)


def pick_questions(env, chunk_ids, difficulty):
    """`{chunk_id: StoredQuestion}` of the chunks among `chunk_ids` that
    have questions: for each, the one nearest to `difficulty` (an int, or
    a `{chunk_id: difficulty}` mapping), the oldest among equals, so every
    learner asking at one difficulty gets the same question."""
    chunk_ids = list(dict.fromkeys(chunk_ids))
    found = {}
    for start in range(0, len(chunk_ids), 500):
        # Stay well below SQLite's limit of bound parameters.
        batch = chunk_ids[start:start + 500]
        with env.db_query as db:
            rows = db(sql(env, """
                SELECT %s FROM {questions} WHERE chunk_id IN (%s)
                ORDER BY created_at, id""" % (
                _COLUMNS, ','.join(['%s'] * len(batch)))), batch)
        for row in rows:
            question = _row(row)
            wanted = difficulty.get(question.chunk_id) \
                if isinstance(difficulty, dict) else difficulty
            best = found.get(question.chunk_id)
            # Rows come oldest first: only a strictly nearer one replaces.
            if best is None or abs(question.difficulty - wanted) < \
                    abs(best.difficulty - wanted):
                found[question.chunk_id] = question
    return found


# Writing ------------------------------------------------------------------

def store_question(env, record, content, author, db=None):
    """Store question record `record` (as the question files write it)
    about a chunk whose text is `content`, written by `author`, and return
    its `StoredQuestion`.

    Raises `QuestionError` when the question or its rubric breaks the
    rules; nothing is written then. A question the chunk already holds is
    not written again: the stored one is returned. With `db`, the write is
    part of that transaction (a learning path's).
    """
    question = check_question(record, content)
    if not question.chunk_id:
        raise QuestionError('a question must name its chunk (chunk_id)')
    if db is None:
        with env.db_transaction as db:
            return _insert_or_get(env, db, question, author)
    return _insert_or_get(env, db, question, author)


def _insert_or_get(env, db, question, author):
    now = to_utimestamp(datetime_now(utc))
    # A concurrent insert of the same question waits for the other
    # transaction and then does nothing; the SELECT after it sees the row
    # that transaction committed.
    db(sql(env, """
        INSERT INTO {questions} (chunk_id, difficulty, question,
                                 expected_answer, rubric, author, created_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (chunk_id, question) DO NOTHING"""),
       (question.chunk_id, question.difficulty, question.question,
        question.expected_answer, rubric_json(question.rubric), author, now))
    rows = db(sql(env, 'SELECT %s FROM {questions} '
                  'WHERE chunk_id=%%s AND question=%%s' % _COLUMNS),
              (question.chunk_id, question.question))
    return _row(rows[0])


def import_questions(env, records, contents, author=STARTER_AUTHOR):
    """Store question records `records` (dicts as the question files hold
    them, or `(where, record)` pairs naming where each comes from) about
    the chunks whose texts are `contents` (`{chunk_id: content}`), in one
    transaction, and return an `ImportReport`. A record whose chunk is not
    in `contents`, or that breaks the rubric rules, is rejected with the
    reason; the others are stored (a question already stored counts as
    existing)."""
    added = existing = 0
    rejected = []
    with env.db_transaction as db:
        for number, item in enumerate(records, 1):
            where, record = item if isinstance(item, tuple) \
                else ('question %d' % number, item)
            if not isinstance(record, dict):
                rejected.append((where, 'a question must be a JSON object'))
                continue
            chunk_id = record.get('chunk_id')
            if not isinstance(chunk_id, str) or chunk_id not in contents:
                rejected.append((where, 'chunk %r is not in the chunk store'
                                 % (chunk_id,)))
                continue
            problems = question_problems(record, contents[chunk_id])
            if problems:
                rejected.append((where, '; '.join(problems)))
                continue
            before = db(sql(env, 'SELECT 1 FROM {questions} '
                            'WHERE chunk_id=%s AND question=%s'),
                        (chunk_id, record['question'].strip()))
            store_question(env, record, contents[chunk_id], author, db=db)
            if before:
                existing += 1
            else:
                added += 1
    return ImportReport(added, existing, rejected)
