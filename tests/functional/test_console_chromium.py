"""TracLearn's pages log no errors in Chromium's console.

The rest of the functional suite drives Firefox, whose console Selenium
cannot read; Chromium's it can (`get_log('browser')`). These checks open
the pages a learner and an admin use, in headless Chromium against the
harness's running tracd, and fail on any SEVERE console entry: a script
error, a failed request, an `console.error`. They are the console checks
only, not the whole suite a second time.

The learner, 'chloe', is used by no other test: she makes her own learning
path and masters one concept, so her concepts are open, locked and
mastered.
"""

import json
import os
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from trac.wiki.model import WikiPage

from support.functional_users import USERS
from support.study import BLOCKS, GOOD_ANSWERS, LEDGERS, MERKLE
from tracl.demo import START_PAGE

pytestmark = [pytest.mark.functional, pytest.mark.slow]

LEARNER, ADMIN = 'chloe', 'admin'
QUERY = 'I want to understand blockchain technology'

#: The demo's start page, with both macros, under a name of its own (the
#: harness's WikiStart is Trac's, which other tests load on every sign-out).
START = 'ConsoleStartPage'

#: Creating a path searches (the embedding model loads in tracd the first
#: time) and writes a question per concept; grading is quicker.
SLOW_CALL_SECONDS = 120
CALL_SECONDS = 30

#: How long a page may go on running scripts after it has loaded (the
#: macros and the concept panel fetch and draw then).
SETTLE_SECONDS = 1.0


# Fixtures -----------------------------------------------------------------

@pytest.fixture(scope='module')
def start_page(functional):
    testenv, _tester, _tc = functional
    page = WikiPage(testenv.get_trac_environment(), START)
    if page.text != START_PAGE:
        page.text = START_PAGE
        page.save('admin', "The demo's start page, for the console checks")
    return '/wiki/' + START


@pytest.fixture(scope='module')
def concepts(functional, chromium):
    """`{'open', 'locked', 'mastered'}` ticket ids of the learner's
    concepts, and her path's page (`'path'`), made through the API from
    her Chromium session."""
    testenv, _tester, _tc = functional
    testenv._tracadmin('learning', 'import', '--starter')
    sign_in(chromium, tracd_url(testenv), LEARNER)
    try:
        chromium.get(tracd_url(testenv) + '/learning')
        response = api(chromium, 'POST', '/api/v1/learning-paths/create',
                       {'query': QUERY}, SLOW_CALL_SECONDS)
        assert response['status'] == 201, response
        created = json.loads(response['body'])
        tickets = {t['concept']: t['ticket_id'] for t in created['tickets']}
        graded = api(chromium, 'PUT', '/api/v1/progress/%d/submit-answer'
                     % tickets[LEDGERS], {'answer': GOOD_ANSWERS[LEDGERS]})
        assert graded['status'] == 200, graded
        assert json.loads(graded['body'])['mastered'], graded
    finally:
        sign_out(chromium)
    # 'Blocks and Chaining' still waits for 'Merkle Trees'.
    return {'open': tickets[MERKLE], 'locked': tickets[BLOCKS],
            'mastered': tickets[LEDGERS],
            'path': created.get('path_url') or created['roadmap_url']}


# Helpers ------------------------------------------------------------------

def wait(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def sign_in(driver, url, username):
    """Sign in through TracLearn's login page; the console of the sign-in
    itself is not what these tests check, so it is dropped."""
    driver.get(url + '/login')
    driver.find_element(By.ID, 'username').send_keys(username)
    driver.find_element(By.ID, 'password').send_keys(
        USERS[username]['password'])
    driver.find_element(By.NAME, 'signin').click()
    wait(driver, lambda d: 'logged in as' in d.page_source)
    driver.get_log('browser')


def sign_out(driver):
    driver.delete_all_cookies()


def api(driver, method, path, body=None, timeout=CALL_SECONDS):
    """Call the JSON API from the page open in the browser, with its
    session cookie and its form token; returns `{'status', 'body'}`."""
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


def console_errors(driver, url):
    """The SEVERE console entries of opening `url`, once its scripts have
    had time to run (earlier entries are dropped first)."""
    driver.get_log('browser')
    driver.get(url)
    wait(driver, lambda d: d.execute_script(
        "return document.readyState === 'complete' && "
        "(!window.jQuery || jQuery.active === 0);"))
    time.sleep(SETTLE_SECONDS)
    errors = [entry['message'] for entry in driver.get_log('browser')
              if entry['level'] == 'SEVERE']
    errors += ['page_errors.js: %s' % error for error in driver.execute_script(
        "return window.__traclErrors || [];")]
    return errors


def errors_by_page(driver, url, pages):
    """`{page: [errors]}` of the pages whose console shows errors."""
    found = {}
    for page in pages:
        errors = console_errors(driver, url + page)
        if errors:
            found[page] = errors
    return found


def save_screenshot(driver, name):
    """Keep a picture of the page when TRACL_SCREENSHOT_DIR is set."""
    folder = os.environ.get('TRACL_SCREENSHOT_DIR')
    if folder:
        os.makedirs(folder, exist_ok=True)
        driver.save_screenshot(os.path.join(folder, name))


def tracd_url(testenv):
    """tracd itself, not the harness's recording proxy: the proxy answers
    in HTTP/1.0 and passes chunked responses on still chunked, which
    Firefox decodes but Chromium rightly does not (a page would begin with
    its chunk's size in hex, and a chunk boundary could fall in a
    script)."""
    return 'http://127.0.0.1:%d' % testenv.port


def path_of(url):
    """`url` without its scheme and host."""
    return '/' + url.split('://', 1)[-1].split('/', 1)[-1]


# Tests --------------------------------------------------------------------

def test_learners_pages_log_no_errors_in_chromium(
        functional, chromium, start_page, concepts):
    testenv, _tester, _tc = functional
    pages = [start_page,
             '/ticket/%d' % concepts['open'],
             '/ticket/%d' % concepts['locked'],
             '/ticket/%d' % concepts['mastered'],
             '/query', '/query?type=learning_concept',
             '/roadmap', '/learning',
             path_of(concepts['path'])]
    sign_in(chromium, tracd_url(testenv), LEARNER)
    try:
        assert errors_by_page(chromium, tracd_url(testenv), pages) == {}
    finally:
        sign_out(chromium)


def test_learner_is_not_offered_batch_modify_in_chromium(
        functional, chromium, concepts):
    testenv, _tester, _tc = functional
    sign_in(chromium, tracd_url(testenv), LEARNER)
    try:
        assert console_errors(chromium, tracd_url(testenv) + '/query') == []
        # Her concepts are listed; the panel that would answer 403 is not.
        rows = chromium.find_elements(By.CSS_SELECTOR,
                                      'table.listing.tickets tbody tr')
        assert rows
        assert chromium.find_elements(By.ID, 'batchmod_form') == []
        save_screenshot(chromium, 'query-learner-chromium.png')
    finally:
        sign_out(chromium)


def test_admins_pages_log_no_errors_in_chromium(
        functional, chromium, start_page, concepts):
    testenv, _tester, _tc = functional
    pages = [start_page,
             '/ticket/%d' % concepts['open'],
             '/ticket/%d' % concepts['mastered'],
             '/query?type=learning_concept',
             '/roadmap', '/learning']
    sign_in(chromium, tracd_url(testenv), ADMIN)
    try:
        assert errors_by_page(chromium, tracd_url(testenv), pages) == {}
        # The admin holds TICKET_BATCH_MODIFY: the panel, with its script.
        chromium.get(tracd_url(testenv) + '/query?type=learning_concept')
        assert chromium.find_elements(By.ID, 'batchmod_form')
        assert chromium.execute_script(
            "return typeof jQuery.fn.showOnPreview;") == 'function'
    finally:
        sign_out(chromium)
