"""The page of one learning path, `/learning/paths/<path_id>`.

It shows the signed-in learner's own path: its title and query, how far
they are (mastered, studying, total), the concept to study next, every
concept in study order with its status, score and lock, and the path's
knowledge graph. Opening it makes the path the learner's active path.

Another learner's path, or an unknown id, is a 404: the page never says
whether a path exists for someone else.
"""

import re

from trac.core import Component, implements
from trac.util.translation import _
from trac.web.api import HTTPNotFound, IRequestHandler
from trac.web.chrome import (INavigationContributor, add_ctxtnav,
                             add_stylesheet)

from tracl.graph.dot import AUTO
from tracl.graph.service import KnowledgeGraphs
from tracl.study.loop import StudyLoop
from tracl.study.paths import LearningPaths
from tracl.web.graph import graph_fragment

#: `/learning/paths/<path_id>`, a path id being a UUID (any case).
_PATH_RE = re.compile(r'^/learning/paths/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-'
                      r'[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/?$')


def path_href(href, path_id):
    """The URL of path `path_id`'s page, built with `href` (`req.href` or
    `req.abs_href`)."""
    return href.learning('paths', path_id)


def percent(score):
    return None if score is None else int(round(score * 100))


class PathPage(Component):
    """The page of one of the learner's learning paths."""

    implements(INavigationContributor, IRequestHandler)

    # INavigationContributor methods

    def get_active_navigation_item(self, req):
        return 'learning'

    def get_navigation_items(self, req):
        return []  # "Learning" is My learning's (tracl.web.learning)

    # IRequestHandler methods

    def match_request(self, req):
        match = _PATH_RE.match(req.path_info)
        if match:
            req.args['path_id'] = match.group(1).lower()
            return True
        return False

    def process_request(self, req):
        if not req.is_authenticated:
            req.redirect(req.href.login(referer=req.href(req.path_info)))
        sub, path_id = req.authname, req.args['path_id']
        path = LearningPaths(self.env).open(sub, path_id)
        if path is None:
            raise HTTPNotFound(_("You have no such learning path: see "
                                 "your paths on My learning."))
        add_stylesheet(req, 'tracl/css/tracl.css')
        add_ctxtnav(req, _("My learning"), req.href.learning())
        add_ctxtnav(req, _("Roadmap"), req.href.roadmap())
        return 'tracl_path.html', {
            'path': path,
            'concepts': self._concepts(req, sub, path['concepts']),
            'next_up': self._next_up(req, path),
            'left_locked': self._left_locked(path),
            'graph': self._graph(req, sub, path_id),
            'status_labels': {'not_started': _("Not started"),
                              'studying': _("Studying"),
                              'mastered': _("Mastered")},
        }

    # Internal methods

    def _concepts(self, req, sub, concepts):
        """The path's concepts for the table: each with its link, its best
        score in percent and, when locked, the names of what it waits
        for."""
        loop = StudyLoop(self.env)
        rows = []
        for concept in concepts:
            waits_for = []
            if concept['locked']:
                # Blockers may lie outside the path: the concept rule names
                # them all.
                waits_for = [dict(concept=b.concept,
                                  href=req.href.ticket(b.ticket_id))
                             for b in loop.blockers(sub,
                                                    concept['ticket_id'])]
            rows.append(dict(concept,
                             href=req.href.ticket(concept['ticket_id']),
                             score_percent=percent(concept.get('score')),
                             best_percent=percent(concept.get('best_score')),
                             waits_for=waits_for))
        return rows

    def _next_up(self, req, path):
        following = path.get('next_up')
        if not following:
            return None
        return dict(following, href=req.href.ticket(following['ticket_id']))

    def _left_locked(self, path):
        """Whether concepts are left to master but every one of them is
        locked (by prerequisites outside the path)."""
        return not path.get('next_up') and \
            path['mastered'] < path['total']

    def _graph(self, req, sub, path_id):
        fmt = KnowledgeGraphs(self.env).default_format
        return graph_fragment(self.env, req, sub, fmt,
                              {'milestone': None, 'path_id': path_id,
                               'direction': AUTO})
