"""Learning schema version 8: review cards and their log.

A concept a learner has mastered comes back for review on a schedule
(FSRS): its card holds the scheduler's state (learning, review or
relearning), the memory's stability and difficulty, when it is due and
when it was last reviewed. Every review is logged with the rating it gave
the scheduler, the score and the attempt it came from.

The upgrade gives every concept already mastered a card as if its first
mastery had just been reviewed Good at its completion time, with the
scheduler's default parameters and desired retention (0.9, whatever
trac.ini says); one that would already be due is due on one of the
fourteen days after the upgrade instead, so that a learner does not find
all their old concepts due at once. A card that exists is left alone, so
running it twice changes nothing.
"""

from datetime import timedelta

from trac.util.datefmt import datetime_now, from_utimestamp, to_utimestamp, \
    utc

from tracl.schema import dialect, sql
from tracl.upgrades import statements

_TABLES = """
CREATE TABLE {review_cards} (
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL,
    state smallint NOT NULL
        CONSTRAINT chk_card_state CHECK (state IN (1, 2, 3)),
    step integer,
    stability {real} NOT NULL CONSTRAINT chk_stability CHECK (stability > 0),
    difficulty {real} NOT NULL,
    due bigint NOT NULL,
    last_review bigint NOT NULL,
    reviews integer NOT NULL DEFAULT 1,
    lapses integer NOT NULL DEFAULT 0,
    PRIMARY KEY (cognito_user_id, ticket_id),
    FOREIGN KEY (cognito_user_id, ticket_id)
        REFERENCES {progress} (cognito_user_id, ticket_id)
        ON DELETE CASCADE
)
---
CREATE INDEX idx_review_cards_due ON {review_cards} (cognito_user_id, due)
---
CREATE TABLE {review_log} (
    id {serial} PRIMARY KEY,
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL,
    reviewed_at bigint NOT NULL,
    kind varchar(16) NOT NULL
        CONSTRAINT chk_review_kind
        CHECK (kind IN ('first', 'review', 'relearning', 'decision')),
    rating smallint NOT NULL CONSTRAINT chk_rating CHECK (rating IN (1, 3)),
    score {real},
    attempt integer,
    elapsed_days {real} NOT NULL DEFAULT 0,
    due bigint NOT NULL,
    scheduler varchar(64) NOT NULL,
    FOREIGN KEY (cognito_user_id, ticket_id)
        REFERENCES {progress} (cognito_user_id, ticket_id)
        ON DELETE CASCADE
)
---
CREATE INDEX idx_review_log_concept
    ON {review_log} (cognito_user_id, ticket_id, reviewed_at)
"""


def ddl(dialect_name):
    """The statements that take schema version 7 to 8 in `dialect_name`."""
    return statements(_TABLES, dialect_name)


def do_upgrade(env, version, cursor):
    for statement in ddl(dialect(env)):
        cursor.execute(statement)
    backfill_cards(env, cursor)


def backfill_cards(env, cursor):
    """Give every mastered concept without a card the card of a first
    mastery reviewed Good at its completion time. The card's fields are
    the same for every concept but the times, so one statement writes
    them all (100,000 in seconds)."""
    # Imported here: the upgrade chain must not need the scheduler's
    # package until this version.
    from tracl.study.retention import first_review_card
    card = first_review_card()
    interval = to_utimestamp(from_utimestamp(0) + timedelta(
        seconds=card.interval.total_seconds()))
    # A concept mastered long ago would be due at once, and a learner
    # with hundreds of them would find hundreds due on the day of the
    # upgrade: those are spread over the fortnight after it instead.
    now = to_utimestamp(datetime_now(utc))
    day = 86400 * 1000000
    cursor.execute(sql(env, """
        INSERT INTO {review_cards} (cognito_user_id, ticket_id, state, step,
            stability, difficulty, due, last_review, reviews, lapses)
        SELECT p.cognito_user_id, p.ticket_id, %s, NULL, %s, %s,
               CASE WHEN p.completed_at + %s >= %s
                    THEN p.completed_at + %s
                    ELSE %s + (p.ticket_id %% 14) * %s END,
               p.completed_at, 1, 0
        FROM {progress} p
        WHERE p.status = 'mastered' AND p.completed_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {review_cards} c
                          WHERE c.cognito_user_id = p.cognito_user_id
                            AND c.ticket_id = p.ticket_id)"""),
        (card.state, card.stability, card.difficulty, interval, now,
         interval, now, day))
