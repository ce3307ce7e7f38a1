"""Every page Trac renders gets the stylesheet that makes its chrome
accessible; answers without a template (JSON, files) do not."""

import os

from trac.test import EnvironmentStub, MockRequest

from tracl.web.accessibility import AccessibleChrome
from tracl.web.resources import resource_dir

HREF = 'tracl/css/accessible_chrome.css'


def stylesheets(req):
    return [link['href'] for link in req.chrome.get('links', {})
            .get('stylesheet', [])]


def test_a_rendered_page_gets_the_stylesheet():
    env = EnvironmentStub(enable=['tracl.web.accessibility.*'])
    req = MockRequest(env)
    AccessibleChrome(env).post_process_request(req, 'wiki_view.html', {},
                                               {})
    assert [href for href in stylesheets(req) if href.endswith(HREF)]


def test_an_answer_without_a_template_does_not():
    env = EnvironmentStub(enable=['tracl.web.accessibility.*'])
    req = MockRequest(env)
    AccessibleChrome(env).post_process_request(req, None, None, None)
    assert not [href for href in stylesheets(req) if href.endswith(HREF)]


def test_the_stylesheet_is_shipped():
    assert os.path.isfile(os.path.join(resource_dir('htdocs'), 'css',
                                       'accessible_chrome.css'))
