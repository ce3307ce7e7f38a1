"""A learner's concepts for the knowledge graph's benchmark and browser
test: `count` concept tickets in three subjects, made with Trac's ticket
model, with prerequisite links within each subject (from an earlier
concept to a later one, so no cycle; one and a half per concept), and a
third of them studying or mastered, so the graph has every colour and
locked nodes. Every name is long enough to be wrapped on two lines."""

from trac.resource import ResourceNotFound
from trac.ticket.model import Milestone, Ticket
from trac.util.datefmt import datetime_now, to_utimestamp, utc

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.prerequisites import add_prerequisite
from tracl.schema import sql

SUBJECTS = ('Blockchain Fundamentals', 'Machine Learning',
            'Computer Networks')


def make_concepts(env, sub, count, links=None):
    """`count` concepts of `sub` and `links` links (default 1.5 per
    concept); returns the ticket ids in order."""
    links_wanted = int(count * 1.5) if links is None else links
    # A subject is a milestone: a ticket keeps only a milestone that
    # exists.
    for subject in SUBJECTS:
        try:
            Milestone(env, subject)
        except ResourceNotFound:
            milestone = Milestone(env)
            milestone.name = subject
            milestone.insert()
    ids = []
    for n in range(count):
        ticket = Ticket(env)
        ticket.populate({'type': CONCEPT_TICKET_TYPE, 'owner': sub,
                         'reporter': sub, 'status': 'new',
                         'milestone': SUBJECTS[n % len(SUBJECTS)],
                         'summary': 'Concept %03d of a longer name' % n})
        ids.append(ticket.insert())
    # Each concept after the first few of its subject gets one or two
    # prerequisites, at a growing distance back.
    by_subject = [ids[i::len(SUBJECTS)] for i in range(len(SUBJECTS))]
    found = []
    step = 1
    while len(found) < links_wanted and step < count:
        for members in by_subject:
            for i in range(step, len(members)):
                if len(found) < links_wanted and (i * 7 + step) % 3 != 0:
                    found.append((members[i], members[i - step]))
        step += 1
    for concept, prerequisite in found:
        add_prerequisite(env, concept, prerequisite)
    now = to_utimestamp(datetime_now(utc))
    with env.db_transaction as db:
        for n, ticket_id in enumerate(ids):
            if n % 3:
                continue
            mastered = n % 6 == 0
            db(sql(env, """
                INSERT INTO {progress} (cognito_user_id, ticket_id, status,
                    started_at, last_accessed, completed_at, answer_score,
                    best_score)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"""),
               (sub, ticket_id, 'mastered' if mastered else 'studying',
                now, now, now if mastered else None,
                0.9 if mastered else 0.4, 0.9 if mastered else 0.4))
    return ids
