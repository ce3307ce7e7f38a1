"""The DOT source of a knowledge graph.

Concept names and subjects are hostile text. The `graphviz` package quotes
identifiers, but a value shaped like `<...>` would become an HTML-like
label and backslash sequences (`\\N`, `\\G`, `\\l`) would reach `dot` as
commands, and `dot` reads entities (`&lt;`): every piece of text goes
through `graphviz.escape()` (which doubles backslashes and forbids HTML
labels), with `&` written `&amp;`, after control characters are replaced.
URLs are built here from ticket ids only.

A mastered concept due for review keeps its green, paler, inside a thick
dark orange border: the border's width tells it apart without colour
vision. Its tooltip says since when it is due; every other mastered
concept's, its next review (dates in the reader's time zone).
"""

import re
import textwrap

import graphviz
from trac.util.datefmt import utc

#: Bump when the look of a graph changes: it is part of every cache key,
#: so no stale image outlives a change of style.
RENDER_VERSION = '4'

#: Fill colours by status: gray for not started, orange for studying, green
#: for mastered, the familiar reading of "not yet", "under way" and "done";
#: light enough for the labels' dark text.
STATUS_COLOURS = {'not_started': '#d9d9d9', 'studying': '#f5a623',
                  'mastered': '#4caf50'}
LOCKED_COLOUR = '#f2f2f2'

#: A mastered concept due for review: a paler green fill inside a thick
#: dark orange border (ColorBrewer Dark2's orange).
DUE_COLOUR = '#a5d6a7'
DUE_BORDER = '#d95f02'
DUE_PENWIDTH = '4'

STATUS_LABELS = {'not_started': 'not started', 'studying': 'studying',
                 'mastered': 'mastered'}

DIRECTIONS = ('LR', 'TB')

#: The direction chosen from the graph's shape (`choose_direction`).
AUTO = 'AUTO'

#: Largest PNG, in inches (96 pixels each): larger graphs are scaled down.
#: It caps the work of drawing a PNG, which grows with its area. An SVG
#: has no cap: it is drawn at its natural size, where labels are readable,
#: and the page's viewer zooms and pans it.
MAX_SIZE = '16,16'

#: Ranks a left-to-right graph may have and still fit a page about 1200
#: pixels wide at its natural size (a rank is about 160 points wide).
_RANKS_ACROSS_A_PAGE = 5

#: Characters per line of a node label.
_LABEL_WIDTH = 22
_MAX_LABEL = 80

#: Control characters, and the characters XML forbids (surrogates,
#: U+FFFE, U+FFFF): `dot` copies them into an SVG nobody can parse.
_CONTROL_RE = re.compile(r'[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]+')


def plain(text, limit=None):
    """`text` on one line without control characters, at most `limit`
    characters."""
    text = ' '.join(_CONTROL_RE.sub(' ', text or '').split())
    if limit and len(text) > limit:
        text = text[:limit - 1] + '\u2026'
    return text


def _literal(text):
    """`text` for `dot`: backslashes doubled, and `&` written `&amp;`,
    since `dot` reads entities (`&lt;`, `&#60;`) in labels and
    tooltips."""
    return graphviz.escape(text.replace('&', '&amp;'))


def escaped(text, limit=None):
    """`text` as a literal DOT escString."""
    return _literal(plain(text, limit))


def escaped_tooltip(text, limit=300):
    """`text` as a DOT tooltip. `dot` reads escape sequences in tooltips
    twice, so a doubled backslash still lets `\\N` through: backslashes
    become a look-alike (U+29F5) instead."""
    return escaped(plain(text, limit).replace('\\', '\u29f5'))


def wrapped_label(text):
    """A node label: the name wrapped on several centred lines."""
    lines = textwrap.wrap(plain(text, _MAX_LABEL), _LABEL_WIDTH) or ['?']
    # `\n` joins escaped lines: it is the only backslash dot sees unescaped.
    return graphviz.nohtml('\\n'.join(_literal(line) for line in lines))


def node_id(ticket_id):
    return 'c%d' % int(ticket_id)


def review_date(when, tz=utc):
    """A review's date in the tooltip: ISO, in time zone `tz`."""
    return when.astimezone(tz).strftime('%Y-%m-%d')


def tooltip(node, tz=utc):
    text = '%s: %s' % (node.concept, STATUS_LABELS.get(node.status,
                                                       node.status))
    review = node.review
    if review is not None and node.status == 'mastered':
        text += (', due for review since %s' if review.due_now else
                 ', next review %s') % review_date(review.due, tz)
    elif review is not None and review.lapsed:
        text += ' again (forgotten at a review)'
    if node.best_score is not None:
        text += ', best score %d%%' % round(node.best_score * 100)
    if node.locked:
        text += ' (locked: a prerequisite is not mastered yet)'
    return text


def is_due(node):
    """Whether `node` is a mastered concept due for review."""
    return node.status == 'mastered' and node.review is not None and \
        node.review.due_now


def node_attributes(node, tz=utc):
    attributes = {'id': node_id(node.ticket_id),
                  'tooltip': escaped_tooltip(tooltip(node, tz))}
    if node.locked:
        attributes.update(fillcolor=LOCKED_COLOUR, color='#9e9e9e',
                          fontcolor='#757575', style='rounded,filled,dashed')
    elif is_due(node):
        attributes.update(fillcolor=DUE_COLOUR, color=DUE_BORDER,
                          penwidth=DUE_PENWIDTH)
    else:
        attributes['fillcolor'] = STATUS_COLOURS.get(node.status,
                                                     STATUS_COLOURS[
                                                         'not_started'])
    return attributes


def ranks(graph):
    """`{ticket_id: rank}`: each concept's longest chain of
    prerequisites shown in `graph`, as `dot` ranks it."""
    before = {}
    for prerequisite, concept in graph.edges:
        before.setdefault(concept, []).append(prerequisite)
    found = {}
    for node in graph.nodes:
        # Iteratively, depth first: a long chain must not hit Python's
        # recursion limit, and a cycle (links are checked on the way in,
        # but the drawing must not hang on one) counts once.
        stack, visiting = [node.ticket_id], set()
        while stack:
            current = stack[-1]
            if current in found:
                stack.pop()
                continue
            visiting.add(current)
            waiting = [p for p in before.get(current, ())
                       if p not in found and p not in visiting]
            if waiting:
                stack.extend(waiting)
                continue
            found[current] = 1 + max(
                (found.get(p, 0) for p in before.get(current, ())),
                default=-1)
            stack.pop()
    return found


def choose_direction(graph):
    """`LR` or `TB`, whichever draws `graph` narrower on a page.

    Left to right, a graph is as wide as its longest chain of
    prerequisites; top to bottom, as its widest rank, with the subjects'
    boxes side by side. A page scrolls down, not across: a graph that fits
    the page's width left to right is drawn so, a longer one top to
    bottom when that is narrower."""
    rank_of = ranks(graph)
    depth = 1 + max(rank_of.values(), default=0)
    if depth <= _RANKS_ACROSS_A_PAGE:
        return 'LR'
    widest = {}
    for node in graph.nodes:
        key = (node.subject, rank_of.get(node.ticket_id, 0))
        widest[key] = widest.get(key, 0) + 1
    across = {}
    for (subject, _rank), count in widest.items():
        across[subject] = max(across.get(subject, 0), count)
    return 'TB' if sum(across.values()) < depth else 'LR'


def build_dot(graph, href, direction='LR', title='Knowledge graph',
              legend=False, tz=utc, size=MAX_SIZE):
    """A `graphviz.Digraph` of `graph` (a `tracl.graph.model.Graph`);
    `href(ticket_id)` is a node's link; review dates are in `tz`;
    `direction` is `LR`, `TB` or `AUTO` (`choose_direction`); `size`
    (inches, `W,H`) caps the drawing, None draws it at its natural
    size."""
    direction = (direction or 'LR').upper()
    if direction == AUTO:
        direction = choose_direction(graph)
    dot = graphviz.Digraph('knowledge_graph')
    dot.attr(rankdir=direction if direction in DIRECTIONS else 'LR',
             bgcolor='transparent', fontname='Helvetica', fontsize='11',
             tooltip=escaped_tooltip(title), nodesep='0.25', ranksep='0.4')
    if size:
        dot.attr(size=size)
    dot.attr('node', shape='box', style='rounded,filled',
             fontname='Helvetica', fontsize='10', color='#666666',
             margin='0.12,0.05', target='_top')
    dot.attr('edge', color='#888888', arrowsize='0.7')
    subjects = sorted({node.subject for node in graph.nodes})
    clustered = len(subjects) > 1
    for index, subject in enumerate(subjects):
        members = [n for n in graph.nodes if n.subject == subject]
        if clustered:
            with dot.subgraph(name='cluster_%d' % index) as cluster:
                cluster.attr(label=escaped(subject, 80), style='rounded',
                             color='#bbbbbb', fontcolor='#555555',
                             tooltip=escaped_tooltip(subject))
                _add_nodes(cluster, members, href, tz)
        else:
            _add_nodes(dot, members, href, tz)
    for prerequisite, concept in graph.edges:
        dot.edge(node_id(prerequisite), node_id(concept))
    if legend:
        _add_legend(dot)
    return dot


def _add_nodes(dot, nodes, href, tz):
    for node in nodes:
        dot.node(node_id(node.ticket_id), wrapped_label(node.concept),
                 URL=href(node.ticket_id), **node_attributes(node, tz))


def _add_legend(dot):
    with dot.subgraph(name='cluster_legend') as legend:
        legend.attr(label='Legend', style='rounded', color='#bbbbbb')
        for status in ('not_started', 'studying', 'mastered'):
            legend.node('legend_' + status, STATUS_LABELS[status],
                        fillcolor=STATUS_COLOURS[status])
        legend.node('legend_due', 'mastered, due for review',
                    fillcolor=DUE_COLOUR, color=DUE_BORDER,
                    penwidth=DUE_PENWIDTH)
        legend.node('legend_locked', 'locked', fillcolor=LOCKED_COLOUR,
                    style='rounded,filled,dashed', fontcolor='#757575')
