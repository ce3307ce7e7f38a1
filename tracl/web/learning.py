"""The learner's home in Trac: `/learning`, "My learning".

It says what TracLearn is and lists the signed-in learner's paths with their
progress, each linked to its page (`tracl.web.path_page`); a learner
without a path is sent to the start page's query box; one with paths
may download their concepts as an Anki deck. It is also the
plugin's template and static file provider.
"""

from trac.core import Component, implements
from trac.util.html import tag
from trac.util.translation import _
from trac.web.api import IRequestHandler
from trac.web.chrome import (INavigationContributor, ITemplateProvider,
                             add_stylesheet)

from tracl.model import path_summaries
from tracl.web.export_api import anki_href
from tracl.web.macros import query_box_href
from tracl.web.path_page import path_href
from tracl.web.resources import resource_dir

class LearningModule(Component):
    """The "My learning" page and TracLearn's templates and static files."""

    implements(INavigationContributor, IRequestHandler, ITemplateProvider)

    # INavigationContributor methods

    def get_active_navigation_item(self, req):
        return 'learning'

    def get_navigation_items(self, req):
        yield ('mainnav', 'learning',
               tag.a(_("Learning"), href=req.href.learning()))

    # IRequestHandler methods

    def match_request(self, req):
        return req.path_info in ('/learning', '/learning/')

    def process_request(self, req):
        signed_in = req.is_authenticated
        paths = path_summaries(self.env, req.authname) if signed_in else []
        data = {
            'signed_in': signed_in,
            'paths': paths,
            'path_hrefs': {p.path_id: path_href(req.href, p.path_id)
                           for p in paths},
            # The start page's query box, not a page that links back here.
            'start_href': query_box_href(req),
            # The learner's concepts as an Anki deck (tracl.web.export_api).
            'anki_href': anki_href(req.href),
        }
        add_stylesheet(req, 'tracl/css/tracl.css')
        return 'tracl_learning.html', data

    # ITemplateProvider methods

    def get_htdocs_dirs(self):
        return [('tracl', resource_dir('htdocs'))]

    def get_templates_dirs(self):
        return [resource_dir('templates')]
