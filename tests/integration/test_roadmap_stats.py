"""Learning progress on Trac's roadmap and milestone pages
(`LearningGroupStatsProvider`), through Trac's real request dispatcher, on
SQLite and PostgreSQL.

Two learners, alice and bob, each made a learning path for the same query,
so both have concepts in the subject 'Blockchain Fundamentals'. Alice
masters one concept and is studying another; bob is studying one. Each
learner's bars count their own concepts by their progress and nothing of
the other's; an admin's count everyone's. Answers are graded by a test
provider whose score the answer's wording decides.
"""

import re
from datetime import timedelta
from html import unescape
from urllib.parse import quote, urlsplit

import pytest
# A stub environment knows only the components whose modules are imported:
# load the pages a real Trac environment serves (the permission policies
# of trac.ini name components of several of them).
import trac.attachment  # noqa: F401
import trac.search.web_ui  # noqa: F401
import trac.ticket.query  # noqa: F401
import trac.ticket.report  # noqa: F401
import trac.ticket.web_ui  # noqa: F401
import trac.timeline.web_ui  # noqa: F401
import trac.wiki.macros  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.cache import CacheManager
from trac.ticket.model import Ticket
from trac.ticket.roadmap import (DefaultTicketGroupStatsProvider,
                                 MilestoneModule, RoadmapModule)

from support.providers import ScriptedLLMProvider
from support.sessions import browser_session
from support.study import make_path
from support.web import call
from tracl.auth.names import person_name
from tracl.environment import (CONCEPT_TICKET_TYPE,
                               LearningEnvironmentSetup)
from tracl.model import reviews
from tracl.study.loop import StudyLoop
from tracl.study.retention import Retention
from tracl.study.roadmap import LearningGroupStatsProvider

SUBJECT = 'Blockchain Fundamentals'
ALICE, BOB, ADMIN_SUB = 'sub-alice', 'sub-bob', 'sub-admin'

#: Answers the test grader scores above and below the mastery threshold.
MASTERING_ANSWER = 'Put in my own words, this is how the idea works.'
WEAK_ANSWER = 'I am not sure yet, something about computers?'

LEARNING_PROVIDER = 'LearningGroupStatsProvider'
TRAC_PROVIDER = 'DefaultTicketGroupStatsProvider'


# Fixtures and helpers -----------------------------------------------------

# Trac 1.6's own policies (TracLearn's setup puts ConceptOwnerPolicy in
# front of them) and the scripted provider, grading by wording.
pytestmark = pytest.mark.learning_env(
    default_data=True, trac_policies=True, provider=True,
    config=[('learning', 'api_rate_limit', '0'),
            ('learning', 'review_fuzzing', 'false')])


class World(object):
    """Alice's and bob's paths in `SUBJECT`, their progress, and the
    browsers of alice, bob and an admin."""

    def __init__(self, env):
        self.env = env
        alice_path = make_path(env, ALICE)
        bob_path = make_path(env, BOB, fill=False)
        self.concepts = {
            ALICE: [t['ticket_id'] for t in alice_path['tickets']],
            BOB: [t['ticket_id'] for t in bob_path['tickets']]}
        alice_free = unlocked(alice_path)
        self.mastered = {ALICE: {alice_free[0]}, BOB: set()}
        self.studying = {ALICE: {alice_free[1]}, BOB: {unlocked(bob_path)[0]}}
        answer(env, ALICE, alice_free[0], MASTERING_ANSWER)
        answer(env, ALICE, alice_free[1], WEAK_ANSWER)
        answer(env, BOB, unlocked(bob_path)[0], WEAK_ANSWER)
        self.cookies = {
            ALICE: browser_session(env, ALICE),
            BOB: browser_session(env, BOB),
            ADMIN_SUB: browser_session(env, ADMIN_SUB,
                                       groups=('Administrators',)),
        }

    def get(self, viewer, path, query=''):
        # What tracd does before each request (`open_environment`).
        CacheManager(self.env).reset_metadata()
        response = call(self.env, 'GET', path, query=query,
                        cookies=self.cookies[viewer])
        assert response.status == 200, response
        return response

    def not_started(self, sub):
        return set(self.concepts[sub]) - self.mastered[sub] - \
            self.studying[sub]

    def expected_legend(self, *subs):
        """The legend of the bar counting the concepts of `subs`."""
        return {
            'total': ('concepts', sum(len(self.concepts[s]) for s in subs)),
            'Mastered': sum(len(self.mastered[s]) for s in subs),
            'Studying': sum(len(self.studying[s]) for s in subs),
            'Not started': sum(len(self.not_started(s)) for s in subs)}

    def query_ids(self, viewer, href):
        """The ticket ids a query link of the bars lists for `viewer`."""
        link = urlsplit(unescape(href))
        assert link.path == '/query'
        csv = self.get(viewer, '/query', link.query + '&format=csv').text
        rows = csv.lstrip('\ufeff').splitlines()[1:]
        return {int(row.split(',')[0]) for row in rows if row}


@pytest.fixture
def world(env):
    return World(env)


def unlocked(path):
    """The ticket ids of a path's concepts without prerequisites."""
    return [t['ticket_id'] for t in path['tickets'] if not t['prerequisites']]


def answer(env, sub, ticket_id, text):
    """`sub`'s answer `text`, graded by its wording: `MASTERING_ANSWER`
    scores 1, anything else 0.2."""
    grader = ScriptedLLMProvider(env)
    grader.score, grader.answer_scores = 0.2, {MASTERING_ANSWER: 1.0}
    loop = StudyLoop(env)
    return loop.submit(sub, loop.concept(sub, ticket_id), text)


def add_ticket(env, milestone, status='new', ticket_type='defect',
               component='component1'):
    ticket = Ticket(env)
    ticket.populate({'type': ticket_type, 'status': status,
                     'reporter': 'someone', 'milestone': milestone,
                     'component': component,
                     'summary': 'A %s ticket' % status})
    if status == 'closed':
        ticket['resolution'] = 'fixed'
    return ticket.insert()


_LEGEND_RE = re.compile(r'<p class="legend">(.*?)</p>', re.S)
_TOTAL_RE = re.compile(r'<a href="([^"]*)">Total number of (\w+): (\d+)</a>')
_INTERVAL_RE = re.compile(r'- <a href="([^"]*)">([^<:]+): (\d+)</a>')


def roadmap_block(html, milestone):
    """The part of the roadmap page about `milestone`."""
    marker = 'href="/milestone/%s"' % quote(milestone)
    blocks = [b for b in html.split('<div class="milestone">') if marker in b]
    assert len(blocks) == 1, milestone
    return blocks[0]


def legend(html):
    """`{'total': (unit, count), title: count}` of the first progress
    bar's legend in `html`."""
    found = _LEGEND_RE.search(html)
    assert found, 'no progress bar'
    text = found.group(1)
    _href, unit, total = _TOTAL_RE.search(text).groups()
    counts = {'total': (unit, int(total))}
    counts.update((title, int(count))
                  for _href, title, count in _INTERVAL_RE.findall(text))
    return counts


def legend_links(html):
    """`{title: href}` of the first progress bar's legend in `html`."""
    text = _LEGEND_RE.search(html).group(1)
    return {title: href for href, title, _count in _INTERVAL_RE.findall(text)}


def bar_classes(html):
    """The CSS classes of the first progress bar's intervals."""
    table = re.search(r'<table class="progress">(.*?)</table>', html, re.S)
    return re.findall(r'<td class="([^"]+)"', table.group(1))


def grouped_rows(html):
    """`{group header text: {interval title: count}}` of the milestone
    page's grouped bars."""
    section = html.split('class="trac-groupprogress"', 1)[1]
    rows = {}
    for row in re.findall(r'<tr>\s*<th scope="row">(.*?)</tr>', section,
                          re.S):
        header, cells = row.split('</th>', 1)
        name = re.sub(r'<[^>]+>', '', header).strip()
        rows[name] = {title: int(count) for count, title in
                      re.findall(r'title="(\d+)/\d+ ([^"]+)"', cells)}
    return rows


def rows_by_learner(world, html):
    """`grouped_rows` of a page grouped by owner, keyed by each learner's
    sub: the page names the learners (never by their sub)."""
    rows = grouped_rows(html)
    assert not set(rows) & {ALICE, BOB}, rows
    names = {person_name(world.env, sub): sub for sub in (ALICE, BOB)}
    return {names[name]: counts for name, counts in rows.items()}


# What each viewer sees ----------------------------------------------------

def test_a_learners_roadmap_counts_her_concepts_by_progress(world):
    for sub in (ALICE, BOB):
        page = world.get(sub, '/roadmap').text
        assert legend(roadmap_block(page, SUBJECT)) == \
            world.expected_legend(sub), sub


def test_an_admins_roadmap_counts_every_learners_concepts(world):
    page = world.get(ADMIN_SUB, '/roadmap').text
    assert legend(roadmap_block(page, SUBJECT)) == \
        world.expected_legend(ALICE, BOB)


def test_the_milestone_page_counts_the_viewers_concepts(world):
    for viewer, subs in ((ALICE, [ALICE]), (BOB, [BOB]),
                         (ADMIN_SUB, [ALICE, BOB])):
        page = world.get(viewer, '/milestone/' + SUBJECT).text
        assert legend(page) == world.expected_legend(*subs), viewer


def test_the_interval_links_list_the_viewers_concepts_counted(world):
    for viewer, subs in ((ALICE, [ALICE]), (BOB, [BOB]),
                         (ADMIN_SUB, [ALICE, BOB])):
        for path in ('/roadmap', '/milestone/' + SUBJECT):
            page = world.get(viewer, path).text
            if path == '/roadmap':
                page = roadmap_block(page, SUBJECT)
            links = legend_links(page)
            expected = {
                'Mastered': set().union(*(world.mastered[s] for s in subs)),
                'Studying': set().union(*(world.studying[s] for s in subs)),
                'Not started': set().union(*(world.not_started(s)
                                             for s in subs))}
            for title, ids in expected.items():
                assert world.query_ids(viewer, links[title]) == ids, \
                    (viewer, path, title)


def test_a_learners_pages_name_no_ticket_of_another_learner(world):
    bob_tickets = set(world.concepts[BOB])
    for path in ('/roadmap', '/milestone/' + SUBJECT):
        for by in ('', 'by=owner', 'by=question_difficulty'):
            page = world.get(ALICE, path, by).text
            assert BOB not in page, (path, by)
            linked = {int(t) for t in re.findall(r'/ticket/(\d+)', page)}
            assert not linked & bob_tickets, (path, by)


def test_mastery_fills_the_bar_in_the_learning_colours(world):
    page = world.get(ALICE, '/milestone/' + SUBJECT).text
    assert bar_classes(page) == ['tracl-mastered', 'tracl-studying',
                                 'tracl-not-started']
    total = len(world.concepts[ALICE])
    percent = re.search(r'<p class="percent">(\d+)%</p>', page).group(1)
    assert int(percent) == round(100.0 / total)
    assert 'href="/chrome/tracl/css/roadmap.css"' in page
    assert 'href="/chrome/tracl/css/roadmap.css"' in \
        world.get(ALICE, '/roadmap').text


def test_the_learning_colours_are_served(world):
    css = world.get(ALICE, '/chrome/tracl/css/roadmap.css').text
    for css_class, colour in (('tracl-mastered', '#4caf50'),
                              ('tracl-studying', '#f0a030'),
                              ('tracl-not-started', '#bbb')):
        assert re.search(r'td\.%s\s*\{\s*background:\s*%s' %
                         (css_class, colour), css), css_class


# Grouped bars on the milestone page ----------------------------------------

def test_bars_by_owner_show_the_learner_only_herself(world):
    rows = rows_by_learner(world, world.get(
        ALICE, '/milestone/' + SUBJECT, 'by=owner').text)
    assert list(rows) == [ALICE]
    expected = world.expected_legend(ALICE)
    assert rows[ALICE] == {title: expected[title] for title in
                           ('Mastered', 'Studying', 'Not started')}


def test_bars_by_owner_show_an_admin_every_learner(world):
    rows = rows_by_learner(world, world.get(
        ADMIN_SUB, '/milestone/' + SUBJECT, 'by=owner').text)
    assert sorted(rows) == [ALICE, BOB]
    for sub in (ALICE, BOB):
        expected = world.expected_legend(sub)
        assert rows[sub] == {title: expected[title] for title in
                             ('Mastered', 'Studying', 'Not started')}, sub


def test_bars_by_difficulty_add_up_to_the_learners_concepts(world):
    rows = grouped_rows(world.get(ALICE, '/milestone/' + SUBJECT,
                                  'by=question_difficulty').text)
    assert rows
    expected = world.expected_legend(ALICE)
    for title in ('Mastered', 'Studying', 'Not started'):
        assert sum(row[title] for row in rows.values()) == expected[title]


def test_bars_by_component_count_tickets_as_trac_does(world):
    add_ticket(world.env, SUBJECT, 'new', component='component1')
    add_ticket(world.env, SUBJECT, 'closed', component='component1')
    # Concepts have no component: Trac groups only the defects.
    rows = grouped_rows(world.get(ALICE, '/milestone/' + SUBJECT,
                                  'by=component').text)
    assert rows == {'component1': {'closed': 1, 'active': 1}}


# Other tickets --------------------------------------------------------------

def test_other_tickets_in_a_subject_keep_trac_counts_beside_progress(world):
    active = {add_ticket(world.env, SUBJECT, 'new'),
              add_ticket(world.env, SUBJECT, 'accepted')}
    closed = add_ticket(world.env, SUBJECT, 'closed')
    page = roadmap_block(world.get(ALICE, '/roadmap').text, SUBJECT)
    expected = world.expected_legend(ALICE)
    expected.update({'total': ('tickets', expected['total'][1] + 3),
                     'closed': 1, 'active': 2})
    assert legend(page) == expected
    assert bar_classes(page) == ['tracl-mastered', 'tracl-studying',
                                 'tracl-not-started', 'closed', 'open']
    # Mastered concepts and closed tickets both count as done.
    percent = re.search(r'<p class="percent">(\d+)%</p>', page).group(1)
    assert int(percent) == round(100.0 * 2 / expected['total'][1])
    # The links of Trac's intervals list those tickets, not concepts.
    links = legend_links(page)
    assert world.query_ids(ALICE, links['closed']) == {closed}
    assert world.query_ids(ALICE, links['active']) == active
    assert world.query_ids(ALICE, links['Mastered']) == world.mastered[ALICE]


def test_a_milestone_without_concepts_keeps_trac_bar(world):
    add_ticket(world.env, 'milestone1', 'new')
    add_ticket(world.env, 'milestone1', 'closed')
    page = roadmap_block(world.get(ALICE, '/roadmap').text, 'milestone1')
    assert legend(page) == {'total': ('tickets', 2), 'closed': 1,
                            'active': 1}
    assert bar_classes(page) == ['closed', 'open']


# The provider itself ----------------------------------------------------------

def intervals(stat):
    return [(i['title'], i['count'], i['css_class'], i['qry_args'],
             bool(i['overall_completion'])) for i in stat.intervals]


def test_a_group_without_concepts_gets_trac_statistics(env):
    tickets = [add_ticket(env, 'milestone1', status)
               for status in ('new', 'closed', 'reopened')]
    for group in (tickets, []):
        ours = LearningGroupStatsProvider(env).get_ticket_group_stats(group)
        trac = DefaultTicketGroupStatsProvider(env) \
            .get_ticket_group_stats(group)
        assert intervals(ours) == intervals(trac)
        assert (ours.title, ours.unit, ours.count, ours.done_percent) == \
            (trac.title, trac.unit, trac.count, trac.done_percent)


def test_concepts_are_counted_by_their_owners_progress(world):
    """Not by their ticket status: a concept accepted by hand through
    Trac's workflow, never answered, is not started."""
    concept = sorted(world.not_started(ALICE))[0]
    ticket = Ticket(world.env, concept)
    ticket['status'] = 'accepted'
    ticket.save_changes(ALICE, 'accepted by hand')
    stat = LearningGroupStatsProvider(world.env).get_ticket_group_stats(
        world.concepts[ALICE] + world.concepts[BOB])
    assert [(i['title'], i['count']) for i in stat.intervals] == [
        ('Mastered', 1), ('Studying', 2),
        ('Not started', len(world.concepts[ALICE]) +
         len(world.concepts[BOB]) - 3)]
    assert [i['qry_args'] for i in stat.intervals] == [
        {'type': [CONCEPT_TICKET_TYPE], 'status': ['closed']},
        {'type': [CONCEPT_TICKET_TYPE],
         'status': ['accepted', 'assigned', 'reopened']},
        {'type': [CONCEPT_TICKET_TYPE], 'status': ['new']}]
    assert [bool(i['overall_completion']) for i in stat.intervals] == \
        [True, False, False]
    assert stat.done_count == 1


# Reviews due ---------------------------------------------------------------

DUE = 'Mastered, due for review'


def test_nothing_due_adds_no_interval(world):
    page = world.get(ALICE, '/milestone/' + SUBJECT).text
    assert DUE not in page


def test_a_due_concept_is_counted_apart_from_the_other_mastered(
        world, clock):
    env = world.env
    first = sorted(world.mastered[ALICE])[0]
    # Her concept being studied is mastered too: two mastered, one due.
    studied = world.studying[ALICE].pop()
    answer(env, ALICE, studied, MASTERING_ANSWER)
    world.mastered[ALICE].add(studied)
    card = reviews.cards(env, ALICE)[first]
    assert Retention(env).make_due(first) == ALICE
    total = len(world.concepts[ALICE])
    for path in ('/roadmap', '/milestone/' + SUBJECT):
        page = world.get(ALICE, path).text
        if path == '/roadmap':
            page = roadmap_block(page, SUBJECT)
        expected = world.expected_legend(ALICE)
        expected.update({'Mastered': expected['Mastered'] - 1, DUE: 1})
        assert legend(page) == expected, path
        links = legend_links(page)
        assert world.query_ids(ALICE, links[DUE]) == {first}
        assert world.query_ids(ALICE, links['Mastered']) == \
            world.mastered[ALICE] - {first}
        # Done all the same: the bar's completion is unchanged.
        assert bar_classes(page)[:2] == ['tracl-mastered',
                                         'tracl-mastered tracl-due']
        percent = re.search(r'<p class="percent">(\d+)%</p>', page).group(1)
        assert int(percent) == round(100.0 * 2 / total)
    # Time alone makes the others due too.
    clock.set(card.due + timedelta(days=1))
    page = world.get(ALICE, '/milestone/' + SUBJECT).text
    assert legend(page)[DUE] == 2 and legend(page)['Mastered'] == 0


def test_due_counts_follow_each_learner(world, clock):
    env = world.env
    bob_free = sorted(world.studying[BOB])[0]
    answer(env, BOB, bob_free, MASTERING_ANSWER)
    alice_first = sorted(world.mastered[ALICE])[0]
    Retention(env).make_due(alice_first)
    rows = rows_by_learner(world, world.get(
        ADMIN_SUB, '/milestone/' + SUBJECT, 'by=owner').text)
    assert rows[ALICE][DUE] == 1 and rows[ALICE]['Mastered'] == 0
    assert DUE not in rows[BOB] and rows[BOB]['Mastered'] == 1
    assert legend(world.get(BOB, '/milestone/' + SUBJECT).text).get(DUE) \
        is None


def test_a_lapsed_concept_counts_as_studying_not_due(world, clock):
    env = world.env
    first = sorted(world.mastered[ALICE])[0]
    card = reviews.cards(env, ALICE)[first]
    clock.set(card.due + timedelta(days=1))
    lapse = answer(env, ALICE, first, WEAK_ANSWER)
    assert lapse.review.lapsed
    counts = legend(world.get(ALICE, '/milestone/' + SUBJECT).text)
    assert DUE not in counts and counts['Mastered'] == 0
    assert counts['Studying'] == len(world.studying[ALICE]) + 1


# Environment setup --------------------------------------------------------------

def test_a_new_environment_counts_learning_progress(env):
    for section in ('roadmap', 'milestone'):
        assert env.config.get(section, 'stats_provider') == LEARNING_PROVIDER
    assert isinstance(RoadmapModule(env).stats_provider,
                      LearningGroupStatsProvider)
    assert isinstance(MilestoneModule(env).stats_provider,
                      LearningGroupStatsProvider)
    assert not LearningEnvironmentSetup(env).environment_needs_upgrade()


def test_an_admins_own_stats_provider_is_kept(make_env):
    env = make_env(config=[('roadmap', 'stats_provider', 'TeamStats')])
    assert env.config.get('roadmap', 'stats_provider') == 'TeamStats'
    assert env.config.get('milestone', 'stats_provider') == LEARNING_PROVIDER


def test_trac_default_written_before_the_install_is_replaced(make_env):
    """`trac-admin initenv` writes every default to trac.ini before
    TracLearn's setup runs."""
    env = make_env(config=[('roadmap', 'stats_provider', TRAC_PROVIDER),
                           ('milestone', 'stats_provider', TRAC_PROVIDER)])
    for section in ('roadmap', 'milestone'):
        assert env.config.get(section, 'stats_provider') == LEARNING_PROVIDER


def test_trac_default_chosen_after_the_install_stands(env):
    env.config.set('milestone', 'stats_provider', TRAC_PROVIDER)
    setup = LearningEnvironmentSetup(env)
    assert not setup.environment_needs_upgrade()
    setup.upgrade_environment()
    assert env.config.get('milestone', 'stats_provider') == TRAC_PROVIDER
    assert env.config.get('roadmap', 'stats_provider') == LEARNING_PROVIDER


def test_a_removed_stats_provider_is_set_again_by_an_upgrade(env):
    env.config.remove('roadmap', 'stats_provider')
    setup = LearningEnvironmentSetup(env)
    assert setup.environment_needs_upgrade()
    setup.upgrade_environment()
    assert env.config.get('roadmap', 'stats_provider') == LEARNING_PROVIDER
    assert not setup.environment_needs_upgrade()
