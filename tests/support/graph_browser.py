"""A knowledge graph's pages in headless Chromium, for the browser test
and the graph benchmark.

`serve(env, cookies)` serves `env` on a loopback port through Trac's real
dispatcher (`support.web.call`), every request signed in with `cookies`:
pages, the graph and Trac's and TracLearn's static files, as tracd would.
The environment must be on an SQLite file (or PostgreSQL): the server
answers in a thread of its own.

`LABELS_JS` reads the concept labels of the page's graphs as drawn on
screen, after the viewer's zoom.
"""

import contextlib
import threading
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, \
    make_server

from support.web import call

#: `{'fontPx', 'heightPx', 'count', 'zoom', 'viewWidth', 'svgWidth',
#: 'svgHeight', 'viewHeight', 'toolsShown'}` of each `.tracl-kg-view`:
#: the smallest concept label's font size on screen (its font size times
#: the scale from the SVG to the screen) and the smallest height of its
#: box (getBoundingClientRect), in CSS pixels.
LABELS_JS = """
return Array.prototype.map.call(
    document.querySelectorAll('.tracl-kg-view'), function (view) {
  var texts = view.querySelectorAll('g.node text');
  var fontPx = Infinity, heightPx = Infinity;
  Array.prototype.forEach.call(texts, function (text) {
    var ctm = text.getScreenCTM();
    var size = parseFloat(text.getAttribute('font-size'));
    fontPx = Math.min(fontPx, size * Math.sqrt(ctm.a * ctm.a + ctm.b * ctm.b));
    heightPx = Math.min(heightPx, text.getBoundingClientRect().height);
  });
  var svg = view.querySelector('svg').getBoundingClientRect();
  var tools = view.parentNode.querySelector('.tracl-kg-tools');
  return {fontPx: fontPx, heightPx: heightPx, count: texts.length,
          zoom: parseFloat(view.getAttribute('data-zoom') || '1'),
          viewWidth: view.clientWidth, viewHeight: view.clientHeight,
          svgWidth: svg.width, svgHeight: svg.height,
          toolsShown: !!tools && !tools.hidden &&
                      tools.getBoundingClientRect().height > 0};
});
"""


class _QuietHandler(WSGIRequestHandler):

    def log_message(self, *args):
        pass


def _app(env, cookies):
    def app(environ, start_response):
        response = call(env, environ['REQUEST_METHOD'],
                        urllib.parse.unquote(environ.get('PATH_INFO', '')),
                        query=environ.get('QUERY_STRING', ''),
                        cookies=cookies)
        headers = [(k, v) for k, v in response.headers
                   if k.lower() not in ('connection', 'keep-alive')]
        start_response('%d %s' % (response.status, 'OK'
                                  if response.status < 400 else 'Error'),
                       headers)
        return [response.body]
    return app


@contextlib.contextmanager
def serve(env, cookies):
    """The base URL of `env` served on a loopback port, signed in with
    `cookies`; stopped on leaving."""
    server = make_server('127.0.0.1', 0, _app(env, cookies),
                         server_class=WSGIServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
