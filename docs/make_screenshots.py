#!/usr/bin/env python3
"""Make the guides' screenshots (docs/img/*.png) against a running demo.

    make demo                      # in one terminal; note the passwords
    .venv/bin/python docs/make_screenshots.py --env demo \\
        --learner learner:PASSWORD --admin admin:PASSWORD

A learner signs in, generates a path from the start page's query box,
creates it, answers its first concept and asks for a review of the grade;
the admin sees it in the grading queue and masters the concept; the
concept is then made due for review (`trac-admin ENV learning reviews
due-now`), so the review page has something to ask. Each page is saved at
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
ANSWER = ('A hash function turns any input into a short fixed-size digest; '
          'the same input always gives the same digest, a small change in '
          'the input changes it completely, and it is infeasible to find '
          'an input for a given digest.')
REASON = 'My answer explains what the question asks, in my own words.'

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
        var token = (document.cookie.match(/trac_form_token=([^;]+)/)
                     || [])[1] || '';
        fetch(arguments[0], {method: arguments[1], credentials: 'same-origin',
              headers: {'Content-Type': 'application/json',
                        'X-CSRF-Token': token},
              body: arguments[2] === null ? undefined
                                          : JSON.stringify(arguments[2])})
          .then(function (r) { return r.json(); }).then(done, function (e) {
            done({error: String(e)}); });
    """, driver.current_url.split('/', 3)[0] + '//' +
        driver.current_url.split('/', 3)[2] + '/api/v1' + path, method, body)


def save(driver, out, name, height=None):
    """Save the page, as tall as its content (up to `height` px)."""
    full = driver.execute_script(
        'return document.documentElement.scrollHeight;')
    driver.set_window_size(1280, min(full, height or 1600))
    time.sleep(0.5)
    path = os.path.join(out, name)
    driver.save_screenshot(path)
    driver.set_window_size(1280, 1000)
    print('wrote', path)


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
    save(driver, out, 'path-page.png', 1500)
    path_url = driver.current_url
    link = driver.find_element(By.CSS_SELECTOR, '.tracl-next-link, '
                               '.tracl-start-here a, a[href*="/ticket/"]')
    link.click()
    WebDriverWait(driver, 30).until(lambda d: '/ticket/' in d.current_url)
    ticket = int(driver.current_url.rsplit('/', 1)[1].split('#')[0])
    driver.find_element(By.ID, 'tracl-answer').send_keys(ANSWER)
    driver.find_element(By.CSS_SELECTOR, '.tracl-submit').click()
    WebDriverWait(driver, SLOW).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '.tracl-attempt'))
    driver.refresh()
    save(driver, out, 'concept-page.png', 2000)
    answer = api(driver, 'POST', '/progress/%d/disputes' % ticket,
                 {'attempt': 1, 'reason': REASON})
    return path_url, ticket, answer


def admin_pages(driver, url, out, ticket):
    driver.get(url + '/admin/learning/queue')
    save(driver, out, 'admin-queue.png', 1600)
    driver.get(url + '/admin/learning/learners')
    save(driver, out, 'admin-learners.png', 1000)
    return api(driver, 'POST', '/grading/decisions',
               {'ticket_id': ticket, 'attempt': 1, 'score': 0.9,
                'comment': 'A complete answer in your own words.'})


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
        path_url, ticket, dispute = learner_pages(learner, url, args.out)
        print('dispute:', dispute)
        sign_in(admin, url, args.admin)
        print('decision:', admin_pages(admin, url, args.out, ticket))
        trac_admin = os.path.join(os.path.dirname(sys.executable),
                                  'trac-admin')
        subprocess.run([trac_admin, args.env, 'learning', 'reviews',
                        'due-now', str(ticket)], check=True)
        learner.get(url + '/learning')
        save(learner, args.out, 'my-learning.png', 1600)
        learner.get(url + '/learning/review')
        save(learner, args.out, 'review-session.png', 1000)
        learner.get(path_url)
        graph = learner.find_elements(By.CSS_SELECTOR, '.tracl-graph, '
                                      '.knowledge-graph, svg')
        if graph:
            learner.execute_script('arguments[0].scrollIntoView();', graph[0])
        save(learner, args.out, 'graph.png', 1000)
    finally:
        learner.quit()
        admin.quit()
    return 0


if __name__ == '__main__':
    sys.exit(main())
