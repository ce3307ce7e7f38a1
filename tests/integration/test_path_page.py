"""The page of a learning path, `/learning/paths/<path_id>`
(tracl/web/path_page.py), My learning's links to it, and the concept
page's "Next:" line, through Trac's real request dispatcher, on SQLite and
PostgreSQL.

Learners make the blockchain path of the starter corpus through the API
(it has prerequisite links, so some concepts are locked); answers are
graded by the scripted test provider.
"""

import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest
# A stub environment knows only the components whose modules are imported:
# the ticket page, the wiki's permission policy and the chunk store.
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401

import tracl.search.local_store  # noqa: F401
from support.api_client import LearnerClient
from support.providers import grader  # noqa: F401 (fixture)
from support.study import BLOCKCHAIN, make_path
from tracl.cache import LearningCache
from tracl.schema import sql
from tracl.study.paths import LearningPaths

ALICE, BOB = 'sub-alice', 'sub-bob'

HOSTILE = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'

ANSWER = ("An answer long enough to be graded, in the learner's own words, "
          "about what the concept means and why it matters.")

pytestmark = pytest.mark.learning_env(
    default_data=True, trac_policies=True, provider=True,
    config=[('learning', 'api_rate_limit', '0')])


# Fixtures and helpers -----------------------------------------------------

@pytest.fixture
def path(env, grader):
    return make_path(env, ALICE)


@pytest.fixture
def alice(env):
    return LearnerClient(env, ALICE)


@pytest.fixture
def bob(env):
    return LearnerClient(env, BOB)


def page_url(path_id):
    return '/learning/paths/%s' % path_id


class Page(HTMLParser):
    """What the path page shows: its table's rows (`concept`, `href`,
    `status`, `lock` text), the next-up box and the progress bar."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.rows, self.next_up, self.progress = [], None, None
        self._row = self._cell = self._box = None
        self._heading = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get('class') or '').split()
        if tag == 'tr' and self._in_body:
            self._row = {'concept': '', 'href': None, 'cells': []}
        elif tag == 'tbody':
            self._in_body = True
        elif self._row is not None and tag in ('td', 'th'):
            self._cell = []
            if tag == 'th':
                self._row['th'] = True
        elif self._row is not None and tag == 'a' and \
                self._row.get('th') and self._row['href'] is None:
            self._row['href'] = attrs['href']
        elif tag == 'section' and 'tracl-next-up' in classes:
            self._box = {'classes': classes, 'heading': '', 'href': None,
                         'concept': ''}
        elif self._box is not None and tag == 'h2':
            self._heading = True
        elif self._box is not None and tag == 'a' and \
                'tracl-next-up-link' in classes:
            self._box['href'] = attrs['href']
            self._box['in_link'] = True
        elif tag == 'progress':
            self.progress = attrs

    _in_body = False

    def handle_endtag(self, tag):
        if self._row is not None and tag in ('td', 'th'):
            self._row['cells'].append(' '.join(''.join(self._cell).split()))
            self._cell = None
        elif tag == 'tr' and self._row is not None:
            cells = self._row['cells']
            self.rows.append({'concept': cells[1], 'href': self._row['href'],
                              'subject': cells[2], 'status': cells[3],
                              'score': cells[4], 'lock': cells[5]})
            self._row = None
        elif tag == 'tbody':
            self._in_body = False
        elif tag == 'h2':
            self._heading = False
        elif tag == 'a' and self._box is not None:
            self._box['in_link'] = False
        elif tag == 'section' and self._box is not None:
            self.next_up, self._box = self._box, None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._box is not None:
            if self._heading:
                self._box['heading'] += data.strip()
            elif self._box.get('in_link'):
                self._box['concept'] += data.strip()


def open_page(client, path_id):
    response = client.get(page_url(path_id))
    assert response.status == 200, response
    return response, Page(response.text)


def by_name(env, sub, path_id):
    path = LearningPaths(env).path(sub, path_id)
    return path, {c['concept']: c for c in path['concepts']}


# The page ------------------------------------------------------------------

def test_page_lists_the_concepts_in_the_services_order_linked_to_tickets(
        env, alice, path):
    response, page = open_page(alice, path['path_id'])
    service, _ = by_name(env, ALICE, path['path_id'])
    assert [r['concept'] for r in page.rows] == \
        [c['concept'] for c in service['concepts']]
    assert [r['href'] for r in page.rows] == \
        ['/ticket/%d' % c['ticket_id'] for c in service['concepts']]
    assert all(r['status'] == 'Not started' for r in page.rows)
    assert all(r['score'] == '\u2014' for r in page.rows)
    text = unescape(response.text)
    assert service['title'] in text
    assert '<q>%s</q>' % BLOCKCHAIN in text


def test_page_shows_progress_as_a_real_progress_bar_with_counts(
        env, alice, path, grader):
    grader.score = 0.95
    root = next(t['ticket_id'] for t in path['tickets']
                if not t['prerequisites'])
    alice.answer(root, ANSWER)
    response, page = open_page(alice, path['path_id'])
    total = len(path['tickets'])
    assert page.progress['max'] == str(total)
    assert page.progress['value'] == '1'
    assert page.progress['aria-labelledby'] == 'tracl-progress-label'
    assert '1 of %d mastered' % total in response.text
    assert '0 studying' in response.text
    mastered = [r for r in page.rows if r['status'] == 'Mastered']
    assert len(mastered) == 1 and mastered[0]['score'] == '95%'


def test_locked_concepts_say_what_they_wait_for_by_name(env, alice, path):
    _, page = open_page(alice, path['path_id'])
    _, concepts = by_name(env, ALICE, path['path_id'])
    names = {c['ticket_id']: c['concept'] for c in concepts.values()}
    locked = [r for r in page.rows if concepts[r['concept']]['locked']]
    assert locked, 'the blockchain path has gated concepts'
    for row in locked:
        assert row['lock'].startswith('Locked waits for '), row
        for prerequisite in concepts[row['concept']]['prerequisites']:
            if prerequisite in names:
                assert names[prerequisite] in row['lock']
        assert not re.search(r'#\d', row['lock'])  # names, not ids
    assert all(r['lock'].startswith('Open') for r in page.rows
               if not concepts[r['concept']]['locked'])


def test_nothing_started_says_start_here_with_the_services_next_up(
        env, alice, path):
    _, page = open_page(alice, path['path_id'])
    following = LearningPaths(env).path(ALICE, path['path_id'])['next_up']
    assert following['start'] is True
    assert page.next_up['heading'] == 'Start here'
    assert page.next_up['concept'] == following['concept']
    assert page.next_up['href'] == '/ticket/%d' % following['ticket_id']


def test_once_started_the_box_says_next_up(env, alice, path, grader):
    grader.score = 0.95
    first = LearningPaths(env).path(ALICE, path['path_id'])['next_up']
    alice.answer(first['ticket_id'], ANSWER)
    _, page = open_page(alice, path['path_id'])
    following = LearningPaths(env).path(ALICE, path['path_id'])['next_up']
    assert following['start'] is False
    assert following['ticket_id'] != first['ticket_id']
    assert page.next_up['heading'] == 'Next up'
    assert page.next_up['concept'] == following['concept']


def test_a_mastered_path_says_it_is_complete(env, alice, path, grader):
    grader.score = 0.95
    paths = LearningPaths(env)
    for _ in path['tickets']:
        following = paths.path(ALICE, path['path_id'])['next_up']
        if following is None:
            break
        alice.answer(following['ticket_id'], ANSWER)
    detail = paths.path(ALICE, path['path_id'])
    response, page = open_page(alice, path['path_id'])
    if detail['mastered'] == detail['total']:
        assert page.next_up['heading'] == 'Path complete'
    else:  # what is left waits for concepts outside the path
        assert page.next_up['heading'] == 'Waiting on other paths'


def test_opening_the_page_makes_the_path_the_active_path(env, alice, path):
    second = make_path(env, ALICE, query='digital signatures and hash '
                                         'functions', fill=False)
    paths = LearningPaths(env)
    assert paths.active_path(ALICE) == second['path_id']
    open_page(alice, path['path_id'])
    assert paths.active_path(ALICE) == path['path_id']


def test_the_page_shows_the_paths_knowledge_graph(env, alice, path):
    response, _ = open_page(alice, path['path_id'])
    assert 'class="tracl-kg' in response.text
    # Concept names are in the drawing: the path's own graph.
    first = path['tickets'][0]
    assert '/ticket/%d' % first['ticket_id'] in response.text


def test_another_learners_path_is_not_found(env, alice, bob, path):
    response = bob.get(page_url(path['path_id']))
    assert response.status == 404, response
    assert LearningPaths(env).active_path(BOB) != path['path_id']
    for ticket in path['tickets']:
        assert ticket['concept'] not in response.text


def test_an_unknown_path_is_not_found(alice, path):
    assert alice.get(page_url('0' * 8 + '-0000-0000-0000-' + '0' * 12)) \
        .status == 404
    assert alice.get('/learning/paths/not-a-path').status == 404


def test_the_path_id_is_read_in_any_case(alice, path):
    response = alice.get(page_url(path['path_id'].upper()))
    assert response.status == 200, response


def test_a_visitor_is_sent_to_sign_in(env, path):
    response = LearnerClient(env).get(page_url(path['path_id']))
    assert response.status in (302, 303), response
    location = response.header('Location')
    assert '/login?referer=' in location
    assert path['path_id'] in unescape(location).replace('%2F', '/')


def test_hostile_title_query_and_concept_names_stay_text(env, alice, path):
    ticket_id = path['tickets'][0]['ticket_id']
    with env.db_transaction as db:
        db(sql(env, "UPDATE {paths} SET title=%s, query_text=%s WHERE id=%s"),
           (HOSTILE, HOSTILE, path['path_id']))
        db("UPDATE ticket SET summary=%s WHERE id=%s", (HOSTILE, ticket_id))
    LearningCache(env).bump_progress_version(ALICE)
    response, page = open_page(alice, path['path_id'])
    assert HOSTILE not in response.text
    assert '<script>alert' not in response.text
    assert '<img src=x' not in response.text
    assert '&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;' in \
        response.text
    assert HOSTILE in [r['concept'] for r in page.rows]


# My learning ---------------------------------------------------------------

def test_my_learning_links_each_path_title_to_its_page(env, alice, path):
    response = alice.get('/learning')
    assert response.status == 200, response
    title = LearningPaths(env).path(ALICE, path['path_id'])['title']
    link = re.search(r'<a href="(/learning/paths/[^"]+)">\s*([^<]*)</a>',
                     response.text)
    assert link, response.text
    assert link.group(1) == page_url(path['path_id'])
    assert unescape(link.group(2)).strip() == title


def test_my_learning_without_a_path_points_to_the_start_pages_query_box(
        env, alice):
    response = alice.get('/learning')
    assert 'You have no learning paths yet' in response.text
    assert 'href="/wiki/WikiStart#tracl-lp-1"' in response.text


# The concept page's next concept -------------------------------------------

def concept_script_data(response):
    found = re.search(r'^\s*var tracl_concept=(.*);$', response.text, re.M)
    return json.loads(found.group(1))


def test_a_mastered_concept_names_the_next_concept_with_its_link(
        env, alice, path, grader):
    grader.score = 0.95
    first = LearningPaths(env).path(ALICE, path['path_id'])['next_up']
    alice.answer(first['ticket_id'], ANSWER)
    following = LearningPaths(env).next_concept(ALICE, first['ticket_id'])
    assert following is not None
    panel = concept_script_data(alice.ticket(first['ticket_id']))['panel']
    link = re.search(r'<p class="tracl-next">Next:\s*<a class="tracl-next-link"'
                     r' href="([^"]+)">([^<]*)</a>', panel)
    assert link, panel
    assert link.group(1) == '/ticket/%d' % following['ticket_id']
    assert unescape(link.group(2)) == following['concept']


def test_an_open_concept_has_no_next_line_but_names_its_path_for_the_script(
        env, alice, path):
    first = LearningPaths(env).path(ALICE, path['path_id'])['next_up']
    data = concept_script_data(alice.ticket(first['ticket_id']))
    assert 'tracl-next' not in data['panel']
    assert data['path_api_url'] == \
        '/api/v1/learning-paths/%s' % path['path_id']
    assert data['messages']['next'] == 'Next:'
    # What the script reads after mastery: the path's next step.
    after = alice.read('/learning-paths/%s' % path['path_id'])
    assert after['next_up']['ticket_id'] == first['ticket_id']


def test_the_next_concepts_name_is_escaped(env, alice, path, grader):
    grader.score = 0.95
    first = LearningPaths(env).path(ALICE, path['path_id'])['next_up']
    alice.answer(first['ticket_id'], ANSWER)
    following = LearningPaths(env).next_concept(ALICE, first['ticket_id'])
    env.db_transaction("UPDATE ticket SET summary=%s WHERE id=%s",
                       (HOSTILE, following['ticket_id']))
    LearningCache(env).bump_progress_version(ALICE)
    panel = concept_script_data(alice.ticket(first['ticket_id']))['panel']
    assert '<script>alert' not in panel
    assert '&lt;script&gt;' in panel
