"""Studying in a real browser: a learner answers a concept's question on
its ticket page without a reload, sees the ticket move on with the grade,
asks an instructor to review a grade and withdraws the request, unlocks a
concept by mastering its prerequisites, and watches their
`[[KnowledgeGraph]]` change colour and lead to the tickets.

The learner, 'mia', is used by no other test: she makes her own learning
path (through the API, with her browser's session and form token) and
leaves concepts mastered behind her.
"""

import json
import os
import re

import pytest
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from trac.wiki.model import WikiPage

from support.study import BLOCKS, LEDGERS, MERKLE, WEAK_ANSWER
from support.study import GOOD_ANSWERS as STUDY_ANSWERS

pytestmark = [pytest.mark.functional, pytest.mark.slow]

LEARNER = 'mia'
QUERY = 'I want to understand blockchain technology'

#: 'Public-Key Cryptography' is left to the graph's test.
KEYS = 'Public-Key Cryptography'

#: Own-words answers the offline grader scores above the mastery threshold.
GOOD_ANSWERS = STUDY_ANSWERS

#: Why the learner asks for a review of her weak answer's grade.
REVIEW_REASON = 'I think my answer covers the shared copy of the ledger.'

#: The default `[learning] mastery_threshold`, in percent.
THRESHOLD = 80

#: The fill of a graph's node by the learner's status.
GRAY, ORANGE, GREEN = '#d9d9d9', '#f5a623', '#4caf50'

GRAPH_PAGE = 'KnowledgeGraphInBrowser'

#: Creating a path searches (the embedding model loads in tracd the first
#: time) and writes a question per concept; grading is quicker.
SLOW_CALL_SECONDS = 120
CALL_SECONDS = 30


# Fixtures -----------------------------------------------------------------

@pytest.fixture(scope='module')
def learner_path(functional):
    """`{concept: {'ticket_id', 'prerequisites'}}` of the learning path the
    learner made for QUERY, from the create response."""
    testenv, tester, tc = functional
    testenv._tracadmin('learning', 'import', '--starter')
    tester.logout()
    tester.login(LEARNER)
    try:
        tc.go(testenv.url + '/learning')
        found = api(tc.driver, 'POST', '/api/v1/learning-paths/generate',
                    {'query': QUERY}, SLOW_CALL_SECONDS)
        assert found['status'] == 200, found
        # The search's results, without the foundations it adds: the
        # locks studied here are those among the results.
        results = [c['chunk_id'] for c in json.loads(found['body'])['chunks']
                   if not c['foundation_for']]
        response = api(tc.driver, 'POST', '/api/v1/learning-paths/create',
                       {'query': QUERY, 'chunk_ids': results},
                       SLOW_CALL_SECONDS)
    finally:
        tester.logout()
    assert response['status'] == 201, response
    tickets = {t['concept']: t for t in json.loads(response['body'])
               ['tickets']}
    for name in (LEDGERS, MERKLE, BLOCKS, KEYS):
        assert name in tickets, sorted(tickets)
    assert not tickets[LEDGERS]['prerequisites']
    assert not tickets[MERKLE]['prerequisites']
    assert not tickets[KEYS]['prerequisites']
    assert set(tickets[BLOCKS]['prerequisites']) == {
        tickets[LEDGERS]['ticket_id'], tickets[MERKLE]['ticket_id']}
    return tickets


@pytest.fixture(scope='module')
def graph_page(functional):
    """A wiki page with the learner's graph drawn twice: as an SVG (the
    default) and as a PNG with its image map."""
    testenv, _tester, _tc = functional
    page = WikiPage(testenv.get_trac_environment(), GRAPH_PAGE)
    text = ('= My knowledge graph =\n\n[[KnowledgeGraph]]\n\n'
            '== As an image ==\n\n[[KnowledgeGraph(format=png)]]\n')
    if page.text != text:
        page.text = text
        page.save('admin', 'The KnowledgeGraph macro, for its functional '
                           'test')
    return testenv.url + '/wiki/' + GRAPH_PAGE


@pytest.fixture
def signed_in(functional):
    """The learner signed in for one test, and signed out after it."""
    _testenv, tester, _tc = functional
    tester.logout()
    tester.login(LEARNER)
    try:
        yield
    finally:
        tester.logout()


# Helpers ------------------------------------------------------------------

def api(driver, method, path, body=None, timeout=CALL_SECONDS):
    """Call the JSON API from the page open in the browser, with its
    session cookie and its form token as X-CSRF-Token; returns
    `{'status', 'body'}`."""
    driver.set_script_timeout(timeout)
    return driver.execute_async_script("""
        var url = arguments[0], method = arguments[1], body = arguments[2];
        var done = arguments[arguments.length - 1];
        var token = document.querySelector('input[name="__FORM_TOKEN"]');
        fetch(url, {method: method, credentials: 'same-origin',
                    headers: {'Content-Type': 'application/json',
                              'Accept': 'application/json',
                              'X-CSRF-Token': token ? token.value : ''},
                    body: body})
          .then(function (response) {
            return response.text().then(function (text) {
              done({status: response.status, body: text});
            });
          }, function (error) {
            done({status: 0, body: String(error)});
          });
        """, path, method, None if body is None else json.dumps(body))


def wait(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def page_errors(driver):
    return driver.execute_script("return window.__traclErrors || [];")


def save_screenshot(driver, name):
    """Keep a picture of the page when TRACL_SCREENSHOT_DIR is set."""
    folder = os.environ.get('TRACL_SCREENSHOT_DIR')
    if folder:
        os.makedirs(folder, exist_ok=True)
        save = getattr(driver, 'save_full_page_screenshot',
                       driver.save_screenshot)
        save(os.path.join(folder, name))


def ticket_url(testenv, ticket_id):
    return '%s/ticket/%d' % (testenv.url, ticket_id)


def open_concept(tc, url):
    """Open a concept's ticket page and wait for its study panel."""
    tc.go(url)
    return wait(tc.driver, lambda d: d.find_element(By.ID, 'tracl-concept'))


def panel_state(driver):
    return driver.find_element(By.ID, 'tracl-concept') \
        .get_attribute('data-state')


def ticket_status(driver):
    return driver.find_element(By.CSS_SELECTOR,
                               '#ticket .trac-status').text.strip()


def progress_status(driver):
    """The learner's status on the concept, as the panel says it."""
    badge = driver.find_element(
        By.CSS_SELECTOR, '#tracl-concept .tracl-concept-summary '
                         '.tracl-status')
    return badge.get_attribute('class').split('tracl-status-')[-1], \
        badge.text


def answer(driver, text):
    """Type `text` in the answer box, submit it and return the result
    block once graded; checks the page was not reloaded meanwhile."""
    driver.execute_script("window.__traclStudyMarker = 'still here';")
    box = driver.find_element(By.ID, 'tracl-answer')
    box.clear()
    box.send_keys(text)
    count = driver.find_element(By.CSS_SELECTOR, '.tracl-count').text
    assert count.startswith('%d / ' % len(text)), count
    driver.find_element(By.CSS_SELECTOR, '.tracl-submit').click()
    # Graded, or refused with a message (which fails the test with it).
    wait(driver, lambda d: d.find_elements(
        By.CSS_SELECTOR, '#tracl-concept .tracl-result:not([hidden]), '
                         '#tracl-concept .tracl-answer-status.tracl-error'),
        CALL_SECONDS)
    error = driver.find_elements(
        By.CSS_SELECTOR, '#tracl-concept .tracl-answer-status.tracl-error')
    assert not error, error[0].text
    result = driver.find_element(By.CSS_SELECTOR, '#tracl-concept '
                                                  '.tracl-result')
    assert driver.execute_script(
        "return window.__traclStudyMarker;") == 'still here'
    return result


def score_of(result):
    text = result.find_element(By.CSS_SELECTOR, '.tracl-result-score').text
    match = re.match(r'^Score: (\d+)%$', text)
    assert match, text
    return int(match.group(1))


def evidence_of(result):
    """The status words of the key points a grade rests on, as the open
    evidence list of a result block shows them (mark and word)."""
    block = result.find_element(By.CSS_SELECTOR, 'details.tracl-evidence')
    assert block.get_attribute('open') is not None
    assert block.find_element(By.CSS_SELECTOR, 'summary').text == \
        'What the grade rests on'
    return [p.text for p in block.find_elements(
        By.CSS_SELECTOR, '.tracl-point .tracl-point-status')]


def ask_for_review(driver, reason):
    """Ask for a review of the newest attempt from the history: open the
    form (the focus goes to its reason), type `reason`, submit; returns
    the attempt's review block once the request is pending."""
    review = driver.find_element(By.CSS_SELECTOR, '#tracl-concept '
                                 '.tracl-attempt .tracl-review')
    ask = review.find_element(By.CSS_SELECTOR, '.tracl-review-ask')
    assert ask.text == 'Ask for a review'
    ask.click()
    box = driver.switch_to.active_element
    assert box.get_attribute('name') == 'reason'
    label = review.find_element(By.CSS_SELECTOR, 'label[for="%s"]'
                                % box.get_attribute('id'))
    assert label.text.strip()
    box.send_keys(reason)
    count = review.find_element(By.CSS_SELECTOR, '.tracl-count').text
    assert count.startswith('%d / 1000' % len(reason)), count
    review.find_element(By.CSS_SELECTOR, '.tracl-review-send').click()
    wait(driver, lambda d: review.find_elements(
        By.CSS_SELECTOR, '.tracl-review-pending, .tracl-review-status'
                         '.tracl-error'), CALL_SECONDS)
    error = review.find_elements(By.CSS_SELECTOR,
                                 '.tracl-review-status.tracl-error')
    assert not error, error[0].text
    return review


def blockers(driver):
    """`{ticket_id: href}` of the locked panel's links to its blocking
    prerequisites."""
    links = driver.find_elements(By.CSS_SELECTOR,
                                 '#tracl-concept .tracl-blockers a')
    found = {}
    for link in links:
        match = re.match(r'^#(\d+) ', link.text)
        assert match, link.text
        found[int(match.group(1))] = link.get_attribute('href')
    return found


def master(tc, testenv, ticket_id, text):
    """Answer `text` on the concept's page; it must master the concept."""
    driver = tc.driver
    open_concept(tc, ticket_url(testenv, ticket_id))
    assert panel_state(driver) == 'open'
    result = answer(driver, text)
    assert 'tracl-result-mastered' in result.get_attribute('class')
    assert score_of(result) >= THRESHOLD
    assert result.find_element(
        By.CSS_SELECTOR, '.tracl-result-verdict').text.startswith('Mastered!')
    assert panel_state(driver) == 'mastered'
    assert driver.find_elements(By.ID, 'tracl-answer') == []
    assert page_errors(driver) == []


def image_and_area(driver, href):
    """The PNG graph once loaded, and the area of its map linking to
    `href` (there is one)."""
    image = driver.find_element(By.CSS_SELECTOR, 'img.tracl-kg-png')
    wait(driver, lambda d: d.execute_script(
        'return arguments[0].complete && arguments[0].naturalWidth > 0;',
        image))
    areas = driver.find_elements(By.CSS_SELECTOR, 'map[name="%s"] area'
                                 % image.get_attribute('usemap').lstrip('#'))
    links = [a.get_attribute('href') for a in areas]
    assert links.count(href) == 1, links
    return image, areas[links.index(href)]


def middle(area):
    """The middle of an area's bounding box, in its own coordinates."""
    numbers = [float(n) for n in area.get_attribute('coords').split(',')]
    xs, ys = numbers[0::2], numbers[1::2]
    if area.get_attribute('shape') == 'circle':
        return xs[0], ys[0]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def click_on_image(driver, image, x, y):
    """Click the point `(x, y)` of `image` as shown, from its top left
    corner, after scrolling the graph's box and the page to it."""
    point = driver.execute_script("""
        var image = arguments[0], x = arguments[1], y = arguments[2];
        var box = image.closest('.tracl-kg');
        box.scrollLeft = Math.max(0, x - box.clientWidth / 2);
        var rect = image.getBoundingClientRect();
        window.scrollBy(0, rect.top + y - window.innerHeight / 2);
        rect = image.getBoundingClientRect();
        return [rect.left + x, rect.top + y];""", image, x, y)
    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(int(point[0]), int(point[1]))
    actions.pointer_action.click()
    actions.perform()


def node_fill(driver, ticket_id):
    """The fill of the concept's box in the page's SVG graph."""
    shapes = driver.find_elements(
        By.CSS_SELECTOR, '.tracl-kg-svg g#c%d path, '
                         '.tracl-kg-svg g#c%d polygon' % (ticket_id,
                                                          ticket_id))
    fills = {s.get_attribute('fill') for s in shapes} - {None, 'none'}
    assert len(fills) == 1, fills
    return fills.pop()


# Tests --------------------------------------------------------------------

def test_answers_are_graded_in_place_and_mastery_unlocks_a_concept(
        functional, learner_path, signed_in):
    testenv, _tester, tc = functional
    driver = tc.driver
    ledgers = learner_path[LEDGERS]['ticket_id']
    merkle = learner_path[MERKLE]['ticket_id']
    blocks = learner_path[BLOCKS]['ticket_id']

    # A concept whose prerequisites are not mastered is locked: no answer
    # box, a link to each prerequisite.
    open_concept(tc, ticket_url(testenv, blocks))
    assert panel_state(driver) == 'locked'
    assert driver.find_elements(By.ID, 'tracl-answer') == []
    locked = driver.find_element(By.CSS_SELECTOR, '#tracl-concept '
                                                  '.tracl-locked h3').text
    assert locked == 'Locked: master these first'
    links = blockers(driver)
    assert set(links) == {ledgers, merkle}
    assert links[ledgers] == ticket_url(testenv, ledgers)
    assert links[merkle] == ticket_url(testenv, merkle)
    assert page_errors(driver) == []

    # Its link leads to the prerequisite, which is open.
    driver.find_element(By.CSS_SELECTOR, '.tracl-blockers a[href$="/ticket/'
                                         '%d"]' % ledgers).click()
    wait(driver, lambda d: d.current_url == ticket_url(testenv, ledgers))
    wait(driver, lambda d: d.find_element(By.ID, 'tracl-concept'))
    assert panel_state(driver) == 'open'
    assert ticket_status(driver) == 'new'
    assert progress_status(driver) == ('not_started', 'Not started')
    question = driver.find_element(By.CSS_SELECTOR,
                                   '#tracl-concept .tracl-question-text')
    assert question.text.strip()
    assert driver.find_element(
        By.CSS_SELECTOR, '#tracl-concept .tracl-no-attempts').text == \
        'No attempts yet.'

    # A weak answer is graded in the page: a score under the threshold,
    # not mastered, the box still there for another try.
    result = answer(driver, WEAK_ANSWER)
    assert 'tracl-result-weak' in result.get_attribute('class')
    assert score_of(result) < THRESHOLD
    verdict = result.find_element(By.CSS_SELECTOR,
                                  '.tracl-result-verdict').text
    assert verdict.startswith('Not mastered yet: 80% is needed.'), verdict
    # What the grade rests on: the starter question's key points, each
    # with its status as a word beside a mark, and the confidence.
    statuses = evidence_of(result)
    assert statuses, 'no key points in the result'
    assert {s[1:].strip() for s in statuses} <= {'Covered', 'Partly',
                                                 'Missing'}, statuses
    assert result.find_element(
        By.CSS_SELECTOR, '.tracl-confidence').text.startswith('Confidence: ')
    assert driver.current_url == ticket_url(testenv, ledgers)
    assert panel_state(driver) == 'open'
    box = driver.find_element(By.ID, 'tracl-answer')
    assert box.is_enabled() and box.get_attribute('value') == WEAK_ANSWER
    assert driver.find_element(By.CSS_SELECTOR, '.tracl-submit').is_enabled()
    assert progress_status(driver) == ('studying', 'Studying')
    wait(driver, lambda d: len(d.find_elements(
        By.CSS_SELECTOR, '#tracl-concept .tracl-attempt')) == 1)
    # The history keeps it too, collapsed under the open result.
    history = driver.find_element(By.CSS_SELECTOR, '#tracl-concept '
                                  '.tracl-attempt details.tracl-evidence')
    assert history.get_attribute('open') is None
    save_screenshot(driver, 'study-weak-answer.png')

    # Not sure of the grade: ask an instructor for a review, in the page.
    review = ask_for_review(driver, REVIEW_REASON)
    pending = review.find_element(By.CSS_SELECTOR, '.tracl-review-pending')
    assert pending.find_element(By.CSS_SELECTOR, '.tracl-review-state') \
        .text == 'Review requested \u2014 pending'
    assert pending.find_element(
        By.CSS_SELECTOR, '.tracl-review-reason-text').text == REVIEW_REASON
    assert driver.find_elements(By.CSS_SELECTOR, '.tracl-review-ask') == []
    # The focus is on Withdraw: withdrawn from the keyboard, the control
    # is back (and has the focus).
    withdraw = driver.switch_to.active_element
    assert withdraw.text == 'Withdraw'
    withdraw.send_keys(Keys.ENTER)
    wait(driver, lambda d: review.find_elements(By.CSS_SELECTOR,
                                                '.tracl-review-ask'),
         CALL_SECONDS)
    assert review.find_elements(By.CSS_SELECTOR,
                                '.tracl-review-pending') == []
    assert 'tracl-review-ask' in driver.switch_to.active_element \
        .get_attribute('class')
    assert driver.execute_script(
        "return window.__traclStudyMarker;") == 'still here'
    assert page_errors(driver) == []

    # Reloaded: the ticket is assigned, the learner is studying it, the
    # attempt is in the history.
    open_concept(tc, ticket_url(testenv, ledgers))
    assert ticket_status(driver) == 'assigned'
    assert progress_status(driver) == ('studying', 'Studying')
    attempts = driver.find_elements(By.CSS_SELECTOR,
                                    '#tracl-concept .tracl-attempt-answer')
    assert [a.text for a in attempts] == [WEAK_ANSWER]
    assert driver.find_elements(By.CSS_SELECTOR,
                                '.tracl-expected-answer') == []

    # A good answer in the learner's own words masters it.
    master(tc, testenv, ledgers, GOOD_ANSWERS[LEDGERS])
    open_concept(tc, ticket_url(testenv, ledgers))
    assert ticket_status(driver) == 'closed'
    assert driver.find_element(
        By.CSS_SELECTOR, '#ticket .trac-resolution').text.strip() == '(fixed)'
    assert panel_state(driver) == 'mastered'
    assert progress_status(driver) == ('mastered', 'Mastered')
    assert driver.find_element(By.CSS_SELECTOR,
                               '.tracl-expected-answer').text.strip()
    assert len(driver.find_elements(By.CSS_SELECTOR,
                                    '#tracl-concept .tracl-attempt')) == 2
    save_screenshot(driver, 'study-mastered.png')

    # One prerequisite mastered: still locked by the other.
    open_concept(tc, ticket_url(testenv, blocks))
    assert panel_state(driver) == 'locked'
    assert set(blockers(driver)) == {merkle}

    # Both mastered: the concept opens for an answer.
    master(tc, testenv, merkle, GOOD_ANSWERS[MERKLE])
    open_concept(tc, ticket_url(testenv, blocks))
    assert panel_state(driver) == 'open'
    assert driver.find_elements(By.CSS_SELECTOR, '.tracl-blockers') == []
    box = driver.find_element(By.ID, 'tracl-answer')
    assert box.is_displayed() and box.is_enabled()
    assert driver.find_element(By.CSS_SELECTOR, '.tracl-submit').is_enabled()
    assert page_errors(driver) == []


def test_knowledge_graph_colours_nodes_by_progress_and_links_tickets(
        functional, learner_path, graph_page, signed_in):
    testenv, _tester, tc = functional
    driver = tc.driver
    keys = learner_path[KEYS]['ticket_id']
    keys_url = ticket_url(testenv, keys)

    # Not answered yet: gray.
    tc.go(graph_page)
    assert node_fill(driver, keys) == GRAY

    # A weak answer: orange (studying).
    open_concept(tc, keys_url)
    result = answer(driver, WEAK_ANSWER)
    assert score_of(result) < THRESHOLD
    tc.go(graph_page)
    assert node_fill(driver, keys) == ORANGE

    # Mastered: green.
    master(tc, testenv, keys, GOOD_ANSWERS[KEYS])
    tc.go(graph_page)
    assert node_fill(driver, keys) == GREEN
    save_screenshot(driver, 'graph.png')
    assert page_errors(driver) == []

    # The SVG's box is a link to the concept's ticket. (An SVG <a> has no
    # box of its own to click: its label is clicked.)
    link = driver.find_element(By.CSS_SELECTOR,
                               '.tracl-kg-svg g#c%d a' % keys)
    assert driver.execute_script(
        "return arguments[0].getAttributeNS('http://www.w3.org/1999/xlink', "
        "'href') || arguments[0].getAttribute('href');", link) == \
        '/ticket/%d' % keys
    label = link.find_element(By.CSS_SELECTOR, 'text')
    driver.execute_script('arguments[0].scrollIntoView({block: "center"});',
                          label)
    label.click()
    wait(driver, lambda d: d.current_url == keys_url)
    wait(driver, lambda d: d.find_element(By.ID, 'tracl-concept'))

    # The PNG's image map has an area for it that leads there too.
    tc.go(graph_page)
    image, area = image_and_area(driver, keys_url)
    assert area.get_attribute('alt') == KEYS
    assert area.get_attribute('title').startswith(KEYS + ': mastered')
    # Shown at its own size (a window wide enough, the wiki column
    # widened with Trac's expander), the box leads to the ticket.
    natural = driver.execute_script('return arguments[0].naturalWidth;',
                                    image)
    window = driver.get_window_size()
    driver.set_window_size(max(window['width'], natural + 200),
                           window['height'])
    try:
        driver.find_element(By.ID, 'trac-wiki-expander').click()
        wait(driver, lambda d: image.size['width'] == natural)
        x, y = middle(area)
        click_on_image(driver, image, x, y)
        wait(driver, lambda d: d.current_url == keys_url)
    finally:
        driver.set_window_size(window['width'], window['height'])
    open_concept(tc, keys_url)
    save_screenshot(driver, 'ticket.png')
    assert page_errors(driver) == []


def test_png_graph_box_as_shown_leads_to_its_ticket(
        functional, learner_path, graph_page, signed_in):
    testenv, _tester, tc = functional
    driver = tc.driver
    keys_url = ticket_url(testenv, learner_path[KEYS]['ticket_id'])
    tc.go(graph_page)
    image, area = image_and_area(driver, keys_url)
    # Where the box is drawn: the area's pixels of the image, at the size
    # the page shows the image.
    scale = image.size['width'] / driver.execute_script(
        'return arguments[0].naturalWidth;', image)
    x, y = middle(area)
    click_on_image(driver, image, x * scale, y * scale)
    wait(driver, lambda d: d.current_url == keys_url, 5)
