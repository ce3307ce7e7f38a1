"""The `[[LearningPath]]` macro in a real browser: a learner generates a
preview, unticks a concept, creates the path and lands on the path's
page; the roadmap then counts the path's concepts."""

import os

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from trac.wiki.model import WikiPage

from tracl.model.paths import path_detail, path_summaries

pytestmark = [pytest.mark.functional, pytest.mark.slow]

PAGE = 'LearningPathMacroTest'
QUERY = 'I want to understand blockchain technology'
SUBJECT = 'Blockchain Fundamentals'
#: The harness's learner nobody else's test uses: the path made here must
#: not show in the tests that expect 'user' to have none.
LEARNER = 'joe'
#: The first search loads the embedding model in tracd; creating writes a
#: question per concept.
SLOW_CALL_SECONDS = 120


@pytest.fixture(scope='module')
def starter_corpus(functional):
    """The starter corpus in the functional environment's chunk store
    (importing is an upsert, so running it again is harmless)."""
    testenv, _tester, _tc = functional
    testenv._tracadmin('learning', 'import', '--starter')


@pytest.fixture(scope='module')
def macro_page(functional):
    """A wiki page showing the macro, written with Trac's API."""
    testenv, _tester, _tc = functional
    page = WikiPage(testenv.get_trac_environment(), PAGE)
    text = '= Start learning =\n\n[[LearningPath(%s)]]\n' % QUERY
    if page.text != text:
        page.text = text
        page.save('admin', 'The LearningPath macro, for its functional test')
    return testenv.url + '/wiki/' + PAGE


def wait(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def script_started(driver):
    return driver.execute_script(
        "var root = document.querySelector('[data-tracl-learning-path]');"
        "return !!(root && root.tracLearningPath);")


def page_errors(driver):
    return driver.execute_script("return window.__traclErrors || [];")


def save_screenshot(driver, name):
    """Keep a picture of the page when TRACL_SCREENSHOT_DIR is set."""
    folder = os.environ.get('TRACL_SCREENSHOT_DIR')
    if folder:
        save = getattr(driver, 'save_full_page_screenshot',
                       driver.save_screenshot)
        save(os.path.join(folder, name))


def test_visitor_sees_a_sign_in_link_instead_of_the_form(functional,
                                                         macro_page):
    testenv, tester, tc = functional
    tester.logout()
    tc.go(macro_page)
    tc.find(r'<a href="/login\?referer=%2Fwiki%2F' + PAGE + r'">Sign in</a>'
            r' to start a learning path')
    tc.notfind('tracl-lp-query')


def test_learner_generates_unticks_a_concept_and_creates_the_path(
        functional, starter_corpus, macro_page):
    testenv, tester, tc = functional
    driver = tc.driver
    tester.logout()
    tester.login(LEARNER)
    try:
        tc.go(macro_page)
        wait(driver, script_started)
        box = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-query')
        assert box.get_attribute('value') == QUERY
        label = driver.find_element(
            By.CSS_SELECTOR, 'label[for="%s"]' % box.get_attribute('id'))
        assert label.text == 'What do you want to understand?'
        create = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-create')
        assert not create.is_displayed()

        driver.find_element(By.CSS_SELECTOR, '.tracl-lp-generate').click()
        save_screenshot(driver, 'learningpath-busy.png')
        preview = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-preview')
        wait(driver, lambda d: preview.is_displayed(), SLOW_CALL_SECONDS)
        status = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-status')
        assert status.text.startswith('Found '), status.text

        subjects = [legend.text for legend in preview.find_elements(
            By.CSS_SELECTOR, 'fieldset.tracl-lp-subject > legend')]
        assert SUBJECT in subjects
        assert len(subjects) == len(set(subjects))  # one group per subject
        boxes = preview.find_elements(By.CSS_SELECTOR,
                                      'input[type=checkbox]')
        assert len(boxes) >= 2
        assert all(b.is_selected() for b in boxes)
        # The search's results; the foundations they need follow, in
        # their own section and without a relevance of their own.
        foundations = {item.find_element(
            By.CSS_SELECTOR, '.tracl-lp-concept-name').text
            for item in preview.find_elements(By.CSS_SELECTOR,
                                              'li.tracl-lp-foundation')}
        concepts = {}
        for item in preview.find_elements(
                By.CSS_SELECTOR, 'fieldset.tracl-lp-subject '
                'li.tracl-lp-concept'):
            name = item.find_element(By.CSS_SELECTOR,
                                     '.tracl-lp-concept-name').text
            relevance = item.find_element(By.CSS_SELECTOR,
                                          '.tracl-lp-relevance').text
            excerpt = item.find_element(By.CSS_SELECTOR,
                                        '.tracl-lp-excerpt').text
            assert relevance.endswith('% relevant'), relevance
            assert 0 < len(excerpt) <= 201, excerpt
            concepts[name] = item
        assert create.is_displayed() and create.is_enabled()
        save_screenshot(driver, 'learningpath.png')

        # Untick the last concept from the keyboard, as a learner without
        # a mouse would.
        dropped_item = list(concepts.values())[-1]
        dropped = dropped_item.find_element(
            By.CSS_SELECTOR, '.tracl-lp-concept-name').text
        dropped_box = dropped_item.find_element(By.CSS_SELECTOR, 'input')
        driver.execute_script('arguments[0].focus();', dropped_box)
        dropped_box.send_keys(' ')
        assert not dropped_box.is_selected()
        count = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-count').text
        assert count == '%d of %d selected' % (len(boxes) - 1, len(boxes))
        kept = (set(concepts) - {dropped}) | foundations
        assert page_errors(driver) == []

        create.click()
        wait(driver, lambda d: '/learning/paths/' in d.current_url,
             SLOW_CALL_SECONDS)
        assert page_errors(driver) == []
        driver.get(testenv.url + '/roadmap')
        milestone = wait(driver, lambda d: d.find_element(
            By.XPATH, '//div[@class="milestone"][.//h2//em[text()="%s"]]'
            % SUBJECT))
        stats = milestone.find_element(By.CSS_SELECTOR,
                                       '.legend .first.interval').text
        # The learner's bar counts concepts (LearningGroupStatsProvider).
        assert stats.startswith('Total number of concepts: '), stats
        assert int(stats.rsplit(' ', 1)[1]) >= len(kept)

        # The path holds exactly the concepts left ticked.
        env = testenv.get_trac_environment()
        sub = testenv.subs[LEARNER]
        newest = path_summaries(env, sub)[0]
        assert newest.title  # a path was made from the query
        detail = path_detail(env, sub, newest.path_id)
        assert {c['concept'] for c in detail['concepts']} == kept
        assert dropped not in kept
    finally:
        tester.logout()


def test_errors_show_as_messages_in_the_page(functional, macro_page):
    testenv, tester, tc = functional
    driver = tc.driver
    tester.logout()
    tester.login(LEARNER)
    try:
        tc.go(macro_page)
        wait(driver, script_started)
        box = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-query')
        status = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-status')

        # Too short a query: said in the page, from the keyboard.
        box.clear()
        box.send_keys('ab', Keys.ENTER)  # Enter generates
        wait(driver, lambda d: 'at least 3 characters' in status.text)
        assert 'tracl-error' in status.get_attribute('class')
        assert box.get_attribute('aria-invalid') == 'true'

        # The API refuses (here: a stale form token): its message shows.
        driver.execute_script("tracl_learning_path.form_token = 'stale';")
        box.clear()
        box.send_keys(QUERY)
        driver.find_element(By.CSS_SELECTOR, '.tracl-lp-generate').click()
        wait(driver, lambda d: 'X-CSRF-Token' in status.text)
        assert status.text == ('Missing or wrong X-CSRF-Token header: '
                               'reload the page and try again.')
        assert 'tracl-error' in status.get_attribute('class')
        generate = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-generate')
        assert generate.is_enabled()  # not left busy
        assert not driver.find_element(
            By.CSS_SELECTOR, '.tracl-lp-preview').is_displayed()
        save_screenshot(driver, 'learningpath-error.png')
        assert driver.current_url == macro_page  # no reload
        assert page_errors(driver) == []
    finally:
        tester.logout()
