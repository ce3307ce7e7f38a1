"""`[[KnowledgeGraph]]` and the graph images it shows.

A graph shows the viewer's own concepts only: the macro and the image
handler always draw the graph of the signed-in learner (a LEARNING_ADMIN may
name another learner with `user=`), so no URL can fetch someone else's
graph.
"""

import re

from trac.core import Component, implements
from trac.util.html import Markup, tag
from trac.util.translation import _, tag_
from trac.web.api import HTTPBadRequest, HTTPForbidden, HTTPNotFound, \
    HTTPServiceUnavailable, IRequestHandler, RequestDone
from trac.web.chrome import add_script, add_stylesheet
from trac.wiki.macros import WikiMacroBase, parse_args

from tracl.auth.permissions import ADMIN
from tracl.graph.dot import (AUTO, DIRECTIONS, DUE_COLOUR, LOCKED_COLOUR,
                             STATUS_COLOURS)
from tracl.graph.render import RenderError
from tracl.graph.service import KnowledgeGraphs
from tracl.web.macros import query_box_href

IMAGE_PATH = '/learning/graph.png'

_UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                      r'[0-9a-f]{12}$')

#: How long a browser may keep a graph image: its URL carries the progress
#: version and the review stamp, so a new image has a new URL.
_IMAGE_MAX_AGE = 3600


class GraphRequestError(ValueError):
    """A graph argument that makes no sense; the message says which."""


class GraphForbidden(GraphRequestError):
    """A graph the viewer may not see."""


def graph_selection(env, req, args):
    """`(sub, selection)` of a graph request: whose graph (`user` only for
    LEARNING_ADMIN) and `milestone`, `path_id`, `direction` checked."""
    sub = req.authname
    user = args.get('user')
    if user and user != sub:
        if ADMIN not in req.perm:
            raise GraphForbidden(_("Only LEARNING_ADMIN may see another "
                                      "learner's graph."))
        sub = user
    path_id = (args.get('path') or '').strip().lower() or None
    if path_id is not None and not _UUID_RE.match(path_id):
        raise GraphRequestError(_("path=%(path)s is not a learning path id.",
                                  path=args.get('path')))
    # By default, the direction that draws the graph narrower: a long
    # chain of prerequisites top to bottom, a short one left to right.
    direction = (args.get('direction') or AUTO).upper()
    if direction not in DIRECTIONS + (AUTO,):
        raise GraphRequestError(_("direction is LR, TB or auto."))
    milestone = args.get('milestone') or None
    return sub, {'milestone': milestone, 'path_id': path_id,
                 'direction': direction}


def legend():
    """The colours of a graph, as a list under it."""
    swatches = [(STATUS_COLOURS['not_started'], _("not started"), ''),
                (STATUS_COLOURS['studying'], _("studying"), ''),
                (STATUS_COLOURS['mastered'], _("mastered"), ''),
                (DUE_COLOUR, _("mastered, due for review"),
                 ' tracl-kg-due'),
                (LOCKED_COLOUR, _("locked: a prerequisite is not mastered"),
                 ' tracl-kg-locked')]
    # The due swatch's border is graph.css's (DUE_BORDER).
    return tag.ul(
        [tag.li(tag.span(class_='tracl-kg-swatch' + extra,
                         style='background: %s' % colour), label)
         for colour, label, extra in swatches],
        class_='tracl-kg-legend', **{'aria-label': _("Legend")})


def graph_fragment(env, req, sub, fmt, selection, ticket_id=None,
                   number=1, show_legend=True):
    """The HTML of `sub`'s graph in format `fmt` (`svg`, `png` or `dot`):
    the drawing, its legend, or a message saying why there is none."""
    href = req.href.ticket
    try:
        drawing = KnowledgeGraphs(env).draw(
            sub, href, fmt, selection['milestone'], selection['path_id'],
            ticket_id, selection['direction'], tz=req.tz)
    except RenderError as e:
        return tag.div(tag.strong(_("The knowledge graph cannot be drawn.")),
                       ' ', str(e), class_='system-message tracl-kg-error',
                       role='alert')
    if drawing is None:
        return tag.div(tag_(
            "No concepts to draw yet. Say what you want to understand in "
            "%(query_box)s and create a learning path; your concepts then "
            "appear here, coloured as you master them.",
            query_box=tag.a(_("the query box on the start page"),
                            href=query_box_href(req))),
            class_='tracl-kg-empty')
    add_stylesheet(req, 'tracl/css/graph.css')
    label = _("Knowledge graph: %(n)d concepts", n=len(drawing.nodes))
    if drawing.format == 'dot':
        body = tag.pre(drawing.data, class_='tracl-kg-dot')
    elif drawing.format == 'png':
        map_name = 'tracl-kg-map-%d' % number
        # The learner is part of the URL: a browser shared by two learners
        # must not show one the other's cached image.
        query = dict((k, v) for k, v in (
            ('milestone', selection['milestone']),
            ('path', selection['path_id']), ('ticket', ticket_id),
            ('direction', selection['direction']), ('user', sub)) if v)
        body = tag(
            tag.img(src=req.href(IMAGE_PATH.lstrip('/'), v=drawing.version,
                                 **query),
                    usemap='#' + map_name, alt=label, class_='tracl-kg-png'),
            tag.map([tag.area(shape=shape, coords=coords,
                              href=href(drawing.nodes[node][0]),
                              title=drawing.nodes[node][2],
                              alt=drawing.nodes[node][1])
                     for shape, coords, node in drawing.areas
                     if node in drawing.nodes], name=map_name))
    else:
        body = svg_viewer(req, drawing.data, label, number)
    return tag.div(body, legend() if show_legend else None,
                   class_='tracl-kg')


def svg_viewer(req, svg, label, number):
    """The SVG `svg` at its natural size in a box that scrolls, with the
    zoom buttons `graph_view.js` shows (hidden without it), so that the
    labels of a large graph stay readable."""
    add_script(req, 'tracl/js/graph_view.js')
    view_id = 'tracl-kg-view-%d' % number
    keys_id = 'tracl-kg-keys-%d' % number
    buttons = [('zoom-out', '\u2212', _("Zoom out (key -)")),
               ('zoom-in', '+', _("Zoom in (key +)")),
               ('fit', _("Fit"), _("Fit: show the whole graph (key 0)")),
               ('actual', _("100%"), _("100%: natural size (key 1)"))]
    tools = tag.div(
        [tag.button(text, type='button', title=title,
                    **{'data-action': action, 'aria-label': title,
                       'aria-controls': view_id})
         for action, text, title in buttons],
        tag.output(class_='tracl-kg-zoom', **{'aria-live': 'polite',
                                               'for': view_id}),
        tag.span(_("Drag or use the arrow keys to move around; + and - "
                   "zoom, 0 fits, 1 is natural size."),
                 id=keys_id, class_='tracl-kg-keys'),
        class_='tracl-kg-tools', role='toolbar', hidden='hidden',
        **{'aria-label': _("Zoom the knowledge graph")})
    # Safe: `safe_svg` kept only drawing elements and our links.
    view = tag.div(Markup(svg), class_='tracl-kg-svg tracl-kg-view',
                   id=view_id, role='group', tabindex='0',
                   **{'aria-label': label, 'aria-describedby': keys_id})
    return tag(tools, view)


class KnowledgeGraphMacro(WikiMacroBase):
    """Draw your learning path as a graph: one box per concept, an arrow
    from each prerequisite to the concepts it unlocks.

    Colours show your progress: gray not started, orange studying, green
    mastered; a pale green box with a thick orange border is mastered and
    due for review; a dashed box is locked until its prerequisites are
    mastered. Hover a box for its status, best score and next review,
    click it to open its ticket. Each reader sees their own concepts only.

    Arguments (all optional):
     `milestone=NAME`:: one subject (default: all your subjects, one box
       per subject);
     `path=PATH_ID`:: the concepts of one learning path;
     `format=svg|png`:: how to draw (default from `[learning]
       graph_format`); `format=dot` shows the GraphViz source to
       LEARNING_ADMIN;
     `direction=LR|TB|auto`:: left to right, top to bottom, or
       (default) whichever draws the graph narrower: left to right
       unless its chains of prerequisites are long;
     `user=SUB`:: another learner's graph, for LEARNING_ADMIN.

    Examples:
    {{{
    [[KnowledgeGraph]]
    [[KnowledgeGraph(milestone=Blockchain Fundamentals, direction=TB)]]
    }}}
    """

    # IWikiMacroProvider methods

    def expand_macro(self, formatter, name, content, args=None):
        req = formatter.req
        if req is None or not req.is_authenticated:
            link = _("Sign in") if req is None else \
                tag.a(_("Sign in"),
                      href=req.href.login(referer=req.href(req.path_info)))
            return tag.div(tag_("%(sign_in)s to see your knowledge graph.",
                                sign_in=link), class_='tracl-kg-signin')
        _args, kwargs = parse_args(content or '', strict=False)
        fmt = (kwargs.get('format') or
               KnowledgeGraphs(self.env).default_format).lower()
        try:
            if fmt not in ('svg', 'png', 'dot'):
                raise GraphRequestError(_("format is svg or png."))
            if fmt == 'dot' and ADMIN not in req.perm:
                raise GraphRequestError(_("format=dot is for "
                                          "LEARNING_ADMIN."))
            sub, selection = graph_selection(self.env, req, kwargs)
        except GraphRequestError as e:
            return tag.div(_("KnowledgeGraph: %(error)s", error=str(e)),
                           class_='system-message')
        number = req.chrome.get('tracl_knowledge_graphs', 0) + 1
        req.chrome['tracl_knowledge_graphs'] = number
        return graph_fragment(self.env, req, sub, fmt, selection,
                              number=number)


class GraphImageModule(Component):
    """Serves the PNG of the signed-in learner's graph at
    `/learning/graph.png`, with the macro's arguments."""

    implements(IRequestHandler)

    # IRequestHandler methods

    def match_request(self, req):
        return req.path_info == IMAGE_PATH

    def process_request(self, req):
        if not req.is_authenticated:
            raise HTTPForbidden(_("Sign in to see your knowledge graph."))
        try:
            sub, selection = graph_selection(self.env, req, req.args)
            ticket_id = req.args.getint('ticket')
            if ticket_id is not None and not 0 < ticket_id < 2 ** 31:
                raise GraphRequestError(_("ticket is a ticket number."))
        except GraphForbidden as e:
            raise HTTPForbidden(str(e))
        except (GraphRequestError, ValueError) as e:
            raise HTTPBadRequest(str(e))
        try:
            drawing = KnowledgeGraphs(self.env).draw(
                sub, req.href.ticket, 'png', selection['milestone'],
                selection['path_id'], ticket_id, selection['direction'],
                tz=req.tz)
        except RenderError as e:
            self.log.warning("Knowledge graph of %s not drawn: %s", sub, e)
            raise HTTPServiceUnavailable(str(e))
        if drawing is None:
            raise HTTPNotFound(_("There is no concept to draw."))
        req.send_response(200)
        req.send_header('Content-Type', 'image/png')
        req.send_header('Content-Length', len(drawing.data))
        req.send_header('Cache-Control', 'private, max-age=%d'
                        % _IMAGE_MAX_AGE)
        req.send_header('X-Content-Type-Options', 'nosniff')
        req.end_headers()
        if req.method != 'HEAD':
            req.write(drawing.data)
        raise RequestDone
