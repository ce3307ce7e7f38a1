"""The learner's journey: the whole product, walked over HTTP in order.

One test, made of named steps that share what a learner would carry from
one page to the next (their password, their token, their browser's
cookies). Every issue adds its own steps, so the journey always walks the
whole product as a learner would; a failing step names itself in the
report.

The journey has three parts: signing in (`SIGN_IN`), what a signed-in
learner does (`SIGNED_IN`, where features add their steps) and signing out
(`SIGN_OUT`, always last). Today: an administrator adds the learner, the
learner gets a token and reads their profile with it, signs in with the
browser, sets preferences with the token and with the session cookie
(writes need the X-CSRF-Token header), asks what to learn about blockchains
and turns five of the chunks found into a learning path (token), finds it
among their paths and reads its five concepts; then studies: reads their
progress (nothing started), adds a path on digital signatures whose concept
is locked behind two prerequisites, is refused an answer to it (409), answers
a prerequisite weakly (studying, ticket assigned), keeps notes and study
time on it, answers it well in their own words (mastered, ticket closed),
masters the other prerequisite from the browser (writes need the
X-CSRF-Token header there, never with the token), and answers the unlocked
concept; another learner sees none of it (404). The learner disputes
their first, weak grade; an instructor finds it in the queue and decides
it (a second decision is refused), and the learner sees the decision. After each answer the
learner's knowledge graph (a wiki page with `[[KnowledgeGraph]]`, as SVG
and as PNG) shows it: gray, orange, green, dashed while locked; an
administrator reads its DOT source with `trac-admin`; a stranger gets no
graph image (403), and another learner draws only their own graph, never
the first learner's (403). Days later, as it were, a mastered concept
comes back for review: nothing is due right after mastering, an
administrator asks it again with `trac-admin ENV learning reviews due-now`,
the learner finds it in their due reviews (the other learner does not),
answers it well (a review rated good) and it is no longer due. Finally the
learner signs out.
"""

import base64
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import parse_qs

import httpx
import pytest

from support.study import GOOD_ANSWERS as STUDY_ANSWERS

#: The learner of the journey, as an administrator creates them.
USERNAME = 'alice'
PASSWORD = 'Journey2Learn'
GROUP = 'Students'

#: Seconds one HTTP request may take.
HTTP_TIMEOUT = 30.0

#: What the learner wants to learn, and how many of the chunks found make
#: their first path.
LEARNING_QUERY = 'I want to understand blockchain technology'
PATH_CONCEPTS = 5

#: The second path: a concept gated by two prerequisites, one of them
#: already in the first path ('Public-Key Cryptography'), one new with it.
SIGNATURES_QUERY = 'How do hash functions and digital signatures work?'
GATED_CONCEPT = 'Digital Signatures'
NEW_PREREQUISITE = 'Cryptographic Hash Functions'
KNOWN_PREREQUISITE = 'Public-Key Cryptography'
SUBJECT = 'Blockchain Fundamentals'

#: Answers in the learner's own words (paraphrases of the starter corpus,
#: not copies of it) to the concepts' starter questions, stating every key
#: point of their rubrics: the offline grader scores them about 0.95 and 0.97.
GOOD_ANSWERS = {
    'Public-Key Cryptography': STUDY_ANSWERS['Public-Key Cryptography'],
    'Cryptographic Hash Functions':
        "A hash function turns an input of any length into a short "
        "fixed-length digest that acts like a fingerprint of the data. "
        "It is deterministic, so anyone can recompute the digest of the "
        "same data and compare. Changing even one bit of the input "
        "changes about half of the digest bits unpredictably, and it is "
        "infeasible to find another input with the same digest, so "
        "altered data cannot keep the old digest. If the recomputed "
        "digest no longer matches the stored one, the data was changed.",
}

#: An answer that shows no understanding (the offline grader: about 0.01).
WEAK_ANSWER = "It has something to do with keys and passwords, I think."

#: The score from which an answer masters a concept (`[learning]
#: mastery_threshold`, default).
MASTERY = 0.8

#: A second learner, who must not see the first one's concepts.
OTHER_USERNAME = 'bob'
OTHER_PASSWORD = 'Other4Learner'

NOTES = 'Private key signs, public key checks. Ask about secp256k1.'

#: How many of the chunks found make the other learner's path.
OTHER_PATH_CONCEPTS = 2

#: The knowledge graph's fill colours (spec: gray, orange, green; a locked
#: concept is a pale dashed box).
NOT_STARTED, STUDYING, MASTERED, LOCKED = \
    '#d9d9d9', '#f5a623', '#4caf50', '#f2f2f2'
COLOURS = {'not_started': NOT_STARTED, 'studying': STUDYING,
           'mastered': MASTERED}
STATUS_WORDS = {'not_started': 'not started', 'studying': 'studying',
                'mastered': 'mastered'}

GRAPH_IMAGE = '/learning/graph.png'
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'

SVG = '{http://www.w3.org/2000/svg}'
XLINK = '{http://www.w3.org/1999/xlink}'


class FormInputs(HTMLParser):
    """The `name -> value` of the `<input>`s of an HTML page."""

    def __init__(self, html):
        super().__init__()
        self.values = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'input' and attrs.get('name'):
            self.values.setdefault(attrs['name'], attrs.get('value') or '')


class Tags(HTMLParser):
    """The attributes of every `<tag>` of an HTML page, entities
    decoded."""

    def __init__(self, html, tag):
        super().__init__(convert_charrefs=True)
        self.tag = tag
        self.found = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == self.tag:
            self.found.append(dict(attrs))


class GraphNode(object):
    """A concept box of a drawn SVG graph: its fill, whether its border is
    dashed, its link and the link's title (the tooltip)."""

    def __init__(self, group):
        shape = next(e for e in group.iter()
                     if e.tag in (SVG + 'path', SVG + 'polygon'))
        self.fill = shape.get('fill')
        self.dashed = bool(shape.get('stroke-dasharray'))
        links = [a for a in group.iter(SVG + 'a') if a.get(XLINK + 'href')]
        assert len(links) == 1, ET.tostring(group)
        self.href = links[0].get(XLINK + 'href')
        self.title = links[0].get(XLINK + 'title') or ''


class GraphPage(object):
    """The wiki page showing the reader's knowledge graph (`GRAPH_PAGE`,
    see conftest.py): an SVG drawing, then a PNG with its image map."""

    def __init__(self, response):
        assert response.status_code == 200, response.text
        self.html = response.text
        svgs = re.findall(r'<svg\b.*?</svg>', self.html, re.S)
        assert len(svgs) == 1, self.html[-3000:]
        self.svg = ET.fromstring(svgs[0])
        images = [img for img in Tags(self.html, 'img').found
                  if 'tracl-kg-png' in img.get('class', '')]
        assert len(images) == 1, self.html[-3000:]
        self.image_src = images[0]['src']
        self.areas = Tags(self.html, 'area').found

    def nodes(self):
        """`{ticket id: GraphNode}` of the concept boxes (`g#c<id>`)."""
        return {int(g.get('id')[1:]): GraphNode(g)
                for g in self.svg.iter(SVG + 'g')
                if g.get('class') == 'node' and
                re.match(r'^c[0-9]+$', g.get('id', ''))}

    def edges(self):
        """`{(prerequisite id, concept id)}` of the arrows drawn."""
        found = set()
        for g in self.svg.iter(SVG + 'g'):
            if g.get('class') == 'edge':
                title = g.find(SVG + 'title').text
                found.add(tuple(int(n) for n in
                                re.fullmatch(r'c([0-9]+)->c([0-9]+)',
                                             title).groups()))
        return found

    def area_links(self):
        return sorted(area['href'] for area in self.areas)


def jwt_claims(token):
    """The claims of a JWT, read without checking anything (the server
    checks; the test only looks)."""
    payload = token.split('.')[1]
    return json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload)
                                                                 % 4)))


class Journey(object):
    """What the learner carries from step to step."""

    def __init__(self, server):
        self.server = server
        self.sub = None
        self.token = None
        self.preferences = {}
        # An API client that keeps no cookies, and a browser that does.
        self.api = httpx.Client(
            base_url=server.api, timeout=HTTP_TIMEOUT,
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])))
        self.browser = httpx.Client(base_url=server.url,
                                    timeout=HTTP_TIMEOUT)
        self.form_token = None
        self.session_cookie = None
        self.chunks = []
        self.path = None
        self.signatures_path = None
        self.concepts = {}          # concept name -> ticket id
        self.other_token = None
        self.other_sub = None
        self.image_srcs = set()     # the graph image URLs seen so far
        self.image = None           # the learner's graph image, last drawn
        self.decision = None        # an instructor's decision on a grade

    def bearer(self):
        return {'Authorization': 'Bearer %s' % self.token}

    def close(self):
        self.api.close()
        self.browser.close()


def assert_json_error(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.headers['Content-Type'].startswith('application/json')
    error = response.json()['error']
    assert error['message']
    if code is not None:
        assert error['code'] == code, error


# The steps, in the order a learner meets them.

def an_administrator_adds_the_learner(journey):
    output = journey.server.add_user(USERNAME, PASSWORD, GROUP)
    # "Created alice (sub 1c2d...)."
    assert output.startswith('Created %s (sub ' % USERNAME), output
    journey.sub = output.split('(sub ', 1)[1].split(')', 1)[0]
    assert journey.sub


def the_learner_gets_a_token(journey):
    journey.token = journey.server.token(USERNAME, PASSWORD)
    claims = jwt_claims(journey.token)
    assert claims['token_use'] == 'id'
    assert claims['sub'] == journey.sub
    assert claims['cognito:username'] == USERNAME


def the_api_refuses_a_stranger(journey):
    response = journey.api.get('/me')
    assert_json_error(response, 401, 'unauthorized')
    assert response.headers['WWW-Authenticate'].startswith('Bearer')


def the_learner_reads_their_profile_with_the_token(journey):
    response = journey.api.get('/me', headers=journey.bearer())
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'].startswith('application/json')
    me = response.json()
    assert me['sub'] == journey.sub
    assert me['username'] == USERNAME
    assert me['groups'] == [GROUP]
    assert 'LEARNING_STUDY' in me['permissions']
    assert 'LEARNING_ADMIN' not in me['permissions']
    assert me['preferences'] == journey.preferences == {}


def the_learner_sets_a_preference_with_the_token(journey):
    journey.preferences = {'theme': 'dark', 'daily_goal': 3,
                           'reminders': True}
    response = journey.api.put('/me/preferences', headers=journey.bearer(),
                               json={'preferences': journey.preferences})
    assert response.status_code == 200, response.text
    assert response.json() == {'preferences': journey.preferences}
    me = journey.api.get('/me', headers=journey.bearer()).json()
    assert me['preferences'] == journey.preferences


def the_learner_signs_in_with_the_browser(journey):
    page = journey.browser.get('/login')
    assert page.status_code == 200, page.text
    journey.form_token = FormInputs(page.text).values['__FORM_TOKEN']
    assert journey.form_token == journey.browser.cookies['trac_form_token']
    response = journey.browser.post('/login', data={
        '__FORM_TOKEN': journey.form_token, 'referer': '',
        'username': USERNAME, 'password': PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers['Location'].endswith('/learning')
    journey.session_cookie = journey.browser.cookies['trac_auth']
    assert journey.session_cookie


def the_browser_session_is_the_same_learner(journey):
    response = journey.browser.get('/api/v1/me')
    assert response.status_code == 200, response.text
    me = response.json()
    assert me['sub'] == journey.sub
    assert me['username'] == USERNAME
    assert me['groups'] == [GROUP]


def a_cookie_write_without_the_csrf_token_is_refused(journey):
    response = journey.browser.put('/api/v1/me/preferences',
                                   json={'preferences': {'theme': 'light'}})
    assert_json_error(response, 403, 'csrf_token_invalid')
    # Nothing changed; and what the token set shows in the browser too:
    # preferences live in the learner's Trac session, however they signed
    # in.
    me = journey.browser.get('/api/v1/me').json()
    assert me['preferences'] == journey.preferences


def a_cookie_write_with_the_csrf_token_is_saved(journey):
    journey.preferences = dict(journey.preferences, theme='light')
    response = journey.browser.put(
        '/api/v1/me/preferences', json={'preferences': journey.preferences},
        headers={'X-CSRF-Token': journey.form_token})
    assert response.status_code == 200, response.text
    assert response.json() == {'preferences': journey.preferences}
    me = journey.browser.get('/api/v1/me').json()
    assert me['preferences'] == journey.preferences


def the_learner_asks_what_to_learn_about_blockchains(journey):
    response = journey.api.post('/learning-paths/generate',
                                headers=journey.bearer(),
                                json={'query': LEARNING_QUERY})
    assert response.status_code == 200, response.text
    found = response.json()
    assert found['query'] == LEARNING_QUERY
    assert found['cached'] is False
    # The search's results, then the foundations they need first.
    journey.chunks = [c for c in found['chunks'] if not c['foundation_for']]
    foundations = found['chunks'][len(journey.chunks):]
    assert len(journey.chunks) >= PATH_CONCEPTS, found
    relevances = [chunk['relevance'] for chunk in journey.chunks]
    assert relevances == sorted(relevances, reverse=True)
    assert min(relevances) >= 0.65
    assert {c['subject'] for c in found['chunks']} == \
        {'Blockchain Fundamentals'}
    # A broad query's path starts at its subject's roots: the hash
    # functions most blockchain concepts build on come as a foundation
    # when the search did not find them.
    concepts = {c['concept']: c for c in found['chunks']}
    assert 'Cryptographic Hash Functions' in concepts
    names = {c['concept'] for c in journey.chunks}
    assert all(f['relevance'] is None and f['foundation_for'] and
               set(f['foundation_for']) <= names for f in foundations)


def unlinked(chunks, count):
    """The first `count` of `chunks` none of which names another as a
    prerequisite: a path whose concepts are all open at first."""
    def names(value):
        return set([value] if isinstance(value, str) else value or [])
    chosen = []
    for chunk in chunks:
        linked = any(
            other['concept'] in names(chunk['has_prerequisite']) |
            names(chunk['prerequisite_for']) or
            chunk['concept'] in names(other['has_prerequisite']) |
            names(other['prerequisite_for']) for other in chosen)
        if not linked:
            chosen.append(chunk)
    return chosen[:count]


def the_learner_creates_a_path_from_five_chunks(journey):
    # Five concepts open at first: locks come with the second path.
    chosen = unlinked(journey.chunks, PATH_CONCEPTS)
    assert len(chosen) == PATH_CONCEPTS
    response = journey.api.post('/learning-paths/create',
                                headers=journey.bearer(),
                                json={'query': LEARNING_QUERY,
                                      'chunk_ids': [c['chunk_id']
                                                    for c in chosen]})
    assert response.status_code == 201, response.text
    journey.path = response.json()
    assert journey.path['skipped'] == []
    assert [t['concept'] for t in journey.path['tickets']] == \
        [c['concept'] for c in chosen]
    assert all(t['question'] and not t['reused']
               for t in journey.path['tickets'])


def the_learners_paths_list_the_new_path(journey):
    response = journey.api.get('/learning-paths', headers=journey.bearer())
    assert response.status_code == 200, response.text
    paths = response.json()['paths']
    assert [p['path_id'] for p in paths] == [journey.path['path_id']]
    assert paths[0]['query'] == LEARNING_QUERY
    assert (paths[0]['total'], paths[0]['mastered'],
            paths[0]['completion']) == (PATH_CONCEPTS, 0, 0)


def the_path_shows_its_five_concepts(journey):
    response = journey.api.get('/learning-paths/%s' % journey.path['path_id'],
                               headers=journey.bearer())
    assert response.status_code == 200, response.text
    detail = response.json()
    concepts = detail['concepts']
    # In study order: every concept after those of the path it needs.
    order = [c['ticket_id'] for c in concepts]
    assert sorted(order) == sorted(t['ticket_id']
                                   for t in journey.path['tickets'])
    for concept in concepts:
        assert all(order.index(p) < order.index(concept['ticket_id'])
                   for p in concept['prerequisites'] if p in order)
    assert {c['status'] for c in concepts} == {'not_started'}
    assert detail['next_up']['start'] is True
    assert journey.path['path_url'].endswith(
        '/learning/paths/' + journey.path['path_id'])


# The knowledge graph, as the learner's browser shows it.

def graph_page(client, server):
    """The graph wiki page as `client` (a signed-in browser) sees it."""
    return GraphPage(client.get('/wiki/%s' % server.graph_page))


def browser_sign_in(server, username, password):
    """A new browser, signed in as `username`."""
    browser = httpx.Client(base_url=server.url, timeout=HTTP_TIMEOUT)
    page = browser.get('/login')
    assert page.status_code == 200, page.text
    response = browser.post('/login', data={
        '__FORM_TOKEN': FormInputs(page.text).values['__FORM_TOKEN'],
        'referer': '', 'username': username, 'password': password})
    assert response.status_code == 303, response.text
    return browser


def image_query(page):
    """The query of the graph image URL of `page`, parsed."""
    path, _, query = page.image_src.partition('?')
    assert path == GRAPH_IMAGE, page.image_src
    return parse_qs(query)


def assert_png(response):
    assert response.status_code == 200, response.text[:500]
    assert response.headers['Content-Type'] == 'image/png'
    assert response.headers['Cache-Control'].startswith('private')
    assert response.content.startswith(PNG_MAGIC)


def the_graph_shows(journey, studying=(), mastered=(), locked=()):
    """Check the learner's graph, SVG and PNG: a box per concept of theirs
    linking its ticket, gray, orange (`studying`) or green (`mastered`),
    pale and dashed when `locked`; an arrow per prerequisite link."""
    page = graph_page(journey.browser, journey.server)
    nodes = page.nodes()
    assert set(nodes) == set(journey.concepts.values()), page.html[-3000:]
    for name, ticket_id in journey.concepts.items():
        node = nodes[ticket_id]
        status = 'studying' if name in studying else \
            'mastered' if name in mastered else 'not_started'
        assert node.href == '/ticket/%d' % ticket_id, (name, node.href)
        tooltip = '%s: %s' % (name, STATUS_WORDS[status])
        assert node.title.startswith(tooltip), (name, node.title)
        if name in locked:
            assert (node.fill, node.dashed) == (LOCKED, True), name
            assert 'locked' in node.title
        else:
            assert (node.fill, node.dashed) == (COLOURS[status], False), \
                (name, node.fill, node.dashed)
    links = {(prerequisite, t['ticket_id'])
             for path in (journey.path, journey.signatures_path) if path
             for t in path['tickets'] for prerequisite in t['prerequisites']}
    assert page.edges() == links
    # The PNG: one map area per concept, linking its ticket; an image URL
    # naming the learner (a browser shared by two learners must not show
    # one the other's image from its cache), and of its own for each state
    # of their progress (nor a stale one).
    assert page.area_links() == sorted('/ticket/%d' % ticket_id for ticket_id
                                       in journey.concepts.values())
    assert image_query(page)['user'] == [journey.sub]
    assert page.image_src not in journey.image_srcs
    journey.image_srcs.add(page.image_src)
    image = journey.browser.get(page.image_src)
    assert_png(image)
    assert image.content != journey.image
    journey.image = image.content


# Studying: the helpers read what the learner sees through the API.

def progress_of(journey, concept):
    """The learner's progress on `concept` (a name), read with the token."""
    response = journey.api.get('/progress/%d' % journey.concepts[concept],
                               headers=journey.bearer())
    assert response.status_code == 200, response.text
    return response.json()


def concepts_of_path(journey, path_id):
    """`{concept name: concept}` of one of the learner's paths."""
    response = journey.api.get('/learning-paths/%s' % path_id,
                               headers=journey.bearer())
    assert response.status_code == 200, response.text
    return {c['concept']: c for c in response.json()['concepts']}


def submit_answer(client, journey, concept, answer, headers=None):
    """PUT the answer to `concept` with `client` (the token's or the
    browser's); returns the response."""
    prefix = '' if client is journey.api else '/api/v1'
    return client.put('%s/progress/%d/submit-answer'
                      % (prefix, journey.concepts[concept]),
                      json={'answer': answer}, headers=headers)


def ticket_fields(journey, concept):
    """The concept ticket's `status` and `resolution`, as the learner's
    browser reads them from Trac's own ticket page (CSV format)."""
    response = journey.browser.get('/ticket/%d' % journey.concepts[concept],
                                   params={'format': 'csv'})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip('\ufeff'))))
    assert len(rows) == 1, response.text
    return rows[0]['status'], rows[0]['resolution']


def the_learner_has_not_started_anything(journey):
    journey.concepts = {t['concept']: t['ticket_id']
                        for t in journey.path['tickets']}
    response = journey.api.get('/progress', headers=journey.bearer())
    assert response.status_code == 200, response.text
    assert response.json() == {'subjects': [{
        'subject': SUBJECT, 'total': PATH_CONCEPTS,
        'not_started': PATH_CONCEPTS, 'studying': 0, 'mastered': 0,
        'completion': 0.0}]}
    progress = progress_of(journey, KNOWN_PREREQUISITE)
    assert progress['status'] == 'not_started'
    assert (progress['score'], progress['best_score'],
            progress['started_at'], progress['completed_at']) == \
        (None, None, None, None)
    assert progress['attempts'] == []
    assert ticket_fields(journey, KNOWN_PREREQUISITE) == ('new', '')


def the_learner_adds_a_path_on_digital_signatures(journey):
    response = journey.api.post('/learning-paths/generate',
                                headers=journey.bearer(),
                                json={'query': SIGNATURES_QUERY})
    assert response.status_code == 200, response.text
    found = {c['concept']: c for c in response.json()['chunks']}
    assert {GATED_CONCEPT, NEW_PREREQUISITE} <= set(found), found
    chosen = [found[name]['chunk_id']
              for name in (GATED_CONCEPT, NEW_PREREQUISITE)]
    response = journey.api.post('/learning-paths/create',
                                headers=journey.bearer(),
                                json={'query': SIGNATURES_QUERY,
                                      'chunk_ids': chosen})
    assert response.status_code == 201, response.text
    journey.signatures_path = response.json()
    tickets = {t['concept']: t for t in journey.signatures_path['tickets']}
    assert set(tickets) == {GATED_CONCEPT, NEW_PREREQUISITE}
    assert not any(t['reused'] for t in tickets.values())
    journey.concepts.update((name, t['ticket_id'])
                            for name, t in tickets.items())
    # The new concept is linked to the prerequisite the first path holds.
    assert sorted(tickets[GATED_CONCEPT]['prerequisites']) == sorted(
        [journey.concepts[NEW_PREREQUISITE],
         journey.concepts[KNOWN_PREREQUISITE]])


def the_new_path_shows_a_locked_concept(journey):
    concepts = concepts_of_path(journey, journey.signatures_path['path_id'])
    gated = concepts[GATED_CONCEPT]
    assert gated['locked'] is True
    assert gated['status'] == 'not_started'
    assert sorted(gated['prerequisites']) == sorted(
        [journey.concepts[NEW_PREREQUISITE],
         journey.concepts[KNOWN_PREREQUISITE]])
    assert concepts[NEW_PREREQUISITE]['locked'] is False


def a_locked_concept_refuses_an_answer(journey):
    response = submit_answer(journey.api, journey, GATED_CONCEPT,
                             WEAK_ANSWER, headers=journey.bearer())
    assert_json_error(response, 409, 'prerequisites_not_mastered')
    blockers = response.json()['error']['prerequisites']
    assert sorted(blockers, key=lambda b: b['ticket_id']) == sorted(
        [{'ticket_id': journey.concepts[name], 'concept': name,
          'status': 'not_started'}
         for name in (NEW_PREREQUISITE, KNOWN_PREREQUISITE)],
        key=lambda b: b['ticket_id'])
    # Nothing was recorded.
    progress = progress_of(journey, GATED_CONCEPT)
    assert (progress['status'], progress['attempts']) == ('not_started', [])


def a_weak_answer_starts_the_study(journey):
    response = submit_answer(journey.api, journey, KNOWN_PREREQUISITE,
                             WEAK_ANSWER, headers=journey.bearer())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result['ticket_id'] == journey.concepts[KNOWN_PREREQUISITE]
    assert result['attempt'] == 1
    assert result['score'] < MASTERY
    assert result['best_score'] == result['score']
    assert result['feedback']
    assert (result['status'], result['mastered'], result['ticket_status']) \
        == ('studying', False, 'assigned')
    assert ticket_fields(journey, KNOWN_PREREQUISITE) == ('assigned', '')
    progress = progress_of(journey, KNOWN_PREREQUISITE)
    assert progress['status'] == 'studying'
    assert progress['started_at'] and progress['completed_at'] is None
    assert [(a['attempt'], a['answer']) for a in progress['attempts']] == \
        [(1, WEAK_ANSWER)]


#: The instructor who reviews the learner's disputed grade.
INSTRUCTOR_USERNAME = 'tess'
INSTRUCTOR_PASSWORD = 'Review4Grades'
DISPUTE_REASON = 'I think my first answer said more than the grade shows.'
DECISION_COMMENT = 'Half right: the idea is there, the detail is not.'


def the_learner_disputes_their_first_grade(journey):
    ticket_id = journey.concepts[KNOWN_PREREQUISITE]
    response = journey.api.post('/progress/%d/disputes' % ticket_id,
                                headers=journey.bearer(),
                                json={'attempt': 1, 'reason': DISPUTE_REASON})
    assert response.status_code == 201, response.text
    assert response.json()['status'] == 'open'
    again = journey.api.post('/progress/%d/disputes' % ticket_id,
                             headers=journey.bearer(),
                             json={'attempt': 1, 'reason': DISPUTE_REASON})
    assert_json_error(again, 409, 'dispute_open')


def an_instructor_decides_the_disputed_grade(journey):
    journey.server.add_user(INSTRUCTOR_USERNAME, INSTRUCTOR_PASSWORD,
                            'Instructors')
    token = journey.server.token(INSTRUCTOR_USERNAME, INSTRUCTOR_PASSWORD)
    instructor = {'Authorization': 'Bearer %s' % token}
    # A learner may not read the queue.
    assert_json_error(journey.api.get('/grading/queue',
                                      headers=journey.bearer()), 403)
    response = journey.api.get('/grading/queue', headers=instructor,
                               params={'kind': 'disputed'})
    assert response.status_code == 200, response.text
    items = response.json()['items']
    ticket_id = journey.concepts[KNOWN_PREREQUISITE]
    item = [i for i in items if i['ticket_id'] == ticket_id][0]
    assert (item['attempt'], item['reason'], item['concept']) == \
        (1, DISPUTE_REASON, KNOWN_PREREQUISITE)
    assert journey.sub not in json.dumps(items)
    decided = journey.api.post('/grading/decisions', headers=instructor,
                               json={'ticket_id': ticket_id, 'attempt': 1,
                                     'score': 0.5,
                                     'comment': DECISION_COMMENT})
    assert decided.status_code == 201, decided.text
    journey.decision = decided.json()
    assert journey.decision['grader'].startswith('instructor:')
    # A later answer mastered the concept: the decision on an earlier one
    # leaves it mastered.
    assert journey.decision['status'] == 'mastered'
    again = journey.api.post('/grading/decisions', headers=instructor,
                             json={'ticket_id': ticket_id, 'attempt': 1,
                                   'score': 0.9, 'comment': 'Later.'})
    assert_json_error(again, 409, 'already_decided')


def the_learner_sees_the_decision(journey):
    progress = progress_of(journey, KNOWN_PREREQUISITE)
    newest = progress['attempts'][0]
    assert newest['attempt'] == journey.decision['decision_attempt']
    assert (newest['grader'], newest['feedback'], newest['score']) == \
        (journey.decision['grader'], DECISION_COMMENT, 0.5)
    # The decision stands in the place of the first attempt: the last
    # score is still the answer that mastered the concept.
    assert progress['status'] == 'mastered'
    assert progress['score'] == progress['best_score'] >= MASTERY
    disputes = journey.api.get(
        '/progress/%d/disputes' % journey.concepts[KNOWN_PREREQUISITE],
        headers=journey.bearer()).json()['disputes']
    assert [(d['attempt'], d['status']) for d in disputes] == \
        [(1, 'decided')]


def study_time_counts_on_the_page(journey):
    before = progress_of(journey, KNOWN_PREREQUISITE)['time_spent_minutes']
    response = journey.api.post(
        '/progress/%d/heartbeat' % journey.concepts[KNOWN_PREREQUISITE],
        headers=journey.bearer(), json={'seconds': 60})
    assert response.status_code == 204, response.text
    assert response.content == b''
    after = progress_of(journey, KNOWN_PREREQUISITE)['time_spent_minutes']
    # At most the minute reported (less when the learner was active on the
    # concept more recently than that: time is never counted twice).
    assert before < after <= before + 1.0


def notes_are_kept_with_the_token(journey):
    url = '/progress/%d/notes' % journey.concepts[KNOWN_PREREQUISITE]
    response = journey.api.put(url, headers=journey.bearer(),
                               json={'notes': NOTES})
    assert response.status_code == 200, response.text
    assert response.json() == {'notes': NOTES}
    assert progress_of(journey, KNOWN_PREREQUISITE)['notes'] == NOTES


def notes_written_from_the_browser_need_the_csrf_token(journey):
    url = '/api/v1/progress/%d/notes' % journey.concepts[KNOWN_PREREQUISITE]
    changed = NOTES + ' Signatures need hashes too.'
    response = journey.browser.put(url, json={'notes': changed})
    assert_json_error(response, 403, 'csrf_token_invalid')
    assert progress_of(journey, KNOWN_PREREQUISITE)['notes'] == NOTES
    response = journey.browser.put(url, json={'notes': changed},
                                   headers={'X-CSRF-Token':
                                            journey.form_token})
    assert response.status_code == 200, response.text
    response = journey.browser.get(
        '/api/v1/progress/%d' % journey.concepts[KNOWN_PREREQUISITE])
    assert response.status_code == 200, response.text
    assert response.json()['notes'] == changed


def a_good_answer_masters_the_concept(journey):
    answer = GOOD_ANSWERS[KNOWN_PREREQUISITE]
    response = submit_answer(journey.api, journey, KNOWN_PREREQUISITE,
                             answer, headers=journey.bearer())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result['attempt'] == 2
    assert result['score'] >= MASTERY, result
    assert result['best_score'] == result['score']
    assert (result['status'], result['mastered'], result['ticket_status']) \
        == ('mastered', True, 'closed')
    assert ticket_fields(journey, KNOWN_PREREQUISITE) == ('closed', 'fixed')
    progress = progress_of(journey, KNOWN_PREREQUISITE)
    assert progress['status'] == 'mastered'
    assert progress['completed_at']
    assert [a['attempt'] for a in progress['attempts']] == [2, 1]


def one_prerequisite_mastered_is_not_enough(journey):
    concepts = concepts_of_path(journey, journey.signatures_path['path_id'])
    assert concepts[GATED_CONCEPT]['locked'] is True
    response = submit_answer(journey.api, journey, GATED_CONCEPT,
                             WEAK_ANSWER, headers=journey.bearer())
    assert_json_error(response, 409, 'prerequisites_not_mastered')
    assert response.json()['error']['prerequisites'] == [
        {'ticket_id': journey.concepts[NEW_PREREQUISITE],
         'concept': NEW_PREREQUISITE, 'status': 'not_started'}]


def an_answer_from_the_browser_needs_the_csrf_token(journey):
    answer = GOOD_ANSWERS[NEW_PREREQUISITE]
    response = submit_answer(journey.browser, journey, NEW_PREREQUISITE,
                             answer)
    assert_json_error(response, 403, 'csrf_token_invalid')
    assert progress_of(journey, NEW_PREREQUISITE)['attempts'] == []
    response = submit_answer(journey.browser, journey, NEW_PREREQUISITE,
                             answer,
                             headers={'X-CSRF-Token': journey.form_token})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result['attempt'] == 1
    assert result['score'] >= MASTERY, result
    assert (result['status'], result['ticket_status']) == \
        ('mastered', 'closed')


def the_gated_concept_unlocks(journey):
    concepts = concepts_of_path(journey, journey.signatures_path['path_id'])
    assert concepts[GATED_CONCEPT]['locked'] is False
    assert concepts[NEW_PREREQUISITE]['status'] == 'mastered'
    response = submit_answer(journey.api, journey, GATED_CONCEPT,
                             WEAK_ANSWER, headers=journey.bearer())
    assert response.status_code == 200, response.text
    assert (response.json()['attempt'], response.json()['status']) == \
        (1, 'studying')


def the_progress_counts_what_was_done(journey):
    response = journey.api.get('/progress', headers=journey.bearer())
    assert response.status_code == 200, response.text
    total = PATH_CONCEPTS + 2
    assert response.json() == {'subjects': [{
        'subject': SUBJECT, 'total': total, 'not_started': total - 3,
        'studying': 1, 'mastered': 2,
        'completion': round(100.0 * 2 / total, 1)}]}


def another_learner_sees_none_of_it(journey):
    journey.server.add_user(OTHER_USERNAME, OTHER_PASSWORD, GROUP)
    journey.other_token = journey.server.token(OTHER_USERNAME,
                                               OTHER_PASSWORD)
    other = {'Authorization': 'Bearer %s' % journey.other_token}
    ticket_id = journey.concepts[KNOWN_PREREQUISITE]
    for method, url, body in (
            ('GET', '/progress/%d' % ticket_id, None),
            ('PUT', '/progress/%d/submit-answer' % ticket_id,
             {'answer': GOOD_ANSWERS[KNOWN_PREREQUISITE]}),
            ('PUT', '/progress/%d/notes' % ticket_id, {'notes': 'mine'}),
            ('POST', '/progress/%d/heartbeat' % ticket_id, {'seconds': 30}),
            ('GET', '/learning-paths/%s' % journey.signatures_path['path_id'],
             None)):
        response = journey.api.request(method, url, json=body, headers=other)
        assert_json_error(response, 404)
    response = journey.api.get('/progress', headers=other)
    assert response.status_code == 200, response.text
    assert response.json() == {'subjects': []}
    # The first learner's progress is as they left it.
    progress = progress_of(journey, KNOWN_PREREQUISITE)
    assert progress['status'] == 'mastered'
    assert progress['notes'].startswith(NOTES)
    # A weak answer, a good one and the instructor's decision.
    assert len(progress['attempts']) == 3


def the_graph_shows_the_locked_concept_dashed(journey):
    the_graph_shows(journey, locked={GATED_CONCEPT})


def an_administrator_reads_the_graph_source(journey):
    source = journey.server.trac_admin('learning', 'graph', USERNAME,
                                       '--format', 'dot')
    assert source.lstrip().startswith('digraph')
    declared = {int(n) for n in re.findall(r'^\s*c([0-9]+) \[', source,
                                            re.M)}
    assert declared == set(journey.concepts.values()), source
    arrows = {(int(a), int(b)) for a, b in
              re.findall(r'^\s*c([0-9]+) -> c([0-9]+)', source, re.M)}
    assert arrows == {(prerequisite, journey.concepts[GATED_CONCEPT])
                      for prerequisite in
                      (journey.concepts[NEW_PREREQUISITE],
                       journey.concepts[KNOWN_PREREQUISITE])}


def the_graph_shows_the_concept_studying(journey):
    the_graph_shows(journey, studying={KNOWN_PREREQUISITE},
                    locked={GATED_CONCEPT})


def the_graph_shows_the_concept_mastered(journey):
    the_graph_shows(journey, mastered={KNOWN_PREREQUISITE},
                    locked={GATED_CONCEPT})


def the_graph_unlocks_the_gated_concept(journey):
    the_graph_shows(journey,
                    mastered={KNOWN_PREREQUISITE, NEW_PREREQUISITE})


def the_graph_shows_the_unlocked_concept_studying(journey):
    the_graph_shows(journey, studying={GATED_CONCEPT},
                    mastered={KNOWN_PREREQUISITE, NEW_PREREQUISITE})


def a_stranger_sees_no_graph(journey):
    stranger = httpx.Client(base_url=journey.server.url,
                            timeout=HTTP_TIMEOUT)
    try:
        for query in ({}, {'user': journey.sub}):
            response = stranger.get(GRAPH_IMAGE, params=query)
            assert response.status_code == 403, response.text[:500]
            assert not response.content.startswith(PNG_MAGIC)
        page = stranger.get('/wiki/%s' % journey.server.graph_page)
        assert page.status_code == 200, page.text
        assert 'tracl-kg-signin' in page.text
        assert '/ticket/' not in page.text
    finally:
        stranger.close()


def another_learner_draws_only_their_own_graph(journey):
    browser = browser_sign_in(journey.server, OTHER_USERNAME, OTHER_PASSWORD)
    try:
        me = browser.get('/api/v1/me').json()
        journey.other_sub = me['sub']
        assert journey.other_sub != journey.sub
        # The first learner's graph is not theirs to see...
        response = browser.get(GRAPH_IMAGE, params={'user': journey.sub})
        assert response.status_code == 403, response.text[:500]
        assert not response.content.startswith(PNG_MAGIC)
        # ... and their own has nothing to draw yet.
        assert browser.get(GRAPH_IMAGE).status_code == 404
        # With a path of their own, they see it, and only it.
        other = {'Authorization': 'Bearer %s' % journey.other_token}
        found = journey.api.post('/learning-paths/generate', headers=other,
                                 json={'query': LEARNING_QUERY})
        assert found.status_code == 200, found.text
        chosen = [c['chunk_id']
                  for c in found.json()['chunks'][:OTHER_PATH_CONCEPTS]]
        created = journey.api.post('/learning-paths/create', headers=other,
                                   json={'query': LEARNING_QUERY,
                                         'chunk_ids': chosen})
        assert created.status_code == 201, created.text
        theirs = {t['ticket_id'] for t in created.json()['tickets']}
        assert len(theirs) == OTHER_PATH_CONCEPTS
        assert not theirs & set(journey.concepts.values())
        page = graph_page(browser, journey.server)
        assert set(page.nodes()) == theirs
        assert {node.href for node in page.nodes().values()} == \
            {'/ticket/%d' % ticket_id for ticket_id in theirs}
        assert {node.fill for node in page.nodes().values()} == {NOT_STARTED}
        assert page.area_links() == sorted('/ticket/%d' % ticket_id
                                           for ticket_id in theirs)
        assert image_query(page)['user'] == [journey.other_sub]
        image = browser.get(page.image_src)
        assert_png(image)
        assert image.content != journey.image
        # Naming nobody is the same as naming themselves.
        response = browser.get(GRAPH_IMAGE)
        assert_png(response)
        assert response.content == image.content
        # Still forbidden now that they have a graph of their own.
        response = browser.get(GRAPH_IMAGE, params={'user': journey.sub})
        assert response.status_code == 403
    finally:
        browser.close()
    # The first learner's graph did not change.
    page = graph_page(journey.browser, journey.server)
    assert set(page.nodes()) == set(journey.concepts.values())


# Spaced review: a mastered concept comes back.

def due_reviews(journey, headers=None):
    """The ticket ids of GET /reviews (the learner's, with the token)."""
    response = journey.api.get('/reviews', headers=headers or
                               journey.bearer())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['count'] == len(body['due'])
    return [item['ticket_id'] for item in body['due']]


def nothing_is_due_right_after_mastering(journey):
    assert due_reviews(journey) == []
    review = progress_of(journey, KNOWN_PREREQUISITE)['review']
    assert review['state'] == 'review' and review['reviews'] >= 1
    assert review['due'] > review['last_review']


def an_administrator_asks_a_mastered_concept_again(journey):
    ticket_id = journey.concepts[KNOWN_PREREQUISITE]
    output = journey.server.trac_admin('learning', 'reviews', 'due-now',
                                       '#%d' % ticket_id)
    assert output.strip() == '#%d is due for review now.' % ticket_id


def the_learner_finds_the_concept_due_for_review(journey):
    ticket_id = journey.concepts[KNOWN_PREREQUISITE]
    response = journey.api.get('/reviews', headers=journey.bearer())
    assert response.status_code == 200, response.text
    (item,) = response.json()['due']
    assert (item['ticket_id'], item['concept'], item['subject']) == \
        (ticket_id, KNOWN_PREREQUISITE, SUBJECT)
    assert 0 <= item['retrievability'] <= 1
    # Nobody else's list shows it.
    other = {'Authorization': 'Bearer %s' % journey.other_token}
    assert ticket_id not in due_reviews(journey, other)


def the_learner_reviews_it_in_their_own_words(journey):
    before = progress_of(journey, KNOWN_PREREQUISITE)['review']
    response = submit_answer(journey.api, journey, KNOWN_PREREQUISITE,
                             GOOD_ANSWERS[KNOWN_PREREQUISITE],
                             headers=journey.bearer())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result['review']['kind'] == 'review', result['review']
    assert (result['review']['rating'], result['review']['lapsed']) == \
        ('good', False)
    assert (result['status'], result['mastered']) == ('mastered', True)
    assert due_reviews(journey) == []
    after = progress_of(journey, KNOWN_PREREQUISITE)['review']
    assert after['reviews'] == before['reviews'] + 1
    assert after['due'] == result['review']['due'] > after['last_review']


def the_learner_signs_out(journey):
    response = journey.browser.post('/logout', data={
        '__FORM_TOKEN': journey.form_token})
    assert response.status_code in (302, 303), response.text
    # The browser forgets its session cookie...
    assert 'trac_auth' not in journey.browser.cookies
    assert_json_error(journey.browser.get('/api/v1/me'), 401)
    # ... and the server forgot it too: replaying it signs nobody in.
    response = journey.api.get('/me', headers={
        'Cookie': 'trac_auth=%s' % journey.session_cookie})
    assert_json_error(response, 401, 'unauthorized')


def the_token_outlives_the_browser_session(journey):
    # Signing out ends the Trac session and calls Cognito's GlobalSignOut,
    # but tracl checks a Cognito token by its signature and claims alone:
    # a token already handed out stays valid until it expires (guide,
    # section 4; the emulator's `exp` is an hour away). Nothing here
    # promises more, so the step only checks the answer is a verdict, not
    # a failure, and that it is about the right learner when it accepts.
    response = journey.api.get('/me', headers=journey.bearer())
    assert response.status_code in (200, 401), response.text
    if response.status_code == 200:
        assert response.json()['sub'] == journey.sub
    else:
        assert_json_error(response, 401, 'invalid_token')


#: Getting in: an account, a token, a browser session.
SIGN_IN = (
    an_administrator_adds_the_learner,
    the_learner_gets_a_token,
    the_api_refuses_a_stranger,
    the_learner_reads_their_profile_with_the_token,
    the_learner_signs_in_with_the_browser,
    the_browser_session_is_the_same_learner,
)

#: What a signed-in learner does, in the order they meet it. Each feature
#: appends its steps here.
SIGNED_IN = (
    the_learner_sets_a_preference_with_the_token,
    a_cookie_write_without_the_csrf_token_is_refused,
    a_cookie_write_with_the_csrf_token_is_saved,
    the_learner_asks_what_to_learn_about_blockchains,
    the_learner_creates_a_path_from_five_chunks,
    the_learners_paths_list_the_new_path,
    the_path_shows_its_five_concepts,
    the_learner_has_not_started_anything,
    the_learner_adds_a_path_on_digital_signatures,
    the_new_path_shows_a_locked_concept,
    the_graph_shows_the_locked_concept_dashed,
    an_administrator_reads_the_graph_source,
    a_locked_concept_refuses_an_answer,
    a_weak_answer_starts_the_study,
    the_graph_shows_the_concept_studying,
    study_time_counts_on_the_page,
    notes_are_kept_with_the_token,
    notes_written_from_the_browser_need_the_csrf_token,
    a_good_answer_masters_the_concept,
    the_learner_disputes_their_first_grade,
    an_instructor_decides_the_disputed_grade,
    the_learner_sees_the_decision,
    the_graph_shows_the_concept_mastered,
    one_prerequisite_mastered_is_not_enough,
    an_answer_from_the_browser_needs_the_csrf_token,
    the_graph_unlocks_the_gated_concept,
    the_gated_concept_unlocks,
    the_graph_shows_the_unlocked_concept_studying,
    the_progress_counts_what_was_done,
    another_learner_sees_none_of_it,
    a_stranger_sees_no_graph,
    another_learner_draws_only_their_own_graph,
    nothing_is_due_right_after_mastering,
    an_administrator_asks_a_mastered_concept_again,
    the_learner_finds_the_concept_due_for_review,
    the_learner_reviews_it_in_their_own_words,
)

#: Leaving, always last.
SIGN_OUT = (
    the_learner_signs_out,
    the_token_outlives_the_browser_session,
)

JOURNEY = SIGN_IN + SIGNED_IN + SIGN_OUT


def test_a_learner_walks_the_whole_product(live_server):
    journey = Journey(live_server)
    try:
        for number, step in enumerate(JOURNEY, 1):
            try:
                step(journey)
            except Exception as e:
                e.add_note('Journey step %d of %d: %s (server logs in %s)'
                           % (number, len(JOURNEY), step.__name__,
                              live_server.log_dir))
                raise
    finally:
        journey.close()


def test_the_document_promises_no_body_with_a_204(live_server):
    response = httpx.get(live_server.api + '/openapi.json',
                         timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    no_content = {(method.upper(), path): answers['204']
                  for path, item in response.json()['paths'].items()
                  for method, operation in item.items()
                  for answers in [operation['responses']]
                  if '204' in answers}
    assert ('POST', '/progress/{ticket_id}/heartbeat') in no_content
    assert {operation: answer for operation, answer in no_content.items()
            if 'content' in answer} == {}


#: A learner who only looks at graph images.
VIEWER_USERNAME = 'carol'
VIEWER_PASSWORD = 'Graph5Viewer'


def test_a_graph_image_of_an_impossible_ticket_is_a_client_error(
        live_server):
    live_server.add_user(VIEWER_USERNAME, VIEWER_PASSWORD)
    browser = browser_sign_in(live_server, VIEWER_USERNAME, VIEWER_PASSWORD)
    try:
        # An ordinary ticket number the viewer has no concept at: 404.
        assert browser.get(GRAPH_IMAGE, params={'ticket': '1'}) \
            .status_code == 404
        response = browser.get(GRAPH_IMAGE,
                               params={'ticket': '9' * 20})
        assert response.status_code in (400, 404), response.text[-2000:]
    finally:
        browser.close()
