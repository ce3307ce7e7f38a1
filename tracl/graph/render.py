"""Running GraphViz's `dot` on a graph's source, and making its output safe
to put in a page.

`dot` runs as a child process with a timeout and an output cap. A PNG
comes with its image map: `dot` writes both in one run, and the map's
areas are rebuilt from their shapes and coordinates only, with titles and
links from our own data. An SVG is parsed and only known drawing elements
and attributes are kept, with links to the graph's tickets only.
"""

import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET

FORMATS = ('svg', 'png', 'dot')

_SVG_NS = 'http://www.w3.org/2000/svg'
_XLINK_NS = 'http://www.w3.org/1999/xlink'

_SVG_ELEMENTS = {'svg', 'g', 'title', 'path', 'polygon', 'polyline',
                 'ellipse', 'circle', 'rect', 'line', 'text', 'a'}
_SVG_ATTRIBUTES = {'id', 'class', 'width', 'height', 'viewBox',
                   'transform', 'points', 'd', 'cx', 'cy', 'rx', 'ry', 'r',
                   'x', 'y', 'x1', 'y1', 'x2', 'y2', 'fill', 'stroke',
                   'stroke-width', 'stroke-dasharray', 'font-family',
                   'font-size', 'font-weight', 'font-style', 'text-anchor',
                   'preserveAspectRatio'}

# Serialise SVG with its usual prefixes (once: this is global state).
ET.register_namespace('', _SVG_NS)
ET.register_namespace('xlink', _XLINK_NS)

_AREA_RE = re.compile(r'<area\b([^>]*?)/?>', re.IGNORECASE)
_ATTR_RE = re.compile(r'([\w:-]+)="([^"]*)"')
_COORDS_RE = re.compile(r'^[0-9,.\- ]{1,20000}$')


class RenderError(Exception):
    """`dot` is missing, too slow, failed or wrote too much; the message
    is for the page."""


def run_dot(source, formats, timeout, max_bytes, dot_path='dot'):
    """Run `dot` once on `source`, writing each of `formats` (`svg`,
    `png`, `cmapx`); returns `{format: bytes}`."""
    with tempfile.TemporaryDirectory(prefix='tracl-graph-') as tmp:
        command = [dot_path]
        outputs = {}
        for fmt in formats:
            outputs[fmt] = os.path.join(tmp, 'graph.' + fmt)
            command += ['-T' + fmt, '-o', outputs[fmt]]
        try:
            result = subprocess.run(command, input=source.encode('utf-8'),
                                    capture_output=True, timeout=timeout,
                                    check=False)
        except FileNotFoundError:
            raise RenderError("GraphViz is not installed on the server "
                              "(the 'dot' program was not found).")
        except subprocess.TimeoutExpired:
            raise RenderError("Drawing the graph took longer than %g "
                              "seconds." % timeout)
        if result.returncode != 0:
            raise RenderError("GraphViz could not draw the graph: %s" %
                              result.stderr.decode('utf-8', 'replace')
                              .strip()[:300])
        found = {}
        for fmt, path in outputs.items():
            if os.path.getsize(path) > max_bytes:
                raise RenderError("The drawn graph is larger than %d bytes: "
                                  "show one subject at a time." % max_bytes)
            with open(path, 'rb') as f:
                found[fmt] = f.read()
        return found


def map_areas(cmapx):
    """`[(shape, coords, node_id)]` of the areas of a `cmapx` map; areas
    of anything but a concept node (`c123`) are left out."""
    areas = []
    for match in _AREA_RE.finditer(cmapx.decode('utf-8', 'replace')
                                   if isinstance(cmapx, bytes) else cmapx):
        attributes = dict(_ATTR_RE.findall(match.group(1)))
        shape = attributes.get('shape', '').lower()
        coords = attributes.get('coords', '')
        node = attributes.get('id', '')
        if shape in ('rect', 'poly', 'circle') and \
                _COORDS_RE.match(coords) and re.match(r'^c[0-9]+$', node):
            areas.append((shape, coords, node))
    return areas


def safe_svg(svg, allowed_hrefs):
    """`svg` with only known elements and attributes, and links only to
    `allowed_hrefs`; returns text to put in a page. Raises `RenderError`
    when `svg` is not well-formed."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as e:
        raise RenderError("GraphViz drew an SVG that cannot be read: %s"
                          % e)
    _clean(root, set(allowed_hrefs))
    return ET.tostring(root, encoding='unicode')


def _local(name):
    return name.rsplit('}', 1)[-1]


def _is_svg(tag):
    """Whether `tag` is an element of the SVG namespace (an `html:a` would
    share the local name of SVG's `a`)."""
    return isinstance(tag, str) and tag.startswith('{%s}' % _SVG_NS)


def _clean(element, allowed_hrefs):
    for child in list(element):
        if not _is_svg(child.tag) or _local(child.tag) not in _SVG_ELEMENTS:
            element.remove(child)
        else:
            _clean(child, allowed_hrefs)
    for name in list(element.attrib):
        local = _local(name)
        if local in ('href', 'title') and _local(element.tag) == 'a':
            if local == 'href' and element.attrib[name] not in allowed_hrefs:
                del element.attrib[name]
            continue
        if local == 'target' and _local(element.tag) == 'a':
            element.attrib[name] = '_top'
            continue
        if local not in _SVG_ATTRIBUTES or \
                'url(' in element.attrib[name].lower():
            del element.attrib[name]
