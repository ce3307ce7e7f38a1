"""Learning paths that start at the foundations, in headless Chromium
against the live server (tests/e2e/conftest.py: a demo-like environment,
the Cognito emulator, the starter corpus, tracd).

A new learner finds My learning empty and follows its link to the start
page's query box (the demo's start page, `tracl.demo.START_PAGE`); the
[[LearningPath]] preview shows the search results and, after them, the
foundations they need ("Foundations: needed first", each ticked, saying
which concepts need it); unticking one warns, beside it, which concepts it
will no longer gate. Hostile names sent to the preview stay text. Create
sends the ticked chunks (results and foundations) and the browser lands
on the path's page: "Start here", a progress bar, the concepts in study
order. Chromium's console records no error on the way.
"""

import json
import os

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from trac.env import Environment

from support.chromium import console_errors
from tracl.demo import write_start_page

pytestmark = pytest.mark.slow

USERNAME, PASSWORD = 'fiona', 'Foundation5Path'
QUERY = 'I want to understand blockchain technology'

#: Generating searches (the embedding model loads in tracd the first time);
#: creating writes a question per concept.
SLOW_CALL_SECONDS = 180
CALL_SECONDS = 30

#: Records the learning-path API's answers and the bodies sent to it, so
#: the test compares the page with what the server said.
RECORD_API = """
if (!window.__traclCalls) {
  window.__traclCalls = [];
  var original = window.fetch;
  window.fetch = function (url, options) {
    var call = {url: String(url), body: options && options.body};
    window.__traclCalls.push(call);
    // Kept across the navigation a create ends with.
    var kept = JSON.parse(sessionStorage.getItem('traclCalls') || '[]');
    kept.push({url: call.url, body: call.body});
    sessionStorage.setItem('traclCalls', JSON.stringify(kept));
    return original.apply(this, arguments).then(function (response) {
      response.clone().json().then(function (data) { call.answer = data; },
                                   function () {});
      return response;
    });
  };
}
"""

#: Hostile names and text, as a compromised corpus could send them.
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def names_list(names):
    """Names as the page lists them: "A", "A and B", "A, B and C"."""
    if len(names) < 2:
        return ''.join(names)
    return '%s and %s' % (', '.join(names[:-1]), names[-1])


@pytest.fixture(scope='module')
def start_page(live_server):
    """The demo's start page, with its LearningPath form."""
    env = Environment(live_server.env_path)
    try:
        write_start_page(env)
    finally:
        env.shutdown()


@pytest.fixture(scope='module')
def learner(live_server, chromium, start_page):
    """Fiona, signed in in Chromium."""
    live_server.add_user(USERNAME, PASSWORD)
    chromium.get(live_server.url + '/login')
    chromium.find_element(By.ID, 'username').send_keys(USERNAME)
    chromium.find_element(By.ID, 'password').send_keys(PASSWORD)
    chromium.find_element(By.NAME, 'signin').click()
    wait(chromium, lambda d: 'logged in as' in d.page_source)
    return chromium


def wait(driver, condition, timeout=CALL_SECONDS):
    return WebDriverWait(driver, timeout).until(condition)


def calls(driver, part):
    return [c for c in driver.execute_script(
        'return window.__traclCalls || [];') if part in c['url']]


def kept_calls(driver, part):
    return [c for c in json.loads(driver.execute_script(
        "return sessionStorage.getItem('traclCalls') || '[]';"))
        if part in c['url']]


def generate(live_server, driver):
    """Generate the start page's preview, recording the API; returns the
    preview element and the chunks the server answered."""
    driver.get(live_server.url + '/wiki/WikiStart')
    driver.execute_script(RECORD_API)
    driver.find_element(By.CSS_SELECTOR, '.tracl-lp-generate').click()
    preview = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-preview')
    wait(driver, lambda d: preview.is_displayed(), SLOW_CALL_SECONDS)
    wait(driver, lambda d: calls(d, '/generate') and
         'answer' in calls(d, '/generate')[-1])
    return preview, calls(driver, '/generate')[-1]['answer']['chunks']


def test_a_new_learner_goes_from_my_learning_to_the_query_box(
        live_server, learner):
    driver = learner
    driver.get(live_server.url + '/learning')
    link = driver.find_element(By.LINK_TEXT, 'Start a learning path')
    assert link.get_attribute('href') == \
        live_server.url + '/wiki/WikiStart#tracl-lp-1'
    link.click()
    wait(driver, lambda d: d.execute_script(
        'var a = document.activeElement;'
        'return a && a.classList.contains("tracl-lp-query");'))
    box = driver.switch_to.active_element
    assert box.get_attribute('value') == QUERY
    assert console_errors(driver) == []


def test_the_preview_shows_the_foundations_after_the_results(
        live_server, learner):
    driver = learner
    preview, chunks = generate(live_server, driver)
    results = [c for c in chunks if not c['foundation_for']]
    foundations = [c for c in chunks if c['foundation_for']]
    assert results and foundations, chunks
    # Foundations come after every search result, without a relevance.
    assert chunks == results + foundations
    assert all(c['relevance'] is None for c in foundations)

    section = preview.find_element(By.CSS_SELECTOR, '.tracl-lp-foundations')
    heading = section.find_element(By.CSS_SELECTOR, 'h4')
    assert heading.text == 'Foundations: needed first'
    assert section.get_attribute('aria-labelledby') == \
        heading.get_attribute('id')
    # The results are above the section, grouped by subject.
    shown = [e.text for e in preview.find_elements(
        By.CSS_SELECTOR, '.tracl-lp-subject .tracl-lp-concept-name')]
    assert sorted(shown) == sorted(c['concept'] for c in results)
    items = section.find_elements(By.CSS_SELECTOR, '.tracl-lp-foundation')
    assert len(items) == len(foundations)
    for item, chunk in zip(items, foundations):
        box = item.find_element(By.CSS_SELECTOR, 'input[type=checkbox]')
        assert box.is_selected()
        assert box.get_attribute('value') == chunk['chunk_id']
        label = item.find_element(By.CSS_SELECTOR,
                                  'label[for="%s"]' % box.get_attribute('id'))
        assert item.find_element(
            By.CSS_SELECTOR, '.tracl-lp-concept-name').text == chunk['concept']
        assert item.find_element(By.CSS_SELECTOR,
                                 '.tracl-lp-needed-for').text == \
            'needed for ' + names_list(chunk['foundation_for'])
        assert label.is_displayed()
    status = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-status').text
    assert 'they build on' in status, status
    count = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-count').text
    assert count == '%d of %d selected' % (len(chunks), len(chunks))
    if os.environ.get('TRACL_SCREENSHOTS'):
        driver.save_screenshot('/tmp/tracl-foundations.png')
    assert console_errors(driver) == []


def test_unticking_a_foundation_warns_which_concepts_it_will_not_gate(
        live_server, learner):
    driver = learner
    section = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-foundations')
    item = section.find_element(By.CSS_SELECTOR, '.tracl-lp-foundation')
    name = item.find_element(By.CSS_SELECTOR, '.tracl-lp-concept-name').text
    needed = item.find_element(By.CSS_SELECTOR,
                               '.tracl-lp-needed-for').text
    box = item.find_element(By.CSS_SELECTOR, 'input[type=checkbox]')
    warning = item.find_element(By.CSS_SELECTOR, '.tracl-lp-ungated')
    assert warning.get_attribute('aria-live') == 'polite'
    assert warning.text == ''
    # From the keyboard, as a learner without a mouse would.
    driver.execute_script('arguments[0].focus();', box)
    box.send_keys(Keys.SPACE)
    assert not box.is_selected()
    wait(driver, lambda d: warning.text)
    concepts = needed[len('needed for '):]
    assert warning.text == ('Left out: %s will not wait for %s to be '
                            'mastered.' % (concepts, name))
    assert warning.get_attribute('id') in \
        box.get_attribute('aria-describedby').split()
    box.send_keys(Keys.SPACE)
    assert box.is_selected()
    wait(driver, lambda d: warning.text == '')
    assert console_errors(driver) == []


def test_hostile_names_in_the_preview_stay_text(live_server, learner):
    driver = learner
    driver.get(live_server.url + '/wiki/WikiStart')
    wait(driver, lambda d: d.execute_script(
        'var r = document.querySelector("[data-tracl-learning-path]");'
        'return !!(r && r.tracLearningPath);'))
    driver.execute_script("""
        var root = document.querySelector('[data-tracl-learning-path]');
        root.tracLearningPath.show({query: arguments[0], chunks: [
          {chunk_id: 'x1', concept: arguments[0], subject: arguments[0],
           content: arguments[0], relevance: 0.9, cosine: 0.5,
           foundation_for: []},
          {chunk_id: 'x2', concept: arguments[0], subject: 'S',
           content: arguments[0], relevance: null, cosine: 0.4,
           foundation_for: [arguments[0], 'Merkle Trees']}]});
        """, HOSTILE)
    preview = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-preview')
    assert preview.find_elements(By.CSS_SELECTOR, 'img') == []
    assert driver.execute_script('return window.__pwned;') is None
    needed = preview.find_element(By.CSS_SELECTOR, '.tracl-lp-needed-for')
    assert needed.text == 'needed for %s and Merkle Trees' % HOSTILE
    assert console_errors(driver) == []


def test_create_sends_the_ticked_chunks_and_opens_the_paths_page(
        live_server, learner):
    driver = learner
    preview, chunks = generate(live_server, driver)
    ticked = [b.get_attribute('value') for b in preview.find_elements(
        By.CSS_SELECTOR, 'input[type=checkbox]') if b.is_selected()]
    assert sorted(ticked) == sorted(c['chunk_id'] for c in chunks)
    driver.find_element(By.CSS_SELECTOR, '.tracl-lp-create').click()
    # The page goes to the path's page once created: the call is read
    # from where it was kept across that navigation.
    sent = json.loads(wait(driver, lambda d: kept_calls(d, '/create'))[-1][
        'body'])
    assert sent['query'] == QUERY
    assert sorted(sent['chunk_ids']) == sorted(ticked)
    wait(driver, lambda d: '/learning/paths/' in d.current_url,
         SLOW_CALL_SECONDS)

    # The path's page: where to start, how far, and every concept.
    box = driver.find_element(By.CSS_SELECTOR, '.tracl-next-up')
    assert box.find_element(By.TAG_NAME, 'h2').text.lower() == 'start here'
    start = box.find_element(By.CSS_SELECTOR, '.tracl-next-up-link')
    progress = driver.find_element(By.TAG_NAME, 'progress')
    assert progress.get_attribute('value') == '0'
    rows = driver.find_elements(By.CSS_SELECTOR,
                                '.tracl-path-concepts tbody tr')
    assert int(progress.get_attribute('max')) == len(rows)
    names = [r.find_element(By.CSS_SELECTOR, 'th a').text for r in rows]
    assert start.text in names
    foundations = {c['concept'] for c in chunks if c['foundation_for']}
    # A foundation comes before the concepts that need it.
    for chunk in chunks:
        for needer in chunk['foundation_for']:
            if chunk['concept'] in names and needer in names:
                assert names.index(chunk['concept']) < names.index(needer)
    assert foundations & set(names)
    if os.environ.get('TRACL_SCREENSHOTS'):
        driver.save_screenshot('/tmp/tracl-path-page.png')
    start.click()
    wait(driver, lambda d: '/ticket/' in d.current_url)
    assert console_errors(driver) == []
