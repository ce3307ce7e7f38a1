"""TracLearn's pages are accessible: axe-core finds no serious or critical
WCAG 2 A/AA violation on them, and their main controls work from the
keyboard alone.

One headless Chromium against the harness's running tracd opens the pages
a learner and an admin use; axe-core (from the npm registry, installed by
`make test` into node_modules) is injected into each and run with the WCAG
2.0, 2.1 and 2.2 A and AA rules. A failure lists every serious or critical
violation: its rule, the selectors of the elements and what to do.

The learner, 'ally', is used by no other test: a Cognito user of the
harness's emulator made here, whose path, weak answer and dispute are made
through the API in the test process (her dispute puts a row in the
grading queue the admin pages show).
"""

import os
import re
import time
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from trac.wiki.model import WikiPage

from support.axe import axe_source, describe, run_axe, serious
from support.study import (BLOCKCHAIN, GOOD_ANSWERS, LEDGERS, MERKLE,
                           WEAK_ANSWER, learner_headers, make_path)
from support.web import call
from tracl.auth.emulator import provision
from tracl.demo import START_PAGE

pytestmark = [pytest.mark.functional, pytest.mark.slow]

LEARNER = {'username': 'ally', 'password': 'AllyPass123',
           'name': 'Ally Learner', 'email': 'ally@example.org',
           'groups': ['Students']}
ADMIN, ADMIN_PASSWORD = 'admin', 'AdminPass123'
REASON = 'I described the replication across nodes; please look again.'

#: The demo's start page, with both macros, under a name of its own (the
#: harness's WikiStart is Trac's, which other tests load on every sign-out).
START = 'AccessibleStartPage'

#: The admin pages of TracLearn.
ADMIN_PAGES = ('/admin/learning/queue', '/admin/learning/learners',
               '/admin/learning/corpus')

#: How long a page may go on running scripts after it has loaded (the
#: macros and the concept panel fetch and draw then).
SETTLE_SECONDS = 1.0

#: Generating a preview searches the corpus: the embedding model may load
#: in tracd the first time.
GENERATE_SECONDS = 120
GRADE_SECONDS = 60

#: At most this many Tab presses to reach a control: more would be a page
#: no keyboard user could get through, and a control the Tab order misses.
MAX_TABS = 120


# Fixtures -----------------------------------------------------------------

@pytest.fixture(scope='module')
def axe():
    return axe_source()


@pytest.fixture(scope='module')
def start_page(functional):
    testenv, _tester, _tc = functional
    page = WikiPage(testenv.get_trac_environment(), START)
    if page.text != START_PAGE:
        page.text = START_PAGE
        page.save('admin', "The demo's start page, for the accessibility "
                           "checks")
    return '/wiki/' + START


@pytest.fixture(scope='module')
def learner(functional):
    """`{'path', 'disputed', 'open'}`: the learner's path page, the ticket
    of her disputed weak answer and a ticket she has not answered yet."""
    testenv, _tester, _tc = functional
    subs = provision(testenv.emulator.endpoint, [LEARNER])['users']
    sub = subs[LEARNER['username']]
    testenv._tracadmin('learning', 'import', '--starter')
    env = testenv.get_trac_environment()
    created = make_path(env, sub, BLOCKCHAIN, fill=False)
    tickets = {t['concept']: t['ticket_id'] for t in created['tickets']}
    cookies, headers = learner_headers(env, sub)
    ledgers = tickets[LEDGERS]
    graded = call(env, 'PUT', '/api/v1/progress/%d/submit-answer' % ledgers,
                  body={'answer': WEAK_ANSWER}, cookies=cookies,
                  headers=headers)
    assert graded.status == 200, graded
    opened = call(env, 'POST', '/api/v1/progress/%d/disputes' % ledgers,
                  body={'attempt': graded.json()['attempt'],
                        'reason': REASON}, cookies=cookies, headers=headers)
    assert opened.status == 201, opened
    # A concept waiting for no other, to answer from the keyboard.
    open_concept = next(t['concept'] for t in created['tickets']
                        if not t['prerequisites'] and t['concept'] != LEDGERS)
    locked = next(t['ticket_id'] for t in created['tickets']
                  if t['prerequisites'])
    path_url = created.get('path_url') or created['roadmap_url']
    return {'path': urlsplit(path_url).path, 'disputed': ledgers,
            'open': tickets[open_concept], 'open_concept': open_concept,
            'locked': locked}


# Helpers ------------------------------------------------------------------

def wait(driver, condition, timeout=15):
    return WebDriverWait(driver, timeout).until(condition)


def tracd_url(testenv):
    """tracd itself, not the harness's recording proxy (whose chunked
    HTTP/1.0 answers Chromium rightly refuses)."""
    return 'http://127.0.0.1:%d' % testenv.port


def sign_in(driver, url, username, password):
    driver.delete_all_cookies()
    driver.get(url + '/login')
    driver.find_element(By.ID, 'username').send_keys(username)
    driver.find_element(By.ID, 'password').send_keys(password)
    driver.find_element(By.NAME, 'signin').click()
    wait(driver, lambda d: 'logged in as' in d.page_source)


def open_page(driver, url):
    driver.get(url)
    wait(driver, lambda d: d.execute_script(
        "return document.readyState === 'complete' && "
        "(!window.jQuery || jQuery.active === 0);"))
    time.sleep(SETTLE_SECONDS)


def violations_by_page(driver, axe, url, pages):
    """`{page: description}` of the pages with serious or critical
    violations."""
    found = {}
    for page in pages:
        open_page(driver, url + page)
        assert driver.find_elements(By.ID, 'main'), (page, driver.title)
        save_screenshot(driver, page)
        bad = serious(run_axe(driver, axe))
        if bad:
            found[page] = describe(bad)
    return found


def save_screenshot(driver, page):
    """Keep a picture of the page when TRACL_SCREENSHOT_DIR is set."""
    folder = os.environ.get('TRACL_SCREENSHOT_DIR')
    if folder:
        os.makedirs(folder, exist_ok=True)
        name = re.sub(r'[^A-Za-z0-9]+', '_', page).strip('_') or 'root'
        driver.save_screenshot(os.path.join(folder, 'a11y-%s.png' % name))


def report(found):
    return '\n\n'.join('%s:\n%s' % (page, text)
                       for page, text in sorted(found.items()))


def focused(driver):
    return driver.switch_to.active_element


def tab_to(driver, selector):
    """Press Tab from the top of the page until the element `selector`
    has the focus; returns it."""
    target = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script(
        "document.activeElement && document.activeElement.blur();"
        "window.scrollTo(0, 0);")
    for _ in range(MAX_TABS):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        if focused(driver) == target:
            return target
    raise AssertionError('%d Tabs did not reach %s' % (MAX_TABS, selector))


def keys(driver, *sequence):
    ActionChains(driver).send_keys(*sequence).perform()


# Tests --------------------------------------------------------------------

def test_learners_pages_have_no_serious_violations(
        functional, chromium, axe, start_page, learner):
    testenv, _tester, _tc = functional
    url = tracd_url(testenv)
    sign_in(chromium, url, LEARNER['username'], LEARNER['password'])
    pages = [start_page, '/learning', learner['path'],
             '/ticket/%d' % learner['open'],
             '/ticket/%d' % learner['disputed'],
             '/ticket/%d' % learner['locked'], '/learning/review']
    found = violations_by_page(chromium, axe, url, pages)
    assert found == {}, report(found)


def test_admin_pages_have_no_serious_violations(
        functional, chromium, axe, start_page, learner):
    testenv, _tester, _tc = functional
    url = tracd_url(testenv)
    sign_in(chromium, url, ADMIN, ADMIN_PASSWORD)
    pages = list(ADMIN_PAGES) + [start_page,
                                 '/ticket/%d' % learner['disputed']]
    found = violations_by_page(chromium, axe, url, pages)
    assert found == {}, report(found)


def test_sign_in_page_has_no_serious_violations(functional, chromium, axe):
    testenv, _tester, _tc = functional
    chromium.delete_all_cookies()
    found = violations_by_page(chromium, axe, tracd_url(testenv),
                               ['/login'])
    assert found == {}, report(found)


def test_start_page_works_from_the_keyboard(functional, chromium, axe,
                                            start_page, learner):
    testenv, _tester, _tc = functional
    url = tracd_url(testenv)
    sign_in(chromium, url, LEARNER['username'], LEARNER['password'])
    open_page(chromium, url + start_page)
    query = tab_to(chromium, '.tracl-lp-query')
    ActionChains(chromium).key_down(Keys.CONTROL).send_keys('a') \
        .key_up(Keys.CONTROL).send_keys(BLOCKCHAIN).perform()
    assert query.get_attribute('value') == BLOCKCHAIN
    tab_to(chromium, '.tracl-lp-generate')
    keys(chromium, Keys.ENTER)
    boxes = wait(chromium, lambda d: d.find_elements(
        By.CSS_SELECTOR, '.tracl-lp-preview input[type=checkbox]'),
        GENERATE_SECONDS)
    assert all(box.is_selected() for box in boxes)
    # The preview's boxes come next in the Tab order; Space unticks one.
    first = tab_to(chromium, '.tracl-lp-preview input[type=checkbox]')
    keys(chromium, Keys.SPACE)
    assert not first.is_selected()
    keys(chromium, Keys.SPACE)
    assert first.is_selected()
    create = tab_to(chromium, '.tracl-lp-create')
    assert create.is_displayed()
    # The preview drawn by the script is as accessible as the page.
    bad = serious(run_axe(chromium, axe))
    assert bad == [], describe(bad)


def test_concept_page_works_from_the_keyboard(functional, chromium, axe,
                                              learner):
    testenv, _tester, _tc = functional
    url = tracd_url(testenv)
    sign_in(chromium, url, LEARNER['username'], LEARNER['password'])
    open_page(chromium, url + '/ticket/%d' % learner['open'])
    text = GOOD_ANSWERS.get(learner['open_concept'], GOOD_ANSWERS[MERKLE])
    answer = tab_to(chromium, '#tracl-answer')
    keys(chromium, text)
    assert answer.get_attribute('value') == text
    tab_to(chromium, '.tracl-submit')
    keys(chromium, Keys.SPACE)
    # Graded: the result box shows the score.
    wait(chromium, lambda d: d.find_elements(
        By.CSS_SELECTOR, '.tracl-result:not([hidden]) .tracl-result-score'),
        GRADE_SECONDS)
    # The result drawn by the script is as accessible as the page.
    bad = serious(run_axe(chromium, axe))
    assert bad == [], describe(bad)
