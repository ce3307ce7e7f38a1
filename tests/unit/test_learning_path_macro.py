"""The `[[LearningPath]]` macro as Trac's wiki formatter renders it: the
form a learner gets, the invitation a visitor gets, and escaping."""

import re
from html.parser import HTMLParser

import pytest
from trac.test import EnvironmentStub, MockRequest
from trac.web.chrome import web_context
from trac.wiki.api import WikiSystem
from trac.wiki.formatter import format_to_html

from tracl.web.macros import LearningPathMacro, form_anchor

HOSTILE = '<script>alert("x")</script> & \'quotes\', "double"'


@pytest.fixture
def macro_env():
    """Trac with the macro alone enabled: it reads no TracLearn table."""
    env = EnvironmentStub(enable=['trac.*', LearningPathMacro])
    yield env
    env.reset_db()


def render(macro_env, wikitext, authname='sub-learner', path_info='/wiki/Start'):
    req = MockRequest(macro_env, path_info=path_info, authname=authname)
    html = str(format_to_html(macro_env, web_context(req), wikitext))
    return req, html


class Elements(HTMLParser):
    """The start tags of a fragment, as `(tag, {attribute: value})`."""

    def __init__(self, html):
        super().__init__()
        self.elements = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and
                all(a.get(k.rstrip('_')) == v for k, v in attrs.items())]

    def one(self, tag, **attrs):
        found = self.find(tag, **attrs)
        assert len(found) == 1, (tag, attrs, self.elements)
        return found[0]


def script_srcs(req):
    return [s['attrs']['src'] for s in req.chrome.get('scripts', [])]


def stylesheets(req):
    return [link['href'] for link in
            req.chrome.get('links', {}).get('stylesheet', [])]


def test_learner_gets_a_labelled_query_box_and_generate_button(macro_env):
    _, html = render(macro_env, '[[LearningPath]]')
    page = Elements(html)
    box = page.one('input', name='query')
    assert box['type'] == 'text'
    assert box['maxlength'] == '500'
    label = page.one('label', for_=box['id'])
    assert label is not None
    assert re.search(r'<label for="%s">What do you want to understand\?'
                     r'</label>' % box['id'], html)
    select = page.one('select', name='difficulty')
    assert page.one('label', for_=select['id'])
    assert [o.get('value') for o in page.find('option')] == \
        ['any', '1', '2', '3', '4', '5']
    assert page.one('button', type='submit')['class'] == 'tracl-lp-generate'
    assert '>Generate</button>' in html


def test_form_has_a_live_region_an_empty_preview_and_a_hidden_create(macro_env):
    _, html = render(macro_env, '[[LearningPath]]')
    page = Elements(html)
    status = page.one('div', class_='tracl-lp-status')
    assert status['aria-live'] == 'polite'
    assert status['role'] == 'status'
    preview = page.one('div', class_='tracl-lp-preview')
    assert 'hidden' in preview
    assert re.search(r'id="%s"></div>' % preview['id'], html)  # empty
    actions = page.one('div', class_='tracl-lp-actions')
    assert 'hidden' in actions
    assert '>Create learning path</button>' in html


def test_initial_query_fills_the_box_whole(macro_env):
    _, html = render(macro_env, '[[LearningPath(I want to understand blockchain '
                          'technology, fast)]]')
    box = Elements(html).one('input', name='query')
    assert box['value'] == \
        'I want to understand blockchain technology, fast'


def test_without_argument_the_box_is_empty(macro_env):
    _, html = render(macro_env, '[[LearningPath]]')
    assert Elements(html).one('input', name='query').get('value', '') == ''


def test_initial_query_is_escaped(macro_env):
    _, html = render(macro_env, '[[LearningPath(%s)]]' % HOSTILE)
    assert '<script>' not in html
    assert 'alert("x")' not in html
    assert '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;' in html
    # The value survives escaping unchanged, quotes included.
    box = Elements(html).one('input', name='query')
    assert box['value'] == HOSTILE


def test_initial_query_is_cut_to_the_longest_query_the_api_takes(macro_env):
    _, html = render(macro_env, '[[LearningPath(%s)]]' % ('word ' * 200))
    assert len(Elements(html).one('input', name='query')['value']) == 500


def test_script_stylesheet_api_url_and_form_token_are_added(macro_env):
    req, _ = render(macro_env, '[[LearningPath]]')
    assert '/trac.cgi/chrome/tracl/js/learning_path.js' in script_srcs(req)
    assert '/trac.cgi/chrome/tracl/css/tracl.css' in stylesheets(req)
    data = req.chrome['script_data']['tracl_learning_path']
    assert data['api_url'] == '/trac.cgi/api/v1'
    assert data['form_token'] == req.form_token
    assert data['roadmap_url'] == '/trac.cgi/roadmap'
    assert data['messages']['relevance'] == '%(percent)s relevant'


def test_error_watcher_and_shared_helpers_load_before_the_page_script(macro_env):
    req, _ = render(macro_env, '[[LearningPath]]')
    scripts = [src.rsplit('/', 1)[-1] for src in script_srcs(req)
               if '/chrome/tracl/js/' in src]
    assert scripts == ['page_errors.js', 'page_helpers.js',
                       'learning_path.js']


def test_two_macros_on_a_page_have_their_own_ids_and_one_script(macro_env):
    req, html = render(macro_env, '[[LearningPath(first)]]\n\n'
                            '[[LearningPath(second)]]')
    page = Elements(html)
    ids = [a['id'] for _t, a in page.elements if 'id' in a]
    assert len(ids) == len(set(ids))
    assert len(page.find('input', name='query')) == 2
    assert script_srcs(req).count(
        '/trac.cgi/chrome/tracl/js/learning_path.js') == 1


def test_visitor_gets_a_sign_in_link_back_to_the_page_not_a_form(macro_env):
    req, html = render(macro_env, '[[LearningPath(blockchain)]]',
                       authname='anonymous', path_info='/wiki/Start')
    page = Elements(html)
    link = page.one('a')
    assert link['href'] == '/trac.cgi/login?referer=%2Ftrac.cgi%2Fwiki%2FStart'
    assert '>Sign in</a> to start a learning path' in html
    assert not page.find('form')
    assert not page.find('input')
    assert '/trac.cgi/chrome/tracl/js/learning_path.js' not in \
        script_srcs(req)
    assert 'tracl_learning_path' not in req.chrome.get('script_data', {})


def test_docstring_is_the_macro_manual(macro_env):
    macro = LearningPathMacro(macro_env)
    assert list(macro.get_macros()) == ['LearningPath']
    description = macro.get_macro_description('LearningPath')
    assert '[[LearningPath(I want to understand blockchain technology)]]' \
        in description
    assert 'LearningPath' in [name for provider in
                              WikiSystem(macro_env).macro_providers
                              for name in provider.get_macros()]


def test_each_form_has_an_anchor_that_other_pages_link_to(macro_env):
    _, html = render(macro_env, '[[LearningPath(first)]]\n\n'
                                '[[LearningPath(second)]]')
    page = Elements(html)
    roots = page.find('div', class_='tracl-lp')
    assert [r['id'] for r in roots] == [form_anchor(1), form_anchor(2)]
    assert form_anchor(1) == 'tracl-lp-1'


def test_the_script_gets_the_foundations_sentences(macro_env):
    req, _ = render(macro_env, '[[LearningPath]]')
    messages = req.chrome['script_data']['tracl_learning_path']['messages']
    assert messages['foundations_heading'] == 'Foundations: needed first'
    assert messages['needed_for'] == 'needed for %(concepts)s'
    assert '%(concepts)s' in messages['not_gated']
    assert '%(foundation)s' in messages['not_gated']
    assert messages['list_pair'] == '%(first)s and %(last)s'
    assert messages['list_separator'] == ', '
    assert messages['foundations'] == ['1 foundation', '%(n)s foundations']
    assert 'page' in messages['created']  # the path's page, not the roadmap


def test_a_visitor_finds_the_sign_in_invitation_at_the_forms_anchor(
        macro_env):
    _, html = render(macro_env, '[[LearningPath]]', authname='anonymous')
    assert Elements(html).one('div', class_='tracl-lp tracl-lp-signin')[
        'id'] == form_anchor(1)
