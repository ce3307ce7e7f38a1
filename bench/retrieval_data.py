#!/usr/bin/env python3
"""Build the chunks of the real-text retrieval benchmark from the Python 3.11
documentation that Debian's `python3-doc` package installs.

Each kept paragraph of a fixed selection of pages (`DOCUMENTS`: library
modules and the tutorial) becomes one chunk in the project's chunk format:

    id          "<doc-slug>:<n>", n the paragraph's ordinal among all the
                <p> of the page's main body (skipped ones count too, so an
                id does not move when the keep rules change)
    subject     the page's <h1>, without its section number
    concept     the nearest heading above the paragraph; "(2)", "(3)", ...
                follow it from the second paragraph under the same heading
                on, because a concept name is unique within its subject
    content     the paragraph's text, whitespace collapsed
    source      the page's path relative to the HTML root

Kept: a <p> of the main body (`div.body`) with `MIN_WORDS` to `MAX_WORDS`
words. Skipped: navigation, sidebars, footers, code blocks, tables,
footnotes, version notes and admonition titles. Every chunk is checked
with `tracl.model.chunks.check_chunk` and the whole set with the corpus
rules (`tracl.corpus.validate_chunks`) before anything is written. The
output is sorted by source and paragraph number, so two runs on the same
HTML give the same file.

The documentation's licence (PSF) permits copying; the repository keeps
this script and not a copy of the text: `make bench-data` builds the file.

Usage: .venv/bin/python bench/retrieval_data.py [--html DIR] [--out FILE]
"""

import argparse
import json
import os
import re
import sys
from html.parser import HTMLParser

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tracl.corpus import SPEC_MAX_WORDS, validate_chunks  # noqa: E402
from tracl.model.chunks import check_chunk  # noqa: E402

#: Where Debian installs the HTML (python3-doc links the first to the rest).
HTML_ROOTS = ('/usr/share/doc/python3/html',
              '/usr/share/doc/python3-doc/html',
              '/usr/share/doc/python3.11/html')

DEFAULT_OUT = os.path.join(HERE, 'data', 'retrieval', 'chunks.jsonl')

#: The fewest words of a kept paragraph: shorter ones are captions, version
#: notes and one-line definitions that answer nothing on their own.
MIN_WORDS = 25

#: The most words of a kept paragraph: the spec's bound on a chunk.
MAX_WORDS = SPEC_MAX_WORDS

#: The same difficulty for every chunk: the benchmark measures retrieval.
DIFFICULTY = 3

#: The pages, relative to the HTML root. Fixed, so the corpus is too.
DOCUMENTS = tuple('library/%s.html' % name for name in (
    'abc', 'argparse', 'array', 'ast', 'asyncio-dev', 'asyncio-eventloop',
    'asyncio-protocol', 'asyncio-queue', 'asyncio-stream',
    'asyncio-subprocess', 'asyncio-sync', 'asyncio-task', 'bisect',
    'calendar', 'collections', 'contextlib', 'copy', 'csv', 'dataclasses',
    'datetime', 'decimal', 'difflib', 'dis', 'email', 'enum', 'fractions',
    'functools', 'gc', 'glob', 'hashlib', 'heapq', 'http.server', 'inspect',
    'itertools', 'json', 'logging', 'math', 'os.path', 'pathlib', 'pickle',
    'pprint', 'random', 're', 'shelve', 'shutil', 'socket', 'sqlite3', 'ssl',
    'statistics', 'string', 'struct', 'subprocess', 'tarfile', 'tempfile',
    'textwrap', 'threading', 'time', 'typing', 'unicodedata', 'unittest',
    'urllib.request', 'venv', 'weakref', 'xml.etree.elementtree', 'zipfile',
    'zoneinfo')) + tuple('tutorial/%s.html' % name for name in (
        'appetite', 'classes', 'controlflow', 'datastructures', 'errors',
        'floatingpoint', 'inputoutput', 'interpreter', 'introduction',
        'modules', 'stdlib', 'stdlib2', 'venv'))

#: Containers whose paragraphs are not body text.
SKIPPED_TAGS = frozenset(('table', 'pre', 'nav', 'aside', 'script', 'style'))
SKIPPED_CLASSES = frozenset((
    'highlight', 'sphinxsidebar', 'related', 'footer', 'footnote',
    'footnote-list', 'versionadded', 'versionchanged', 'deprecated',
    'deprecated-removed', 'admonition-title', 'rubric', 'headerlink',
    'toctree-wrapper', 'contents', 'topic', 'availability'))

HEADINGS = frozenset(('h1', 'h2', 'h3', 'h4', 'h5', 'h6'))

#: Tags HTMLParser sees opened but never closed.
VOID_TAGS = frozenset(('br', 'hr', 'img', 'input', 'meta', 'link', 'wbr',
                       'col', 'area', 'base', 'source'))

SECTION_NUMBER = re.compile(r'^\d+(\.\d+)*\.\s+')


def collapse(text):
    """`text` with every run of whitespace made one space, stripped."""
    return ' '.join(text.split())


def heading_text(text):
    """A heading as a name: whitespace collapsed, the tutorial's section
    number ("3.1.2. ") dropped."""
    return SECTION_NUMBER.sub('', collapse(text))


class PageParser(HTMLParser):
    """The <h1> and the body paragraphs of one Sphinx page.

    `paragraphs` holds `(n, heading, text, skipped)` for every <p> of the
    main body in order: `heading` the nearest heading before it, `skipped`
    true inside a container whose text is not prose.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = None
        self.paragraphs = []
        self._stack = []          # (tag, is_body, is_skipped) per open tag
        self._heading = None      # text of the heading being read
        self._paragraph = None    # text of the <p> being read
        self._current = ''        # the nearest heading so far

    def _in_body(self):
        return any(body for _, body, _ in self._stack)

    def _skipping(self):
        return any(skipped for _, _, skipped in self._stack)

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        if tag == 'p' and any(open_tag == 'p' for open_tag, _, _ in
                              self._stack):
            # A <p> closes an open one, as in a browser: Sphinx writes
            # `<p class="availability">...<p>...</p>` without the first </p>.
            self.handle_endtag('p')
        attrs = dict(attrs)
        classes = set((attrs.get('class') or '').split())
        is_body = tag == 'div' and 'body' in classes
        skipped = tag in SKIPPED_TAGS or bool(classes & SKIPPED_CLASSES)
        self._stack.append((tag, is_body, skipped))
        if not self._in_body():
            return
        if tag in HEADINGS:
            self._heading = []
        elif tag == 'p' and self._paragraph is None:
            self._paragraph = []

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        # Pop to the matching tag (Sphinx's HTML is well formed; this keeps
        # a stray end tag from unbalancing the stack).
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                skipped = any(s for _, _, s in self._stack[:depth + 1])
                in_body = any(b for _, b, _ in self._stack[:depth + 1])
                del self._stack[depth:]
                break
        else:
            return
        if not in_body:
            return
        if tag in HEADINGS and self._heading is not None:
            text = heading_text(''.join(self._heading))
            self._heading = None
            if text:
                self._current = text
                if tag == 'h1' and self.title is None:
                    self.title = text
        elif tag == 'p' and self._paragraph is not None:
            text = collapse(''.join(self._paragraph))
            self._paragraph = None
            self.paragraphs.append((len(self.paragraphs) + 1, self._current,
                                    text, skipped))

    def handle_data(self, data):
        if self._skipping_inline():
            return
        if self._heading is not None:
            self._heading.append(data)
        elif self._paragraph is not None:
            self._paragraph.append(data)

    def _skipping_inline(self):
        """True inside a headerlink ("¶") or another skipped inline tag
        within the text being read."""
        return bool(self._stack) and any(
            skipped and tag in ('a', 'span')
            for tag, _, skipped in self._stack)


def doc_slug(source):
    """The id prefix of a page: the module name for library/ pages
    ("json", "os.path"), "tutorial-<name>" for the tutorial."""
    folder, name = os.path.split(source)
    stem = name[:-len('.html')]
    return stem if folder == 'library' else '%s-%s' % (folder, stem)


def page_chunks(root, source):
    """The chunks of one page, in page order, and how many paragraphs were
    too long to keep."""
    with open(os.path.join(root, source), encoding='utf-8') as f:
        parser = PageParser()
        parser.feed(f.read())
        parser.close()
    if not parser.title:
        raise SystemExit('%s has no <h1>: is this a Sphinx page?' % source)
    slug = doc_slug(source)
    chunks, too_long, uses = [], 0, {}
    for n, heading, text, skipped in parser.paragraphs:
        words = len(text.split())
        if skipped or words < MIN_WORDS:
            continue
        if words > MAX_WORDS:
            too_long += 1
            continue
        heading = heading or parser.title
        uses[heading] = uses.get(heading, 0) + 1
        concept = (heading if uses[heading] == 1
                   else '%s (%d)' % (heading, uses[heading]))
        chunks.append({
            'id': '%s:%d' % (slug, n), 'subject': parser.title,
            'concept': concept, 'content': text,
            'has_prerequisite': None, 'prerequisite_for': None,
            'difficulty_level': DIFFICULTY, 'source': source})
    return chunks, too_long


def find_root(given):
    """The HTML root: `given`, else the first of `HTML_ROOTS` present."""
    for root in ([given] if given else HTML_ROOTS):
        if os.path.isfile(os.path.join(root, 'library', 'json.html')):
            return root
    raise SystemExit('No Python documentation at %s: install it with '
                     '`apt-get install python3-doc` (or `make bench-data`), '
                     'or pass --html DIR'
                     % (given or ', '.join(HTML_ROOTS)))


def build(root):
    """Every chunk of `DOCUMENTS`, sorted, checked; and the too-long count."""
    chunks, too_long = [], 0
    for source in DOCUMENTS:
        if not os.path.isfile(os.path.join(root, source)):
            raise SystemExit('%s is missing from %s: is python3-doc the '
                             '3.11 documentation?' % (source, root))
        page, skipped = page_chunks(root, source)
        chunks.extend(page)
        too_long += skipped
    chunks.sort(key=lambda c: (c['source'], int(c['id'].rsplit(':', 1)[1])))
    for number, chunk in enumerate(chunks, 1):
        check_chunk(chunk, number)
    report = validate_chunks(chunks, min_words=MIN_WORDS,
                             max_words=MAX_WORDS)
    if report.rejected:
        raise SystemExit('The corpus rules reject %d chunks, first: %s'
                         % (len(report.rejected), report.rejected[0]))
    return chunks, too_long


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--html', help='the HTML root (default: the first '
                        'of %s)' % ', '.join(HTML_ROOTS))
    parser.add_argument('--out', default=DEFAULT_OUT,
                        help='the JSON Lines file to write')
    args = parser.parse_args(argv)
    root = find_root(args.html)
    chunks, too_long = build(root)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8') as f:
        for chunk in chunks:
            f.write(json.dumps(chunk, ensure_ascii=False, sort_keys=False))
            f.write('\n')
    documents = len({chunk['source'] for chunk in chunks})
    print('%d chunks from %d documents (%s), %d paragraphs over %d words '
          'skipped; written to %s'
          % (len(chunks), documents, root, too_long, MAX_WORDS, args.out))


if __name__ == '__main__':
    main()
