"""`/api/v1/learning-paths`: generate (search), create, list and read
learning paths (contract "HTTP API"; FR-LS-1, FR-LS-2).

The list and a path are cached five minutes (`api:{endpoint}:{params}:
{sub}`, spec 8.1) under the learner's progress version, which a new path,
a graded answer and a changed prerequisite bump: a cached copy is never
older than the learner's last change. The path created or opened last is
the learner's active path in the session data (FR-CS-2.3).
"""

import re
from concurrent.futures import ThreadPoolExecutor

from trac.config import IntOption
from trac.core import Component, implements
from trac.util.translation import _

from tracl.api import IApiEndpointProvider
from tracl.auth.profile import LearnerProfiles
from tracl.cache import LearningCache
from tracl.embedding import EmbeddingUnavailable
from tracl.llm import LearningLLM, LLMUnavailable
from tracl.llm.offline import OfflineLLMProvider, query_topic
from tracl.model.paths import (NewConcept, create_learning_path,
                               learner_concepts_by_chunk, path_detail,
                               path_summaries, path_title)
from tracl.search import ChunkStoreUnavailable, LearningChunkStore
from tracl.search.pipeline import SearchPipeline
from tracl.web.api import ApiError, Endpoint, reader_sub
from tracl.util import iso
from tracl.web.openapi import api_errors

MIN_QUERY, MAX_QUERY = 3, 500
MAX_CHUNK_IDS = 50

_UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                      r'[0-9a-f]{12}$')

_NULLABLE_NAMES = {'anyOf': [{'type': 'null'}, {'type': 'string'},
                             {'type': 'array', 'items': {'type': 'string'}}]}

CHUNK_SCHEMA = {
    'type': 'object',
    'required': ['chunk_id', 'concept', 'subject', 'content', 'relevance',
                 'cosine', 'has_prerequisite', 'prerequisite_for',
                 'difficulty_level', 'source'],
    'properties': {
        'chunk_id': {'type': 'string'}, 'concept': {'type': 'string'},
        'subject': {'type': 'string'}, 'content': {'type': 'string'},
        'relevance': {'type': 'number', 'minimum': 0, 'maximum': 1},
        'cosine': {'type': 'number', 'minimum': -1, 'maximum': 1},
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
    'type': 'object', 'required': ['path_id', 'roadmap_url', 'tickets',
                                   'skipped'],
    'properties': {
        'path_id': {'type': 'string'}, 'roadmap_url': {'type': 'string'},
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

PATH_DETAIL = dict(PATH_SUMMARY, required=PATH_SUMMARY['required'] +
                   ['concepts'], properties=dict(
                       PATH_SUMMARY['properties'], concepts={
                           'type': 'array', 'items': {
                               'type': 'object',
                               'required': ['ticket_id', 'concept', 'subject',
                                            'status', 'score', 'best_score',
                                            'prerequisites', 'locked'],
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
                                   'locked': {'type': 'boolean'}}}}))


class LearningPathsApi(Component):
    """Generate, create, list and read learning paths."""

    implements(IApiEndpointProvider)

    question_concurrency = IntOption('learning', 'question_concurrency', 8,
        """Questions a remote LLM provider writes at the same time when a
        learning path is created.""")

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
        result = self._search(query, call.sub)
        return dict(result, query=query)

    @api_errors(**{'503': 'A service is unavailable; nothing was written'})
    def _create(self, req, call):
        query = self._query(call.body)
        difficulty = self._difficulty(call.body)
        chunk_ids = self._chunk_ids(call.body)
        found = self._search(query, call.sub)['chunks']
        if chunk_ids is not None:
            known = {chunk['chunk_id'] for chunk in found}
            unknown = [c for c in chunk_ids if c not in known]
            if unknown:
                raise ApiError(400, _("These chunks are not in your search "
                                      "results for this query: %(ids)s",
                                      ids=', '.join(unknown[:5])),
                               code='unknown_chunks')
            found = [c for c in found if c['chunk_id'] in set(chunk_ids)]
        if not found:
            raise ApiError(400, _("There is nothing to learn from this "
                                  "query yet: no relevant chunk was found."),
                           code='nothing_to_create')
        return 201, self._write_path(req, call.sub, query, difficulty, found)

    def _list(self, req, call):
        sub = reader_sub(req, call)
        return LearningCache(self.env).learner_view(
            'learning-paths', sub, lambda: {
                'paths': [self._summary_json(s)
                          for s in path_summaries(self.env, sub)]})

    @api_errors(**{'404': 'No such path'})
    def _get(self, req, call):
        sub = reader_sub(req, call)
        path_id = call.params['path_id'].lower()
        if not _UUID_RE.match(path_id):
            raise ApiError(404, _("No such learning path."))

        def read_path():
            detail = path_detail(self.env, sub, path_id)
            if not detail:
                raise ApiError(404, _("No such learning path."))
            return dict(self._summary_json(detail['summary']),
                        concepts=detail['concepts'])
        path = LearningCache(self.env).learner_view(
            'learning-path', sub, read_path, path_id=path_id)
        if sub == call.sub:
            LearnerProfiles(self.env).set_active_path(sub, path_id)
        return path

    # Internal methods

    def _summary_json(self, summary):
        return {'path_id': summary.path_id, 'title': summary.title,
                'query': summary.query, 'created_at': iso(summary.created),
                'total': summary.total, 'mastered': summary.mastered,
                'studying': summary.studying,
                'completion': round(summary.completion, 1)}

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

    def _search(self, query, sub):
        try:
            return SearchPipeline(self.env).search(query, sub)
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

    def _write_path(self, req, sub, query, difficulty, found):
        existing = learner_concepts_by_chunk(
            self.env, sub, [c['chunk_id'] for c in found])
        chunks = [self._chunk(c) for c in found]
        fresh = [c for c in chunks if c['id'] not in existing]
        questions, skipped = self._questions(fresh, query, difficulty)
        concepts = []
        for chunk, found_chunk in zip(chunks, found):
            if chunk['id'] in existing or chunk['id'] in questions:
                concepts.append(NewConcept(
                    chunk, found_chunk['relevance'], found_chunk['cosine'],
                    questions.get(chunk['id'])))
        if not concepts:
            raise ApiError(503, _("No question could be written for these "
                                  "concepts: please try again later."),
                           code='llm_unavailable', skipped=skipped)
        store = LearningChunkStore(self.env).store
        try:
            path_id, created = create_learning_path(
                self.env, sub, query, path_title(query_topic(query)),
                difficulty or 3, concepts, store.get_chunks)
        except self.env.db_exc.DatabaseError as e:
            self.log.error("Creating a learning path failed, nothing was "
                           "written: %s", e)
            self._forget_rolled_back_caches()
            raise ApiError(503, _("The database could not save the path; "
                                  "nothing was written. Please try again."),
                           code='database_unavailable')
        except ChunkStoreUnavailable as e:
            # Linking the learner's other concepts reads their chunks.
            self._forget_rolled_back_caches()
            self.log.warning("Creating a learning path failed, nothing was "
                             "written: %s", e)
            raise ApiError(503, _("The library cannot be read right now; "
                                  "nothing was written. Please try again "
                                  "in a minute."),
                           code='chunk_store_unavailable')
        LearningCache(self.env).bump_progress_version(sub)
        LearnerProfiles(self.env).set_active_path(sub, path_id)
        detail = path_detail(self.env, sub, path_id)
        prerequisites = {c['ticket_id']: c['prerequisites']
                         for c in detail['concepts']}
        return {
            'path_id': path_id, 'roadmap_url': req.abs_href.roadmap(),
            'tickets': [{'ticket_id': c.ticket_id, 'concept': c.concept,
                         'subject': c.subject,
                         'question': c.question if c.question
                         else self._question_of(c.ticket_id),
                         'prerequisites': prerequisites.get(c.ticket_id, []),
                         'reused': c.reused} for c in created],
            'skipped': skipped}

    def _forget_rolled_back_caches(self):
        """Trac refreshed its milestone and ticket-field caches inside the
        rolled-back transaction: make it read them again."""
        from trac.ticket.api import TicketSystem
        from trac.ticket.model import MilestoneCache
        try:
            del MilestoneCache(self.env).milestones
            TicketSystem(self.env).reset_ticket_fields()
        except self.env.db_exc.DatabaseError as e:
            self.log.warning("Could not refresh Trac's caches: %s", e)

    def _question_of(self, ticket_id):
        for value, in self.env.db_query(
                "SELECT value FROM ticket_custom WHERE ticket=%s AND "
                "name='question'", (ticket_id,)):
            return value
        return None

    def _chunk(self, found):
        return {'id': found['chunk_id'], 'subject': found['subject'],
                'concept': found['concept'], 'content': found['content'],
                'has_prerequisite': found['has_prerequisite'],
                'prerequisite_for': found['prerequisite_for'],
                'difficulty_level': found['difficulty_level']}

    def _questions(self, chunks, query, difficulty):
        """Write a question per chunk before any row is written:
        concurrently for a remote provider. Returns
        `({chunk_id: GeneratedQuestion}, skipped)`."""
        provider = LearningLLM(self.env).provider

        def write(chunk):
            try:
                return chunk['id'], provider.generate_question(
                    chunk['concept'], chunk['content'],
                    difficulty or chunk['difficulty_level'], query), None
            except (LLMUnavailable, ValueError) as e:
                self.log.warning("No question for chunk %s: %s",
                                 chunk['id'], e)
                return chunk['id'], None, str(e) or type(e).__name__
        if isinstance(provider, OfflineLLMProvider) or len(chunks) < 2:
            results = [write(chunk) for chunk in chunks]
        else:
            workers = max(1, min(self.question_concurrency, len(chunks)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(write, chunks))
        questions = {cid: q for cid, q, _error in results if q is not None}
        skipped = [{'chunk_id': cid,
                    'reason': _("No question could be written: %(error)s",
                                error=error)}
                   for cid, q, error in results if q is None]
        return questions, skipped
