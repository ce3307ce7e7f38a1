"""The knowledge graph stays readable in headless Chromium on a window
1280 pixels wide: at 30 and 100 concepts the labels of `[[KnowledgeGraph]]`
are at least 10 pixels high as drawn on screen, and so are those of the
concept page's graph of what comes before and after a concept.

The viewer (htdocs/js/graph_view.js) is driven from the keyboard (its
buttons and keys) and with the mouse (dragging moves the drawing, a click
on a concept still opens it); the console stays clean. The pages are
served by Trac's real dispatcher from an SQLite file
(support/graph_browser.py). Set TRACL_SCREENSHOT_DIR to keep pictures.
"""

import os

import pytest
# A stub environment knows only the components whose modules are imported:
# the wiki page the macro is shown on and the concept's ticket page.
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from trac.wiki.model import WikiPage

from support.chromium import console_errors
from support.graph_browser import LABELS_JS, serve
from support.graph_data import make_concepts
from support.sessions import browser_session

pytestmark = pytest.mark.slow

SUB = 'sub-graph-reader'
PAGE = 'MyKnowledgeGraph'
MIN_LABEL_PX = 10.0


def save_screenshot(driver, name):
    folder = os.environ.get('TRACL_SCREENSHOT_DIR')
    if folder:
        driver.save_screenshot(os.path.join(folder, name))


def wait(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def viewer_started(driver):
    return driver.execute_script(
        "var root = document.querySelector('.tracl-kg');"
        "return !!(root && root.traclGraphView);")


@pytest.fixture(params=[30, 100])
def site(request, make_file_env):
    """`(base URL, concept ids)` of a learner with `param` concepts, and a
    wiki page showing their graph."""
    env = make_file_env(
        # The stub's site logo is a file nobody made: a 404 in the console.
        config=[('header_logo', 'src', 'common/trac_logo_mini.png')],
        # The stub has no default permissions: readers see wiki pages and
        # their own concepts' tickets.
        grant=[('authenticated', 'WIKI_VIEW'),
               ('authenticated', 'TICKET_VIEW')])
    ids = make_concepts(env, SUB, request.param)
    page = WikiPage(env, PAGE)
    page.text = '= My knowledge graph =\n\n[[KnowledgeGraph]]\n'
    page.save('editor', 'the knowledge graph')
    with serve(env, browser_session(env, SUB)) as base:
        yield base, ids


def open_graph(driver, base):
    driver.get(base + '/wiki/' + PAGE)
    wait(driver, viewer_started)
    driver.get_log('browser')  # the console of this page only, from here


def labels(driver):
    found = driver.execute_script(LABELS_JS)
    assert len(found) == 1, found
    return found[0]


def test_labels_stay_readable_on_a_1280_pixel_page(chromium, site):
    base, ids = site
    chromium.get(base + '/wiki/' + PAGE)
    wait(chromium, viewer_started)
    save_screenshot(chromium, 'graph-%d.png' % len(ids))
    shown = labels(chromium)
    # Every concept is drawn, with a label of two lines.
    assert shown['count'] == 2 * len(ids)
    assert shown['fontPx'] >= MIN_LABEL_PX, shown
    assert shown['heightPx'] >= MIN_LABEL_PX, shown
    # Never larger than natural, and no wider than the page unless the
    # labels need it (then the box scrolls).
    assert shown['zoom'] <= 1
    assert shown['viewWidth'] <= 1280
    assert shown['toolsShown']
    assert console_errors(chromium) == []


def test_keys_and_buttons_zoom_and_fit(chromium, site):
    base, _ids = site
    open_graph(chromium, base)
    view = chromium.find_element(By.CSS_SELECTOR, '.tracl-kg-view')
    start = labels(chromium)

    view.send_keys('+')
    bigger = labels(chromium)
    assert bigger['zoom'] > start['zoom']
    assert bigger['fontPx'] > start['fontPx']
    view.send_keys('-')
    assert labels(chromium)['zoom'] == pytest.approx(start['zoom'], 0.01)

    view.send_keys('0')  # fit: the whole graph in the box
    fitted = labels(chromium)
    assert fitted['svgWidth'] <= fitted['viewWidth'] + 1
    assert fitted['svgHeight'] <= fitted['viewHeight'] + 1
    save_screenshot(chromium, 'graph-%d-fit.png' % len(_ids))
    view.send_keys('1')
    assert labels(chromium)['zoom'] == 1

    # The buttons, reached with Tab and pressed with the keyboard.
    buttons = {b.get_attribute('data-action'): b for b in
               chromium.find_elements(By.CSS_SELECTOR,
                                      '.tracl-kg-tools button')}
    assert set(buttons) == {'zoom-in', 'zoom-out', 'fit', 'actual'}
    for button in buttons.values():
        assert button.is_displayed()
        assert button.accessible_name, button.get_attribute('outerHTML')
    buttons['zoom-out'].send_keys(Keys.ENTER)
    assert labels(chromium)['zoom'] < 1
    buttons['actual'].send_keys(Keys.SPACE)
    assert labels(chromium)['zoom'] == 1
    assert chromium.find_element(By.CSS_SELECTOR,
                                 '.tracl-kg-zoom').text == '100%'
    assert console_errors(chromium) == []


def test_arrow_keys_and_dragging_move_a_large_graph(chromium, site):
    base, ids = site
    open_graph(chromium, base)
    view = chromium.find_element(By.CSS_SELECTOR, '.tracl-kg-view')
    view.send_keys('1')  # natural size: larger than the box
    scroll = ("var v = document.querySelector('.tracl-kg-view');"
              "return [v.scrollLeft, v.scrollTop];")
    shown = labels(chromium)
    assert shown['svgHeight'] > shown['viewHeight'] or \
        shown['svgWidth'] > shown['viewWidth'], shown
    axis = 1 if shown['svgHeight'] > shown['viewHeight'] else 0
    before = chromium.execute_script(scroll)
    view.send_keys(Keys.ARROW_DOWN if axis else Keys.ARROW_RIGHT)
    wait(chromium, lambda d: d.execute_script(scroll)[axis] > before[axis])

    # Dragging from a concept moves the drawing and does not open it.
    url = chromium.current_url
    chromium.execute_script("arguments[0].scrollIntoView()", view)
    ActionChains(chromium).move_to_element(view).perform()
    chromium.execute_script("arguments[0].scrollTo(0, 0)", view)
    moved = chromium.execute_script(scroll)
    room = chromium.execute_script(
        "var v = arguments[0];"
        "return [v.scrollWidth - v.clientWidth,"
        "        v.scrollHeight - v.clientHeight];", view)
    under = chromium.execute_script(
        "var box = arguments[0].getBoundingClientRect();"
        "return document.elementFromPoint(box.left + box.width / 2,"
        "                                 box.top + box.height / 2);", view)
    offset = (0, -40) if axis else (-40, 0)
    ActionChains(chromium).click_and_hold().move_by_offset(*offset) \
        .release().perform()
    after = chromium.execute_script(scroll)
    assert after[axis] == min(40, room[axis]) > moved[axis] == 0, \
        (moved, after, room, under.get_attribute('outerHTML'))
    assert chromium.current_url == url

    # A click on a concept still opens its ticket.
    link = chromium.find_element(By.CSS_SELECTOR,
                                 '.tracl-kg-view g.node a')
    href = link.get_attribute('href') or \
        link.get_attribute('xlink:href')
    ticket = int(href.rsplit('/', 1)[1])
    assert ticket in ids
    chromium.execute_script("arguments[0].scrollIntoView({block:'center'})",
                            link)
    ActionChains(chromium).move_to_element(link).click().perform()
    wait(chromium, lambda d: d.current_url.endswith('/ticket/%d' % ticket))
    assert console_errors(chromium) == []


def test_the_concept_pages_graph_stays_readable(chromium, site):
    base, ids = site
    # A concept with prerequisites and concepts it unlocks.
    ticket = ids[len(ids) // 2]
    chromium.get(base + '/ticket/%d' % ticket)
    wait(chromium, viewer_started)
    chromium.execute_script(
        "document.querySelector('.tracl-kg').scrollIntoView()")
    save_screenshot(chromium, 'concept-graph-%d.png' % len(ids))
    shown = labels(chromium)
    assert shown['count'] >= 2 * 2
    assert shown['fontPx'] >= MIN_LABEL_PX, shown
    assert shown['heightPx'] >= MIN_LABEL_PX, shown
    assert console_errors(chromium) == []
