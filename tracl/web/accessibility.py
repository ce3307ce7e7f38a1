"""Trac's own page chrome made accessible: a stylesheet on every page.

Trac's theme draws some text in light grey on white (the footer, the
ticket box's empty fields, hints, the admin tabs' headings) below the
contrast WCAG 2 AA asks for, and hides the label of the header's search
box from screen readers as well as from the eye. The stylesheet darkens
those colours and hides the label from the eye only; it changes nothing
else of the theme.
"""

from trac.core import Component, implements
from trac.web.api import IRequestFilter
from trac.web.chrome import add_stylesheet


class AccessibleChrome(Component):
    """Adds `tracl/css/accessible_chrome.css` to every page Trac renders
    from a template."""

    implements(IRequestFilter)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        return handler

    def post_process_request(self, req, template, data, metadata):
        if template:
            add_stylesheet(req, 'tracl/css/accessible_chrome.css')
        return template, data, metadata
