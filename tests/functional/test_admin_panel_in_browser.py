"""An instructor works through the grading queue in a real browser
(headless Chromium against the harness's tracd): opens Admin > Learning >
Grading queue, finds a learner's disputed attempt by the learner's name,
types a score and a comment from the keyboard and sets the score; the
concept is mastered and the item leaves the queue. The pages log nothing
in Chromium's console.

The learner is made in the test process on the harness's environment
(a `sub` of her own, no Cognito user: only the instructor signs in), so
no other test's learner or queue item is touched: the queue is filtered
to her.
"""

import os
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from support.functional_users import USERS
from support.chromium import headless_chromium
from support.study import LEDGERS, WEAK_ANSWER, learner_headers, make_path
from support.web import call
from tracl.auth.profile import LearnerProfiles
from tracl.schema import sql

pytestmark = [pytest.mark.functional, pytest.mark.slow]

INSTRUCTOR = 'admin'
LEARNER_SUB = 'sub-admin-panel-learner'
LEARNER_NAME = 'Pat Panelton'
REASON = 'I described the replication across nodes; please look again.'
COMMENT = 'You named the replication and the trust problem: mastered.'

#: How long a page may go on running scripts after it has loaded.
SETTLE_SECONDS = 1.0


# Fixtures -----------------------------------------------------------------

@pytest.fixture(scope='module')
def chromium():
    """Headless Chromium, its console recorded, in a profile of its own."""
    with headless_chromium(window_size='1280,1000') as driver:
        yield driver


@pytest.fixture(scope='module')
def disputed(functional):
    """`(ticket_id, attempt)` of the learner's disputed attempt, made
    through the API in the test process."""
    testenv, _tester, _tc = functional
    testenv._tracadmin('learning', 'import', '--starter')
    env = testenv.get_trac_environment()
    path = make_path(env, LEARNER_SUB, fill=False)
    LearnerProfiles(env).update(LEARNER_SUB, name=LEARNER_NAME)
    ticket_id = next(t['ticket_id'] for t in path['tickets']
                     if t['concept'] == LEDGERS)
    cookies, headers = learner_headers(env, LEARNER_SUB)
    graded = call(env, 'PUT', '/api/v1/progress/%d/submit-answer' % ticket_id,
                  body={'answer': WEAK_ANSWER}, cookies=cookies,
                  headers=headers)
    assert graded.status == 200, graded
    assert not graded.json()['mastered']
    attempt = graded.json()['attempt']
    opened = call(env, 'POST', '/api/v1/progress/%d/disputes' % ticket_id,
                  body={'attempt': attempt, 'reason': REASON},
                  cookies=cookies, headers=headers)
    assert opened.status == 201, opened
    return ticket_id, attempt


# Helpers ------------------------------------------------------------------

def wait(driver, condition, timeout=15):
    return WebDriverWait(driver, timeout).until(condition)


def tracd_url(testenv):
    """tracd itself, not the harness's recording proxy (whose chunked
    HTTP/1.0 answers Chromium rightly refuses)."""
    return 'http://127.0.0.1:%d' % testenv.port


def sign_in(driver, url, username):
    driver.get(url + '/login')
    driver.find_element(By.ID, 'username').send_keys(username)
    driver.find_element(By.ID, 'password').send_keys(
        USERS[username]['password'])
    driver.find_element(By.NAME, 'signin').click()
    wait(driver, lambda d: 'logged in as' in d.page_source)
    driver.get_log('browser')


def settled(driver):
    wait(driver, lambda d: d.execute_script(
        "return document.readyState === 'complete';"))
    time.sleep(SETTLE_SECONDS)


def console_errors(driver):
    errors = [entry['message'] for entry in driver.get_log('browser')
              if entry['level'] == 'SEVERE']
    return errors + ['page_errors.js: %s' % e for e in driver.execute_script(
        "return window.__traclErrors || [];")]


def save_screenshot(driver, name):
    """Keep a picture of the page when TRACL_SCREENSHOT_DIR is set."""
    folder = os.environ.get('TRACL_SCREENSHOT_DIR')
    if folder:
        os.makedirs(folder, exist_ok=True)
        driver.save_screenshot(os.path.join(folder, name))


# Tests --------------------------------------------------------------------

def test_an_instructor_decides_a_disputed_attempt(functional, chromium,
                                                  disputed):
    testenv, _tester, _tc = functional
    ticket_id, attempt = disputed
    url = tracd_url(testenv)
    sign_in(chromium, url, INSTRUCTOR)
    try:
        # Admin > Learning > Grading queue, filtered to the learner.
        chromium.get(url + '/admin')
        chromium.find_element(By.LINK_TEXT, 'Grading queue').click()
        settled(chromium)
        assert console_errors(chromium) == []
        learner = chromium.find_element(By.ID, 'tracl-filter-learner')
        learner.find_element(
            By.XPATH, './/option[normalize-space()="%s"]' % LEARNER_NAME) \
            .click()
        learner.submit()
        item_id = 'tracl-item-%d-%d' % (ticket_id, attempt)
        item = wait(chromium, lambda d: d.find_element(By.ID, item_id))
        settled(chromium)
        text = item.text
        assert LEARNER_NAME in text and LEARNER_SUB not in text
        assert LEDGERS in text and REASON in text and WEAK_ANSWER in text
        assert 'disputed' in text
        save_screenshot(chromium, 'admin-queue-chromium.png')
        # From the keyboard: the score, the comment, then the button.
        score = chromium.find_element(By.ID, item_id + '-score')
        score.send_keys(Keys.CONTROL, 'a')
        score.send_keys('90')
        score.send_keys(Keys.TAB)
        comment = chromium.switch_to.active_element
        assert comment.get_attribute('id') == item_id + '-comment'
        comment.send_keys(COMMENT)
        counter = chromium.find_element(By.ID, item_id + '-count')
        assert counter.text.startswith('%d / 2000' % len(COMMENT))
        comment.send_keys(Keys.TAB)
        assert chromium.switch_to.active_element.get_attribute('name') == \
            'confirm'
        chromium.switch_to.active_element.send_keys(Keys.TAB)
        button = chromium.switch_to.active_element
        assert button.get_attribute('name') == 'set'
        button.send_keys(Keys.ENTER)
        notice = wait(chromium, lambda d: d.find_element(By.ID, 'notice'))
        assert 'now scores 90%; the concept is mastered' in notice.text
        settled(chromium)
        assert chromium.find_elements(By.ID, item_id) == []
        assert console_errors(chromium) == []
        save_screenshot(chromium, 'admin-queue-decided-chromium.png')
        # The other pages of the section, and the learner's line.
        for page in ('/admin/learning/learners', '/admin/learning/corpus'):
            chromium.get(url + page)
            settled(chromium)
            assert console_errors(chromium) == [], page
        chromium.get(url + '/admin/learning/learners')
        assert LEARNER_NAME in chromium.find_element(
            By.CSS_SELECTOR, '.tracl-admin-learners-table').text
    finally:
        chromium.delete_all_cookies()
    env = testenv.get_trac_environment()
    with env.db_query as db:
        status, = db(sql(env, """SELECT status FROM {progress}
                                 WHERE cognito_user_id=%s
                                 AND ticket_id=%s"""),
                     (LEARNER_SUB, ticket_id))[0]
        decided = db(sql(env, """SELECT new_score, comment FROM {decisions}
                                 WHERE ticket_id=%s AND attempt=%s"""),
                     (ticket_id, attempt))
    assert status == 'mastered'
    assert decided == [(pytest.approx(0.9), COMMENT)]
