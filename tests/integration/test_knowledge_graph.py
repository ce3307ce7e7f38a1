"""The knowledge graph (issue 8): `[[KnowledgeGraph]]` on a wiki page and
the graph image at `/learning/graph.png`, through Trac's real request
dispatcher on SQLite and PostgreSQL, drawn by the real `dot`.

Learners make their concepts through the learning-paths API (the
blockchain and machine-learning paths of the starter corpus) and answer
with `StudyLoop.submit` and the offline grader. The drawings are read back
from the page: the inline SVG parsed as XML, the PNG's image map, and, for
LEARNING_ADMIN, the DOT source, which `dot` itself must accept.
"""

import json
import re
from datetime import timedelta
import struct
import subprocess
import uuid
import xml.etree.ElementTree as ET
from html import unescape
from html.parser import HTMLParser

import pytest
# A stub environment knows only the components whose modules are imported:
# the wiki pages the macro is shown on.
import trac.wiki.web_ui  # noqa: F401
from trac.perm import PermissionSystem
from trac.util.datefmt import localtz
from trac.wiki.model import WikiPage

from support.api_client import LearnerClient
from support.study import GOOD_ANSWERS, make_path
from tracl.graph import model, render
from tracl.graph.dot import build_dot, choose_direction
from tracl.graph.service import KnowledgeGraphs
from tracl.model import reviews
from tracl.study.loop import StudyLoop
from tracl.study.retention import Retention

ALICE, BOB, ADMIN_SUB = 'sub-alice', 'sub-bob', 'sub-admin'

MACHINE_LEARNING = 'I want to learn machine learning'
BLOCKCHAIN_SUBJECT = 'Blockchain Fundamentals'
ML_SUBJECT = 'Machine Learning'

IMAGE = '/learning/graph.png'

GRAY, ORANGE, GREEN, LOCKED = '#d9d9d9', '#f5a623', '#4caf50', '#f2f2f2'
#: A mastered concept due for review: pale green in a thick orange border.
DUE_FILL, DUE_BORDER, DUE_WIDTH = '#a5d6a7', '#d95f02', '4'

WEAK_ANSWER = 'I think it is about computers somehow, and data.'

#: Hostile concept names: DOT syntax, `dot`'s escape sequences, HTML,
#: link tricks, line breaks, control characters, entities, characters XML
#: forbids and plain Unicode.
NASTY_NAMES = [
    'Quotes "double" and \'single\'',
    'Braces {a} [b] <c> (d) ;',
    'Back\\slash \\ and a trailing one \\',
    '\\N \\G \\l \\L \\E \\T \\H',
    '\\" escaped \\\\" quotes',
    '<b>html</b>',
    '<<table><tr><td>HTML label</td></tr></table>>',
    '<script>alert("x")</script>',
    '"] ; URL="javascript:alert(1)"',
    'x" href="http://evil.example/" y="',
    '<img src=x onerror=alert(1)>',
    'new\nline\r\nand\ttab',
    'control \x01\x07\x1b\x7f chars',
    ']]> <![CDATA[ x',
    'unicode \u00e9 \u00fc \u4e2d\u6587 \U0001f680',
    'AT&amp;T &lt;b&gt; &#60;i&#62; & alone',
    'noncharacter \ufffe\uffff end',
    '} subgraph cluster_x { c1 -> c2 [URL="/evil"] }',
]
NASTY_SUBJECTS = [
    'Subject "quoted" \\N <b>bold</b>',
    '<script>s()</script> ]]> \\G & &amp; {x}',
]

SVG = '{http://www.w3.org/2000/svg}'
XLINK = '{http://www.w3.org/1999/xlink}'
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
LOOK_ALIKE_BACKSLASH = '\u29f5'

#: Elements and attributes a drawing may bring into the page.
SVG_ELEMENTS = {'svg', 'g', 'title', 'path', 'polygon', 'polyline',
                'ellipse', 'text', 'a'}
MAP_ELEMENTS = {'img', 'map', 'area'}


# Fixtures and helpers -----------------------------------------------------

#: The stub has no default permissions: readers see wiki pages and
#: tickets (their own concepts only: ConceptOwnerPolicy).
READERS = [('authenticated', 'WIKI_VIEW'), ('authenticated', 'TICKET_VIEW')]
NO_RATE_LIMIT = ('learning', 'api_rate_limit', '0')

# Drawing is tested on the twenty concepts the blockchain query finds,
# without the foundations the search adds to them (test_foundations tests
# those, and the path page draws them).
pytestmark = pytest.mark.learning_env(
    config=[NO_RATE_LIMIT, ('learning', 'max_foundations', '0'),
            ('learning', 'review_fuzzing', 'false')],
    grant=READERS)


@pytest.fixture
def path(env):
    return make_path(env, ALICE)


class Viewer(LearnerClient):
    """A browser, signed in as `sub` (anonymous without), reading wiki
    pages with the graph."""

    def page(self, wikitext):
        """A wiki page holding `wikitext`, as this viewer gets it."""
        name = 'Graph' + uuid.uuid4().hex[:8]
        page = WikiPage(self.env, name)
        page.text = wikitext
        page.save('editor', 'graph test')
        response = self.get('/wiki/' + name)
        assert response.status == 200, response
        assert 'Traceback' not in response.text
        return response

    def graph(self, args=''):
        """The `Graph` of `[[KnowledgeGraph(args)]]`."""
        return Graph(self.page('[[KnowledgeGraph(%s)]]' % args))


@pytest.fixture
def alice(env):
    return Viewer(env, ALICE)


@pytest.fixture
def bob(env):
    return Viewer(env, BOB)


@pytest.fixture
def admin(env):
    return Viewer(env, ADMIN_SUB, groups=('Administrators',))


class Tags(HTMLParser):
    """The start tags of an HTML fragment: `(tag, {attribute: value})`,
    entities decoded."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, name):
        return [attrs for tag, attrs in self.tags if tag == name]


class SvgNode(object):
    """A concept node of a drawn SVG."""

    def __init__(self, group):
        self.id = group.get('id')
        self.links = [a for a in group.iter(SVG + 'a')
                      if a.get(XLINK + 'href')]
        shape = next(e for e in group.iter()
                     if e.tag in (SVG + 'path', SVG + 'polygon'))
        self.fill = shape.get('fill')
        self.stroke = shape.get('stroke')
        self.stroke_width = shape.get('stroke-width')
        self.dashed = bool(shape.get('stroke-dasharray'))
        texts = [t for t in group.iter(SVG + 'text')]
        self.text = ' '.join(t.text or '' for t in texts)
        self.x = sum(float(t.get('x')) for t in texts) / len(texts)
        self.y = sum(float(t.get('y')) for t in texts) / len(texts)

    @property
    def href(self):
        assert len(self.links) == 1, self.id
        return self.links[0].get(XLINK + 'href')

    @property
    def title(self):
        return self.links[0].get(XLINK + 'title')


class Graph(object):
    """What `[[KnowledgeGraph]]` put in a page."""

    def __init__(self, response):
        self.response = response
        self.html = response.text
        found = re.search(r'<div class="tracl-kg">(.*?)'
                          r'<ul [^>]*class="tracl-kg-legend"', self.html, re.S)
        self.fragment = found.group(1) if found else None
        self.svg = self.root = None
        if self.fragment and '<svg' in self.fragment:
            self.svg = re.search(r'<svg.*</svg>', self.fragment,
                                 re.S).group(0)
            self.root = ET.fromstring(self.svg)

    @property
    def message(self):
        """The text of the macro's message, when it drew nothing."""
        found = re.search(r'<div class="(?:system-message[^"]*|tracl-kg-'
                          r'(?:empty|signin))"[^>]*>(.*?)</div>', self.html,
                          re.S)
        return ' '.join(re.sub(r'<[^>]+>', ' ', unescape(
            found.group(1))).split()) if found else None

    def nodes(self):
        """`{ticket_id: SvgNode}` of the concept nodes."""
        assert self.root is not None, self.html[-3000:]
        return {int(g.get('id')[1:]): SvgNode(g)
                for g in self.root.iter(SVG + 'g')
                if g.get('class') == 'node' and
                re.match(r'^c[0-9]+$', g.get('id', ''))}

    def clusters(self):
        """`{label: (x0, y0, x1, y1)}` of the subject clusters."""
        found = {}
        for g in self.root.iter(SVG + 'g'):
            if g.get('class') != 'cluster':
                continue
            label = ' '.join(t.text or '' for t in g.iter(SVG + 'text'))
            shape = next(e for e in g.iter()
                         if e.tag in (SVG + 'path', SVG + 'polygon'))
            numbers = [float(n) for n in re.findall(
                r'-?[0-9.]+', shape.get('points') or shape.get('d'))]
            xs, ys = numbers[0::2], numbers[1::2]
            found[label] = (min(xs), min(ys), max(xs), max(ys))
        return found

    def areas(self):
        return Tags(self.fragment).find('area')

    def image(self):
        images = Tags(self.fragment).find('img')
        assert len(images) == 1, self.fragment
        return images[0]


def ticket_ids(path):
    """`{concept name: ticket id}` of a path."""
    return {t['concept']: t['ticket_id'] for t in path['tickets']}


def links(path):
    return {(p, t['ticket_id']) for t in path['tickets']
            for p in t['prerequisites']}


def submit(env, sub, ticket_id, answer):
    loop = StudyLoop(env)
    return loop.submit(sub, loop.concept(sub, ticket_id), answer, 30)


def master(env, sub, path, name):
    result = submit(env, sub, ticket_ids(path)[name], GOOD_ANSWERS[name])
    assert result.mastered, result


def href(ticket_id):
    """A node's link on the test dispatcher's pages (no script name)."""
    return '/ticket/%d' % ticket_id


def image_query(img):
    """The query string of an `<img>`'s graph URL."""
    src = img['src']
    assert src.startswith(IMAGE + '?'), src
    return src.split('?', 1)[1]


def as_drawn(text):
    """`text` as a drawing shows it: control characters, and characters
    XML forbids, become spaces; whitespace runs collapse."""
    return ' '.join(re.sub('[\x00-\x1f\x7f\ufffe\uffff]', ' ',
                           text).split())


def squeezed(text):
    """`text` without whitespace: labels are wrapped on several lines."""
    return ''.join(text.split())


def run_dot(source, fmt):
    result = subprocess.run(['dot', '-T' + fmt],
                            input=source.encode('utf-8'),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


# Colours, locks, clusters, selection, direction ---------------------------

def test_colours_follow_the_learners_progress(env, path, alice):
    ids = ticket_ids(path)
    ledgers = ids['Distributed Ledgers']
    nodes = alice.graph().nodes()
    assert set(nodes) == set(ids.values())
    roots = [t['ticket_id'] for t in path['tickets']
             if not t['prerequisites']]
    assert {nodes[i].fill for i in roots} == {GRAY}
    assert nodes[ledgers].title == 'Distributed Ledgers: not started'

    submit(env, ALICE, ledgers, WEAK_ANSWER)
    nodes = alice.graph().nodes()
    assert nodes[ledgers].fill == ORANGE
    assert re.match(r'^Distributed Ledgers: studying, best score \d+%$',
                    nodes[ledgers].title)
    assert {nodes[i].fill for i in roots if i != ledgers} == {GRAY}

    master(env, ALICE, path, 'Distributed Ledgers')
    nodes = alice.graph().nodes()
    assert nodes[ledgers].fill == GREEN
    assert re.match(r'^Distributed Ledgers: mastered, next review '
                    r'\d{4}-\d\d-\d\d, best score ([89]\d|100)%$',
                    nodes[ledgers].title)


def test_locked_concepts_are_dashed_until_their_prerequisites_are_mastered(
        env, path, alice):
    ids = ticket_ids(path)
    chaining = ids['Blocks and Chaining']
    assert {ids['Distributed Ledgers'], ids['Merkle Trees']} == \
        set(next(t['prerequisites'] for t in path['tickets']
                 if t['ticket_id'] == chaining))
    node = alice.graph().nodes()[chaining]
    assert (node.fill, node.dashed) == (LOCKED, True)
    assert node.title.endswith('(locked: a prerequisite is not mastered '
                               'yet)')
    free = alice.graph().nodes()[ids['Merkle Trees']]
    assert (free.fill, free.dashed) == (GRAY, False)

    master(env, ALICE, path, 'Distributed Ledgers')
    node = alice.graph().nodes()[chaining]
    assert (node.fill, node.dashed) == (LOCKED, True)  # Merkle Trees left

    master(env, ALICE, path, 'Merkle Trees')
    node = alice.graph().nodes()[chaining]
    assert (node.fill, node.dashed) == (GRAY, False)
    assert node.title == 'Blocks and Chaining: not started'


def test_every_node_links_its_own_ticket_and_every_link_is_an_edge(
        env, path, alice):
    graph = alice.graph()
    nodes = graph.nodes()
    assert {i: n.href for i, n in nodes.items()} == \
        {i: href(i) for i in ticket_ids(path).values()}
    edges = {tuple(int(end[1:]) for end in t.text.split('->'))
             for g in graph.root.iter(SVG + 'g') if g.get('class') == 'edge'
             for t in g.iter(SVG + 'title')}
    assert edges == links(path)


def test_one_cluster_per_subject_when_several_are_shown(env, path, alice):
    learning = make_path(env, ALICE, query=MACHINE_LEARNING, fill=False)
    graph = alice.graph()
    clusters = graph.clusters()
    assert set(clusters) == {BLOCKCHAIN_SUBJECT, ML_SUBJECT}
    nodes = graph.nodes()
    for subject, made in ((BLOCKCHAIN_SUBJECT, path),
                          (ML_SUBJECT, learning)):
        x0, y0, x1, y1 = clusters[subject]
        for ticket_id in ticket_ids(made).values():
            node = nodes[ticket_id]
            assert x0 < node.x < x1 and y0 < node.y < y1, (subject, node.id)


def test_milestone_draws_one_subject_without_cluster(env, path, alice):
    learning = make_path(env, ALICE, query=MACHINE_LEARNING, fill=False)
    graph = alice.graph('milestone=%s' % ML_SUBJECT)
    assert set(graph.nodes()) == set(ticket_ids(learning).values())
    assert graph.clusters() == {}


def test_path_draws_the_concepts_of_one_path(env, path, alice, bob):
    learning = make_path(env, ALICE, query=MACHINE_LEARNING, fill=False)
    assert set(alice.graph('path=%s' % learning['path_id']).nodes()) == \
        set(ticket_ids(learning).values())
    assert set(alice.graph('path=%s' % path['path_id']).nodes()) == \
        set(ticket_ids(path).values())
    # Another learner's path id draws nothing of hers.
    graph = bob.graph('path=%s' % learning['path_id'])
    assert graph.fragment is None
    assert graph.message.startswith('No concepts to draw yet.')
    assert '/ticket/' not in graph.html
    assert alice.graph('path=../../etc').message == \
        'KnowledgeGraph: path=../../etc is not a learning path id.'


@pytest.mark.parametrize('direction, axis', [('LR', 'x'), ('TB', 'y'),
                                             (None, None), ('auto', None)])
def test_direction_sets_where_prerequisites_stand(env, path, alice,
                                                  direction, axis):
    if axis is None:
        # By default, the direction that draws this graph narrower.
        chosen = choose_direction(model.learner_graph(env, ALICE))
        axis = {'LR': 'x', 'TB': 'y'}[chosen]
    nodes = alice.graph('direction=%s' % direction if direction
                        else '').nodes()
    for prerequisite, concept in links(path):
        # SVG coordinates grow rightwards and downwards.
        assert getattr(nodes[prerequisite], axis) < \
            getattr(nodes[concept], axis), (prerequisite, concept)


def test_unknown_direction_is_refused(env, path, alice):
    assert alice.graph('direction=RL').message == \
        'KnowledgeGraph: direction is LR, TB or auto.'


def test_an_svg_is_drawn_at_natural_size_in_a_box_with_zoom_buttons(
        env, path, alice):
    graph = alice.graph('format=svg')
    # Not scaled down by GraphViz: labels keep their 10-point size.
    drawing = graph.root.find(SVG + 'g')
    assert drawing.get('transform').startswith('scale(1 1)'), \
        drawing.get('transform')
    assert {t.get('font-size') for t in graph.root.iter(SVG + 'text')
            if t.text} >= {'10.00'}
    tags = Tags(graph.fragment)
    views = [attrs for tag, attrs in tags.tags
             if 'tracl-kg-view' in attrs.get('class', '').split()]
    assert len(views) == 1
    view = views[0]
    # The box scrolls: it takes the focus, so the arrow keys move it.
    assert view['tabindex'] == '0'
    assert view['aria-label'] == 'Knowledge graph: %d concepts' % \
        len(graph.nodes())
    toolbars = [attrs for tag, attrs in tags.tags
                if attrs.get('role') == 'toolbar']
    assert len(toolbars) == 1
    # Hidden until the viewer's script shows it: no dead buttons.
    assert 'hidden' in toolbars[0]
    buttons = {b['data-action']: b for b in tags.find('button')}
    assert set(buttons) == {'zoom-in', 'zoom-out', 'fit', 'actual'}
    for button in buttons.values():
        assert button['type'] == 'button'
        assert button['aria-controls'] == view['id']
        assert button['aria-label'] and button['title']
    keys = [attrs for tag, attrs in tags.tags
            if attrs.get('id') == view['aria-describedby']]
    assert len(keys) == 1
    assert 'tracl/js/graph_view.js' in graph.html
    assert 'tracl/css/graph.css' in graph.html


def test_a_png_is_capped_and_has_no_zoom_buttons(env, path, alice):
    graph = alice.graph('format=png')
    assert not Tags(graph.fragment).find('button')
    assert 'graph_view.js' not in graph.html


def test_empty_graph_says_how_to_start(env, bob):
    graph = bob.graph()
    assert graph.fragment is None
    assert graph.message.startswith('No concepts to draw yet. Say what you '
                                    'want to understand in the query box')
    assert '<a href="/wiki/WikiStart#tracl-lp-1">the query box on the ' \
        'start page</a>' in graph.html


def test_anonymous_reader_is_asked_to_sign_in(env, path):
    PermissionSystem(env).grant_permission('anonymous', 'WIKI_VIEW')
    graph = Viewer(env).graph()
    assert graph.fragment is None
    assert graph.message == 'Sign in to see your knowledge graph.'
    assert '/ticket/' not in graph.html


# Reviews ------------------------------------------------------------------

def card_of(env, ticket_id):
    return reviews.cards(env, ALICE)[ticket_id]


def day(when):
    """A review's date as the tooltips write it (the reader's zone)."""
    return when.astimezone(localtz).strftime('%Y-%m-%d')


def test_a_due_concept_is_drawn_apart_and_says_since_when(
        env, path, alice, clock):
    ledgers = ticket_ids(path)['Distributed Ledgers']
    master(env, ALICE, path, 'Distributed Ledgers')
    card = card_of(env, ledgers)
    graph = alice.graph()
    node = graph.nodes()[ledgers]
    assert (node.fill, node.stroke_width) == (GREEN, None)
    assert node.title.startswith('Distributed Ledgers: mastered, next '
                                 'review %s, best score' % day(card.due))

    clock.set(card.due + timedelta(days=2))
    graph = alice.graph()
    node = graph.nodes()[ledgers]
    assert (node.fill, node.stroke, node.stroke_width) == \
        (DUE_FILL, DUE_BORDER, DUE_WIDTH)
    assert not node.dashed
    assert node.title.startswith('Distributed Ledgers: mastered, due for '
                                 'review since %s, best score'
                                 % day(card.due))
    # Only the due one: the others keep their colours.
    assert [i for i, n in graph.nodes().items() if n.fill == DUE_FILL] == \
        [ledgers]
    assert 'tracl-kg-due' in graph.html
    assert 'mastered, due for review</li>' in graph.html


def test_time_alone_draws_the_due_state_again(env, path, alice, clock):
    graphs = KnowledgeGraphs(env)
    ledgers = ticket_ids(path)['Distributed Ledgers']
    master(env, ALICE, path, 'Distributed Ledgers')
    card = card_of(env, ledgers)
    clock.set(card.due - timedelta(hours=1))
    before = graphs.draw(ALICE, href, 'svg')
    assert graphs.draw(ALICE, href, 'svg').cached
    clock.set(card.due + timedelta(hours=1))
    after = graphs.draw(ALICE, href, 'svg')
    assert not after.cached and after.data != before.data
    assert after.version != before.version
    assert DUE_FILL in after.data and DUE_FILL not in before.data
    assert graphs.draw(ALICE, href, 'svg').cached


def test_make_due_redraws_and_a_passed_review_turns_it_green(
        env, path, alice, clock):
    ledgers = ticket_ids(path)['Distributed Ledgers']
    master(env, ALICE, path, 'Distributed Ledgers')
    assert alice.graph().nodes()[ledgers].fill == GREEN
    assert Retention(env).make_due(ledgers) == ALICE
    assert alice.graph().nodes()[ledgers].fill == DUE_FILL
    clock.set(clock.now() + timedelta(minutes=1))
    master(env, ALICE, path, 'Distributed Ledgers')     # the review
    node = alice.graph().nodes()[ledgers]
    assert node.fill == GREEN
    assert 'next review %s' % day(card_of(env, ledgers).due) in node.title


def test_a_lapsed_concept_is_studied_again_in_orange(env, path, alice,
                                                     clock):
    ledgers = ticket_ids(path)['Distributed Ledgers']
    master(env, ALICE, path, 'Distributed Ledgers')
    clock.set(card_of(env, ledgers).due + timedelta(days=1))
    lapse = submit(env, ALICE, ledgers, WEAK_ANSWER)
    assert lapse.review.lapsed
    node = alice.graph().nodes()[ledgers]
    assert (node.fill, node.stroke_width) == (ORANGE, None)
    assert node.title.startswith('Distributed Ledgers: studying again '
                                 '(forgotten at a review)')


def test_the_image_map_and_url_follow_the_due_state(env, path, alice,
                                                    clock):
    ledgers = ticket_ids(path)['Distributed Ledgers']
    master(env, ALICE, path, 'Distributed Ledgers')
    card = card_of(env, ledgers)
    graph = alice.graph('format=png')
    before = image_query(graph.image())
    area = next(a for a in graph.areas() if a['href'] == href(ledgers))
    assert ', next review %s' % day(card.due) in area['title']
    drawn_before = alice.get(IMAGE, before).body

    clock.set(card.due + timedelta(days=1))
    graph = alice.graph('format=png')
    after = image_query(graph.image())
    assert after != before      # no browser keeps the old image
    area = next(a for a in graph.areas() if a['href'] == href(ledgers))
    assert ', due for review since %s' % day(card.due) in area['title']
    image = alice.get(IMAGE, after)
    assert image.status == 200 and image.body.startswith(PNG_MAGIC)
    assert image.body != drawn_before


def test_the_dot_legend_names_the_due_style(env, path, clock):
    ledgers = ticket_ids(path)['Distributed Ledgers']
    master(env, ALICE, path, 'Distributed Ledgers')
    clock.set(card_of(env, ledgers).due + timedelta(days=1))
    source = KnowledgeGraphs(env).draw(ALICE, href, 'dot', legend=True).data
    layout = json.loads(run_dot(source, 'json'))
    objects = {o['name']: o for o in layout['objects']}
    assert objects['legend_due']['label'] == 'mastered, due for review'
    assert objects['legend_due']['penwidth'] == DUE_WIDTH
    assert objects['c%d' % ledgers]['penwidth'] == DUE_WIDTH


def test_a_hostile_name_stays_text_when_due(env, path, nasty, alice, clock):
    ledgers = ticket_ids(path)['Distributed Ledgers']
    name = nasty[ledgers][0]
    master(env, ALICE, path, 'Distributed Ledgers')
    card = card_of(env, ledgers)
    clock.set(card.due + timedelta(days=1))
    graph = alice.graph('format=svg')
    assert_only_ticket_links(graph.root, {href(i) for i in nasty})
    lowered = graph.fragment.lower()
    for marker in ('<script', '<b>', '<img', '<table', '<![cdata'):
        assert marker not in lowered, marker
    node = graph.nodes()[ledgers]
    assert node.fill == DUE_FILL
    assert node.title.startswith(
        as_drawn(name).replace('\\', LOOK_ALIKE_BACKSLASH) +
        ': mastered, due for review since %s' % day(card.due))
    png = alice.graph('format=png')
    area = next(a for a in png.areas() if a['href'] == href(ledgers))
    assert area['title'].startswith(as_drawn(name) + ': mastered, due for '
                                    'review since')


# Hostile names ------------------------------------------------------------

@pytest.fixture
def nasty(env, path):
    """Alice's concepts renamed with `NASTY_NAMES`, in subjects named
    `NASTY_SUBJECTS`: `{ticket_id: (name, subject)}`."""
    renamed = {}
    with env.db_transaction as db:
        for n, (name, ticket) in enumerate(zip(NASTY_NAMES,
                                               path['tickets'])):
            subject = NASTY_SUBJECTS[n % len(NASTY_SUBJECTS)]
            db("UPDATE ticket SET summary=%s, milestone=%s WHERE id=%s",
               (name, subject, ticket['ticket_id']))
            renamed[ticket['ticket_id']] = (name, subject)
    assert len(renamed) == len(NASTY_NAMES)
    # The other concepts keep their names, in a subject of their own.
    for ticket in path['tickets'][len(NASTY_NAMES):]:
        renamed[ticket['ticket_id']] = (ticket['concept'],
                                        BLOCKCHAIN_SUBJECT)
    return renamed


def assert_only_ticket_links(element, allowed):
    """No attribute of `element` or below links anywhere but `allowed`,
    runs script or styles."""
    for e in element.iter():
        assert e.tag.startswith(SVG), e.tag
        assert e.tag[len(SVG):] in SVG_ELEMENTS, e.tag
        for name, value in e.attrib.items():
            local = name.rsplit('}', 1)[-1]
            assert not local.lower().startswith('on'), (e.tag, name)
            assert local != 'style', e.tag
            if local != 'title':  # text (a tooltip), not a link
                assert 'javascript:' not in value.lower(), (e.tag, name)
            if local == 'href':
                assert e.tag == SVG + 'a' and value in allowed, value


def test_hostile_names_stay_text_in_the_svg(env, nasty, alice):
    graph = alice.graph('format=svg')
    allowed = {href(i) for i in nasty}
    assert_only_ticket_links(graph.root, allowed)
    lowered = graph.fragment.lower()
    # As markup: only as escaped text (attributes are checked above).
    for marker in ('<script', '<b>', '<img', '<table', '<![cdata'):
        assert marker not in lowered, marker
    nodes = graph.nodes()
    assert set(nodes) == set(nasty)
    for ticket_id, (name, _subject) in nasty.items():
        node = nodes[ticket_id]
        # Each node links its own ticket, once; no other link anywhere.
        assert node.href == href(ticket_id)
        assert squeezed(node.text) == squeezed(as_drawn(name)), name
        assert node.title.startswith(as_drawn(name).replace(
            '\\', LOOK_ALIKE_BACKSLASH) + ': not started'), name
    hrefs = [a.get(XLINK + 'href') for a in graph.root.iter(SVG + 'a')
             if a.get(XLINK + 'href') is not None]
    assert sorted(hrefs) == sorted(allowed)
    assert set(graph.clusters()) == \
        {as_drawn(s) for s in NASTY_SUBJECTS} | {BLOCKCHAIN_SUBJECT}


def test_hostile_names_stay_text_in_the_image_map(env, nasty, alice):
    graph = alice.graph('format=png')
    tags = Tags(graph.fragment)
    assert {tag for tag, _attrs in tags.tags} <= MAP_ELEMENTS | {'div'}
    for tag, attrs in tags.tags:
        assert not any(a.lower().startswith('on') or a == 'style'
                       for a in attrs), (tag, attrs)
    lowered = graph.fragment.lower()
    for marker in ('<script', '<b>', '<img src=x', 'javascript:alert(1)"',
                   'href="http://evil', '<table'):
        assert marker not in lowered, marker
    areas = graph.areas()
    assert sorted(a['href'] for a in areas) == sorted(href(i) for i in nasty)
    for area in areas:
        name = nasty[int(area['href'].rsplit('/', 1)[1])][0]
        assert area['title'].startswith(as_drawn(name) + ': not started'), \
            (name, area['title'])
        assert area['alt'] == as_drawn(name)
        assert re.match(r'^[0-9,]+$', area['coords'])
        assert area['shape'] in ('rect', 'poly')
    image = alice.get(IMAGE, image_query(graph.image()))
    assert image.status == 200, image
    assert image.body.startswith(PNG_MAGIC)


def test_hostile_names_keep_the_dot_source_valid(env, path, nasty, admin):
    graph = admin.graph('user=%s, format=dot' % ALICE)
    found = re.search(r'<pre class="tracl-kg-dot">(.*?)</pre>',
                      graph.fragment, re.S)
    assert found, graph.fragment
    assert '<script' not in found.group(1).lower()
    source = unescape(found.group(1))
    assert source.startswith('digraph knowledge_graph {')
    layout = json.loads(run_dot(source, 'json'))
    # No name adds a node, a cluster, an edge or a link.
    objects = {o['name']: o for o in layout['objects']}
    assert {name for name in objects if not name.startswith('cluster')} \
        == {'c%d' % i for i in nasty}
    assert len([n for n in objects if n.startswith('cluster')]) == 3
    assert {o['name']: o.get('URL') for o in layout['objects']
            if 'URL' in o} == {'c%d' % i: href(i) for i in nasty}
    names = {o['_gvid']: o['name'] for o in layout['objects']}
    assert {(names[e['tail']], names[e['head']]) for e in layout['edges']} \
        == {('c%d' % p, 'c%d' % c) for p, c in links(path)}
    svg = ET.fromstring(run_dot(source, 'svg'))
    texts = {g.get('id'): ' '.join(t.text or '' for t in
                                   g.iter(SVG + 'text'))
             for g in svg.iter(SVG + 'g') if g.get('class') == 'node'}
    for ticket_id, (name, _subject) in nasty.items():
        assert squeezed(texts['c%d' % ticket_id]) == \
            squeezed(as_drawn(name)), name


def test_characters_no_database_holds_are_dropped_as_well():
    # NUL and lone surrogates never come back from PostgreSQL: drawn from
    # a graph made here, by the same functions the service calls.
    names = ['nul \x00 end', 'surrogate \ud800 end', 'both \x00\udfff']
    graph = model.Graph([model.Node(n + 1, name, 'S \x00 \ud83d',
                                    'not_started', None, False)
                         for n, name in enumerate(names)], [(1, 2)])
    source = build_dot(graph, href).source
    output = render.run_dot(source, ['svg'], 30, 10 ** 7)
    root = ET.fromstring(render.safe_svg(output['svg'], [href(1), href(2),
                                                         href(3)]))
    texts = [' '.join(t.text or '' for t in g.iter(SVG + 'text'))
             for g in root.iter(SVG + 'g') if g.get('class') == 'node']
    assert texts == ['nul end', 'surrogate end', 'both']


def test_learner_does_not_get_the_dot_source(env, path, alice):
    graph = alice.graph('format=dot')
    assert graph.message == 'KnowledgeGraph: format=dot is for ' \
        'LEARNING_ADMIN.'
    assert 'digraph' not in graph.html


def test_admin_reads_the_dot_source_of_a_learner(env, path, admin):
    graph = admin.graph('user=%s, format=dot' % ALICE)
    source = unescape(re.search(r'<pre class="tracl-kg-dot">(.*?)</pre>',
                                graph.fragment, re.S).group(1))
    for ticket_id in ticket_ids(path).values():
        assert 'c%d [label=' % ticket_id in source


# The image and its map ----------------------------------------------------

def png_size(data):
    assert data.startswith(PNG_MAGIC)
    return struct.unpack('>II', data[16:24])


def test_image_map_matches_the_drawn_nodes(env, path, alice):
    graph = alice.graph('format=png')
    areas = graph.areas()
    by_ticket = {}
    for area in areas:
        ticket_id = int(area['href'].rsplit('/', 1)[1])
        assert ticket_id not in by_ticket, 'two areas for #%d' % ticket_id
        by_ticket[ticket_id] = area
    assert set(by_ticket) == set(ticket_ids(path).values())

    image = alice.get(IMAGE, image_query(graph.image()))
    assert image.status == 200
    assert image.header('Content-Type') == 'image/png'
    width, height = png_size(image.body)
    # The same drawing laid out by `dot -Tjson`: the nodes' boxes, in
    # points from the bottom left, scaled to the PNG's pixels.
    source = KnowledgeGraphs(env).draw(ALICE, href, 'dot').data
    layout = json.loads(run_dot(source, 'json'))
    x0, y0, x1, y1 = (float(v) for v in layout['bb'].split(','))
    pad = 4  # points around the drawing
    scale_x = width / (x1 - x0 + 2 * pad)
    scale_y = height / (y1 - y0 + 2 * pad)
    boxes = {int(o['name'][1:]): o for o in layout['objects']
             if re.match(r'^c[0-9]+$', o['name'])}
    assert set(boxes) == set(by_ticket)
    for ticket_id, node in boxes.items():
        x, y = (float(v) for v in node['pos'].split(','))
        half_w = float(node['width']) * 72 / 2
        half_h = float(node['height']) * 72 / 2
        expected = ((x - half_w + pad) * scale_x,
                    (y1 - y - half_h + pad) * scale_y,
                    (x + half_w + pad) * scale_x,
                    (y1 - y + half_h + pad) * scale_y)
        area = by_ticket[ticket_id]
        assert area['shape'] == 'rect'
        coords = [float(c) for c in area['coords'].split(',')]
        assert max(abs(a - b) for a, b in zip(coords, expected)) <= 2, \
            (ticket_id, coords, expected)


def test_image_handler_draws_the_viewers_own_graph(env, path, bob):
    other = make_path(env, BOB, fill=False)
    master(env, ALICE, path, 'Distributed Ledgers')
    mine = bob.get(IMAGE, 'direction=LR')
    assert mine.status == 200, mine
    assert mine.body == KnowledgeGraphs(env).draw(
        BOB, href, 'png', direction='LR').data
    assert mine.body != KnowledgeGraphs(env).draw(
        ALICE, href, 'png', direction='LR').data
    # Her path's id, or her concept's, draws his concepts of it: none.
    assert bob.get(IMAGE, 'path=%s' % path['path_id']).status == 404
    assert bob.get(IMAGE, 'ticket=%d' % path['tickets'][0][
        'ticket_id']).status == 404
    assert bob.get(IMAGE, 'path=%s' % other['path_id']).status == 200


def test_another_learners_graph_is_forbidden(env, path, bob):
    response = bob.get(IMAGE, 'user=%s' % ALICE)
    assert response.status == 403
    assert not response.body.startswith(PNG_MAGIC)
    graph = bob.graph('user=%s' % ALICE)
    assert graph.message == "KnowledgeGraph: Only LEARNING_ADMIN may see " \
        "another learner's graph."
    assert '/ticket/' not in graph.html


def test_admin_may_fetch_a_learners_graph(env, path, admin):
    response = admin.get(IMAGE, 'user=%s' % ALICE)
    assert response.status == 200, response
    assert response.body == KnowledgeGraphs(env).draw(ALICE, href,
                                                      'png').data
    graph = admin.graph('user=%s, format=png' % ALICE)
    assert 'user=%s' % ALICE in graph.image()['src']
    assert {a['href'] for a in graph.areas()} == \
        {href(i) for i in ticket_ids(path).values()}


def test_anonymous_gets_403(env, path):
    response = Viewer(env).get(IMAGE, 'user=%s' % ALICE)
    assert response.status == 403
    assert Viewer(env).get(IMAGE).status == 403


@pytest.mark.parametrize('query', ['direction=XX', 'path=nope',
                                   'ticket=abc'])
def test_bad_image_arguments_are_400(env, path, alice, query):
    assert alice.get(IMAGE, query).status == 400


# Caching and failures -----------------------------------------------------

def test_an_answer_draws_new_colours_and_nothing_else_does(env, path, alice):
    graphs = KnowledgeGraphs(env)
    ledgers = ticket_ids(path)['Distributed Ledgers']
    first = graphs.draw(ALICE, href, 'svg')
    assert not first.cached
    again = graphs.draw(ALICE, href, 'svg')
    assert again.cached and again.data == first.data
    StudyLoop(env).heartbeat(ALICE, ledgers, 30)  # not a status change
    assert graphs.draw(ALICE, href, 'svg').cached

    submit(env, ALICE, ledgers, WEAK_ANSWER)
    after = graphs.draw(ALICE, href, 'svg')
    assert not after.cached and after.data != first.data
    assert graphs.draw(ALICE, href, 'svg').cached
    assert alice.graph('format=svg').nodes()[ledgers].fill == ORANGE


def test_the_image_url_changes_with_the_learners_progress(env, path, alice):
    before = image_query(alice.graph('format=png').image())
    assert image_query(alice.graph('format=png').image()) == before
    drawn_before = alice.get(IMAGE, before).body
    submit(env, ALICE, ticket_ids(path)['Distributed Ledgers'], WEAK_ANSWER)
    after = image_query(alice.graph('format=png').image())
    # A new URL, so no browser shows the image it kept.
    assert after != before
    assert alice.get(IMAGE, after).body != drawn_before


def test_a_new_render_version_draws_again(env, path, monkeypatch):
    graphs = KnowledgeGraphs(env)
    graphs.draw(ALICE, href, 'png')
    assert graphs.draw(ALICE, href, 'png').cached
    monkeypatch.setattr('tracl.graph.service.RENDER_VERSION', 'test-next')
    assert not graphs.draw(ALICE, href, 'png').cached


@pytest.mark.parametrize('fmt', ['svg', 'png'])
def test_missing_dot_gives_a_readable_message(make_env, fmt):
    env = make_env(grant=READERS, config=[
        NO_RATE_LIMIT, ('learning', 'graph_dot_path', '/nonexistent/dot')])
    make_path(env, ALICE)
    alice = Viewer(env, ALICE)
    graph = alice.graph('format=%s' % fmt)
    assert graph.fragment is None
    assert graph.message == "The knowledge graph cannot be drawn. GraphViz " \
        "is not installed on the server (the 'dot' program was not found)."
    image = alice.get(IMAGE)
    assert image.status == 503
    assert "GraphViz is not installed on the server" in unescape(image.text)
    assert 'Traceback' not in image.text


@pytest.mark.parametrize('option, value, message', [
    ('graph_dot_path', '/bin/false', 'GraphViz could not draw the graph'),
    ('graph_timeout', '0.001', 'Drawing the graph took longer than 0.001 '
                               'seconds.'),
    ('graph_max_bytes', '200', 'The drawn graph is larger than 200 bytes: '
                               'show one subject at a time.'),
    ('graph_max_concepts', '5', 'This graph has 25 concepts, more than 5: '
                                'show one subject at a time'),
])
def test_a_failed_drawing_gives_a_readable_message(make_env, option, value,
                                                   message):
    env = make_env(grant=READERS,
                   config=[NO_RATE_LIMIT, ('learning', option, value)])
    # The twenty concepts found and the five foundations they need.
    make_path(env, ALICE)
    graph = Viewer(env, ALICE).graph()
    assert graph.fragment is None
    assert graph.message.startswith('The knowledge graph cannot be drawn. '
                                    + message), graph.message
