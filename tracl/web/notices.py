"""The banner every page shows while sign-in uses the local Cognito
emulator, whose signing key is public (GUIDE section 4)."""

from trac.core import Component, implements
from trac.web.api import IRequestFilter
from trac.web.chrome import add_warning

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
            add_warning(req, EMULATOR_WARNING)
        return template, data, metadata
