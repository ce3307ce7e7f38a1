"""Every view of a concept agrees on whether it is locked, through Trac's
real request dispatcher on SQLite and PostgreSQL.

The scenario: Alice masters a concept, then an admin gives it a
prerequisite she has not mastered (`trac-admin ENV learning prereq add`).
A mastered concept is never locked, so the learning path API, the
knowledge graph (its DOT source and the PNG's image map), her concept's
page, the ticket form's guard and the submit call all treat it as open: a
new answer is graded and recorded, and it stays mastered. A concept she
has never mastered that needs the same prerequisite is locked everywhere,
and an answer to it is refused with 409.
"""

import json
import re
import subprocess
from html import unescape

import pytest
# A stub environment knows only the components whose modules are imported:
# the ticket and wiki pages, and Trac's default policies for them.
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.admin.api import AdminCommandManager
from trac.ticket.model import Ticket
from trac.wiki.model import WikiPage

from support.api_client import LearnerClient
from support.study import BLOCKS, GOOD_ANSWERS, LEDGERS, MERKLE, make_path
from tracl.graph.service import KnowledgeGraphs
from tracl.study.guard import ConceptStudyGuard

ALICE = 'sub-alice'

#: What the drawings say of a locked concept.
LOCKED_TITLE = '(locked: a prerequisite is not mastered yet)'

#: A second answer to a mastered concept: weak, so it could not master it
#: again, and it is still recorded.
SECOND_ANSWER = "It is some kind of computer thing, I am not sure what " \
                "it does."


# Trac's default data and permission policies, as a new environment has
# them: learners view wiki pages and tickets (their own concepts).
pytestmark = pytest.mark.learning_env(
    default_data=True, trac_policies=True,
    # The locks compared are those among the concepts the search finds,
    # without the foundations it adds (test_foundations tests those).
    config=[('learning', 'api_rate_limit', '0'),
            ('learning', 'max_foundations', '0')])


class Browser(LearnerClient):
    """Alice's signed-in browser, reading her concept's state on every
    page."""

    def __init__(self, env):
        super().__init__(env, ALICE)

    def concept_page_state(self, ticket_id):
        response = self.ticket(ticket_id)
        assert response.status == 200, response
        found = re.search(r'^\s*var tracl_concept=(.*);$', response.text,
                          re.M)
        return json.loads(found.group(1))['state']

    def image_map(self):
        """`{ticket_id: area title}` of `[[KnowledgeGraph(format=png)]]`,
        after checking that its image is served."""
        page = WikiPage(self.env, 'MyGraph')
        if not page.exists:
            page.text = '[[KnowledgeGraph(format=png)]]'
            page.save('editor', 'lock agreement')
        response = self.get('/wiki/MyGraph')
        assert response.status == 200, response
        image = unescape(re.search(r'<img [^>]*src="(/learning/graph\.png'
                                   r'[^"]*)"', response.text).group(1))
        image_path, query = image.split('?', 1)
        drawn = self.get(image_path, query=query)
        assert drawn.status == 200, drawn
        assert drawn.body.startswith(b'\x89PNG')
        return {int(m.group(1)): unescape(m.group(2)) for m in re.finditer(
            r'<area [^>]*href="/ticket/(\d+)"[^>]*title="([^"]*)"',
            response.text)}


def dot_styles(env):
    """`{ticket_id: (style, tooltip)}` of Alice's graph's DOT source, as
    `dot` reads it."""
    source = KnowledgeGraphs(env).draw(ALICE, lambda t: '/ticket/%d' % t,
                                       'dot').data
    result = subprocess.run(['dot', '-Tjson'], input=source.encode('utf-8'),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {int(o['name'][1:]): (o.get('style', ''), o.get('tooltip', ''))
            for o in json.loads(result.stdout)['objects']
            if re.match(r'^c[0-9]+$', o['name'])}


def guard_refuses(env, ticket_id):
    """Whether the ticket form's guard refuses to start the concept."""
    ticket = Ticket(env, ticket_id)
    ticket['status'] = 'assigned'
    return [message for field, message in
            ConceptStudyGuard(env).validate_ticket(None, ticket)
            if field is None] != []


def test_a_mastered_concept_with_a_new_prerequisite_is_open_everywhere(
        env):
    path = make_path(env, ALICE)
    ids = {t['concept']: t['ticket_id'] for t in path['tickets']}
    ledgers, merkle, blocks = ids[LEDGERS], ids[MERKLE], ids[BLOCKS]
    alice = Browser(env)
    alice.path = path
    first = alice.submit(ledgers, GOOD_ANSWERS[LEDGERS])
    assert first.status == 200 and first.json()['mastered'], first

    # The admin adds a prerequisite Alice has never mastered.
    AdminCommandManager(env).execute_command(
        'learning', 'prereq', 'add', str(ledgers), str(merkle))

    # The learning path API.
    concepts = alice.path_concepts('ticket_id')
    assert merkle in concepts[ledgers]['prerequisites']
    assert (concepts[ledgers]['status'], concepts[ledgers]['locked']) == \
        ('mastered', False)
    assert concepts[merkle]['status'] == 'not_started'
    assert (concepts[blocks]['status'], concepts[blocks]['locked']) == \
        ('not_started', True)

    # The knowledge graph: the DOT source and the PNG's image map.
    styles = dot_styles(env)
    assert 'dashed' not in styles[ledgers][0]
    assert LOCKED_TITLE not in styles[ledgers][1]
    assert 'dashed' in styles[blocks][0]
    assert styles[blocks][1].endswith(LOCKED_TITLE)
    areas = alice.image_map()
    assert LOCKED_TITLE not in areas[ledgers]
    assert areas[blocks].endswith(LOCKED_TITLE)

    # The concept's page and the ticket form's guard.
    assert alice.concept_page_state(ledgers) == 'mastered'
    assert alice.concept_page_state(blocks) == 'locked'
    assert not guard_refuses(env, ledgers)
    assert guard_refuses(env, blocks)

    # Submit: the mastered concept is graded and recorded, and stays
    # mastered; the never-mastered one is refused, naming the prerequisite.
    again = alice.submit(ledgers, SECOND_ANSWER)
    assert again.status == 200, again
    result = again.json()
    assert (result['attempt'], result['status'], result['mastered'],
            result['ticket_status']) == (2, 'mastered', True, 'closed')
    assert result['score'] < first.json()['score']
    refused = alice.submit(blocks, SECOND_ANSWER)
    assert refused.status == 409, refused
    error = refused.json()['error']
    assert error['code'] == 'prerequisites_not_mastered'
    assert error['prerequisites'] == [
        {'ticket_id': merkle, 'concept': MERKLE, 'status': 'not_started'}]

    # Once the new prerequisite is mastered, nothing is locked any more.
    assert alice.submit(merkle, GOOD_ANSWERS[MERKLE]).json()['mastered']
    assert alice.path_concepts('ticket_id')[blocks]['locked'] is False
    assert 'dashed' not in dot_styles(env)[blocks][0]
    assert LOCKED_TITLE not in alice.image_map()[blocks]
    assert alice.concept_page_state(blocks) == 'open'
    assert alice.submit(blocks, SECOND_ANSWER).status == 200
