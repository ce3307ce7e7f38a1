"""My learning's "Your data" in headless Chromium against the harness's
tracd: the download link gives the learner's JSON, and the deletion is
reached, confirmed and sent from the keyboard alone, says it is working,
and leaves the console clean.

The learner, 'dora', is added to the emulator's pool by this module
alone (`learning user add`), so deleting her data takes nobody else's.
"""

import json
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from trac.util.datefmt import datetime_now, to_utimestamp, utc

from test_console_chromium import (api, console_errors, save_screenshot,
                                   tracd_url, wait)
from tracl.schema import sql

pytestmark = [pytest.mark.functional, pytest.mark.slow]

LEARNER, PASSWORD = 'dora', 'DoraPass123'


@pytest.fixture(scope='module')
def dora(functional, chromium):
    """Dora, signed in in Chromium, with a learning path; her `sub`."""
    testenv, _tester, _tc = functional
    testenv._tracadmin('learning', 'user', 'add', LEARNER, '--password',
                       PASSWORD, '--group', 'Students', '--name',
                       'Dora Learner')
    url = tracd_url(testenv)
    chromium.get(url + '/login')
    chromium.find_element(By.ID, 'username').send_keys(LEARNER)
    chromium.find_element(By.ID, 'password').send_keys(PASSWORD)
    chromium.find_element(By.NAME, 'signin').click()
    wait(chromium, lambda d: 'logged in as' in d.page_source)
    chromium.get_log('browser')
    env = testenv.get_trac_environment()
    sub = env.db_query("""
        SELECT sid FROM session_attribute WHERE name='tracl_username'
        AND value=%s""", (LEARNER,))[0][0]
    with env.db_transaction as db:
        db(sql(env, """INSERT INTO {paths} (id, title, query_text,
                       cognito_user_id, created_at)
                       VALUES (%s, %s, %s, %s, %s)"""),
           (str(uuid.uuid4()), "Dora's <path>", 'ledgers', sub,
            to_utimestamp(datetime_now(utc))))
    return env, sub


def test_your_data_downloads_and_deletes_from_the_keyboard(
        functional, chromium, dora):
    testenv, _tester, _tc = functional
    env, sub = dora
    url = tracd_url(testenv)
    assert console_errors(chromium, url + '/learning') == []
    link = chromium.find_element(By.CSS_SELECTOR, '.tracl-data-download')
    assert link.text == 'Download my data'
    download = api(chromium, 'GET', '/api/v1/me/data')
    assert download['status'] == 200, download
    assert [p['title'] for p in json.loads(download['body'])['paths']] == \
        ["Dora's <path>"]

    # The confirmation step opens and is answered from the keyboard.
    summary = chromium.find_element(By.CSS_SELECTOR,
                                    '.tracl-data-delete summary')
    summary.send_keys(Keys.ENTER)
    box = chromium.find_element(By.ID, 'tracl-delete-confirm')
    assert box.is_displayed()
    label = chromium.find_element(By.CSS_SELECTOR,
                                  'label[for="tracl-delete-confirm"]')
    assert 'cannot be recovered' in label.text
    button = chromium.find_element(By.CSS_SELECTOR, '.tracl-delete-button')
    # Unticked, the browser refuses to send the form.
    button.send_keys(Keys.ENTER)
    assert chromium.execute_script(
        "return document.getElementById('tracl-delete-confirm')"
        ".validity.valueMissing;")
    assert env.db_query(sql(env, 'SELECT COUNT(*) FROM {paths} '
                                 'WHERE cognito_user_id=%s'), (sub,))[0][0] \
        == 1
    save_screenshot(chromium, 'learner-data-confirm.png')
    # Hold the submission to see the page say that it works, then send it.
    chromium.execute_script("""
        document.getElementById('tracl-delete-data').addEventListener(
            'submit', function (e) { e.preventDefault(); });""")
    box.send_keys(Keys.SPACE)
    assert box.is_selected()
    button.send_keys(Keys.ENTER)
    wait(chromium, lambda d: not button.is_enabled())
    status = chromium.find_element(By.CSS_SELECTOR, '.tracl-delete-status')
    assert status.text == 'Deleting your learning data\u2026'
    assert chromium.find_element(By.ID, 'tracl-delete-data') \
        .get_attribute('aria-busy') == 'true'
    save_screenshot(chromium, 'learner-data-deleting.png')
    chromium.execute_script(
        "document.getElementById('tracl-delete-data').submit();")
    wait(chromium, lambda d: 'Your learning data was deleted' in
         d.page_source)
    save_screenshot(chromium, 'learner-data-deleted.png')
    assert env.db_query(sql(env, 'SELECT COUNT(*) FROM {paths} '
                                 'WHERE cognito_user_id=%s'), (sub,))[0][0] \
        == 0
    errors = [e['message'] for e in chromium.get_log('browser')
              if e['level'] == 'SEVERE']
    assert errors == []
