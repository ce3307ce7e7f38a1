"""The Learning section of Trac's admin (tracl/web/admin_panel.py): the
grading queue, the learners and the corpus, for LEARNING_ADMIN only,
through Trac's real dispatcher on SQLite and PostgreSQL.

Learners make their concepts through the API (the blockchain path of the
starter corpus), answers are graded by the scripted provider, and
disputes are opened as a learner opens them; the instructor decides from
the panel's form, posted with Trac's form token.
"""

import json
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
# A stub environment knows only the components whose modules are imported:
# Trac's admin module (which lists the panels) besides the ticket pages.
import trac.admin.web_ui  # noqa: F401
from trac.ticket.model import Ticket
from trac.util.datefmt import datetime_now, to_utimestamp, utc

from support.api_client import LearnerClient, next_request
from support.corpus import fill_store
from support.grading_fixtures import graded_alice, teacher  # noqa: F401
from support.providers import ScriptedLLMProvider, grader  # noqa: F401
from support.study import LEDGERS, MERKLE
from support.web import call
from tracl.auth.profile import LearnerProfiles
from tracl.model.learners import learners_page
from tracl.schema import sql

ALICE, BOB, TEACHER = 'sub-alice', 'sub-bob', 'sub-teacher'
REASON = 'My answer says the same thing in other words.'
QUEUE = '/admin/learning/queue'
LEARNERS = '/admin/learning/learners'
CORPUS = '/admin/learning/corpus'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}

#: Text from outside (learners, chunks, the grader) that must stay text.
HOSTILE = ('<script>alert("pwned")</script><img src=x onerror="alert(1)">'
           ' & \'quotes\' {{ 7*7 }} ${7*7}')

#: Markup HOSTILE must never become on a page.
LIVE_MARKUP = ('<script>alert', '<img src=x')

# The panels count the concepts the search finds, without the foundations
# it adds (test_foundations tests those).
pytestmark = pytest.mark.learning_env(
    default_data=True, provider=True,
    config=[('learning', 'api_rate_limit', '0'),
            ('learning', 'max_foundations', '0')])


# Fixtures and helpers ------------------------------------------------------

def ok(response, status=200):
    assert response.status == status, response
    return response


def answered(alice, grader, name=LEDGERS, score=0.3,
             answer='My answer, in my own words, about it.'):
    """Alice's concept `name`, answered once with `score`."""
    grader.score = score
    ticket_id = alice.concept(name)
    ok(alice.submit(ticket_id, answer))
    return ticket_id


def dispute(alice, ticket_id, attempt=1, reason=REASON):
    ok(alice.api('POST', '/progress/%d/disputes' % ticket_id,
                 {'attempt': attempt, 'reason': reason}), 201)


def post_form(client, path, fields, token=True):
    """Post `fields` as a browser form of `client`, with Trac's form
    token unless `token` is False."""
    next_request(client.env)
    if token:
        fields = dict(fields, __FORM_TOKEN=client.cookies['trac_form_token'])
    return call(client.env, 'POST', path, cookies=client.cookies,
                body=urlencode(fields).encode('utf-8'), headers=FORM)


def decide(teacher, ticket_id, attempt=1, score='90',
           comment='Checked by hand: it is right.', button='set', **extra):
    fields = dict({'ticket_id': ticket_id, 'attempt': attempt,
                   'score': score, 'comment': comment, button: '1'}, **extra)
    return post_form(teacher, QUEUE, fields)


def follow(client, response):
    """GET the page `response` redirects to."""
    assert response.status in (302, 303), response
    location = urlparse(response.header('Location'))
    return client.get(location.path, query=location.query)


class Page(HTMLParser):
    """A page's visible text (not scripts nor styles), its elements as
    `(tag, {attribute: value})` and its textareas' text."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.texts, self.elements, self.textareas = [], [], {}
        self._skip = 0
        self._textarea = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag in ('script', 'style'):
            self._skip += 1
        elif tag == 'textarea':
            self._textarea = attrs.get('id')
            self.textareas[self._textarea] = ''

    def handle_endtag(self, tag):
        if tag in ('script', 'style'):
            self._skip -= 1
        elif tag == 'textarea':
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self.textareas[self._textarea] += data
        if not self._skip:
            self.texts.append(data)

    @property
    def text(self):
        return ' '.join(' '.join(self.texts).split())

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and
                all(a.get(k.rstrip('_')) == v for k, v in attrs.items())]

    def by_class(self, name):
        return [a for _t, a in self.elements
                if name in (a.get('class') or '').split()]


def page(client, path, query=''):
    response = ok(client.get(path, query=query))
    return Page(response.text)


def queue_items(teacher, query=''):
    """`[(ticket_id, attempt)]` of the queue page's items, in order."""
    found = page(teacher, QUEUE, query)
    return [tuple(int(n) for n in a['id'].split('-')[2:])
            for a in found.by_class('tracl-review-item')]


def warnings(response):
    """Trac's warnings on a page, as text."""
    found = re.findall(r'<div id="warning" class="warning system-message">'
                       r'(.*?)</div>', response.text, re.S)
    return [' '.join(Page(w).text.split()) for w in found]


def decisions_rows(env):
    with env.db_query as db:
        return db(sql(env, """SELECT ticket_id, attempt, new_score, comment,
                              decided_by FROM {decisions}
                              ORDER BY id"""))


def snapshot(env, ticket_id):
    """Everything a decision changes: the attempts, the progress, the
    disputes, the decisions and the ticket."""
    with env.db_query as db:
        return (
            db(sql(env, """SELECT attempt, score, grader, overridden_by
                           FROM {attempts} WHERE ticket_id=%s
                           ORDER BY attempt"""), (ticket_id,)),
            db(sql(env, """SELECT status, answer_score, best_score,
                           completed_at FROM {progress}
                           WHERE ticket_id=%s"""), (ticket_id,)),
            db(sql(env, """SELECT id, status FROM {disputes}
                           WHERE ticket_id=%s ORDER BY id"""), (ticket_id,)),
            decisions_rows(env),
            (Ticket(env, ticket_id)['status'],
             len(Ticket(env, ticket_id).get_changelog())))


# Who sees the panels -------------------------------------------------------

@pytest.mark.parametrize('path', [QUEUE, LEARNERS, CORPUS])
def test_a_learner_has_no_learning_panels(env, alice, path):
    assert alice.get(path).status in (403, 404)
    assert alice.get('/admin').status in (403, 404)


def test_a_learner_cannot_post_a_decision(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    before = snapshot(env, ticket_id)
    response = decide(alice, ticket_id)
    assert response.status in (403, 404)
    assert snapshot(env, ticket_id) == before


def test_an_instructor_has_the_learning_section(env, teacher):
    found = page(teacher, '/admin')
    hrefs = {a.get('href') for a in found.find('a')}
    for path in (QUEUE, LEARNERS, CORPUS):
        assert path in hrefs
    assert 'Learning' in found.text
    for path, title in ((QUEUE, 'Grading queue'), (LEARNERS, 'Learners'),
                        (CORPUS, 'Corpus')):
        assert title in page(teacher, path).text


def test_an_anonymous_visitor_has_no_learning_panels(env):
    assert LearnerClient(env).get(QUEUE).status in (403, 404)


def test_an_unknown_learning_page_is_404(env, teacher):
    assert teacher.get(QUEUE + '/more').status == 404


# The queue -----------------------------------------------------------------

def test_the_empty_queue_says_so(env, teacher):
    found = page(teacher, QUEUE)
    assert 'Nothing waits for review' in found.text
    assert not found.by_class('tracl-review-item')


def test_a_disputed_attempt_shows_the_learners_name_and_work(
        env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    ok(alice.notes(ticket_id, 'PrivateNoteMarker: only mine.'))
    response = ok(teacher.get(QUEUE))
    found = Page(response.text)
    assert queue_items(teacher) == [(ticket_id, 1)]
    text = found.text
    assert 'Alice Liddell' in text
    assert ALICE not in text
    assert LEDGERS in text and 'disputed' in text and REASON in text
    assert '30%' in text
    # The question the attempt answered, its key points and the answer.
    with env.db_query as db:
        question, rubric = db(sql(env, """
            SELECT q.question, q.rubric FROM {attempts} a
            JOIN {questions} q ON q.id = a.question_id
            WHERE a.ticket_id=%s AND a.attempt=1"""), (ticket_id,))[0]
    assert question in text
    for point in json.loads(rubric)['key_points']:
        assert point['point'] in text
    assert 'My answer, in my own words, about it.' in text
    # The learner's private notes never reach the page.
    assert 'PrivateNoteMarker' not in response.text
    # The concept links to its ticket; the form is labelled.
    assert found.find('a', href='/ticket/%d' % ticket_id)
    item = 'tracl-item-%d-1' % ticket_id
    assert found.find('label', for_=item + '-score')
    assert found.find('label', for_=item + '-comment')
    score = found.find('input', id=item + '-score')[0]
    assert (score['type'], score['min'], score['max'], score['value']) == \
        ('number', '0', '100', '30')
    assert found.find('textarea', id=item + '-comment')[0].get('required')
    assert {b.get('name') for b in found.find('button')} >= {'confirm', 'set'}
    assert 'Confirm the grade' in text and 'Set this score' in text


def test_the_evidence_of_the_grade_is_shown(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    evidence = {'points': [{'point': 'Copies on many nodes.',
                            'status': 'covered', 'source': 'Sentence one.'},
                           {'point': 'Agreement is the hard part.',
                            'status': 'missing', 'source': ''}],
                'errors': [{'claim': 'A bank keeps it.',
                            'correction': 'No single keeper.'}]}
    with env.db_transaction as db:
        db(sql(env, "UPDATE {attempts} SET evidence=%s, confidence='medium'"),
           (json.dumps(evidence),))
    text = page(teacher, QUEUE).text
    for expected in ('Copies on many nodes.', 'Covered', 'Sentence one.',
                     'Agreement is the hard part.', 'Missing',
                     'Wrong: A bank keeps it.',
                     'Correction: No single keeper.', 'medium'):
        assert expected in text
    # The rubric's key points the grade did not judge are listed too.
    assert 'Not judged' in text


def test_deciding_a_score_masters_the_concept_and_leaves_the_queue(
        env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    response = decide(teacher, ticket_id, score='90')
    assert response.status == 303, response
    assert urlparse(response.header('Location')).path == QUEUE
    after = follow(teacher, response)
    found = Page(ok(after).text)
    assert 'now scores 90%; the concept is mastered' in found.text
    assert not found.by_class('tracl-review-item')
    progress = ok(alice.progress(ticket_id)).json()
    assert progress['status'] == 'mastered'
    assert Ticket(env, ticket_id)['status'] == 'closed'
    assert decisions_rows(env) == [(ticket_id, 1, pytest.approx(0.9),
                                    'Checked by hand: it is right.',
                                    TEACHER)]


def test_confirming_keeps_the_attempts_score(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    # The score field is not read when the grade is confirmed.
    response = decide(teacher, ticket_id, score='100', button='confirm',
                      comment='The grade is right.')
    assert response.status == 303, response
    assert 'the concept is not mastered' in Page(
        follow(teacher, response).text).text
    assert decisions_rows(env) == [(ticket_id, 1, pytest.approx(0.3),
                                    'The grade is right.', TEACHER)]
    assert ok(alice.progress(ticket_id)).json()['status'] == 'studying'
    assert queue_items(teacher) == []


def test_a_second_decision_warns_and_changes_nothing(env, alice, grader,
                                                     teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    assert decide(teacher, ticket_id, score='90').status == 303
    before = snapshot(env, ticket_id)
    again = decide(teacher, ticket_id, score='10', comment='Changed my mind.')
    assert again.status == 200, again
    assert any('decided already' in w for w in warnings(again)), \
        warnings(again)
    assert snapshot(env, ticket_id) == before


@pytest.mark.parametrize('score, comment, problem', [
    ('101', 'Fine.', 'number from 0 to 100'),
    ('-1', 'Fine.', 'number from 0 to 100'),
    ('abc', 'Fine.', 'number from 0 to 100'),
    ('', 'Fine.', 'number from 0 to 100'),
    ('nan', 'Fine.', 'number from 0 to 100'),
    ('inf', 'Fine.', 'number from 0 to 100'),
    ('50', '', 'comment for the learner'),
    ('50', '   ', 'comment for the learner'),
    ('50', 'x' * 2001, 'comment for the learner'),
])
def test_an_invalid_score_or_comment_warns_and_changes_nothing(
        env, alice, grader, teacher, score, comment, problem):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    before = snapshot(env, ticket_id)
    response = decide(teacher, ticket_id, score=score, comment=comment)
    assert response.status == 200, response
    assert any(problem in w and 'nothing was changed' in w
               for w in warnings(response)), warnings(response)
    assert snapshot(env, ticket_id) == before
    # The item is still there, with what was typed.
    found = Page(response.text)
    item = 'tracl-item-%d-1' % ticket_id
    assert found.find('li', id=item)
    assert found.textareas[item + '-comment'] == comment.strip()


def test_an_empty_comment_warns_when_confirming_too(env, alice, grader,
                                                    teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    before = snapshot(env, ticket_id)
    response = decide(teacher, ticket_id, comment='', button='confirm')
    assert response.status == 200
    assert any('comment for the learner' in w for w in warnings(response))
    assert snapshot(env, ticket_id) == before


def test_a_decision_needs_the_form_token(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    before = snapshot(env, ticket_id)
    response = post_form(teacher, QUEUE, {
        'ticket_id': ticket_id, 'attempt': 1, 'score': '90',
        'comment': 'No token.', 'set': '1'}, token=False)
    assert response.status == 400
    assert snapshot(env, ticket_id) == before


def test_an_unknown_attempt_warns(env, alice, grader, teacher):
    ticket_id = answered(alice, grader)
    for attempt, button in ((7, 'set'), (7, 'confirm')):
        response = decide(teacher, ticket_id, attempt=attempt, button=button)
        assert response.status == 200
        assert any('has no attempt 7' in w for w in warnings(response))
    response = decide(teacher, 'x', attempt='1')
    assert any('which attempt' in w for w in warnings(response))
    assert decisions_rows(env) == []


def test_an_uncertain_grade_is_queued_and_decided(env, alice, grader,
                                                  teacher):
    ticket_id = answered(alice, grader)
    with env.db_transaction as db:
        db(sql(env, """UPDATE {attempts} SET confidence='low',
                       confidence_reason='A close call, either way.'"""))
    found = page(teacher, QUEUE)
    assert 'uncertain' in found.text and 'Why the grader was unsure' in \
        found.text and 'A close call, either way.' in found.text
    assert queue_items(teacher, 'kind=uncertain') == [(ticket_id, 1)]
    assert queue_items(teacher, 'kind=disputed') == []
    assert decide(teacher, ticket_id, score='85').status == 303
    assert queue_items(teacher) == []
    assert ok(alice.progress(ticket_id)).json()['status'] == 'mastered'


def test_hostile_text_stays_text(env, alice, grader, teacher):
    ticket_id = answered(alice, grader, answer='My answer: ' + HOSTILE)
    dispute(alice, ticket_id, reason='Please look again: ' + HOSTILE)
    evidence = {'points': [{'point': HOSTILE, 'status': 'partial',
                            'source': HOSTILE}],
                'errors': [{'claim': HOSTILE, 'correction': HOSTILE}]}
    with env.db_transaction as db:
        question_id = db(sql(env, """
            SELECT question_id FROM {attempts} WHERE ticket_id=%s"""),
            (ticket_id,))[0][0]
        rubric = json.loads(db(sql(env, "SELECT rubric FROM {questions} "
                                        "WHERE id=%s"), (question_id,))[0][0])
        rubric['key_points'][0]['point'] = 'KeyPoint ' + HOSTILE
        db(sql(env, "UPDATE {questions} SET rubric=%s, question=%s "
                    "WHERE id=%s"),
           (json.dumps(rubric), 'Question ' + HOSTILE + '?', question_id))
        db(sql(env, "UPDATE {attempts} SET evidence=%s"),
           (json.dumps(evidence),))
        db("UPDATE ticket SET summary=%s WHERE id=%s",
           ('Concept ' + HOSTILE, ticket_id))
    LearnerProfiles(env).update(ALICE, name='Alice ' + HOSTILE)
    response = ok(teacher.get(QUEUE))
    assert_inert(response.text)
    text = Page(response.text).text
    for shown in ('My answer: ', 'Please look again: ', 'KeyPoint ',
                  'Question ', 'Concept ', 'Alice '):
        assert shown + HOSTILE in text, shown
    assert '{{ 7*7 }}' in text and '49' not in text
    # Deciding it: the notice quotes the concept's name as text.
    decided = follow(teacher, decide(teacher, ticket_id))
    assert_inert(decided.text)
    assert 'Concept ' + HOSTILE in Page(decided.text).text
    learners = ok(teacher.get(LEARNERS)).text
    assert_inert(learners)
    assert 'Alice ' + HOSTILE in Page(learners).text


def assert_inert(html):
    """HOSTILE made no element, no attribute and no script on `html`."""
    for markup in LIVE_MARKUP:
        assert markup not in html
    found = Page(html)
    assert not [a for _t, a in found.elements if 'onerror' in a]
    assert not [t for t, a in found.elements if t == 'img' and
                a.get('src') == 'x']


def test_the_queue_pages_oldest_first_and_filters(env, alice, grader,
                                                  teacher):
    first = answered(alice, grader, LEDGERS)
    second = answered(alice, grader, MERKLE)
    dispute(alice, first)
    dispute(alice, second)
    assert queue_items(teacher) == [(first, 1), (second, 1)]
    env.config.set('learning', 'review_queue_page_size', '1')
    found = page(teacher, QUEUE)
    assert [a['id'] for a in found.by_class('tracl-review-item')] == \
        ['tracl-item-%d-1' % first]
    following = [a['href'] for a in found.find('a') if a.get('rel') == 'next']
    assert len(following) == 1
    query = urlparse(following[0]).query
    assert queue_items(teacher, query) == [(second, 1)]
    last = page(teacher, QUEUE, query)
    assert not [a for a in last.find('a') if a.get('rel') == 'next']
    assert 'Back to the oldest items' in last.text
    # Deciding on the second page comes back to the second page.
    cursor = parse_qs(query)['after'][0]
    response = decide(teacher, second, after=cursor)
    assert parse_qs(urlparse(response.header('Location')).query) == \
        {'after': [cursor]}
    env.config.set('learning', 'review_queue_page_size', '50')
    subject = Ticket(env, first)['milestone']
    assert queue_items(teacher, urlencode({'subject': subject})) == \
        [(first, 1)]
    assert queue_items(teacher, 'subject=Nothing') == []
    assert queue_items(teacher, 'learner=' + BOB) == []
    # A learner filtered on who waits for nothing is still named, not
    # shown by their sub.
    LearnerProfiles(env).update(BOB, name='Bob Kane')
    html = page(teacher, QUEUE, 'learner=' + BOB).html
    assert re.findall(r'<option value="%s"[^>]*>([^<]*)</option>' % BOB,
                      html) == ['Bob Kane']
    assert queue_items(teacher, 'learner=' + ALICE) == [(first, 1)]
    assert queue_items(teacher, 'kind=uncertain') == []
    # The filters offer the subjects and the learners waiting, by name.
    found = page(teacher, QUEUE)
    assert {o.get('value') for o in found.find('option')} >= \
        {subject, ALICE, 'disputed', 'uncertain'}
    assert found.find('label', for_='tracl-filter-subject')
    assert found.find('label', for_='tracl-filter-learner')
    assert found.find('label', for_='tracl-filter-kind')


def test_nonsense_filters_warn_and_show_everything(env, alice, grader,
                                                   teacher):
    ticket_id = answered(alice, grader)
    dispute(alice, ticket_id)
    for query in ('kind=other', 'after=nope'):
        response = ok(teacher.get(QUEUE, query=query))
        assert warnings(response), query
        assert queue_items(teacher, query) == [(ticket_id, 1)]


# Learners ------------------------------------------------------------------

def test_the_learners_page_counts_each_learner(env, alice, grader, teacher):
    grader.answer_scores = {}
    first = answered(alice, grader, LEDGERS, score=0.95)
    answered(alice, grader, MERKLE, score=0.3)
    bob = LearnerClient(env, BOB)
    bob.make_path()
    # Bob has neither a name nor a username: never shown by his sub.
    with env.db_transaction as db:
        db("DELETE FROM session_attribute WHERE sid=%s AND name IN "
           "('name', 'tracl_username')", (BOB,))
    LearnerProfiles(env).forget(BOB)
    found = page(teacher, LEARNERS)
    rows = table_rows(found.html)
    assert rows['Alice Liddell'][:4] == ['1', str(len(alice.path['tickets'])),
                                         '1', '1']
    assert rows['(no name)'][:4] == ['1', str(len(bob.path['tickets'])),
                                     '0', '0']
    assert rows['(no name)'][4] == 'never'
    assert BOB not in found.text and ALICE not in found.text
    assert ok(alice.progress(first)).json()['status'] == 'mastered'
    hrefs = {a.get('href') for a in found.find('a')}
    assert '/learning/graph.png?user=' + ALICE in hrefs
    queries = [parse_qs(urlparse(h).query) for h in hrefs
               if h and urlparse(h).path == '/query']
    assert {'type': ['learning_concept'], 'owner': [ALICE]} in queries
    assert '/admin/learning/queue?learner=' + ALICE in hrefs
    assert '2 learners.' in found.text


def test_an_instructor_may_open_a_learners_graph(env, alice, teacher):
    response = teacher.get('/learning/graph.png', query='user=' + ALICE)
    assert response.status in (200, 503), response
    assert alice.get('/learning/graph.png',
                     query='user=' + BOB).status == 403


def test_the_learners_page_pages_thousands_of_learners(env, teacher):
    """5,000 learners with 8 concepts' progress each (40,000 rows); its
    speed is measured in bench/db_bench.py."""
    now = to_utimestamp(datetime_now(utc))
    rows = [(str(uuid.uuid4()), 'Path', 'query', 'sub-%05d' % n, now)
            for n in range(5000)]
    tickets = []
    for n in range(8):
        ticket = Ticket(env)
        ticket.populate({'type': 'defect', 'summary': 'Ticket %d' % n,
                         'status': 'new', 'reporter': 'someone'})
        tickets.append(ticket.insert())
    with env.db_transaction as db:
        db.executemany(sql(env, """
            INSERT INTO {paths} (id, title, query_text, cognito_user_id,
                                 created_at) VALUES (%s, %s, %s, %s, %s)"""),
            rows)
        db.executemany(sql(env, """
            INSERT INTO {progress} (cognito_user_id, ticket_id, status,
                                    last_accessed, completed_at)
            VALUES (%s, %s, %s, %s, %s)"""),
            [(r[3], t, 'mastered' if n % 2 else 'studying', now, now)
             for r in rows for n, t in enumerate(tickets)])
        db.executemany("""
            INSERT INTO session (sid, authenticated, last_visit)
            VALUES (%s, 1, 0)""", [(r[3],) for r in rows[:100]])
        db.executemany("""
            INSERT INTO session_attribute (sid, authenticated, name, value)
            VALUES (%s, 1, 'name', %s)""",
            [(r[3], 'Learner %05d' % n) for n, r in enumerate(rows[:100])])
    found = page(teacher, LEARNERS)
    names = list(table_rows(found.html))
    assert len(names) == 50
    # Named learners first, by name; then the rest, none by sub.
    assert names[:3] == ['Learner 00000', 'Learner 00001', 'Learner 00002']
    assert '5000 learners.' in found.text and 'page 1 of 100' in found.text
    assert table_rows(found.html)['Learner 00000'][:4] == ['1', '0', '4', '4']
    assert len(learners_page(env, 60).learners) == 50
    later = page(teacher, LEARNERS, 'page=3')
    assert table_rows(later.html, unique=False) == ['(no name)'] * 50
    assert 'sub-0' not in later.text
    last = page(teacher, LEARNERS, 'page=100')
    assert len(table_rows(last.html, unique=False)) == 50
    assert not [a for a in last.find('a') if a.get('rel') == 'next']
    assert [a for a in last.find('a') if a.get('rel') == 'prev']
    beyond = ok(teacher.get(LEARNERS, query='page=101'))
    assert warnings(beyond)


def table_rows(html, unique=True):
    """`{learner: [paths, concepts, mastered, studying, last activity]}`
    of the learners' table (a list of names when not `unique`)."""
    rows = re.findall(r'<tr class="(?:odd|even)">(.*?)</tr>', html, re.S)
    found = {} if unique else []
    for row in rows:
        cells = [' '.join(re.sub(r'<[^>]+>', ' ', c).split())
                 for c in re.findall(r'<t[hd][^>]*>(.*?)</t[hd]>', row, re.S)]
        cells = [Page(c).text for c in cells]
        if unique:
            found.setdefault(cells[0], cells[1:])
        else:
            found.append(cells[0])
    return found


# The corpus ----------------------------------------------------------------

def test_the_corpus_page_shows_subjects_questions_and_grader(env, alice,
                                                            teacher):
    found = page(teacher, CORPUS)
    for subject in ('Blockchain Fundamentals', 'Cell Biology',
                    'Computer Networks', 'Linear Algebra',
                    'Machine Learning', 'Quantum Computing'):
        assert subject in found.text
    with env.db_query as db:
        chunks = db(sql(env, "SELECT COUNT(*) FROM {chunks}"))[0][0]
        questions, with_questions = db(sql(env, """
            SELECT COUNT(*), COUNT(DISTINCT chunk_id)
            FROM {questions}"""))[0]
    assert '%d chunks' % chunks in found.text
    assert 'Questions stored %d' % questions in found.text
    assert 'Chunks with a question %d' % with_questions in found.text
    assert 'Chunks without a question %d' % (chunks - with_questions) in \
        found.text
    assert 'Questions per chunk min ' in found.text
    grader = ScriptedLLMProvider(env).describe()
    assert grader in found.text
    assert 'ScriptedLLMProvider' in found.text


def test_the_corpus_page_of_an_empty_store(env, teacher):
    found = page(teacher, CORPUS)
    assert 'The chunk store is empty' in found.text
    assert 'No chunks, so no questions yet.' in found.text


def test_the_corpus_page_counts_questions_per_chunk(env, teacher):
    chunks = fill_store(env)
    now = to_utimestamp(datetime_now(utc))
    with env.db_transaction as db:
        db(sql(env, "DELETE FROM {questions}"))
        db.executemany(sql(env, """
            INSERT INTO {questions} (chunk_id, difficulty, question,
                expected_answer, rubric, author, created_at)
            VALUES (%s, 3, %s, 'An expected answer.', '{}', 'test', %s)"""),
            [(chunks[0]['id'], 'First question?', now),
             (chunks[0]['id'], 'Second question?', now),
             (chunks[0]['id'], 'Third question?', now),
             (chunks[1]['id'], 'Only question?', now)])
    text = page(teacher, CORPUS).text
    assert 'Questions stored 4' in text
    assert 'Chunks with a question 2' in text
    assert 'Chunks without a question %d' % (len(chunks) - 2) in text
    assert 'Questions per chunk min 0, median 0, max 3' in text
