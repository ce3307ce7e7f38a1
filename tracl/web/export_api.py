"""`GET /api/v1/me/anki`: the signed-in learner's concepts as an Anki deck;
`GET /api/v1/me/data` and `DELETE /api/v1/me/data`: everything TracLearn
keeps of the learner, to download or to delete
(`tracl.model.learner_data`).

The API frame (`tracl.web.api`) authenticates the call, limits its rate and
answers errors in JSON; this handler answers the deck itself, as a file
(`application/apkg`, `Content-Disposition: attachment`), not JSON. The same
URL serves the browser's link on My learning: a GET with the session cookie
needs no CSRF token. A learner without concepts gets a valid deck without
notes, so a client that syncs decks needs no special case.

The data download is JSON sent as a file (`Content-Disposition:
attachment`), so the same link saves it from My learning. Deleting needs
the body `{"confirm": true}`, so that a client cannot delete by accident;
a cookie-authenticated call also needs the CSRF header. The API frame
reads and checks that body, as the endpoint declares a request schema.
"""

from trac.core import Component, implements
from trac.util.translation import _
from trac.web.api import RequestDone

from tracl.api import IApiEndpointProvider
from tracl.model import learner_data
from tracl.web.api import API_PREFIX, ApiError, ApiModule, Endpoint, \
    reader_sub
from tracl.web.openapi import api_errors, reads_a_learner

#: The media type of the deck; AnkiDroid and Anki open it.
APKG_MEDIA_TYPE = 'application/apkg'

#: Calls of the rate budget one export uses: it reads every concept.
EXPORT_RATE_COST = 5


def anki_href(href):
    """The URL of the learner's deck (for links in pages)."""
    return href(API_PREFIX.lstrip('/'), 'me', 'anki')


def learner_data_href(href):
    """The URL of the download of the learner's data (for links in
    pages)."""
    return href(API_PREFIX.lstrip('/'), 'me', 'data')


_DELETE_REQUEST = {
    'type': 'object', 'required': ['confirm'],
    'properties': {'confirm': {
        'type': 'boolean', 'enum': [True],
        'description': 'true: the learner confirms the deletion.'}},
}


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

        yield Endpoint(
            'GET', '/me/data', self._data,
            "Everything TracLearn keeps of the learner, as JSON",
            rate_cost=EXPORT_RATE_COST,
            responses={200: {'description':
                'The learner\'s data as a JSON file (`Content-Disposition: '
                'attachment; filename="tracl-learning-data-<date>.json"`): '
                '`learner`, `totals`, `paths` (title, query, concept ids) '
                'and `concepts`, each with its question, subject, '
                'progress (status, scores, notes, time spent), attempts '
                '(answer, score, feedback, evidence), disputes, '
                'follow-ups, the instructors\' decisions, review card and '
                'review log. The expected answer only where the concept\'s '
                'page shows it (mastered, no review due); people (comment '
                'authors, instructors) by name, else Cognito username, '
                'never by sub. `?user=SUB` reads another learner\'s '
                '(LEARNING_ADMIN).', 'type': 'object'}})
        yield Endpoint(
            'DELETE', '/me/data', self._delete,
            "Delete the learner's learning data",
            request_schema=_DELETE_REQUEST, rate_cost=EXPORT_RATE_COST,
            responses={204: {'description':
                "Deleted, in one transaction: the learner's paths, concept "
                "tickets, progress, attempts, notes, disputes, follow-ups, "
                "review cards and log, and cached views. Instructors' "
                "decisions on their answers are kept with the learner "
                "replaced by an anonymous marker; the Cognito account is "
                "not touched."}})

    # Handlers

    @reads_a_learner
    def _data(self, req, call):
        sub = reader_sub(req, call)
        data = learner_data.export_learner_data(self.env, sub)
        filename = learner_data.export_filename()
        ApiModule(self.env).send_json(req, data, 200, headers={
            'Content-Disposition': 'attachment; filename="%s"' % filename})

    @api_errors(**{'400': 'Invalid JSON, or `confirm` not true'})
    def _delete(self, req, call):
        if call.body.get('confirm') is not True:
            raise ApiError(400, _('Nothing was deleted: send {"confirm": '
                                  'true} to delete your learning data.'),
                           code='confirmation_required')
        deleted = learner_data.delete_learner_data(self.env, call.sub)
        self.log.info("Learner %s deleted their learning data through the "
                      "API: %r", call.sub, deleted)
        return None

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
