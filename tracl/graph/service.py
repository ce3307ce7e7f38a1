"""`KnowledgeGraphs`: a learner's graph drawn and cached.

A drawing is cached per viewer and view: the key is `graph:{milestone}:
{sub}` extended with the learner's progress version, the
view's arguments, the render version and the site's base URL. A progress
change bumps the version, so the next view draws the new colours; a
change of style bumps the render version.

Whether a mastered concept is due changes with time alone, with no
progress change: the key also holds a stamp of the learner's review
schedules at `LearningClock`'s now (`review_stamp`), which changes when a
concept falls due or a due date moves, and the reader's time zone (the
tooltips' dates are in it). The drawing's `version`, which a PNG's URL
carries, holds the stamp as well, so a browser fetches the new image.
"""

import base64
from collections import namedtuple

from trac.config import ChoiceOption, FloatOption, IntOption, Option
from trac.core import Component
from trac.util.datefmt import utc

from tracl.cache import GRAPH_TTL, LearningCache, graph_key
from tracl.clock import LearningClock
from tracl.graph.dot import (AUTO, MAX_SIZE, RENDER_VERSION, build_dot,
                             node_id, plain, tooltip)
from tracl.graph.model import learner_graph, links_stamp, review_stamp
from tracl.graph.render import RenderError, map_areas, run_dot, safe_svg

#: A drawn graph. `data`: SVG text, PNG bytes or DOT source; `areas`:
#: `(shape, coords, node_id)` of a PNG's image map; `nodes`: `{node_id:
#: (ticket_id, concept, tooltip)}`;
#: `version`: the learner's progress version and review stamp the drawing
#: shows.
Drawing = namedtuple('Drawing', ['format', 'data', 'areas', 'nodes',
                                 'cached', 'version'])


class KnowledgeGraphs(Component):
    """Draws learners' knowledge graphs with GraphViz, cached."""

    default_format = ChoiceOption('learning', 'graph_format', ['svg', 'png'],
        """How `[[KnowledgeGraph]]` draws by default: `svg` (sharp at any
        size, links inside) or `png` (an image with a clickable map).""")

    dot_path = Option('learning', 'graph_dot_path', 'dot',
        """GraphViz's `dot` program: a name found on the PATH or a full
        path.""")

    timeout = FloatOption('learning', 'graph_timeout', 10.0,
        """Seconds GraphViz may take to draw one graph.""")

    max_concepts = IntOption('learning', 'graph_max_concepts', 400,
        """Most concepts one graph draws; larger graphs ask the reader to
        show one subject at a time.""")

    max_bytes = IntOption('learning', 'graph_max_bytes', 4000000,
        """Largest drawn graph, in bytes.""")

    def draw(self, sub, href, fmt, milestone=None, path_id=None,
             ticket_id=None, direction=AUTO, legend=False, tz=utc):
        """The `Drawing` of `sub`'s graph (see `learner_graph` for the
        selection), or None when it has no concepts; `href(ticket_id)`
        links a node; `direction` is `LR`, `TB` or `AUTO` (the narrower);
        review dates are in `tz`. Raises `RenderError`."""
        cache = LearningCache(self.env)
        now = LearningClock(self.env).now()
        stamp, schedules = review_stamp(self.env, sub, now)
        version = '%s-%s' % (cache.progress_version(sub), stamp)
        zone = getattr(tz, 'zone', None) or getattr(tz, 'key', None) or \
            str(now.astimezone(tz).utcoffset())
        # Links are edited by admins, possibly in another process (trac-admin
        # with an in-process cache): their stamp is part of the key too.
        key = graph_key(milestone, sub, version, fmt, direction,
                        path_id or '', ticket_id or '', int(legend),
                        'r' + RENDER_VERSION, links_stamp(self.env, sub),
                        href(0), zone)
        cached = cache.get(key)
        if cached is not None:
            return self._drawing(cached, True, version)
        graph = learner_graph(self.env, sub, milestone, path_id, ticket_id,
                              schedules)
        if not graph.nodes:
            return None
        if len(graph.nodes) > self.max_concepts:
            raise RenderError("This graph has %d concepts, more than %d: "
                              "show one subject at a time (milestone=...)."
                              % (len(graph.nodes), self.max_concepts))
        # A PNG is capped (its work grows with its area); an SVG is drawn
        # at its natural size, where its labels are readable, and the
        # page's viewer zooms it.
        source = build_dot(graph, href, direction, legend=legend, tz=tz,
                           size=MAX_SIZE if fmt == 'png' else None).source
        # On one line, like the drawing: they become image map titles.
        nodes = {node_id(n.ticket_id): (n.ticket_id, plain(n.concept),
                                        plain(tooltip(n, tz)))
                 for n in graph.nodes}
        entry = {'format': fmt, 'nodes': nodes, 'areas': []}
        if fmt == 'dot':
            entry['data'] = source
        elif fmt == 'png':
            output = run_dot(source, ['png', 'cmapx'], self.timeout,
                             self.max_bytes, self.dot_path)
            entry['data'] = base64.b64encode(output['png']).decode('ascii')
            entry['areas'] = map_areas(output['cmapx'])
        else:
            output = run_dot(source, ['svg'], self.timeout, self.max_bytes,
                             self.dot_path)
            entry['data'] = safe_svg(output['svg'],
                                     [href(n.ticket_id) for n in graph.nodes])
        cache.set(key, entry, GRAPH_TTL)
        return self._drawing(entry, False, version)

    def _drawing(self, entry, cached, version):
        data = entry['data']
        nodes = {key: tuple(value) for key, value in entry['nodes'].items()}
        # A cached SVG is not cleaned again (that would cost more than
        # the goal of a cached view): the cache is trusted like the
        # database, as it also holds the learners' groups.
        if entry['format'] == 'png':
            data = base64.b64decode(data)
        return Drawing(entry['format'], data,
                       [tuple(area) for area in entry['areas']], nodes,
                       cached, version)
