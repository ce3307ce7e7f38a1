"""The study panel on a concept ticket's page (tracl/web/concept_page.py),
through Trac's real request dispatcher, on SQLite and PostgreSQL.

Learners make their concepts through the learning-paths API (the
blockchain path of the starter corpus, which has prerequisite links);
answers are graded by a scripted test provider chosen with `[learning]
llm_provider`, as an administrator chooses a real one. The panel reaches
the page as script data (`tracl_concept.panel`, rendered by Jinja on the
server); the tests read it from there and from the page around it.
"""

import json
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
# A stub environment knows only the components whose modules are imported:
# the ticket page, the wiki's permission policy and the chunk store.
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.cache import CacheManager
from trac.ticket.model import Ticket
from trac.util.datefmt import format_date, localtz, to_utimestamp, utc

import tracl.search.local_store  # noqa: F401
from support.api_client import LearnerClient
from support.providers import ScriptedLLMProvider, grader  # noqa: F401
from support.study import make_path
from support.web import call
from tracl.auth.profile import LearnerProfiles
from tracl.llm import Confidence, Evaluation
from tracl.model import reviews
from tracl.model.concepts import concept_description, load_concept
from tracl.model.rubrics import Misconception, PointGrade, sentences
from tracl.schema import sql
from tracl.study.loop import StudyLoop
from tracl.study.retention import Retention
from tracl.study.review import GradingReview
from tracl.util import iso
from tracl.web.concept_page import ConceptPage, study_time

ALICE, BOB, ADMIN_SUB = 'sub-alice', 'sub-bob', 'sub-admin'
#: An instructor who decides grades; the page names her, never this.
TEACHER = 'sub-teacher-7f3a'

#: Text from outside (ticket fields, the learner, the grader) that must
#: stay text: markup, an event handler, template syntax.
HOSTILE = ('<script>alert("pwned")</script><img src=x onerror="alert(1)">'
           ' & \'quotes\' {{ 7*7 }} ${7*7}')

EXPECTED_MARKER = 'ExpectedAnswerMarker: the whole point of it.'


# Fixtures and helpers -----------------------------------------------------

#: Trac 1.6's own policies (whoever may view milestones may change a
#: ticket's, a reporter may edit the description) and the scripted grader.
LEARNING_PAGE = dict(default_data=True, trac_policies=True, provider=True)
NO_RATE_LIMIT = ('learning', 'api_rate_limit', '0')
#: Due dates without their random spread, so a test can name them.
NO_FUZZ = ('learning', 'review_fuzzing', 'false')

pytestmark = pytest.mark.learning_env(config=[NO_RATE_LIMIT, NO_FUZZ],
                                      **LEARNING_PAGE)


@pytest.fixture
def path(env, grader):
    return make_path(env, ALICE)


@pytest.fixture
def alice(env):
    return LearnerClient(env, ALICE)


@pytest.fixture
def admin(env):
    return LearnerClient(env, ADMIN_SUB, groups=('Administrators',))


def root_concept(path):
    """A concept of the path without prerequisites (open to study)."""
    return next(t['ticket_id'] for t in path['tickets']
                if not t['prerequisites'])


def gated_concept(path):
    """`(concept, [its prerequisites])` of a concept whose prerequisites
    have none of their own."""
    roots = {t['ticket_id'] for t in path['tickets']
             if not t['prerequisites']}
    ticket = next(t for t in path['tickets'] if t['prerequisites'] and
                  set(t['prerequisites']) <= roots)
    return ticket['ticket_id'], ticket['prerequisites']


def script_data(response):
    """The page's `tracl_concept` script data, or None."""
    found = re.search(r'^\s*var tracl_concept=(.*);$', response.text, re.M)
    return json.loads(found.group(1)) if found else None


def panel_of(response):
    assert response.status == 200, response
    data = script_data(response)
    assert data is not None, 'no study panel on the page'
    return Elements(data['panel'])


class Elements(HTMLParser):
    """A fragment's start tags as `(tag, {attribute: value})` and its text
    (entities decoded)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements = []
        self.texts = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.texts.append(data)

    @property
    def text(self):
        return ' '.join(' '.join(self.texts).split())

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and
                all(a.get(k.rstrip('_')) == v for k, v in attrs.items())]

    def with_class(self, name):
        return [(t, a) for t, a in self.elements
                if name in (a.get('class') or '').split()]

    def one(self, tag, **attrs):
        found = self.find(tag, **attrs)
        assert len(found) == 1, (tag, attrs, self.elements)
        return found[0]


def set_fields(env, ticket_id, **values):
    ticket = Ticket(env, ticket_id)
    for name, value in values.items():
        ticket[name] = value
    ticket.save_changes('test', 'test fixture')
    if 'question' in values:
        # The page asks the concept's stored question, not the ticket's.
        set_stored_question(env, ticket_id, 'question', values['question'])


def set_stored_question(env, ticket_id, column, value):
    with env.db_transaction as db:
        db(sql(env, """UPDATE {questions} SET %s=%%s WHERE id=(
                           SELECT question_id FROM {concept_metadata}
                           WHERE ticket_id=%%s)""" % column),
           (value, ticket_id))


def set_expected_answer(env, ticket_id, text):
    with env.db_transaction as db:
        db(sql(env, """UPDATE {concept_metadata} SET expected_answer=%s
                       WHERE ticket_id=%s"""), (text, ticket_id))
    set_stored_question(env, ticket_id, 'expected_answer', text)


def answer(env, ticket_id, text, score, feedback='Good start.'):
    grader = ScriptedLLMProvider(env)
    grader.score, grader.feedback = score, feedback
    concept = StudyLoop(env).concept(ALICE, ticket_id)
    return StudyLoop(env).submit(ALICE, concept, text)


def grade_with(monkeypatch, env, evidence=(), errors=(), confidence=None,
               score=0.5):
    """Make the scripted grader say what its grades rest on: every answer
    scores `score` with these `evidence` (`PointGrade`s, sources naming the
    concept's sentences), `errors` (`Misconception`s) and `confidence`."""
    def evaluate(question, expected_answer, answer, context, rubric=None):
        return Evaluation(score=score, feedback='Graded with evidence.',
                          grader='scripted', grader_version='1',
                          evidence=tuple(evidence), errors=tuple(errors),
                          confidence=confidence)
    monkeypatch.setattr(ScriptedLLMProvider(env), 'evaluate', evaluate)


def property_form(response):
    """The part of the page with Trac's ticket edit form."""
    text = response.text
    start = text.index('<form method="post" id="propertyform"')
    return text[start:text.index('</form>', start)]


def workflow_actions(response):
    return re.findall(r'<input type="radio" id="action_(\w+)"',
                      property_form(response))


# The panel on a concept's page ---------------------------------------------

def test_owner_sees_the_question_difficulty_and_query_with_an_answer_box(
        env, path, alice):
    ticket_id = root_concept(path)
    concept = load_concept(env, ticket_id)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert panel.with_class('tracl-question-text')
    assert concept.question in panel.text
    assert 'Difficulty %d/5' % concept.difficulty in panel.text
    assert concept.context == 'I want to understand blockchain technology'
    assert concept.context in panel.text
    box = panel.one('textarea', name='answer')
    assert (box['minlength'], box['maxlength']) == ('10', '5000')
    assert panel.one('label', for_=box['id'])
    assert panel.one('button', type='submit', class_='tracl-submit')
    assert panel.find('form', class_='tracl-notes-form')
    assert 'No attempts yet.' in panel.text
    data = script_data(response)
    assert data['state'] == 'open' and data['read_only'] is False
    assert data['api_url'] == '/api/v1/progress/%d' % ticket_id
    assert data['form_token'] == alice.cookies['trac_form_token']
    assert '/chrome/tracl/js/concept.js' in response.text
    assert '/chrome/tracl/css/tracl.css' in response.text


def test_defect_ticket_page_is_exactly_what_trac_renders(env, alice):
    defect = Ticket(env)
    defect.populate({'type': 'defect', 'reporter': 'someone',
                     'summary': 'A plain defect', 'status': 'new',
                     'description': 'Nothing to learn here.'})
    # Long ago: "Opened N years ago" reads the same in both requests.
    defect.insert(when=datetime(2020, 1, 2, tzinfo=utc))
    with_plugin = alice.ticket(defect.id)
    env.disable_component(ConceptPage)
    try:
        without_plugin = alice.ticket(defect.id)
    finally:
        env.enable_component(ConceptPage)
    assert with_plugin.status == without_plugin.status == 200
    # Only TracLearn's stylesheet for Trac's own chrome (every page has
    # it, with the concept page on or off) names TracLearn.
    assert with_plugin.text.count('tracl') == \
        with_plugin.text.count('/chrome/tracl/css/accessible_chrome.css') == 1
    assert with_plugin.text == without_plugin.text


def test_plugin_disabled_leaves_concept_page_without_panel(env, path, alice):
    """The comparison above can fail: without the filter a concept page
    has no panel, with it the page differs."""
    ticket_id = root_concept(path)
    env.disable_component(ConceptPage)
    try:
        assert script_data(alice.ticket(ticket_id)) is None
    finally:
        env.enable_component(ConceptPage)
    assert script_data(alice.ticket(ticket_id)) is not None


def test_new_ticket_form_has_no_panel(env, admin):
    # Learners may not create tickets: the form is the admins'.
    CacheManager(env).reset_metadata()
    response = call(env, 'GET', '/newticket', cookies=admin.cookies,
                    query='type=learning_concept')
    assert response.status == 200
    assert script_data(response) is None


def test_anonymous_and_other_learners_get_404_and_no_panel(env, path):
    ticket_id = root_concept(path)
    bob = LearnerClient(env, BOB)
    assert bob.ticket(ticket_id).status == 404
    anonymous = call(env, 'GET', '/ticket/%d' % ticket_id)
    assert anonymous.status == 404
    assert 'tracl_concept' not in anonymous.text


def test_locked_concept_links_its_blockers_instead_of_an_answer_box(
        env, path, alice):
    ticket_id, prerequisites = gated_concept(path)
    panel = panel_of(alice.ticket(ticket_id))
    assert not panel.find('textarea', name='answer')
    assert 'Locked: master these first' in panel.text
    # Links of the page (the neighbourhood graph's SVG links are xlink).
    links = [a['href'] for a in panel.find('a') if 'href' in a]
    assert links == ['/ticket/%d' % p for p in sorted(prerequisites)]
    for prerequisite in prerequisites:
        name = load_concept(env, prerequisite).concept
        assert '#%d %s' % (prerequisite, name) in panel.text
    assert 'Not started' in panel.text
    assert script_data(alice.ticket(ticket_id))['state'] == 'locked'


def test_mastering_the_blockers_unlocks_the_answer_box(env, path, alice):
    ticket_id, prerequisites = gated_concept(path)
    for prerequisite in prerequisites:
        answer(env, prerequisite, 'An answer that masters it.', 0.95)
    panel = panel_of(alice.ticket(ticket_id))
    assert 'Locked' not in panel.text
    assert panel.find('textarea', name='answer')


def test_weak_answer_shows_in_history_newest_first(env, path, alice):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'First try, rather thin.', 0.2, 'Too thin.')
    answer(env, ticket_id, 'Second try, somewhat better.', 0.55,
           'Closer: say why.')
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    text = panel.text
    assert text.index('Attempt 2') < text.index('Attempt 1')
    assert text.index('Second try, somewhat better.') < \
        text.index('First try, rather thin.')
    for shown in ('55%', '20%', 'Closer: say why.', 'Too thin.',
                  'graded by scripted', 'Studying', 'Best score: 55%'):
        assert shown in text, shown
    assert len(panel.find('time')) == 2
    # Still open: the learner tries again.
    assert panel.find('textarea', name='answer')
    assert 'Mastered' not in text.replace('Mastered!', '')


def test_time_spent_is_shown():
    assert study_time(0) == 'none yet'
    assert study_time(0.4) == 'less than a minute'
    assert study_time(1) == '1 minute'
    assert study_time(61) == '1 hour 1 minute'
    assert study_time(120) == '2 hours'


def test_heartbeat_time_appears_in_the_panel(env, path, alice):
    ticket_id = root_concept(path)
    StudyLoop(env).heartbeat(ALICE, ticket_id, 180)
    panel = panel_of(alice.ticket(ticket_id))
    assert 'Time spent: 3 minutes' in panel.text


def test_notes_are_in_the_owners_panel(env, path, alice):
    ticket_id = root_concept(path)
    StudyLoop(env).save_notes(ALICE, ticket_id, 'My own note\nline two')
    panel = panel_of(alice.ticket(ticket_id))
    notes = panel.one('textarea', name='notes')
    assert panel.one('label', for_=notes['id'])
    assert 'My own note line two' in panel.text


# What a grade rests on ----------------------------------------------------

COVERED_POINT = 'Every node keeps a full copy of the ledger.'
PARTIAL_POINT = 'Nodes agree on changes through a consensus protocol.'
MISSING_POINT = 'No single party can rewrite the history.'
CLAIM = 'A distributed ledger is run by one central bank.'
CORRECTION = 'No single party runs it: every node keeps a copy.'
REASON = 'A close call: the score is near the mastery threshold.'


class ClassTexts(HTMLParser):
    """The text of each element of class `name` in a fragment, in order,
    its white space collapsed."""

    VOID = ('area', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link',
            'meta', 'source', 'wbr')

    def __init__(self, html, name):
        super().__init__(convert_charrefs=True)
        self.name, self.found, self.open = name, [], []
        self.feed(html)
        self.close()
        self.texts = [' '.join(''.join(parts).split())
                      for parts in self.found]

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        # Each open element: whether it is one of the class, and its text.
        mine = self.name in (dict(attrs).get('class') or '').split()
        if mine:
            self.found.append([])
        self.open.append(self.found[-1] if mine else None)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.open:
            self.open.pop()

    def handle_data(self, data):
        for parts in self.open:
            if parts is not None:
                parts.append(data)


def evidence_parts(panel):
    """`(details, texts)` of the panel's evidence: the attributes of its
    <details> elements, and by class the text of each element of the
    class (a key point's status word with its mark, its text, ...)."""
    texts = {name: ClassTexts(panel.html, name).texts
             for name in ('tracl-point-status', 'tracl-point-text',
                          'tracl-point-source', 'tracl-wrong',
                          'tracl-confidence', 'tracl-close-call')}
    return panel.find('details', class_='tracl-evidence'), texts


def test_history_shows_what_the_grade_rests_on(env, path, alice,
                                                monkeypatch):
    ticket_id = root_concept(path)
    content = sentences(load_concept(env, ticket_id).content)
    assert len(content) >= 2
    grade_with(monkeypatch, env, evidence=(
        PointGrade(COVERED_POINT, 'covered', '1'),
        PointGrade(PARTIAL_POINT, 'partial', '2'),
        PointGrade(MISSING_POINT, 'missing', '')),
        errors=(Misconception(CLAIM, CORRECTION),),
        confidence=Confidence('low', REASON))
    answer(env, ticket_id, 'A ledger that a bank keeps for everyone.', 0.5)
    panel = panel_of(alice.ticket(ticket_id))
    details, texts = evidence_parts(panel)
    # The newest attempt's evidence is open, under one heading.
    assert len(details) == 1 and 'open' in details[0]
    assert panel.find('summary') == [{}]
    assert 'What the grade rests on' in panel.text
    # Each key point with its status as a word and a mark.
    assert texts['tracl-point-status'] == [
        '\u2713Covered', '\u25d0Partly', '\u2717Missing']
    marks = panel.find('span', class_='tracl-point-mark')
    assert [m.get('aria-hidden') for m in marks] == ['true'] * 3
    assert [c for t, a in panel.with_class('tracl-point')
            for c in a['class'].split() if c != 'tracl-point'] == \
        ['tracl-point-covered', 'tracl-point-partial', 'tracl-point-missing']
    assert texts['tracl-point-text'] == [COVERED_POINT, PARTIAL_POINT,
                                         MISSING_POINT]
    # What to reread: for the partial point only (the covered one needs
    # none, the missing one rests on no known sentence).
    assert texts['tracl-point-source'] == ['Reread: ' + content[1]]
    assert texts['tracl-wrong'] == ['Wrong: %s \u2014 %s' % (CLAIM,
                                                             CORRECTION)]
    # The confidence, and a low one's word of caution.
    assert texts['tracl-confidence'][0].startswith(
        'Confidence: low \u2014 ' + REASON)
    assert texts['tracl-close-call'] == [
        'This grade could have gone the other way.']
    assert panel.with_class('tracl-confidence-low')


def test_older_attempts_keep_their_evidence_collapsed(env, path, alice,
                                                      monkeypatch):
    ticket_id = root_concept(path)
    grade_with(monkeypatch, env,
               evidence=(PointGrade(MISSING_POINT, 'missing', '1'),),
               confidence=Confidence('high', 'Far from the threshold.'),
               score=0.2)
    answer(env, ticket_id, 'A first try, with a missing point.', 0.2)
    grade_with(monkeypatch, env,
               evidence=(PointGrade(MISSING_POINT, 'covered', '1'),),
               confidence=Confidence('medium', 'Near the threshold.'))
    answer(env, ticket_id, 'A second try, with the point given.', 0.5)
    panel = panel_of(alice.ticket(ticket_id))
    details, texts = evidence_parts(panel)
    assert ['open' in d for d in details] == [True, False]
    assert texts['tracl-point-status'] == ['\u2713Covered', '\u2717Missing']
    assert texts['tracl-confidence'] == [
        'Confidence: medium \u2014 Near the threshold.',
        'Confidence: high \u2014 Far from the threshold.']
    # Only a low confidence is called a close call.
    assert not texts['tracl-close-call']


def test_attempts_without_evidence_show_no_evidence_blocks(env, path, alice,
                                                           monkeypatch):
    ticket_id = root_concept(path)
    # Graded before evidence was kept, or by a grader that says nothing.
    answer(env, ticket_id, 'An answer graded without evidence.', 0.4)
    panel = panel_of(alice.ticket(ticket_id))
    assert 'An answer graded without evidence.' in panel.text
    for name in ('tracl-evidence', 'tracl-confidence', 'tracl-point',
                 'tracl-wrong'):
        assert not panel.with_class(name), name
    assert not panel.find('details') and not panel.find('summary')
    assert 'What the grade rests on' not in panel.text
    assert 'Confidence' not in panel.text
    # A confidence alone: its line, and no empty evidence heading.
    grade_with(monkeypatch, env, confidence=Confidence('high', ''))
    answer(env, ticket_id, 'An answer graded with a confidence only.', 0.4)
    panel = panel_of(alice.ticket(ticket_id))
    _details, texts = evidence_parts(panel)
    assert texts['tracl-confidence'] == ['Confidence: high.']
    assert not panel.find('details')
    assert 'What the grade rests on' not in panel.text


def test_hostile_evidence_is_escaped(env, path, alice, monkeypatch):
    ticket_id = root_concept(path)
    # The concept's text, whose sentence a key point rests on, is hostile
    # too (a chunk).
    set_fields(env, ticket_id, description=concept_description(
        'S ' + HOSTILE))
    grade_with(monkeypatch, env, evidence=(
        PointGrade('P ' + HOSTILE, 'missing', '1'),),
        errors=(Misconception('C ' + HOSTILE, 'R ' + HOSTILE),),
        confidence=Confidence('low', 'W ' + HOSTILE))
    answer(env, ticket_id, 'An answer whose grade quotes hostile text.', 0.5)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert_inert(response, panel)
    _details, texts = evidence_parts(panel)
    assert texts['tracl-point-text'] == ['P ' + HOSTILE]
    assert texts['tracl-point-source'] == ['Reread: S ' + HOSTILE]
    assert texts['tracl-wrong'] == ['Wrong: C %s \u2014 R %s'
                                    % (HOSTILE, HOSTILE)]
    assert 'Confidence: low \u2014 W ' + HOSTILE in panel.text
    # Point, source, claim, correction and reason: text, all five.
    assert panel.text.count('alert("pwned")') == 5


def test_page_script_has_the_evidence_sentences(env, path, alice):
    """concept.js shows a new grade's evidence with the server's
    (translated) sentences."""
    messages = script_data(alice.ticket(root_concept(path)))['messages']
    assert messages['evidence'] == 'What the grade rests on'
    assert messages['point'] == {'covered': 'Covered', 'partial': 'Partly',
                                 'missing': 'Missing'}
    assert messages['reread'] == 'Reread: %(source)s'
    assert messages['wrong'] == 'Wrong: %(claim)s \u2014 %(correction)s'
    assert messages['confidence'] == \
        'Confidence: %(level)s \u2014 %(reason)s'
    assert messages['confidence_labels']['low'] == 'low'
    # Honest: no review is promised, none exists.
    assert messages['close_call'] == \
        'This grade could have gone the other way.'


# The review of grades -----------------------------------------------------

DISPUTE_REASON = 'My answer names both points, in other words.'
COMMENT = 'You did name both points: a pass.'


def ask_review(env, ticket_id, attempt, reason=DISPUTE_REASON):
    return GradingReview(env).dispute(ALICE, ticket_id, attempt, reason)


def instructor_decides(env, ticket_id, attempt, score=0.9, comment=COMMENT,
                       name='Tess Teacher', username=None):
    """`TEACHER` (with that name and username in her session) decides the
    attempt; returns the decision's attempt number."""
    if name or username:
        LearnerProfiles(env).update(TEACHER, name=name, username=username)
    return GradingReview(env).decide(TEACHER, ticket_id, attempt, score,
                                     comment).decision_attempt


def assert_no_sub(response, panel):
    """The instructor's sub is nowhere in the study panel or its script
    data. (Trac's own ticket change log names a change's author, the
    decision's among them, in the page's `changes` script data.)"""
    assert TEACHER not in panel.html
    assert TEACHER not in json.dumps(script_data(response))
    found = re.search(r'^\s*var tracl_concept=.*$', response.text, re.M)
    assert TEACHER not in found.group(0)


def item_texts(panel, name):
    return ClassTexts(panel.html, name).texts


def test_each_graded_attempt_offers_a_review_to_its_owner(env, path, alice):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A first answer, rather thin.', 0.3)
    answer(env, ticket_id, 'A second answer, a little better.', 0.5)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    asks = panel.find('button', class_='tracl-review-ask')
    assert len(asks) == 2
    assert all(a['type'] == 'button' and a['aria-expanded'] == 'false'
               for a in asks)
    assert [a['data-attempt'] for a in panel.find('div',
                                                  class_='tracl-review')] \
        == ['2', '1']
    assert not panel.with_class('tracl-review-pending')
    data = script_data(response)
    assert data['dispute'] is None and data['reviewed'] == []
    assert (data['min_reason'], data['max_reason']) == (10, 1000)


def test_pending_review_shows_its_reason_and_withdraw_to_the_owner(
        env, path, alice):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A first answer, rather thin.', 0.3)
    answer(env, ticket_id, 'A second answer, a little better.', 0.5)
    dispute_id = ask_review(env, ticket_id, 1)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    # Pending on attempt 1, with the reason and Withdraw ...
    assert item_texts(panel, 'tracl-review-pending') == [
        'Review requested \u2014 pending Your reason: ' + DISPUTE_REASON +
        ' Withdraw']
    withdraw = panel.one('button', class_='tracl-review-withdraw')
    assert withdraw['data-dispute-id'] == str(dispute_id)
    assert withdraw['type'] == 'button'
    pending = re.search(r'<li id="tracl-attempt-1".*?</li>', panel.html,
                        re.S).group(0)
    assert 'tracl-review-withdraw' in pending
    # ... and no other attempt asks for one: one per concept.
    assert not panel.find('button', class_='tracl-review-ask')
    assert script_data(response)['dispute'] == {
        'id': dispute_id, 'attempt': 1, 'reason': DISPUTE_REASON}
    # Withdrawn: not shown; every attempt may ask again.
    assert GradingReview(env).withdraw(ALICE, ticket_id, dispute_id)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert DISPUTE_REASON not in response.text
    assert not panel.with_class('tracl-review-pending')
    assert len(panel.find('button', class_='tracl-review-ask')) == 2
    assert script_data(response)['dispute'] is None


def review_controls(panel):
    """The panel's buttons but the knowledge graph's zoom controls (which
    only move the drawing)."""
    return [button for button in panel.find('button')
            if not button.get('data-action', '').startswith(
                ('zoom', 'fit', 'actual'))]


def test_admins_read_only_view_has_no_review_controls(env, path, admin):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A first answer, rather thin.', 0.3)
    answer(env, ticket_id, 'A second answer, a little better.', 0.5)
    panel = panel_of(admin.ticket(ticket_id))
    assert not review_controls(panel)
    assert not panel.find('form')
    ask_review(env, ticket_id, 2)
    response = admin.ticket(ticket_id)
    panel = panel_of(response)
    # The instructor reads that a review is pending, and why ...
    assert item_texts(panel, 'tracl-review-pending') == [
        "Review requested \u2014 pending The learner's reason: " +
        DISPUTE_REASON]
    # ... with nothing to press: the learner asks and withdraws.
    assert not review_controls(panel)
    assert not panel.find('form') and not panel.find('textarea')
    assert not panel.with_class('tracl-review-live')
    assert script_data(response)['read_only'] is True


def test_decision_names_the_instructor_and_marks_the_attempt_it_replaced(
        env, path, alice, admin):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A first answer, rather thin.', 0.3)
    answer(env, ticket_id, 'A second answer, a little better.', 0.5)
    ask_review(env, ticket_id, 2)
    decision = instructor_decides(env, ticket_id, 2, score=0.9)
    assert decision == 3
    for viewer in (alice, admin):
        response = viewer.ticket(ticket_id)
        panel = panel_of(response)
        assert_no_sub(response, panel)
        # The decision: graded by the instructor's name, her comment.
        assert item_texts(panel, 'tracl-grader-instructor') == [
            'Graded by Tess Teacher']
        assert panel.with_class('tracl-attempt-decision')
        assert COMMENT in panel.text
        # The attempt it replaced: its score struck through, and said.
        replaced = panel.with_class('tracl-score-replaced')
        assert [t for t, a in replaced] == ['del']
        assert item_texts(panel, 'tracl-score-replaced') == ['50%']
        assert item_texts(panel, 'tracl-regraded') == [
            'Regraded by an instructor: see attempt 3']
        assert panel.one('a', href='#tracl-attempt-3')
        assert panel.one('li', id='tracl-attempt-3')
        assert panel.one('li', id='tracl-attempt-2')['class'] == \
            'tracl-attempt tracl-attempt-overridden'
        # The request the learner made was answered.
        assert item_texts(panel, 'tracl-review-done') == [
            'Reviewed by an instructor']
        assert not panel.with_class('tracl-review-pending')
        data = script_data(response)
        assert data['grader_names'] == {'3': 'Tess Teacher'}
        assert data['overridden'] == {'2': 3}
        assert data['reviewed'] == [2]
    # Mastered by the decision: the panel says so.
    assert 'Mastered' in panel_of(alice.ticket(ticket_id)).text


def test_only_undecided_attempts_may_be_disputed(env, path, alice):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A first answer, rather thin.', 0.3)
    answer(env, ticket_id, 'A second answer, a little better.', 0.4)
    # Low enough that the concept stays open.
    instructor_decides(env, ticket_id, 1, score=0.35)
    panel = panel_of(alice.ticket(ticket_id))
    reviews = {a['data-attempt']: a['data-disputable']
               for a in panel.find('div', class_='tracl-review')}
    # The decision (3) and the attempt it replaced (1) are not disputed.
    assert reviews == {'3': 'false', '2': 'true', '1': 'false'}
    asks = panel.find('button', class_='tracl-review-ask')
    assert len(asks) == 1
    attempt_2 = re.search(r'<li id="tracl-attempt-2".*?</li>', panel.html,
                          re.S).group(0)
    assert 'tracl-review-ask' in attempt_2
    # Decided without a request: no "Reviewed" line.
    assert not panel.with_class('tracl-review-done')


@pytest.mark.parametrize('name, username, shown', [
    ('Tess Teacher', 'tess', 'Tess Teacher'),
    (None, 'tess', 'tess'),
    (None, None, 'an instructor'),
])
def test_a_decision_never_shows_the_instructors_sub(env, path, alice, name,
                                                     username, shown):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A first answer, rather thin.', 0.3)
    instructor_decides(env, ticket_id, 1, score=0.4, name=name,
                       username=username)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert item_texts(panel, 'tracl-grader-instructor') == [
        'Graded by ' + shown]
    assert_no_sub(response, panel)
    assert 'graded by instructor:' not in panel.text.lower()
    assert script_data(response)['grader_names'] == {'2': shown}


def test_hostile_reason_comment_and_name_are_inert(env, path, alice, admin):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A first answer, rather thin.', 0.3)
    answer(env, ticket_id, 'A second answer, a little better.', 0.4)
    instructor_decides(env, ticket_id, 1, score=0.4,
                       comment='M ' + HOSTILE, name='N ' + HOSTILE)
    ask_review(env, ticket_id, 2, reason='R ' + HOSTILE)
    for viewer in (alice, admin):
        response = viewer.ticket(ticket_id)
        panel = panel_of(response)
        assert_inert(response, panel)
        assert item_texts(panel, 'tracl-grader-instructor') == [
            'Graded by N ' + HOSTILE]
        assert item_texts(panel, 'tracl-review-reason-text') == [
            'R ' + HOSTILE]
        assert 'M ' + HOSTILE in panel.text
        # Name, comment and reason: text, all three.
        assert panel.text.count('alert("pwned")') == 3
        data = script_data(response)
        assert data['dispute']['reason'] == 'R ' + HOSTILE
        assert data['grader_names'] == {'3': 'N ' + HOSTILE}


def test_page_script_has_the_review_sentences(env, path, alice):
    """concept.js asks for and withdraws reviews with the server's
    (translated) sentences."""
    messages = script_data(alice.ticket(root_concept(path)))['messages']
    assert messages['ask_review'] == 'Ask for a review'
    assert messages['pending'] == 'Review requested \u2014 pending'
    assert messages['withdraw'] == 'Withdraw'
    assert messages['sending'] == 'Sending\u2026'
    assert messages['reviewed'] == 'Reviewed by an instructor'
    assert messages['graded_by_instructor'] == 'Graded by %(name)s'
    assert messages['an_instructor'] == 'an instructor'
    assert messages['regraded'] == \
        'Regraded by an instructor: see attempt %(n)s'
    assert messages['reason_too_short'] == \
        'Write at least 10 characters.'
    for key in ('reason_label', 'reason_help', 'send_review', 'cancel',
                'your_reason', 'withdrawing', 'withdrawn',
                'reason_too_long'):
        assert messages[key], key


# Mastery and the expected answer ------------------------------------------

def test_expected_answer_is_not_in_the_page_before_mastery(env, path, alice):
    ticket_id = root_concept(path)
    set_expected_answer(env, ticket_id, EXPECTED_MARKER)
    assert EXPECTED_MARKER not in alice.ticket(ticket_id).text
    answer(env, ticket_id, 'Not good enough yet.', 0.5)
    response = alice.ticket(ticket_id)
    assert EXPECTED_MARKER not in response.text
    assert EXPECTED_MARKER not in panel_of(response).text


def test_mastered_concept_shows_badge_best_score_and_expected_answer(
        env, path, alice):
    ticket_id = root_concept(path)
    set_expected_answer(env, ticket_id, EXPECTED_MARKER)
    answer(env, ticket_id, 'An answer that masters it.', 0.9)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert panel.with_class('tracl-badge')
    assert 'Mastered' in panel.text
    assert 'Best score: 90%' in panel.text
    assert EXPECTED_MARKER in panel.text
    # Not due: the answer box is folded away, for practice only.
    assert panel.one('details', class_='tracl-practice')
    assert 'Practise now (your review schedule stays as it is)' in panel.text
    assert script_data(response)['state'] == 'mastered'


@pytest.mark.learning_env(config=[
    NO_RATE_LIMIT, ('learning', 'show_expected_answer', 'false')],
    **LEARNING_PAGE)
def test_expected_answer_stays_hidden_after_mastery_when_option_false(env):
    path = make_path(env, ALICE)
    ticket_id = root_concept(path)
    set_expected_answer(env, ticket_id, EXPECTED_MARKER)
    answer(env, ticket_id, 'An answer that masters it.', 0.9)
    response = LearnerClient(env, ALICE).ticket(ticket_id)
    panel = panel_of(response)
    assert 'Mastered' in panel.text
    assert EXPECTED_MARKER not in response.text
    assert script_data(response)['expected_answer_on_mastery'] is False


# Escaping -----------------------------------------------------------------

def assert_inert(response, panel):
    """`HOSTILE` shows as text and nowhere as markup."""
    assert 'alert("pwned")</script>' in panel.text
    assert '<script>alert' not in panel.html
    assert '<img' not in panel.html
    assert not [a for t, a in panel.elements if t in ('script', 'img')]
    assert not [a for t, a in panel.elements
                if any(k.startswith('on') for k in a)]
    assert '{{ 7*7 }} ${7*7}' in panel.text
    # Nor anywhere else on the page, the ticket box included.
    assert '<script>alert' not in response.text
    assert '<img src=x' not in response.text


def test_hostile_question_and_query_are_escaped(env, path, alice):
    ticket_id = root_concept(path)
    set_fields(env, ticket_id, question='Q ' + HOSTILE,
               question_context='C ' + HOSTILE)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert_inert(response, panel)
    assert panel.text.count('alert("pwned")') == 2


def test_hostile_answer_and_feedback_are_escaped(env, path, alice):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'A ' + HOSTILE, 0.4, 'F ' + HOSTILE)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert_inert(response, panel)
    assert 'A <script>' in panel.text and 'F <script>' in panel.text


def test_hostile_blocker_name_is_escaped(env, path, alice):
    ticket_id, prerequisites = gated_concept(path)
    set_fields(env, prerequisites[0], summary='N ' + HOSTILE)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert_inert(response, panel)


def test_hostile_expected_answer_is_escaped(env, path, alice):
    ticket_id = root_concept(path)
    set_expected_answer(env, ticket_id, 'E ' + HOSTILE)
    answer(env, ticket_id, 'An answer that masters it.', 0.9)
    response = alice.ticket(ticket_id)
    assert_inert(response, panel_of(response))


# An administrator's view --------------------------------------------------

def test_admin_reads_the_learners_panel_without_answer_or_notes(
        env, path, admin):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'Alice wrote this answer.', 0.4, 'Alice feedback.')
    StudyLoop(env).save_notes(ALICE, ticket_id, 'AlicePrivateNote')
    response = admin.ticket(ticket_id)
    panel = panel_of(response)
    assert load_concept(env, ticket_id).question in panel.text
    assert 'Alice wrote this answer.' in panel.text
    assert 'Alice feedback.' in panel.text
    # The learner by name (here her Cognito username), never her sub.
    username = LearnerProfiles(env).get(ALICE)['username']
    assert 'read-only' in panel.text
    assert 'progress of learner %s,' % username in panel.text
    assert ALICE not in panel.text
    assert not panel.find('textarea')
    assert not panel.find('form')
    assert 'AlicePrivateNote' not in response.text
    data = script_data(response)
    assert data['read_only'] is True and data['restrict_form'] is False


def test_admin_keeps_the_full_edit_form(env, path, admin):
    ticket_id = root_concept(path)
    response = admin.ticket(ticket_id)
    assert 'resolve' in workflow_actions(response)
    form = property_form(response)
    for field in ('field-type', 'field-milestone', 'field-question'):
        assert 'id="%s"' % field in form, field


# What the learner may change ----------------------------------------------

def test_learner_has_only_the_leave_action(env, path, alice):
    ticket_id = root_concept(path)
    response = alice.ticket(ticket_id)
    assert workflow_actions(response) == ['leave']
    assert 'id="comment"' in response.text


def test_learner_form_leaves_out_fixed_and_question_fields(env, path, alice):
    ticket_id = root_concept(path)
    response = alice.ticket(ticket_id)
    form = property_form(response)
    for field in ('field-type', 'field-milestone', 'field-owner',
                  'field-question', 'field-question_difficulty',
                  'field-question_context'):
        assert 'id="%s"' % field not in form, field
    # Summary and description are offered by permission: the script
    # takes them out.
    assert script_data(response)['restrict_form'] is True
    # The ticket box still names the subject.
    box = response.text[:response.text.index('id="propertyform"')]
    assert 'Blockchain Fundamentals' in box


def test_learner_keeps_leave_on_a_mastered_concept(env, path, alice):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'An answer that masters it.', 0.9)
    response = alice.ticket(ticket_id)
    assert Ticket(env, ticket_id)['status'] == 'closed'
    assert workflow_actions(response) == ['leave']


def preview(env, viewer, ticket_id):
    """What the ticket page's script fetches while the form is edited
    (Trac's `ticket_preview.html`)."""
    ticket = Ticket(env, ticket_id)
    CacheManager(env).reset_metadata()
    body = urlencode({
        '__FORM_TOKEN': viewer.cookies['trac_form_token'], 'preview': '1',
        'action': 'leave', 'comment': 'a comment',
        'view_time': str(to_utimestamp(ticket['changetime'])),
        'start_time': str(to_utimestamp(ticket['changetime']))})
    return call(env, 'POST', '/ticket/%d' % ticket_id, body=body.encode(),
                headers={'Content-Type':
                         'application/x-www-form-urlencoded',
                         'X-Requested-With': 'XMLHttpRequest'},
                cookies=viewer.cookies)


def test_form_preview_box_leaves_out_the_question_for_the_learner(
        env, path, alice, admin):
    ticket_id = root_concept(path)
    question = load_concept(env, ticket_id).question
    learner_view = preview(env, alice, ticket_id)
    admin_view = preview(env, admin, ticket_id)
    assert learner_view.status == admin_view.status == 200
    assert 'id="ticket"' in learner_view.text
    assert 'Learning query:' in admin_view.text
    assert 'Learning query:' not in learner_view.text
    assert question in admin_view.text
    assert question not in learner_view.text
    # A fragment: the panel is the full page's only.
    assert 'tracl_concept' not in learner_view.text


# A close call's follow-up question ------------------------------------------

FOLLOW_UP_POINT = 'Every node keeps a replica of the ledger.'


def close_calls(monkeypatch, env, grades):
    """The scripted grader gives each answer the next of `grades` (score,
    confidence level; the last repeats): 0.75 'low' is a close call the
    grader is unsure of, which asks a follow-up."""
    def evaluate(question, expected_answer, answer, context, rubric=None):
        score, level = grades.pop(0) if len(grades) > 1 else grades[0]
        return Evaluation(
            score=score, feedback='Graded.', grader='scripted',
            grader_version='1',
            evidence=(PointGrade('A ledger is shared.', 'covered', '1'),
                      PointGrade(FOLLOW_UP_POINT, 'partial', '2')),
            confidence=Confidence(level, 'Scripted.'))
    monkeypatch.setattr(ScriptedLLMProvider(env), 'evaluate', evaluate)


def close_call(monkeypatch, env, alice, ticket_id, grades=None):
    """Submit a close call through the API: its follow-up `{id, question}`."""
    close_calls(monkeypatch, env, grades or [(0.75, 'low')])
    result = alice.answer(ticket_id, 'My answer, a close call indeed.')
    assert result['follow_up'], result
    return result['follow_up']


def test_an_open_follow_up_is_asked_again_on_the_page(env, path, alice,
                                                       monkeypatch):
    ticket_id = root_concept(path)
    assert not panel_of(alice.ticket(ticket_id)).with_class(
        'tracl-follow-up')
    follow_up = close_call(monkeypatch, env, alice, ticket_id)
    panel = panel_of(alice.ticket(ticket_id))
    box = panel.one('section', class_='tracl-follow-up')
    assert box['data-follow-up-id'] == str(follow_up['id'])
    assert box['aria-labelledby'] == 'tracl-follow-up-heading'
    assert 'One more question' in panel.text
    assert item_texts(panel, 'tracl-follow-up-question') == [
        follow_up['question']]
    # A labelled reply box, counted, described by the question.
    reply = panel.one('textarea', id='tracl-follow-up-reply')
    assert panel.one('label', for_='tracl-follow-up-reply')
    assert (reply['minlength'], reply['maxlength']) == ('10', '5000')
    assert reply['aria-describedby'].split() == [
        'tracl-follow-up-question', 'tracl-follow-up-help',
        'tracl-follow-up-count']
    assert panel.one('button', class_='tracl-follow-up-send')['type'] == \
        'submit'
    assert 'Ctrl+Enter sends.' in panel.text
    # Below the result, after the answer form.
    html = panel.html
    assert html.index('tracl-answer-form') < html.index('tracl-result') < \
        html.index('tracl-follow-up')


def test_a_hostile_follow_up_question_is_inert(env, path, alice,
                                               monkeypatch):
    ticket_id = root_concept(path)
    close_call(monkeypatch, env, alice, ticket_id)
    with env.db_transaction as db:
        db(sql(env, 'UPDATE {follow_ups} SET question=%s'), ('F ' + HOSTILE,))
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert_inert(response, panel)
    assert item_texts(panel, 'tracl-follow-up-question') == ['F ' + HOSTILE]


def test_the_admins_read_only_view_has_no_follow_up(env, path, alice, admin,
                                                    monkeypatch):
    ticket_id = root_concept(path)
    close_call(monkeypatch, env, alice, ticket_id)
    panel = panel_of(admin.ticket(ticket_id))
    assert not panel.with_class('tracl-follow-up')
    assert 'One more question' not in panel.text
    assert not panel.find('textarea')


@pytest.mark.parametrize('how', ['replied', 'fresh answer', 'a day later'])
def test_no_follow_up_once_answered_or_lapsed(env, path, alice, monkeypatch,
                                              how):
    ticket_id = root_concept(path)
    follow_up = close_call(monkeypatch, env, alice, ticket_id,
                           [(0.75, 'low'), (0.4, 'high')])
    if how == 'replied':
        reply = alice.submit(ticket_id, 'Each node keeps its own copy.',
                             follow_up_id=follow_up['id'])
        assert reply.status == 200, reply
    elif how == 'fresh answer':
        alice.answer(ticket_id, 'A fresh answer instead of the reply.')
    else:
        with env.db_transaction as db:
            db(sql(env, 'UPDATE {follow_ups} '
                        'SET created_at = created_at - %s'),
               (25 * 3600 * 1000000,))
    panel = panel_of(alice.ticket(ticket_id))
    assert not panel.with_class('tracl-follow-up')
    assert 'One more question' not in panel.text


def test_page_script_has_the_follow_up_sentences(env, path, alice):
    """concept.js asks a new follow-up with the server's (translated)
    sentences."""
    messages = script_data(alice.ticket(root_concept(path)))['messages']
    assert messages['follow_up_heading'] == 'One more question'
    assert messages['follow_up_label'] == 'Your reply'
    assert messages['send_reply'] == 'Send reply'
    assert messages['sending'] == 'Sending\u2026'
    assert messages['follow_up_closed'] == (
        'This follow-up question is closed: answer the main question '
        'again instead.')
    assert '10' in messages['follow_up_help']



# The review schedule ------------------------------------------------------

def mastered_card(env, ticket_id):
    """Master `ticket_id` for alice; her card of it."""
    assert answer(env, ticket_id, 'An answer that masters it.', 0.9).mastered
    return reviews.cards(env, ALICE)[ticket_id]


def schedule_line(panel):
    """The text of the panel's review schedule line (without the space
    the parser puts between an element's text and what follows)."""
    found = re.search(r'<p class="tracl-schedule[^"]*">(.*?)</p>',
                      panel.html, re.S)
    assert found, panel.html
    return Elements(found.group(1)).text.replace(' )', ')')


def test_mastered_concept_shows_its_next_review_and_recall_today(
        env, path, alice, clock):
    ticket_id = root_concept(path)
    card = mastered_card(env, ticket_id)
    clock.set(card.last_review + (card.due - card.last_review) / 2)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    recall = Retention(env).state(ALICE, ticket_id)['retrievability']
    assert 0 < recall < 1
    assert schedule_line(panel) == \
        'Next review: %s \u00b7 Recall today: %d%%' % (
            format_date(card.due, tzinfo=localtz), round(recall * 100))
    when = panel.one('time', datetime=iso(card.due))
    assert when['title']
    assert 'Due for review now' not in panel.text
    # Not due: practice only, folded; the expected answer stays.
    assert panel.one('details', class_='tracl-practice')
    assert script_data(response)['review'] == {'due': iso(card.due),
                                               'due_now': False}


def test_a_due_concept_asks_for_its_review_without_the_expected_answer(
        env, path, alice, clock):
    ticket_id = root_concept(path)
    set_expected_answer(env, ticket_id, EXPECTED_MARKER)
    card = mastered_card(env, ticket_id)
    clock.set(card.due + timedelta(hours=1))
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    line = schedule_line(panel)
    assert line.startswith('Due for review now \u00b7 Recall today: ')
    assert 'due since' not in line      # due today: no date to give
    assert panel.find('textarea', name='answer')
    assert not panel.find('details', class_='tracl-practice')
    assert 'Your answer, from memory' in panel.text
    assert EXPECTED_MARKER not in response.text
    assert script_data(response)['review']['due_now'] is True


def test_an_overdue_concept_says_since_when(env, path, alice, clock):
    ticket_id = root_concept(path)
    card = mastered_card(env, ticket_id)
    clock.set(card.due + timedelta(days=3))
    panel = panel_of(alice.ticket(ticket_id))
    assert schedule_line(panel).startswith(
        'Due for review now (due since %s) \u00b7 Recall today: '
        % format_date(card.due, tzinfo=localtz))


def test_make_due_brings_the_review_to_the_page(env, path, alice, clock):
    ticket_id = root_concept(path)
    mastered_card(env, ticket_id)
    assert 'Due for review now' not in panel_of(alice.ticket(ticket_id)).text
    assert Retention(env).make_due(ticket_id) == ALICE
    assert 'Due for review now' in panel_of(alice.ticket(ticket_id)).text


def test_after_a_lapse_the_page_says_it_is_studied_again(
        env, path, alice, clock):
    ticket_id = root_concept(path)
    card = mastered_card(env, ticket_id)
    clock.set(card.due + timedelta(days=1))
    lapse = answer(env, ticket_id, 'I forgot most of it, sorry.', 0.2)
    assert lapse.review.lapsed and lapse.status == 'studying'
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert 'Forgotten at your last review: studied again until ' \
        'mastered.' in panel.text
    assert script_data(response)['state'] == 'open'
    assert panel.find('textarea', name='answer')
    assert not panel.with_class('tracl-badge')
    # Mastered again: the notice goes, the schedule is back.
    answer(env, ticket_id, 'An answer that masters it again.', 0.9)
    panel = panel_of(alice.ticket(ticket_id))
    assert 'Forgotten' not in panel.text
    assert schedule_line(panel).startswith('Next review: ')


def test_a_concept_never_mastered_shows_no_schedule(env, path, alice):
    ticket_id = root_concept(path)
    answer(env, ticket_id, 'Not good enough yet.', 0.5)
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert not panel.with_class('tracl-schedule')
    assert script_data(response)['review'] is None


def test_the_admin_reads_the_schedule_without_an_answer_box(
        env, path, admin, clock):
    ticket_id = root_concept(path)
    card = mastered_card(env, ticket_id)
    clock.set(card.due + timedelta(hours=1))
    panel = panel_of(admin.ticket(ticket_id))
    assert 'Due for review now' in panel.text
    assert not panel.find('textarea', name='answer')


def test_a_due_review_keeps_a_hostile_name_inert(env, path, alice, clock):
    ticket_id = root_concept(path)
    card = mastered_card(env, ticket_id)
    set_fields(env, ticket_id, summary=HOSTILE, question=HOSTILE)
    clock.set(card.due + timedelta(days=2))
    response = alice.ticket(ticket_id)
    panel = panel_of(response)
    assert 'Due for review now' in panel.text
    assert_inert(response, panel)


def test_page_script_has_the_review_sentences_and_date_format(
        env, path, alice):
    data = script_data(alice.ticket(root_concept(path)))
    messages = data['messages']
    assert messages['review_first'] == \
        'Mastered \u2014 first review on %(date)s'
    assert messages['review_passed'] == \
        'Recalled \u2014 next review on %(date)s'
    assert messages['review_lapsed'] == \
        'Forgotten \u2014 you will see it again tomorrow'
    assert messages['review_practice'] == \
        'Practice: your schedule is unchanged (next review %(date)s)'
    assert messages['lapsed'] == \
        'Forgotten at your last review: studied again until mastered.'
    # The pattern concept.js writes dates with (formatDate) gives
    # format_date's date.
    when = datetime(2026, 12, 9, tzinfo=utc)
    assert picker_date(data['date_format'], when) == \
        format_date(when, tzinfo=utc)
    assert data['date_format']['offset'] == 0 or \
        data['date_format']['timezone'] is None


def picker_date(date_format, when):
    """`when` written with `date_format` as concept.js's formatDate
    does (jQuery UI's datepicker tokens)."""
    months = date_format['months']
    tokens = {'yy': str(when.year), 'y': '%02d' % (when.year % 100),
              'MM': months['wide'][when.month - 1],
              'M': months['abbreviated'][when.month - 1],
              'mm': '%02d' % when.month, 'm': str(when.month),
              'dd': '%02d' % when.day, 'd': str(when.day)}
    return re.sub(r"'([^']*)'|yy|y|MM|M|mm|m|dd|d",
                  lambda m: (m.group(1) or "'") if m.group(0)[0] == "'"
                  else tokens[m.group(0)], date_format['pattern'])
