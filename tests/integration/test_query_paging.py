"""A learner's queries and reports page over her own concepts
(tracl.auth.concept_query), whatever other learners own.

Six other learners' concepts come first (the lowest ticket ids), then
alice's, then two public defects. Pages of five: Trac's SQL must cut the
pages from the tickets alice may see, not cut them first and leave the
permission policy to empty them. Through Trac's real dispatcher: the query
page, its CSV, TSV and RSS exports, reports (Trac's and one that starts with
its own WITH), the `[[TicketQuery]]` macro in its list, compact, table and
count formats; an admin (LEARNING_ADMIN) still sees every concept,
anonymous none.
"""

import csv
import io
import re
from urllib.parse import urlencode

import pytest
# A stub knows only the components whose modules are imported: load the
# pages a real Trac environment serves.
import trac.ticket.query  # noqa: F401
import trac.ticket.report  # noqa: F401
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_api  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.perm import PermissionCache
from trac.ticket.model import Ticket
from trac.ticket.query import Query
from trac.ticket.report import ReportModule
from trac.util.text import sub_vars_re, unicode_urlencode

from support.sessions import browser_session
from support.web import call
from tracl.auth.concept_query import (REPORT_VARIABLES, ConceptQueries,
                                      with_expression)
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.schema import dialect

ALICE, ADMIN_SUB = 'sub-alice', 'sub-admin'
OTHERS = ['sub-learner%d' % n for n in range(1, 7)]
OTHERS_CONCEPTS = 4      # each: 24 before alice's
ALICE_CONCEPTS = 12      # 3 pages of 5
PAGE = 5
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}

pytestmark = pytest.mark.learning_env(default_data=True, trac_policies=True)

#: A report that starts with its own common table expression.
WITH_REPORT_SQL = """
-- A report of concepts, through an expression of its own
WITH concepts AS (SELECT id FROM ticket WHERE type = 'learning_concept')
SELECT t.id AS ticket, t.summary AS summary, t.owner AS owner
  FROM ticket t JOIN concepts c ON c.id = t.id
 ORDER BY t.id
"""


#: A report with '%' in a literal, as a LIKE pattern has: Trac escapes it
#: when the statement has parameters, as the expression gives every one.
LIKE_REPORT_SQL = """
SELECT id AS ticket, summary FROM ticket
 WHERE summary LIKE '%number 1%' ORDER BY id
"""


#: A report of a `$` variable the request may leave unset: Trac's form
#: then offers a box for it.
MILESTONE_REPORT_SQL = """
SELECT id AS ticket, summary FROM ticket
 WHERE COALESCE(milestone, '') = $MILESTONE ORDER BY id
"""


class World(object):
    """Seven learners' concepts, two defects, and everyone's cookies."""

    def __init__(self, env):
        self.env = env
        self.concepts = {sub: [add_ticket(env, sub, CONCEPT_TICKET_TYPE, n)
                               for n in range(OTHERS_CONCEPTS)]
                         for sub in OTHERS}
        self.concepts[ALICE] = [add_ticket(env, ALICE, CONCEPT_TICKET_TYPE, n)
                                for n in range(ALICE_CONCEPTS)]
        self.defects = [add_ticket(env, 'someone', 'defect', n)
                        for n in range(2)]
        self.every_concept = sorted(t for ids in self.concepts.values()
                                    for t in ids)
        with env.db_transaction as db:
            cursor = db.cursor()
            cursor.execute("""
                INSERT INTO report (author, title, query, description)
                VALUES (%s, %s, %s, %s)""",
                ('admin', 'Concepts by expression', WITH_REPORT_SQL, ''))
            self.with_report = db.get_last_id(cursor, 'report')
            cursor.execute("""
                INSERT INTO report (author, title, query, description)
                VALUES (%s, %s, %s, %s)""",
                ('admin', 'Number one', LIKE_REPORT_SQL, ''))
            self.like_report = db.get_last_id(cursor, 'report')
            cursor.execute("""
                INSERT INTO report (author, title, query, description)
                VALUES (%s, %s, %s, %s)""",
                ('admin', 'By milestone', MILESTONE_REPORT_SQL, ''))
            self.milestone_report = db.get_last_id(cursor, 'report')
        self.cookies = {
            'alice': browser_session(env, ALICE),
            'learner1': browser_session(env, OTHERS[0]),
            'admin': browser_session(env, ADMIN_SUB,
                                     groups=['Administrators']),
            'anonymous': None,
        }

    def get(self, viewer, path, **args):
        response = call(self.env, 'GET', path, cookies=self.cookies[viewer],
                        query=unicode_urlencode(args))
        assert response.status == 200, (viewer, path, args, response)
        return response

    def wiki(self, viewer, text):
        cookies = self.cookies[viewer] or \
            {'trac_form_token': 'anonymous-form-token'}
        body = urlencode({'__FORM_TOKEN': cookies['trac_form_token'],
                          'realm': 'wiki', 'id': 'WikiStart', 'text': text})
        response = call(self.env, 'POST', '/wiki_render', cookies=cookies,
                        body=body.encode('utf-8'), headers=FORM)
        assert response.status == 200, response
        return response


def add_ticket(env, owner, type, n):
    ticket = Ticket(env)
    ticket.populate({'type': type, 'owner': owner, 'reporter': owner,
                     'status': 'new', 'priority': 'major',
                     'summary': '%s %s number %d' % (owner, type, n)})
    return ticket.insert()


@pytest.fixture
def world(env):
    return World(env)


def ticket_ids(response):
    """The tickets a page links to, in order, each once."""
    ids = []
    for found in re.findall(r'href="/ticket/(\d+)"', response.text):
        if int(found) not in ids:
            ids.append(int(found))
    return ids


def match_count(response):
    """The '(N matches)' in a query's or report's title."""
    found = re.search(r'<span class="numrows">\s*\((\d+) match',
                      response.text)
    return int(found.group(1))


def page_links(response):
    """The page numbers the page index links to (not the current one)."""
    return sorted({int(n) for n in re.findall(r'title="Page (\d+)"',
                                             response.text)})


def csv_ids(response, delimiter=','):
    rows = list(csv.reader(io.StringIO(response.body.decode('utf-8-sig')),
                           delimiter=delimiter))
    return [int(row[0]) for row in rows[1:] if row]


def rss_ids(response):
    return [int(n) for n in
            re.findall(r'<link>http://localhost/ticket/(\d+)</link>',
                       response.text)]


def pages(ids):
    return [ids[i:i + PAGE] for i in range(0, len(ids), PAGE)]


CONCEPT_QUERY = {'type': CONCEPT_TICKET_TYPE, 'status': '!closed',
                 'order': 'id', 'max': str(PAGE)}


# The query page and its exports

def test_the_issue_s_query_lists_a_learner_s_open_concepts(world):
    response = world.get('alice', '/query', type=CONCEPT_TICKET_TYPE,
                         status='!closed', order='id')
    assert ticket_ids(response) == world.concepts[ALICE]
    assert match_count(response) == ALICE_CONCEPTS


def test_the_demo_s_query_finds_concepts_beyond_trac_s_first_page(env):
    """As in the demo: more than a default page (100) of other learners'
    concepts before a learner's 20, and no `max` in the query."""
    for n in range(101):
        add_ticket(env, OTHERS[n % len(OTHERS)], CONCEPT_TICKET_TYPE, n)
    mine = [add_ticket(env, ALICE, CONCEPT_TICKET_TYPE, n)
            for n in range(20)]
    response = call(env, 'GET', '/query', cookies=browser_session(env, ALICE),
                    query='type=learning_concept&status=!closed&order=id')
    assert ticket_ids(response) == mine
    assert match_count(response) == 20
    assert page_links(response) == []


def test_query_pages_over_the_learner_s_own_concepts(world):
    mine = world.concepts[ALICE]
    for number, expected in enumerate(pages(mine), 1):
        response = world.get('alice', '/query', page=str(number),
                             **CONCEPT_QUERY)
        assert ticket_ids(response) == expected, number
        assert match_count(response) == len(mine)
        assert page_links(response) == [n for n in (1, 2, 3) if n != number]


def test_a_page_beyond_the_learner_s_concepts_is_refused(world):
    response = call(world.env, 'GET', '/query',
                    cookies=world.cookies['alice'],
                    query=unicode_urlencode(dict(CONCEPT_QUERY, page='4')))
    assert 'beyond the number of pages' in response.text
    assert not set(ticket_ids(response)) & set(world.every_concept)


def test_every_learner_pages_over_their_own(world):
    response = world.get('learner1', '/query', **CONCEPT_QUERY)
    assert ticket_ids(response) == world.concepts[OTHERS[0]]
    assert match_count(response) == OTHERS_CONCEPTS
    assert page_links(response) == []


def test_query_of_every_open_ticket_counts_the_visible_ones(world):
    response = world.get('alice', '/query', status='!closed', order='id',
                         max=str(PAGE), page='3')
    visible = world.concepts[ALICE] + world.defects
    assert ticket_ids(response) == pages(visible)[2]
    assert match_count(response) == len(visible)
    assert page_links(response) == [1, 2]


def test_query_grouped_by_owner_shows_only_the_viewer_s_group(world):
    response = world.get('alice', '/query', group='owner', **CONCEPT_QUERY)
    assert ticket_ids(response) == pages(world.concepts[ALICE])[0]
    for other in OTHERS:
        assert other not in response.text


def test_admin_pages_over_every_concept(world):
    every = world.every_concept
    response = world.get('admin', '/query', page='2', **CONCEPT_QUERY)
    assert ticket_ids(response) == pages(every)[1]
    assert match_count(response) == len(every)
    last = (len(every) + PAGE - 1) // PAGE
    assert max(page_links(response)) == last


def test_anonymous_queries_no_concept(world):
    response = world.get('anonymous', '/query', **CONCEPT_QUERY)
    assert ticket_ids(response) == []
    assert match_count(response) == 0
    every = world.get('anonymous', '/query', status='!closed', order='id')
    assert ticket_ids(every) == world.defects
    assert match_count(every) == len(world.defects)


@pytest.mark.parametrize('format, delimiter', [('csv', ','), ('tab', '\t')])
def test_query_exports_page_over_the_learner_s_concepts(
        world, format, delimiter):
    mine = world.concepts[ALICE]
    every_page = world.get('alice', '/query', format=format,
                           type=CONCEPT_TICKET_TYPE, order='id')
    assert csv_ids(every_page, delimiter) == mine
    second = world.get('alice', '/query', format=format, page='2',
                       **CONCEPT_QUERY)
    assert csv_ids(second, delimiter) == pages(mine)[1]
    admin = world.get('admin', '/query', format=format,
                      type=CONCEPT_TICKET_TYPE, order='id')
    assert csv_ids(admin, delimiter) == world.every_concept


def test_query_rss_pages_over_the_learner_s_concepts(world):
    response = world.get('alice', '/query', format='rss', **CONCEPT_QUERY)
    assert rss_ids(response) == pages(world.concepts[ALICE])[0]
    admin = world.get('admin', '/query', format='rss', **CONCEPT_QUERY)
    assert rss_ids(admin) == pages(world.every_concept)[0]


# Reports

def report_ids(world, viewer, report, **args):
    """Every ticket of every page of `report`, its count and the pages."""
    first = world.get(viewer, '/report/%d' % report, max=str(PAGE), **args)
    count, links = match_count(first), page_links(first)
    ids = ticket_ids(first)
    for number in links:
        ids += ticket_ids(world.get(viewer, '/report/%d' % report,
                                    max=str(PAGE), page=str(number), **args))
    return ids, count, [1] + links, len(ticket_ids(first))


def test_active_tickets_report_pages_over_what_the_learner_may_see(world):
    ids, count, numbers, first = report_ids(world, 'alice', 1)
    visible = world.concepts[ALICE] + world.defects
    assert sorted(ids) == sorted(visible)
    assert count == len(visible)
    assert numbers == [1, 2, 3]
    assert first == PAGE


def test_active_tickets_report_pages_over_everything_for_the_admin(world):
    ids, count, numbers, first = report_ids(world, 'admin', 1)
    every = world.every_concept + world.defects
    assert sorted(ids) == sorted(every)
    assert count == len(every)
    assert numbers == list(range(1, (len(every) + PAGE - 1) // PAGE + 1))


def test_anonymous_reads_a_report_without_concepts(world):
    ids, count, numbers, first = report_ids(world, 'anonymous', 1)
    assert sorted(ids) == world.defects
    assert count == len(world.defects)
    assert numbers == [1]


def test_a_report_that_starts_with_its_own_with_pages_too(world):
    ids, count, numbers, first = report_ids(world, 'alice', world.with_report)
    assert ids == world.concepts[ALICE]
    assert count == ALICE_CONCEPTS
    assert numbers == [1, 2, 3]
    admin_ids, admin_count, _, _ = report_ids(world, 'admin',
                                              world.with_report)
    assert admin_ids == world.every_concept
    assert admin_count == len(world.every_concept)


def test_a_report_s_csv_export_holds_only_the_learner_s_concepts(world):
    response = world.get('alice', '/report/%d' % world.with_report,
                         format='csv')
    assert csv_ids(response) == world.concepts[ALICE]


def test_a_report_with_percent_in_a_literal_still_runs(world):
    # Her 'number 1', 'number 10' and 'number 11', and a public defect.
    ids, count, _, _ = report_ids(world, 'alice', world.like_report)
    mine = world.concepts[ALICE]
    assert ids == [mine[1], mine[10], mine[11], world.defects[1]]
    assert count == 4
    anonymous, _, _, _ = report_ids(world, 'anonymous', world.like_report)
    assert anonymous == [world.defects[1]]


def test_report_variables_from_the_request_change_nothing(world):
    """The expression's values are report variables: one sent in the
    request does not replace the viewer, and links do not carry them."""
    other = OTHERS[0]
    response = world.get('alice', '/report/%d' % world.with_report,
                         max=str(PAGE), TRACL_VIEWER=other,
                         TRACL_CONCEPT_TYPE='defect')
    assert ticket_ids(response) == pages(world.concepts[ALICE])[0]
    assert match_count(response) == ALICE_CONCEPTS
    assert 'TRACL_' not in response.text


@pytest.mark.parametrize('viewer', ['alice', 'anonymous', 'admin'])
def test_a_missing_report_variable_gets_its_box_in_the_form(world, viewer):
    """Trac adds a variable the request leaves unset to the report's
    arguments, for its form to offer a box: a learner's too."""
    response = world.get(viewer, '/report/%d' % world.milestone_report,
                         max=str(PAGE))
    assert 'The following arguments are missing: MILESTONE' in \
        response.text
    assert re.search(r'<input type="text" size="42"\s+name="MILESTONE"\s+'
                     r'value=""\s*/>', response.text), viewer
    assert 'TRACL_' not in response.text
    # Her milestone-less tickets are the report's rows.
    visible = world.concepts[ALICE] if viewer == 'alice' else \
        world.every_concept if viewer == 'admin' else []
    assert match_count(response) == len(visible + world.defects)


def test_a_report_variable_set_in_the_request_stays_in_the_form(world):
    response = world.get('alice', '/report/%d' % world.milestone_report,
                         max=str(PAGE), MILESTONE='none such')
    assert re.search(r'name="MILESTONE"\s+value="none such"',
                     response.text)
    assert 'arguments are missing' not in response.text
    assert 'No matches found' in response.text


def test_my_tickets_report_still_reads_user(world):
    # Report 7 ('My Tickets') reads $USER: the expression's variables
    # leave Trac's own alone.
    ids, count, _, _ = report_ids(world, 'learner1', 7)
    assert sorted(ids) == world.concepts[OTHERS[0]]
    assert count == OTHERS_CONCEPTS


# [[TicketQuery]]

def macro(world, viewer, args):
    return world.wiki(viewer, '[[TicketQuery(%s)]]' % args)


CONCEPTS_ARGS = 'type=%s,order=id,max=%d' % (CONCEPT_TICKET_TYPE, PAGE)


@pytest.mark.parametrize('format', ['list', 'compact', 'table'])
def test_ticketquery_lists_the_learner_s_first_concepts(world, format):
    response = macro(world, 'alice', CONCEPTS_ARGS + ',format=' + format)
    assert ticket_ids(response) == pages(world.concepts[ALICE])[0]
    admin = macro(world, 'admin', CONCEPTS_ARGS + ',format=' + format)
    assert ticket_ids(admin) == pages(world.every_concept)[0]


def test_ticketquery_table_counts_and_pages_the_learner_s_concepts(world):
    response = macro(world, 'alice', CONCEPTS_ARGS + ',format=table')
    assert '(1 - %d of %d)' % (PAGE, ALICE_CONCEPTS) in response.text
    assert page_links(response) == [2, 3]


@pytest.mark.parametrize('viewer, expected', [
    ('alice', ALICE_CONCEPTS), ('learner1', OTHERS_CONCEPTS),
    ('anonymous', 0), ('admin', len(OTHERS) * OTHERS_CONCEPTS
                       + ALICE_CONCEPTS)])
def test_ticketquery_counts_what_the_viewer_may_see(world, viewer, expected):
    response = macro(world, viewer, 'type=%s,format=rawcount'
                     % CONCEPT_TICKET_TYPE)
    count = re.search(r'class="query_count"[^>]*>\s*(\d+)', response.text)
    assert int(count.group(1)) == expected
    link = macro(world, viewer, 'type=%s,format=count' % CONCEPT_TICKET_TYPE)
    assert re.search(r'<a [^>]*href="[^"]*/query\?[^"]*"[^>]*>%d</a>'
                     % expected, link.text)


# The statement itself

def test_the_query_statement_reads_the_viewer_s_part_of_the_table(world):
    query = Query.from_string(world.env, 'type=%s&max=5'
                              % CONCEPT_TICKET_TYPE)
    sql, args = query.get_sql(authname=ALICE)
    assert sql.startswith('WITH ticket AS (SELECT * FROM ')
    assert args[:2] == [CONCEPT_TICKET_TYPE, ALICE]
    assert ALICE not in sql
    # Without a viewer (TracLearn's own code), Trac's statement.
    plain, plain_args = query.get_sql()
    assert not plain.startswith('WITH') and ALICE not in plain_args
    assert [t['id'] for t in query.execute(authname=ALICE)] == \
        world.concepts[ALICE][:PAGE]


def test_the_expression_reads_the_table_unqualified_sql_reads(world):
    """On PostgreSQL the expression names the schema that holds `ticket`
    as an unqualified name finds it, not the first schema of the search
    path (which may hold no `ticket`, as a schema named after the role)."""
    env = world.env
    queries = ConceptQueries(env)
    query = Query.from_string(env, 'type=%s&order=id&max=%d'
                              % (CONCEPT_TICKET_TYPE, PAGE))
    if dialect(env) != 'postgres':
        queries._table = None
        assert queries._real_ticket_table() == 'main.ticket'
        return

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):
        with env.db_transaction as db:
            schema = db("SELECT current_schema()")[0][0]
            cursor = db.cursor()
            cursor.execute('CREATE SCHEMA tracl_no_tickets')
            cursor.execute("SELECT set_config('search_path', %s, true)",
                           ('tracl_no_tickets, %s' % db.quote(schema),))
            assert db("SELECT current_schema()")[0][0] == 'tracl_no_tickets'
            queries._table = None
            assert queries._real_ticket_table() == \
                '%s.ticket' % db.quote(schema)
            assert [t['id'] for t in query.execute(authname=ALICE)] == \
                world.concepts[ALICE][:PAGE]
            raise Rollback
    queries._table = None


def test_the_expression_is_none_for_learning_admin(world):
    queries = ConceptQueries(world.env)
    assert queries.ticket_expression(authname=ADMIN_SUB) is None
    assert 'LEARNING_ADMIN' in PermissionCache(world.env, ADMIN_SUB)
    anonymous = queries.ticket_expression(authname='anonymous')
    assert anonymous[1] == [CONCEPT_TICKET_TYPE]
    assert queries.ticket_expression() is None


def test_the_expression_is_off_where_the_component_is_disabled(world):
    world.env.disable_component(ConceptQueries)
    query = Query.from_string(world.env, 'type=%s' % CONCEPT_TICKET_TYPE)
    sql, _ = query.get_sql(authname=ALICE)
    assert not sql.startswith('WITH')


@pytest.mark.parametrize('sql, expected', [
    ('SELECT 1', 'WITH ticket AS (x)\nSELECT 1'),
    ('WITH a AS (SELECT 1) SELECT 2',
     'WITH ticket AS (x), a AS (SELECT 1) SELECT 2'),
    ('  -- comment\n/* more */\nwith recursive a(n) AS (SELECT 1) SELECT n',
     '  -- comment\n/* more */\nwith recursive ticket AS (x), a(n) AS '
     '(SELECT 1) SELECT n'),
    ('SELECT 1 -- WITH\n', 'WITH ticket AS (x)\nSELECT 1 -- WITH\n'),
    ('WITHOUT', 'WITH ticket AS (x)\nWITHOUT'),
])
def test_with_expression_comes_first(sql, expected):
    assert with_expression(sql, 'ticket AS (x)') == expected


def test_report_variables_are_upper_case_names_trac_substitutes():
    for name in REPORT_VARIABLES:
        assert sub_vars_re.fullmatch('$' + name)
    assert ReportModule.execute_paginated_report.tracl_concept_restriction
