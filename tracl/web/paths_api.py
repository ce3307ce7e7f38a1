"""`/api/v1/learning-paths`: generate (search), create, list and read
learning paths, over `tracl.study.paths.LearningPaths`.

This module checks what a request sends, turns the service's answers and
exceptions into JSON and status codes, and describes the endpoints in the
OpenAPI document; what a path is and how one is made live in the service.
"""

import re
from contextlib import contextmanager

from trac.core import Component, implements
from trac.util.translation import _

from tracl.api import IApiEndpointProvider
from tracl.embedding import EmbeddingUnavailable
from tracl.llm import LLMUnavailable
from tracl.search import ChunkStoreUnavailable
from tracl.study.paths import (LearningPaths, NoQuestionWritten,
                               NothingToLearn, PathChunksUnavailable,
                               PathNotSaved, UnknownChunks)
from tracl.web.api import ApiError, Endpoint, reader_sub
from tracl.web.openapi import api_errors, reads_a_learner
from tracl.web.path_page import path_href

MIN_QUERY, MAX_QUERY = 3, 500
MAX_CHUNK_IDS = 50

_UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                      r'[0-9a-f]{12}$')

_NULLABLE_NAMES = {'anyOf': [{'type': 'null'}, {'type': 'string'},
                             {'type': 'array', 'items': {'type': 'string'}}]}

CHUNK_SCHEMA = {
    'type': 'object',
    'required': ['chunk_id', 'concept', 'subject', 'content', 'relevance',
                 'cosine', 'lexical', 'foundation_for', 'has_prerequisite',
                 'prerequisite_for', 'difficulty_level', 'source'],
    'properties': {
        'chunk_id': {'type': 'string'}, 'concept': {'type': 'string'},
        'subject': {'type': 'string'}, 'content': {'type': 'string'},
        'relevance': {
            'type': ['number', 'null'], 'minimum': 0, 'maximum': 1,
            'description': 'Calibrated relevance of the fused score (the '
                           'floor of [learning] relevance_threshold '
                           'applies to it); null for a foundation.'},
        'cosine': {'type': 'number', 'minimum': -1, 'maximum': 1,
                   'description': 'Cosine of the chunk with the search '
                                  'vector (the dense retrieval).'},
        'lexical': {'type': 'number', 'minimum': 0, 'maximum': 1,
                    'description': "How well the chunk's words match the "
                                   "query's (BM25 over the most the query "
                                   "could score; 0 when none match)."},
        'foundation_for': {
            'type': 'array', 'items': {'type': 'string'},
            'description': 'For a foundation (a chunk the results need '
                           'first, listed after them), the concepts that '
                           'need it; empty for a search result.'},
        'has_prerequisite': _NULLABLE_NAMES,
        'prerequisite_for': _NULLABLE_NAMES,
        'difficulty_level': {'type': 'integer', 'minimum': 1, 'maximum': 5},
        'source': {'type': 'string'}},
}

GENERATE_REQUEST = {
    'type': 'object', 'required': ['query'],
    'properties': {
        'query': {'type': 'string', 'minLength': MIN_QUERY,
                  'maxLength': MAX_QUERY},
        'difficulty': {'type': 'integer', 'minimum': 1, 'maximum': 5}},
}

GENERATE_RESPONSE = {
    'type': 'object', 'required': ['query', 'cached', 'chunks'],
    'properties': {'query': {'type': 'string'}, 'cached': {'type': 'boolean'},
                   'message': {'type': 'string'},
                   'chunks': {'type': 'array', 'items': CHUNK_SCHEMA}},
}

CREATE_REQUEST = {
    'type': 'object', 'required': ['query'],
    'properties': {
        'query': {'type': 'string', 'minLength': MIN_QUERY,
                  'maxLength': MAX_QUERY},
        'chunk_ids': {'type': 'array', 'maxItems': MAX_CHUNK_IDS,
                      'items': {'type': 'string'}},
        'difficulty': {'type': 'integer', 'minimum': 1, 'maximum': 5}},
}

CREATE_RESPONSE = {
    'type': 'object', 'required': ['path_id', 'roadmap_url', 'path_url',
                                   'tickets', 'skipped'],
    'properties': {
        'path_id': {'type': 'string'}, 'roadmap_url': {'type': 'string'},
        'path_url': {'type': 'string',
                     'description': "The path's page, where a browser goes "
                                    "next."},
        'tickets': {'type': 'array', 'items': {
            'type': 'object',
            'required': ['ticket_id', 'concept', 'subject', 'question',
                         'prerequisites', 'reused'],
            'properties': {
                'ticket_id': {'type': 'integer'},
                'concept': {'type': 'string'}, 'subject': {'type': 'string'},
                'question': {'type': ['string', 'null']},
                'prerequisites': {'type': 'array',
                                  'items': {'type': 'integer'}},
                'reused': {'type': 'boolean'}}}},
        'skipped': {'type': 'array', 'items': {
            'type': 'object', 'required': ['chunk_id', 'reason'],
            'properties': {'chunk_id': {'type': 'string'},
                           'reason': {'type': 'string'}}}}},
}

PATH_SUMMARY = {
    'type': 'object',
    'required': ['path_id', 'title', 'query', 'created_at', 'total',
                 'mastered', 'studying', 'completion'],
    'properties': {
        'path_id': {'type': 'string'}, 'title': {'type': 'string'},
        'query': {'type': 'string'}, 'created_at': {'type': 'string'},
        'total': {'type': 'integer'}, 'mastered': {'type': 'integer'},
        'studying': {'type': 'integer'},
        'completion': {'type': 'number', 'minimum': 0, 'maximum': 100}},
}

NEXT_UP = {
    'type': ['object', 'null'],
    'description': 'The concept to study next: the unlocked, unmastered '
                   'concept that unlocks the most (start: nothing of the '
                   'path started yet); null when none is left.',
    'required': ['ticket_id', 'concept', 'start'],
    'properties': {'ticket_id': {'type': 'integer'},
                   'concept': {'type': 'string'},
                   'start': {'type': 'boolean'}},
}

PATH_DETAIL = dict(PATH_SUMMARY, required=PATH_SUMMARY['required'] +
                   ['concepts', 'next_up'], properties=dict(
                       PATH_SUMMARY['properties'], next_up=NEXT_UP, concepts={
                           'description': 'In study order: prerequisites '
                                          'first, then by relevance in this '
                                          'path, then difficulty.',
                           'type': 'array', 'items': {
                               'type': 'object',
                               'required': ['ticket_id', 'concept', 'subject',
                                            'status', 'score', 'best_score',
                                            'prerequisites', 'locked',
                                            'unlocks', 'difficulty'],
                               'properties': {
                                   'ticket_id': {'type': 'integer'},
                                   'concept': {'type': 'string'},
                                   'subject': {'type': 'string'},
                                   'status': {'enum': ['not_started',
                                                       'studying',
                                                       'mastered']},
                                   'score': {'type': ['number', 'null']},
                                   'best_score': {'type': ['number', 'null']},
                                   'prerequisites': {
                                       'type': 'array',
                                       'items': {'type': 'integer'}},
                                   'locked': {'type': 'boolean'},
                                   'unlocks': {
                                       'type': 'integer', 'minimum': 0,
                                       'description': 'Concepts of the path '
                                                      'that wait on this '
                                                      'one.'},
                                   'difficulty': {'type': 'integer',
                                                  'minimum': 1,
                                                  'maximum': 5}}}}))


class LearningPathsApi(Component):
    """Generate, create, list and read learning paths."""

    implements(IApiEndpointProvider)

    # IApiEndpointProvider methods

    def get_api_endpoints(self):
        yield Endpoint('POST', '/learning-paths/generate', self._generate,
                       'Find the chunks a learning query asks for',
                       request_schema=GENERATE_REQUEST, rate_cost=5,
                       responses={200: dict(GENERATE_RESPONSE,
                                            description='Chunks found')})
        yield Endpoint('POST', '/learning-paths/create', self._create,
                       'Turn found chunks into a learning path',
                       request_schema=CREATE_REQUEST, rate_cost=5,
                       responses={201: dict(CREATE_RESPONSE,
                                            description='Path created')})
        yield Endpoint('GET', '/learning-paths', self._list,
                       "The learner's learning paths",
                       responses={200: {
                           'type': 'object', 'required': ['paths'],
                           'properties': {'paths': {
                               'type': 'array', 'items': PATH_SUMMARY}},
                           'description': 'Paths, newest first'}})
        yield Endpoint('GET', '/learning-paths/{path_id}', self._get,
                       'One learning path with its concepts',
                       responses={200: dict(PATH_DETAIL,
                                            description='The path')})

    # Handlers

    @api_errors(**{'503': 'A service the search needs is unavailable'})
    def _generate(self, req, call):
        query = self._query(call.body)
        self._difficulty(call.body)
        with self._search_errors():
            result = LearningPaths(self.env).preview(query, call.sub)
        return dict(result, query=query)

    @api_errors(**{'503': 'A service is unavailable; nothing was written'})
    def _create(self, req, call):
        query = self._query(call.body)
        difficulty = self._difficulty(call.body)
        chunk_ids = self._chunk_ids(call.body)
        with self._search_errors():
            created = self._create_path(call.sub, query, difficulty,
                                        chunk_ids)
        return 201, {'path_id': created.path_id,
                     'roadmap_url': req.abs_href.roadmap(),
                     'path_url': path_href(req.abs_href, created.path_id),
                     'tickets': created.tickets, 'skipped': created.skipped}

    @reads_a_learner
    def _list(self, req, call):
        return {'paths': LearningPaths(self.env).paths(
            reader_sub(req, call))}

    @reads_a_learner
    @api_errors(**{'404': 'No such path'})
    def _get(self, req, call):
        sub = reader_sub(req, call)
        path_id = call.params['path_id'].lower()
        path = None
        if _UUID_RE.match(path_id):
            paths = LearningPaths(self.env)
            # A learner opening their path makes it their active path; an
            # admin reading it with ?user= does not change theirs.
            path = paths.open(sub, path_id) if sub == call.sub \
                else paths.path(sub, path_id)
        if path is None:
            raise ApiError(404, _("No such learning path."))
        return path

    # Internal methods

    def _create_path(self, sub, query, difficulty, chunk_ids):
        """The service's path, its refusals as 400 and 503 answers."""
        try:
            return LearningPaths(self.env).create(sub, query, difficulty,
                                                  chunk_ids)
        except UnknownChunks as e:
            raise ApiError(400, _("These chunks are not in your search "
                                  "results for this query: %(ids)s",
                                  ids=', '.join(e.chunk_ids[:5])),
                           code='unknown_chunks')
        except NothingToLearn:
            raise ApiError(400, _("There is nothing to learn from this "
                                  "query yet: no relevant chunk was found."),
                           code='nothing_to_create')
        except NoQuestionWritten as e:
            raise ApiError(503, _("No question could be written for these "
                                  "concepts: please try again later."),
                           code='llm_unavailable', skipped=e.skipped)
        except PathChunksUnavailable:
            raise ApiError(503, _("The library cannot be read right now; "
                                  "nothing was written. Please try again "
                                  "in a minute."),
                           code='chunk_store_unavailable')
        except PathNotSaved:
            raise ApiError(503, _("The database could not save the path; "
                                  "nothing was written. Please try again."),
                           code='database_unavailable')

    def _query(self, body):
        query = body.get('query')
        if not isinstance(query, str) or \
                not MIN_QUERY <= len(query.strip()) <= MAX_QUERY:
            raise ApiError(400, _("Send a query of %(min)d to %(max)d "
                                  "characters.", min=MIN_QUERY,
                                  max=MAX_QUERY), code='invalid_query')
        return ' '.join(query.split())

    def _difficulty(self, body):
        difficulty = body.get('difficulty')
        if difficulty is None:
            return None
        if isinstance(difficulty, bool) or not isinstance(difficulty, int) \
                or not 1 <= difficulty <= 5:
            raise ApiError(400, _("The difficulty is a whole number from 1 "
                                  "to 5."), code='invalid_difficulty')
        return difficulty

    def _chunk_ids(self, body):
        if 'chunk_ids' not in body or body['chunk_ids'] is None:
            return None
        ids = body['chunk_ids']
        if not isinstance(ids, list) or len(ids) > MAX_CHUNK_IDS or \
                not all(isinstance(i, str) and i for i in ids):
            raise ApiError(400, _("chunk_ids is a list of at most %(n)d "
                                  "chunk ids.", n=MAX_CHUNK_IDS),
                           code='invalid_chunk_ids')
        return list(dict.fromkeys(ids))

    @contextmanager
    def _search_errors(self):
        """Answer 503 with the code of the service that failed."""
        try:
            yield
        except LLMUnavailable as e:
            raise self._unavailable('llm_unavailable', e)
        except EmbeddingUnavailable as e:
            raise self._unavailable('embeddings_unavailable', e)
        except ChunkStoreUnavailable as e:
            raise self._unavailable('chunk_store_unavailable', e)

    def _unavailable(self, code, error):
        self.log.warning("Search unavailable (%s): %s", code, error)
        return ApiError(503, _("Searching is unavailable right now: please "
                               "try again in a minute."), code=code)
