"""Headless Chromium for the browser tests, its console recorded.

Firefox's console Selenium cannot read; Chromium's it can
(`driver.get_log('browser')`), so the tests that check for console errors
drive Chromium, each in a profile of its own.
"""

import contextlib
import os
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                  '--disable-background-networking')


@contextlib.contextmanager
def headless_chromium(window_size='1280,900'):
    """A Chromium driver recording every console entry, in a fresh profile
    that is removed when the driver quits; fails the test when Chromium or
    its driver is not installed."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(program):
            pytest.fail('%s is missing: install the Debian packages chromium '
                        'and chromium-driver (`make test` does)' % program)
    profile = tempfile.TemporaryDirectory(prefix='tracl-chromium-')
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + ('--window-size=' + window_size,
                                  '--user-data-dir=' + profile.name):
        options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


@pytest.fixture(scope='module')
def chromium():
    """One headless Chromium per test module, its console recorded, in a
    profile of its own (tests/conftest.py offers it to every module)."""
    with headless_chromium() as driver:
        yield driver


def console_errors(driver):
    """The console's SEVERE entries since the last read (Chromium hands
    each entry out once)."""
    return [entry for entry in driver.get_log('browser')
            if entry['level'] == 'SEVERE']
