"""The review session page, `/learning/review` (tracl/web/review_page.py),
and My learning's "Reviews" section (tracl/web/learning.py), through Trac's
real request dispatcher, on SQLite and PostgreSQL.

Learners make the blockchain path of the starter corpus through the API
and master concepts with the offline grader's good answers; a mastered
concept is made due with `Retention.make_due` (an admin's "ask again") or
by moving the learning clock. Review dates are not fuzzed here.
"""

import json
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
# A stub environment knows only the components whose modules are imported:
# the ticket page and the wiki's permission policy.
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.ticket.model import Ticket

import tracl.web.review_page  # noqa: F401 (the component under test)
from support.api_client import LearnerClient
from support.study import GOOD_ANSWERS, LEDGERS, make_path
from tracl.model import reviews
from tracl.study.loop import StudyLoop
from tracl.study.retention import Retention

ALICE, BOB = 'sub-alice', 'sub-bob'

#: A second concept open from the start, with a good answer.
MERKLE = 'Public-Key Cryptography'

HOSTILE = ('</script><script>window.__pwned=1</script>'
           '<img src=x onerror="alert(1)"> & \u2028 "quoted"')

pytestmark = pytest.mark.learning_env(
    default_data=True, trac_policies=True,
    config=[('learning', 'review_fuzzing', 'false'),
            ('learning', 'api_rate_limit', '0')])

QUEUE_RE = re.compile(r'<script type="application/json" id="tracl-rs-queue">'
                      r'(.*?)</script>', re.S)


# Fixtures and helpers -----------------------------------------------------

def ticket_of(path, name):
    return next(t['ticket_id'] for t in path['tickets']
                if t['concept'] == name)


def master(env, sub, path, name):
    """Master `sub`'s concept `name` with a good answer; its ticket id."""
    loop = StudyLoop(env)
    concept = loop.concept(sub, ticket_of(path, name))
    result = loop.submit(sub, concept, GOOD_ANSWERS[name])
    assert result.mastered and result.review.kind == 'first', result
    return concept.ticket_id


def due_now(env, ticket_id):
    assert Retention(env).make_due(ticket_id) is not None


def rename(env, ticket_id, name):
    ticket = Ticket(env, ticket_id)
    ticket['summary'] = name
    ticket.save_changes('admin', 'renamed')


def queue_of(html):
    """The queue the page hands its script, as the script reads it."""
    found = QUEUE_RE.findall(html)
    assert len(found) == 1, html
    return json.loads(found[0])


def review_page(client):
    response = client.get('/learning/review')
    assert response.status == 200, response
    return response.text


class Texts(HTMLParser):
    """The text of the elements with a class, by class, and the links."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.texts, self.links, self._open = {}, [], []
        self._link = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'a':
            self._link = [attrs.get('href'), '']
            self.links.append(self._link)
        for name in (attrs.get('class') or '').split():
            self.texts.setdefault(name, []).append('')
            self._open.append((tag, name, len(self.texts[name]) - 1))

    def handle_endtag(self, tag):
        if tag == 'a':
            self._link = None
        while self._open and self._open[-1][0] != tag:
            self._open.pop()
        while self._open and self._open[-1][0] == tag:
            self._open.pop()
            break

    def handle_data(self, data):
        for _tag, name, index in self._open:
            self.texts[name][index] += data
        if self._link is not None:
            self._link[1] += data

    def text(self, name):
        return [' '.join(t.split()) for t in self.texts.get(name, [])]


@pytest.fixture
def alice(env):
    return LearnerClient(env, ALICE)


@pytest.fixture
def paths(env):
    """Alice's and Bob's blockchain paths; each masters Distributed
    Ledgers and Merkle Trees, and Ledgers is due for both."""
    made = {}
    for sub in (ALICE, BOB):
        made[sub] = make_path(env, sub)
        for name in (LEDGERS, MERKLE):
            master(env, sub, made[sub], name)
        due_now(env, ticket_of(made[sub], LEDGERS))
    return made


# The review session --------------------------------------------------------

def test_the_page_asks_only_the_learners_own_due_concepts(env, alice, paths):
    html = review_page(alice)
    queue = queue_of(html)
    mine = ticket_of(paths[ALICE], LEDGERS)
    assert [item['ticket_id'] for item in queue] == [mine]
    bobs = {t['ticket_id'] for t in paths[BOB]['tickets']}
    assert not bobs & {item['ticket_id'] for item in queue}
    assert '/ticket/%d"' % ticket_of(paths[BOB], LEDGERS) not in html
    concept = StudyLoop(env).concept(ALICE, mine)
    item = queue[0]
    assert (item['concept'], item['question'], item['question_id']) == \
        (LEDGERS, concept.question, concept.question_id)
    assert item['submit_url'] == '/api/v1/progress/%d/submit-answer' % mine
    assert item['href'] == '/ticket/%d' % mine
    assert item['overdue'] == 'due now' and not item['relearning']
    assert 0 <= item['recall_percent'] <= 100
    # The first concept is on the page without its script, as text.
    texts = Texts(html)
    assert texts.text('tracl-rs-concept') == [LEDGERS]
    assert texts.text('tracl-rs-question') == [concept.question]
    assert texts.text('tracl-rs-position') == ['1 of 1']
    assert 'tracl/js/review_session.js' in html
    assert 'X-CSRF-Token' not in html  # the token goes as script data
    assert '"form_token":"form-token-' in html


def test_the_most_overdue_comes_first_and_says_how_overdue(
        env, alice, paths, clock):
    merkle = ticket_of(paths[ALICE], MERKLE)
    card = reviews.cards(env, ALICE)[merkle]
    # Later, both are due: Ledgers since "now", Merkle since its due date.
    clock.set(card.due + timedelta(days=3))
    queue = queue_of(review_page(alice))
    assert [item['concept'] for item in queue] == [LEDGERS, MERKLE]
    assert queue[1]['overdue'] == '3 days overdue'
    assert queue[0]['overdue'].endswith(' overdue')


def test_an_answer_sent_as_the_page_sends_it_is_a_review(env, alice, paths):
    queue = queue_of(review_page(alice))
    item = queue[0]
    response = alice.send('PUT', item['submit_url'],
                          body={'answer': GOOD_ANSWERS[LEDGERS],
                                'question_id': item['question_id']})
    assert response.status == 200, response
    review = response.json()['review']
    assert (review['kind'], review['rating'], review['lapsed']) == \
        ('review', 'good', False)
    # Reviewed: nothing is due any more.
    assert 'Nothing is due' in review_page(alice)


def test_without_a_due_concept_the_page_says_when_the_next_review_is(
        env, alice, paths):
    ledgers = ticket_of(paths[ALICE], LEDGERS)
    StudyLoop(env).submit(ALICE, StudyLoop(env).concept(ALICE, ledgers),
                          GOOD_ANSWERS[LEDGERS])
    html = review_page(alice)
    assert not QUEUE_RE.search(html)
    assert 'review_session.js' not in html
    texts = Texts(html)
    [empty] = texts.text('tracl-rs-empty')
    assert 'Nothing is due \u2014 next review on ' in empty
    # The soonest of the two cards is named, linked.
    cards = reviews.cards(env, ALICE)
    soonest = min(cards, key=lambda t: (cards[t].due, t))
    name = Ticket(env, soonest)['summary']
    assert [href for href, text in texts.links
            if text.strip() == name] == ['/ticket/%d' % soonest]
    assert ['/learning', 'Back to My learning'] in texts.links


def test_a_learner_with_no_review_card_is_told_nothing_is_scheduled(
        env, alice):
    make_path(env, ALICE)
    html = review_page(alice)
    assert 'Nothing is due, and nothing is scheduled' in html
    assert not QUEUE_RE.search(html)


def test_the_page_needs_a_signed_in_learner(env):
    response = LearnerClient(env).get('/learning/review')
    assert response.status in (302, 303), response
    assert '/login' in response.header('Location')
    assert 'referer=' in response.header('Location')


def test_hostile_concept_names_stay_text(env, alice, paths):
    mine = ticket_of(paths[ALICE], LEDGERS)
    rename(env, mine, HOSTILE)
    html = review_page(alice)
    # No markup from the name anywhere: not in the page, not in the JSON.
    assert '<script>window.__pwned' not in html
    assert '<img src=x' not in html
    block = QUEUE_RE.findall(html)[0]
    assert '<' not in block and '>' not in block and '&' not in block
    assert queue_of(html)[0]['concept'] == HOSTILE
    assert Texts(html).text('tracl-rs-concept') == [' '.join(HOSTILE.split())]
    # And My learning lists it as text too.
    learning = alice.get('/learning').text
    assert '<script>window.__pwned' not in learning
    assert '<img src=x' not in learning
    assert '&lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;' \
        in learning


# My learning -----------------------------------------------------------------

def test_my_learning_counts_the_due_concepts_and_links_the_session(
        env, alice, paths):
    html = alice.get('/learning').text
    texts = Texts(html)
    assert texts.text('tracl-due-count') == ['1 due today']
    assert texts.text('tracl-due-now') == []  # all of them: said once
    [start] = [href for href, text in texts.links
               if text.strip() == 'Start review session']
    assert start.endswith('/learning/review')
    due_rows = re.findall(r'<table class="listing tracl-due-list">(.*?)'
                          r'</table>', html, re.S)
    assert len(due_rows) == 1
    assert LEDGERS in due_rows[0] and MERKLE not in due_rows[0]
    assert 'due now' in due_rows[0]
    # Bob's concepts are his: the names are the same, the tickets not.
    for ticket in paths[BOB]['tickets']:
        assert '/ticket/%d"' % ticket['ticket_id'] not in html


def test_my_learning_gives_every_mastered_concept_its_next_review(
        env, alice, paths):
    html = alice.get('/learning').text
    schedule = re.findall(r'<table class="listing tracl-schedule">(.*?)'
                          r'</table>', html, re.S)
    assert len(schedule) == 1
    rows = Texts(schedule[0])
    cards = reviews.cards(env, ALICE)
    names = [Ticket(env, t)['summary']
             for t in sorted(cards, key=lambda t: (cards[t].due, t))]
    linked = [text.strip() for _href, text in rows.links]
    assert linked == names == [LEDGERS, MERKLE]
    nexts = rows.text('tracl-schedule-next')
    assert len(nexts) == 2 and all(re.search(r'\d', n) for n in nexts)
    assert '(in ' in nexts[1]
    # Times carry the ISO time, and Trac's absolute format as a title.
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:]+Z" title="',
                     schedule[0])


def test_my_learning_says_when_the_first_review_of_the_day_comes(
        env, alice, clock):
    path = make_path(env, ALICE)
    ledgers = master(env, ALICE, path, LEDGERS)
    card = reviews.cards(env, ALICE)[ledgers]
    # An hour before it is due, and the same day in the learner's zone (UTC).
    at = card.due - timedelta(hours=1)
    if at.hour == 23:
        at = card.due - timedelta(minutes=30)
    clock.set(at)
    texts = Texts(alice.get('/learning').text)
    assert texts.text('tracl-due-count') == ['1 due today']
    assert texts.text('tracl-due-start') == []
    [later] = texts.text('tracl-due-now')
    assert later.startswith('None is due yet: the first comes in ')


def test_my_learning_without_review_cards_has_no_reviews_section(
        env, alice):
    make_path(env, ALICE)
    html = alice.get('/learning').text
    assert 'tracl-due' not in html and 'tracl-schedule' not in html
