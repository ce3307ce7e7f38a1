"""Review cards: when a mastered concept comes back, and what an answer
to it is.

A learner's concept gets a card when they first master it. The card holds
what the review scheduler needs (its state, the memory's stability and
difficulty, the due time, the last review) and how often the concept was
reviewed and forgotten. The scheduler itself (FSRS) is the study layer's
(`tracl.study.retention`); this module keeps the cards, the review log and
the one rule that says what an answer is:

- `study`: the concept was never mastered;
- `first`: the answer that first masters it (the schedule starts, Good);
- `review`: the concept is mastered and due: a mastering score is Good,
  anything less Again (a lapse: the concept is studied again);
- `practice`: the concept is mastered and not due: the answer is recorded
  and shown, but the schedule and the mastery stay, so one careless answer
  between reviews never undoes a mastery;
- `relearning`: the concept lapsed and is not mastered again yet.

Times are microseconds since the epoch in the tables, aware datetimes in
`Card`.
"""

from collections import namedtuple

from trac.util.datefmt import from_utimestamp, to_utimestamp

from tracl.schema import sql
from tracl.util import iso

#: The scheduler's states, as the card stores them (FSRS's numbering).
LEARNING, REVIEW, RELEARNING = 1, 2, 3

#: The ratings a review gives the scheduler: pass/fail only.
AGAIN, GOOD = 1, 3

STUDY, FIRST, REVIEWED, PRACTICE, RELEARNED = \
    'study', 'first', 'review', 'practice', 'relearning'

#: A learner's card of one concept.
Card = namedtuple('Card', ['state', 'step', 'stability', 'difficulty', 'due',
                           'last_review', 'reviews', 'lapses'])

#: What an answer was for the schedule: its `kind`, the `rating` given to
#: the scheduler (None for study and practice), the card afterwards (None
#: before the first mastery) and whether it `lapsed`.
Review = namedtuple('Review', ['kind', 'rating', 'card', 'lapsed'])

_CARD_COLUMNS = ('state, step, stability, difficulty, due, last_review, '
                 'reviews, lapses')


def answer_kind(ever_mastered, status, card, now):
    """What an answer given at `now` is (see the module): from whether
    the concept was ever mastered, its progress `status` and its `card`
    (None without one)."""
    if not ever_mastered or card is None:
        return STUDY
    if status != 'mastered':
        return RELEARNED
    return REVIEWED if card.due <= now else PRACTICE


def card_from_row(row):
    state, step, stability, difficulty, due, last, reviews, lapses = row
    return Card(int(state), None if step is None else int(step),
                float(stability), float(difficulty), from_utimestamp(due),
                from_utimestamp(last), int(reviews), int(lapses))


def read_card(env, db, sub, ticket_id):
    """`sub`'s card of the concept, or None, read with `db`."""
    rows = db(sql(env, """
        SELECT %s FROM {review_cards}
        WHERE cognito_user_id=%%s AND ticket_id=%%s""" % _CARD_COLUMNS),
        (sub, ticket_id))
    return card_from_row(rows[0]) if rows else None


def cards(env, sub, ticket_ids=None):
    """`{ticket_id: Card}` of `sub`'s cards (of `ticket_ids` when
    given)."""
    query = """
        SELECT ticket_id, %s FROM {review_cards}
        WHERE cognito_user_id=%%s""" % _CARD_COLUMNS
    if ticket_ids is None:
        batches = [None]
    else:
        ticket_ids = list(ticket_ids)
        # Stay well below SQLite's limit of bound parameters.
        batches = [ticket_ids[i:i + 500]
                   for i in range(0, len(ticket_ids), 500)]
    found = {}
    with env.db_query as db:
        for batch in batches:
            text, args = query, [sub]
            if batch is not None:
                text += ' AND ticket_id IN (%s)' % ','.join(
                    ['%s'] * len(batch))
                args += batch
            found.update((row[0], card_from_row(row[1:]))
                         for row in db(sql(env, text), args))
    return found


def write_card(env, db, sub, ticket_id, card):
    """Store `sub`'s `card` of the concept (insert or replace)."""
    db(sql(env, """
        INSERT INTO {review_cards} (cognito_user_id, ticket_id, state, step,
            stability, difficulty, due, last_review, reviews, lapses)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (cognito_user_id, ticket_id) DO UPDATE SET
            state=excluded.state, step=excluded.step,
            stability=excluded.stability, difficulty=excluded.difficulty,
            due=excluded.due, last_review=excluded.last_review,
            reviews=excluded.reviews, lapses=excluded.lapses"""),
       (sub, ticket_id, card.state, card.step, card.stability,
        card.difficulty, to_utimestamp(card.due),
        to_utimestamp(card.last_review), card.reviews, card.lapses))


def log_review(env, db, sub, ticket_id, review, at, score, attempt,
               previous, scheduler):
    """Log `review` (a `Review` with a rating) of `sub`'s concept at `at`:
    the score and attempt it came from, the days since the `previous`
    review (0 for the first) and the `scheduler` that decided it."""
    elapsed = 0.0 if previous is None else max(
        0.0, (at - previous.last_review).total_seconds() / 86400.0)
    db(sql(env, """
        INSERT INTO {review_log} (cognito_user_id, ticket_id, reviewed_at,
            kind, rating, score, attempt, elapsed_days, due, scheduler)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""),
       (sub, ticket_id, to_utimestamp(at), review.kind, review.rating, score,
        attempt, elapsed, to_utimestamp(review.card.due), scheduler))


def make_due(env, ticket_id, at):
    """Make the mastered concept `ticket_id` due at `at` (an admin's "ask
    again"); returns its learner's `sub`, or None when it has no card
    (never mastered, or not studied again since a lapse)."""
    with env.db_transaction as db:
        rows = db(sql(env, """
            SELECT c.cognito_user_id FROM {review_cards} c
            JOIN {progress} p ON p.cognito_user_id = c.cognito_user_id
                AND p.ticket_id = c.ticket_id
            JOIN ticket t ON t.id = c.ticket_id
                AND t.owner = c.cognito_user_id
            WHERE c.ticket_id=%s AND p.status='mastered'"""), (ticket_id,))
        if not rows:
            return None
        db(sql(env, """
            UPDATE {review_cards} SET due=%s
            WHERE ticket_id=%s AND cognito_user_id=%s"""),
           (to_utimestamp(at), ticket_id, rows[0][0]))
        return rows[0][0]


#: A concept due for review, as the due list shows it.
DueConcept = namedtuple('DueConcept', ['ticket_id', 'concept', 'subject',
                                       'card'])


def due_concepts(env, sub, until, limit=None, after=None):
    """`sub`'s concepts with a card due at `until` or earlier (mastered
    ones due for review, and lapsed ones due to be learnt again), the
    most overdue first (ties by ticket id): at most `limit`, and only
    those due after `after` when given."""
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT c.ticket_id, t.summary, t.milestone, %s
            FROM {review_cards} c
            JOIN ticket t ON t.id = c.ticket_id AND t.owner = c.cognito_user_id
            WHERE c.cognito_user_id=%%s AND c.due <= %%s AND c.due > %%s
            ORDER BY c.due, c.ticket_id%s""" % (', '.join(
                'c.' + column.strip()
                for column in _CARD_COLUMNS.split(',')),
                '' if limit is None else ' LIMIT %d' % int(limit))),
            (sub, to_utimestamp(until),
             -1 if after is None else to_utimestamp(after)))
    return [DueConcept(ticket_id, name, subject, card_from_row(row))
            for ticket_id, name, subject, *row in rows]


# As the API shows them ------------------------------------------------------

def review_json(review):
    """What an answer was for the schedule: the `review` member of the
    submit-answer response, whose shape API clients read."""
    card = review.card
    return {'kind': review.kind,
            'rating': {GOOD: 'good', AGAIN: 'again'}.get(review.rating),
            'due': iso(card.due) if card is not None else None,
            'lapsed': review.lapsed}


def card_json(card, retrievability):
    """A concept's review state (`review` of `GET /progress/{id}`), with
    how likely the learner recalls it now."""
    return {'state': {LEARNING: 'learning', REVIEW: 'review',
                      RELEARNING: 'relearning'}[card.state],
            'due': iso(card.due), 'last_review': iso(card.last_review),
            'stability_days': round(card.stability, 3),
            'retrievability': round(float(retrievability), 4),
            'reviews': card.reviews, 'lapses': card.lapses}


def due_json(item):
    """A `DueConcept` as `GET /reviews` lists it (without its
    retrievability, which the scheduler computes)."""
    return {'ticket_id': item.ticket_id, 'concept': item.concept,
            'subject': item.subject, 'due': iso(item.card.due),
            'state': {LEARNING: 'learning', REVIEW: 'review',
                      RELEARNING: 'relearning'}[item.card.state],
            'lapses': item.card.lapses}
