"""The banner every page shows while sign-in uses the local Cognito
emulator, whose signing key is public.

It is a notice, not one of Trac's warnings: Trac's ticket page shows its
warnings a second time under the edit form (they are meant for the
form's validation messages), so a warning would appear twice there. Its
stylesheet gives the notice a warning's colours.
"""

from trac.core import Component, implements
from trac.util.html import tag
from trac.util.translation import _
from trac.web.api import IRequestFilter
from trac.web.chrome import add_notice, add_stylesheet

from tracl.auth.config import EMULATOR_WARNING, CognitoConfig


class EmulatorBanner(Component):
    """Shows a warning on every page when `[cognito] allow_emulator` is on,
    and logs it once per process."""

    implements(IRequestFilter)

    def __init__(self):
        if CognitoConfig(self.env).allow_emulator:
            self.log.warning(EMULATOR_WARNING)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        return handler

    def post_process_request(self, req, template, data, metadata):
        if template and CognitoConfig(self.env).allow_emulator:
            add_stylesheet(req, 'tracl/css/notices.css')
            add_notice(req, tag.span(tag.strong(_("Warning:")), ' ',
                                     EMULATOR_WARNING,
                                     class_='tracl-emulator-banner'))
        return template, data, metadata
