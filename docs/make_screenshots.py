#!/usr/bin/env python3
"""Make the guides' screenshots (docs/img/*.png) against a running demo.

    make demo                      # in one terminal; note the passwords
    .venv/bin/python docs/make_screenshots.py --env demo \\
        --learner learner:PASSWORD --admin admin:PASSWORD

A learner signs in, generates a path from the start page's query box,
creates it, answers its first concept well and its second thinly, and
asks for a review of the second grade, which the admin's grading queue
shows (when the first answer does not master, the admin's decision
does); the first concept is then made due for review (`trac-admin ENV
learning reviews due-now`), so the review page has something to ask. Each page is saved at
1280 px wide. Needs the test extra (Selenium) and Debian's chromium and
chromium-driver (`make test` installs both).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

QUERY = 'I want to understand blockchain technology'
#: An answer in a learner's own words to the first concept's question
#: (what a hash function does and how it shows tampering).
GOOD_ANSWER = (
    'A cryptographic hash function maps any input to a short fixed-length '
    'digest, like a fingerprint of the data. It is deterministic, so anyone '
    'can hash the stored data again and compare the result with the digest '
    'kept earlier: if the two differ, the data was changed. Flipping even '
    'one bit of the input changes about half of the digest unpredictably, '
    'and finding another input with the same digest is infeasible, so an '
    'altered copy cannot keep the original digest.')
#: A thin answer to the second concept, whose grade the learner disputes.
THIN_ANSWER = 'A ledger that many computers keep a copy of.'
REASON = 'My answer says what the question asks, in fewer words.'

#: Generating loads the embedding model in the server the first time.
SLOW = 180


def browser(width=1280, height=1000):
    profile = tempfile.mkdtemp(prefix='tracl-shots-')
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for flag in ('--headless', '--no-sandbox', '--disable-gpu',
                 '--disable-background-networking', '--hide-scrollbars',
                 '--window-size=%d,%d' % (width, height),
                 '--user-data-dir=' + profile):
        options.add_argument(flag)
    return webdriver.Chrome(options=options,
                            service=Service('/usr/bin/chromedriver'))


def sign_in(driver, url, credentials):
    username, password = credentials.split(':', 1)
    driver.get(url + '/login')
    driver.find_element(By.ID, 'username').send_keys(username)
    driver.find_element(By.ID, 'password').send_keys(password)
    driver.find_element(By.NAME, 'signin').click()
    WebDriverWait(driver, 30).until(
        lambda d: 'logged in as' in d.page_source)


def api(driver, method, path, body=None):
    """Call the JSON API from the page, with its CSRF token."""
    return driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        // The form token Trac puts in the page's forms and settings.
        var field = document.querySelector('input[name="__FORM_TOKEN"]');
        var token = field ? field.value : '';
        Object.keys(window).forEach(function (key) {
          var value = window[key];
          if (!token && key.indexOf('tracl') === 0 && value &&
              typeof value.form_token === 'string') {
            token = value.form_token;
          }
        });
        fetch(arguments[0], {method: arguments[1], credentials: 'same-origin',
              headers: {'Content-Type': 'application/json',
                        'X-CSRF-Token': token},
              body: arguments[2] === null ? undefined
                                          : JSON.stringify(arguments[2])})
          .then(function (r) { return r.json(); }).then(done, function (e) {
            done({error: String(e)}); });
    """, driver.current_url.split('/', 3)[0] + '//' +
        driver.current_url.split('/', 3)[2] + '/api/v1' + path, method, body)


def save(driver, out, name, height=None, element=None):
    """Save the page from its top, as tall as its content (up to `height`
    px), or only `element`."""
    path = os.path.join(out, name)
    if element is not None:
        driver.execute_script('arguments[0].scrollIntoView();', element)
        time.sleep(0.5)
        element.screenshot(path)
    else:
        full = driver.execute_script(
            'return document.documentElement.scrollHeight;')
        driver.set_window_size(1280, min(full, height or 1600))
        driver.execute_script('window.scrollTo(0, 0);')
        time.sleep(0.5)
        driver.save_screenshot(path)
        driver.set_window_size(1280, 1000)
    print('wrote', path)


def answer(driver, url, ticket, text):
    """Answer concept `ticket` on its page; returns its progress."""
    driver.get('%s/ticket/%d' % (url, ticket))
    driver.find_element(By.ID, 'tracl-answer').send_keys(text)
    driver.find_element(By.CSS_SELECTOR, '.tracl-submit').click()
    WebDriverWait(driver, SLOW).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '.tracl-attempt'))
    return api(driver, 'GET', '/progress/%d' % ticket)


def open_concepts(driver, url, path_url):
    """The path's unlocked concepts, in study order (ticket ids)."""
    path_id = path_url.rstrip('/').rsplit('/', 1)[1].split('?')[0]
    path = api(driver, 'GET', '/learning-paths/%s' % path_id)
    return [c['ticket_id'] for c in path['concepts'] if not c.get('locked')]


def learner_pages(driver, url, out):
    driver.set_script_timeout(SLOW)
    driver.get(url + '/wiki/WikiStart')
    box = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-query')
    box.clear()
    box.send_keys(QUERY)
    driver.find_element(By.CSS_SELECTOR, '.tracl-lp-generate').click()
    preview = driver.find_element(By.CSS_SELECTOR, '.tracl-lp-preview')
    WebDriverWait(driver, SLOW).until(lambda d: preview.is_displayed())
    save(driver, out, 'start-page.png', 1400)
    driver.find_element(By.CSS_SELECTOR, '.tracl-lp-create').click()
    WebDriverWait(driver, SLOW).until(
        lambda d: '/learning/paths/' in d.current_url)
    path_url = driver.current_url
    first, second = open_concepts(driver, url, path_url)[:2]
    progress = answer(driver, url, first, GOOD_ANSWER)
    print('first answer:', progress.get('status'), progress.get('best_score'))
    save(driver, out, 'concept-page.png', 2000)
    answer(driver, url, second, THIN_ANSWER)
    dispute = api(driver, 'POST', '/progress/%d/disputes' % second,
                  {'attempt': 1, 'reason': REASON})
    print('dispute:', dispute)
    driver.get(path_url)
    save(driver, out, 'path-page.png', 1500)
    return path_url, first, progress.get('status') == 'mastered'


def admin_pages(driver, url, out, ticket, decide):
    driver.get(url + '/admin/learning/queue')
    save(driver, out, 'admin-queue.png', 1600)
    driver.get(url + '/admin/learning/learners')
    save(driver, out, 'admin-learners.png', 1000)
    if decide:  # the first answer did not master: an instructor does
        print('decision:', api(driver, 'POST', '/grading/decisions',
                               {'ticket_id': ticket, 'attempt': 1,
                                'score': 0.9, 'comment': 'Complete.'}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', default='http://127.0.0.1:8000')
    parser.add_argument('--env', required=True,
                        help='the demo environment (for trac-admin)')
    parser.add_argument('--learner', required=True, help='USER:PASSWORD')
    parser.add_argument('--admin', required=True, help='USER:PASSWORD')
    parser.add_argument('--out', default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'img'))
    args = parser.parse_args(argv)
    url = args.url.rstrip('/')
    learner, admin = browser(), browser()
    try:
        sign_in(learner, url, args.learner)
        path_url, ticket, mastered = learner_pages(learner, url, args.out)
        sign_in(admin, url, args.admin)
        admin_pages(admin, url, args.out, ticket, not mastered)
        trac_admin = os.path.join(os.path.dirname(sys.executable),
                                  'trac-admin')
        subprocess.run([trac_admin, args.env, 'learning', 'reviews',
                        'due-now', str(ticket)], check=True)
        learner.get(url + '/learning')
        save(learner, args.out, 'my-learning.png', 1600)
        learner.get(url + '/learning/review')
        save(learner, args.out, 'review-session.png', 1000)
        learner.get(path_url)
        graph = learner.find_element(By.CSS_SELECTOR, '.tracl-kg')
        save(learner, args.out, 'graph.png', element=graph)
    finally:
        learner.quit()
        admin.quit()
    return 0


if __name__ == '__main__':
    sys.exit(main())
