"""`learning graph`: a learner's knowledge graph from the command line, for
admins (its DOT source to debug a drawing, or the SVG or PNG)."""

import os
import sys

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.admin.options import parse_options
from tracl.admin.prereqs import learner_sub
from tracl.graph.render import FORMATS, RenderError
from tracl.graph.service import KnowledgeGraphs


class GraphAdminCommands(Component):
    """Draw a learner's knowledge graph."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning graph',
               '<user> [--milestone <subject>] [--format dot|svg|png] '
               '[-o <file>]',
               """Draw a learner's knowledge graph, with its legend

               <user> is the learner's Cognito sub (their Trac username)
               or Cognito username. --milestone draws one subject. The
               format is dot (the GraphViz source, to debug a drawing),
               svg or png; by default the extension of the -o file, else
               [learning] graph_format. Nodes link to the tickets under
               [trac] base_url. Without -o the graph goes to standard
               output.""", None, self._graph)

    # Commands

    def _graph(self, *args):
        # `-o` is the usual short form; `parse_options` knows `--` flags.
        args = ['--output' if arg == '-o' else arg for arg in args]
        positional, options = parse_options(args, ('milestone', 'format',
                                                   'output'))
        if len(positional) != 1:
            raise AdminCommandError(_("Name one learner."),
                                    show_usage=True)
        output = options.get('output', [None])[-1]
        fmt = self._format(options.get('format', [None])[-1], output)
        milestone = options.get('milestone', [None])[-1]
        sub = learner_sub(self.env, positional[0])
        try:
            drawing = KnowledgeGraphs(self.env).draw(
                sub, self.env.abs_href.ticket, fmt, milestone, legend=True)
        except RenderError as e:
            raise AdminCommandError(str(e))
        if drawing is None:
            if milestone:
                raise AdminCommandError(_(
                    "%(user)s has no concepts in %(subject)s to draw.",
                    user=positional[0], subject=milestone))
            raise AdminCommandError(_("%(user)s has no concepts to draw "
                                      "yet.", user=positional[0]))
        data = drawing.data
        if output:
            try:
                if isinstance(data, bytes):
                    with open(output, 'wb') as f:
                        f.write(data)
                else:
                    with open(output, 'w', encoding='utf-8') as f:
                        f.write(data)
            except OSError as e:
                raise AdminCommandError(_("Cannot write %(path)s: %(error)s",
                                          path=output, error=e))
            printout(_("Wrote the %(format)s graph of %(user)s (%(n)d "
                       "concepts) to %(path)s", format=fmt,
                       user=positional[0], n=len(drawing.nodes),
                       path=output))
        elif isinstance(data, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            printout(data)

    # Internal methods

    def _format(self, fmt, output):
        """The format asked for, else the one of the output file's
        extension, else the configured one."""
        if fmt is None and output:
            extension = os.path.splitext(output)[1].lstrip('.').lower()
            fmt = extension if extension in FORMATS else None
        fmt = (fmt or KnowledgeGraphs(self.env).default_format).lower()
        if fmt not in FORMATS:
            raise AdminCommandError(_("The format is dot, svg or png, not "
                                      "%(format)s.", format=fmt))
        return fmt
