"""`GET /api/v1/me/anki`: the signed-in learner's concepts as an Anki deck.

The API frame (`tracl.web.api`) authenticates the call, limits its rate and
answers errors in JSON; this handler answers the deck itself, as a file
(`application/apkg`, `Content-Disposition: attachment`), not JSON. The same
URL serves the browser's link on My learning: a GET with the session cookie
needs no CSRF token. A learner without concepts gets a valid deck without
notes, so a client that syncs decks needs no special case.
"""

from trac.core import Component, implements
from trac.util.translation import _
from trac.web.api import RequestDone

from tracl.api import IApiEndpointProvider
from tracl.web.api import API_PREFIX, ApiError, Endpoint
from tracl.web.openapi import api_errors

#: The media type of the deck; AnkiDroid and Anki open it.
APKG_MEDIA_TYPE = 'application/apkg'

#: Calls of the rate budget one export uses: it reads every concept.
EXPORT_RATE_COST = 5


def anki_href(href):
    """The URL of the learner's deck (for links in pages)."""
    return href(API_PREFIX.lstrip('/'), 'me', 'anki')


class ExportApi(Component):
    """The learner's concepts as a file to take elsewhere."""

    implements(IApiEndpointProvider)

    # IApiEndpointProvider methods

    def get_api_endpoints(self):
        yield Endpoint(
            'GET', '/me/anki', self._anki,
            "The learner's concepts as an Anki deck (.apkg)",
            rate_cost=EXPORT_RATE_COST,
            responses={200: {'description':
                'The deck as a file: `%s`, `Content-Disposition: '
                'attachment; filename="tracl-deck-<date>.apkg"`. A zip '
                'holding an Anki collection: one note per concept the '
                'learner owns (question; their last answer that reached '
                'the mastery threshold; the expected answer only once the '
                'concept is mastered; the source text and reference), in '
                'the sub-deck "TracLearn::<subject>", tagged `tracl`, the '
                'subject\'s slug and the status. Stable ids: a re-import '
                'updates the notes. Without concepts, a valid deck without '
                'notes.' % APKG_MEDIA_TYPE}})

    # Handlers

    @api_errors(**{'503': 'The database does not answer, or genanki is '
                          'not installed on the server'})
    def _anki(self, req, call):
        # Imported here: My learning links here (`anki_href`) and must
        # not depend on genanki being installed.
        try:
            from tracl.study.anki_deck import AnkiDeckExport
        except ImportError as e:
            self.log.error("Anki export: %s; install genanki", e)
            raise ApiError(503, _("Anki decks cannot be made on this "
                                  "server: an administrator must install "
                                  "the genanki package."),
                           code='anki_unavailable')
        deck = AnkiDeckExport(self.env).export(call.sub)
        self.log.debug("Anki deck of %s: %d notes, %d bytes", call.sub,
                       deck.notes, len(deck.content))
        req.send_response(200)
        req.send_header('Cache-Control', 'no-store')
        req.send_header('X-Content-Type-Options', 'nosniff')
        req.send_header('Content-Type', APKG_MEDIA_TYPE)
        req.send_header('Content-Disposition',
                        'attachment; filename="%s"' % deck.filename)
        req.send_header('Content-Length', len(deck.content))
        req.end_headers()
        if req.method != 'HEAD':
            req.write(deck.content)
        raise RequestDone
