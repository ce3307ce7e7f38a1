"""`LearningPaths`: a learner's query previewed as the chunks it finds and
turned into a learning path of concept tickets; the learner's paths read
back, and the path they work on (their active path).

A chunk's question is written once and shared by every learner (the
question store, `tracl.model.questions`): a new concept asks the chunk's
stored question nearest the difficulty asked for. Only for a chunk without
one does the provider write a question, with its expected answer and
rubric in one call; a rubric that breaks the rules counts as a failed
question (asked once more, then the chunk is skipped and reported). The
new question is stored in the path's transaction.

Creating a path writes every missing question before any row is
written, so a provider that cannot write them leaves nothing behind. How
many questions are written at once is the provider's to say (a model that
computes in this process gains nothing from threads, a remote one mostly
waits on the network), up to `[learning] question_concurrency`. The path,
its concept tickets and their links are then written in one transaction
(`tracl.model.paths.create_learning_path`). Afterwards the learner's
progress version is bumped, which retires every cached view of their
progress, and the new path becomes their active path.
"""

import re
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

from trac.config import IntOption
from trac.core import Component
from trac.ticket.api import TicketSystem
from trac.ticket.model import MilestoneCache
from trac.util.translation import _

from tracl.auth.profile import LearnerProfiles
from tracl.cache import LearningCache
from tracl.llm import LearningLLM, LLMUnavailable
from tracl.llm.offline import query_topic
from tracl.model.chunks import chunk_from_json
from tracl.model.paths import (NewConcept, create_learning_path,
                               learner_concepts_by_chunk, path_detail,
                               path_summaries, path_title, paths_holding)
from tracl.model.questions import pick_questions, question_record
from tracl.model.rubrics import QuestionError, question_problems
from tracl.search import ChunkStoreUnavailable, LearningChunkStore
from tracl.search.pipeline import SearchPipeline
from tracl.util import iso

#: Question difficulty of a path created without one (the middle of 1-5).
DEFAULT_DIFFICULTY = 3

#: Times the provider is asked for a chunk's question when what it writes
#: breaks the rubric rules: once more, then the chunk is skipped.
QUESTION_ATTEMPTS = 2

#: A created path: its id, its concepts as the API shows them (`ticket_id`,
#: `concept`, `subject`, `question`, `prerequisites`, `reused`), in the
#: path's order, and the chunks left out (`chunk_id`, `reason`).
CreatedPath = namedtuple('CreatedPath', ['path_id', 'tickets', 'skipped'])


class UnknownChunks(ValueError):
    """Chunks asked for that are not in the learner's search results for
    the query."""

    def __init__(self, chunk_ids):
        super().__init__(', '.join(chunk_ids))
        self.chunk_ids = chunk_ids


class NothingToLearn(Exception):
    """The query found no relevant chunk to make a path of."""


class NoQuestionWritten(Exception):
    """Not one question could be written for the new concepts; nothing was
    written. `skipped` says why, chunk by chunk."""

    def __init__(self, skipped):
        super().__init__('%d chunks without a question' % len(skipped))
        self.skipped = skipped


class PathNotSaved(Exception):
    """The database failed while the path was being written; the write was
    rolled back, nothing was written."""


class PathChunksUnavailable(ChunkStoreUnavailable):
    """The chunk store could not be read while the path was being written
    (linking the learner's other concepts reads their chunks); the write
    was rolled back, nothing was written."""


class _PathNotFound(Exception):
    """Raised inside a cached read so that a missing path is not cached."""


class LearningPaths(Component):
    """Previews and creates learning paths, reads them back, and keeps the
    learner's active path."""

    question_concurrency = IntOption('learning', 'question_concurrency', 8,
        """Most questions written at the same time when a learning path is
        created, for a provider that takes several calls at once (a remote
        model). A provider computing in this process writes them one after
        another, whatever this says.""")

    # Public methods

    def preview(self, query, sub):
        """The chunks `query` finds for `sub` (the generate response
        without `query`), cached per learner and query. Raises
        `LLMUnavailable`, `EmbeddingUnavailable` or `ChunkStoreUnavailable`
        when a service the search needs cannot answer."""
        return SearchPipeline(self.env).search(query, sub)

    def create(self, sub, query, difficulty=None, chunk_ids=None):
        """Make a learning path for `sub` of the chunks `query` finds (only
        those among `chunk_ids` when given) and return a `CreatedPath`.

        Raises `UnknownChunks` when a chunk id is not in the search result,
        `NothingToLearn` when nothing relevant is left, `NoQuestionWritten`
        when no new concept got a question; the search's exceptions; and,
        with nothing written, `PathNotSaved` or `PathChunksUnavailable`
        when writing the path failed."""
        found = self._chosen(self.preview(query, sub)['chunks'], chunk_ids)
        existing = learner_concepts_by_chunk(
            self.env, sub, [c['chunk_id'] for c in found])
        chunks = [chunk_from_json(c) for c in found]
        fresh = [c for c in chunks if c['id'] not in existing]
        stored = pick_questions(self.env, [c['id'] for c in fresh], {
            c['id']: difficulty or c['difficulty_level'] for c in fresh})
        written, skipped = self._questions(
            [c for c in fresh if c['id'] not in stored], query, difficulty)
        author = self._author()
        questions = {chunk_id: (question, question.id, question.author)
                     for chunk_id, question in stored.items()}
        for chunk_id, question in written.items():
            # A provider that writes no rubric at all still gets its
            # question asked, kept in the ticket alone (nothing stored).
            questions[chunk_id] = (question, None,
                                   author if question.key_points else None)
        concepts = [NewConcept(chunk, hit['relevance'], hit['cosine'],
                               *questions.get(chunk['id'],
                                              (None, None, None)))
                    for chunk, hit in zip(chunks, found)
                    if chunk['id'] in existing or chunk['id'] in questions]
        if not concepts:
            raise NoQuestionWritten(skipped)
        path_id, created = self._write(sub, query, difficulty, concepts)
        LearningCache(self.env).bump_progress_version(sub)
        self.set_active_path(sub, path_id)
        return CreatedPath(path_id, self._tickets(sub, path_id, created),
                           skipped)

    def paths(self, sub):
        """`sub`'s paths, newest first, as the API shows them (`GET
        /learning-paths`), cached under the learner's progress
        version."""
        # Cached in the shape it had when the API cached it itself, so
        # that entries written before an upgrade still read the same.
        return LearningCache(self.env).learner_view(
            'learning-paths', sub, lambda: {
                'paths': [_summary_json(s)
                          for s in path_summaries(self.env, sub)]})['paths']

    def path(self, sub, path_id):
        """`sub`'s path `path_id` with its concepts as the API shows it
        (`GET /learning-paths/{path_id}`), cached under the
        learner's progress version; None when `sub` has no such path."""
        def read():
            detail = path_detail(self.env, sub, path_id)
            if not detail:
                raise _PathNotFound()
            return dict(_summary_json(detail['summary']),
                        concepts=detail['concepts'],
                        next_up=detail['next_up'])
        try:
            # Named for its shape: entries cached before concepts were
            # ordered and `next_up` existed are never read as this view.
            return LearningCache(self.env).learner_view(
                'learning-path-ordered', sub, read, path_id=path_id)
        except _PathNotFound:
            return None

    def next_concept(self, sub, ticket_id):
        """What `sub` studies after concept `ticket_id`: the next step of
        their active path when it holds the concept, else of their newest
        path holding it (`{ticket_id, concept, path_id}`), or None when
        nothing studiable is left there."""
        holding = paths_holding(self.env, sub, ticket_id)
        active = self.active_path(sub)
        if active in holding:
            holding.remove(active)
            holding.insert(0, active)
        for path_id in holding:
            path = self.path(sub, path_id)
            following = path and path['next_up']
            if following and following['ticket_id'] != ticket_id:
                return {'ticket_id': following['ticket_id'],
                        'concept': following['concept'],
                        'path_id': path_id}
        return None

    def open(self, sub, path_id):
        """`sub` opens their path `path_id`: as `path()`, and the path
        becomes their active path."""
        path = self.path(sub, path_id)
        if path is not None:
            self.set_active_path(sub, path_id)
        return path

    def active_path(self, sub):
        """The id of the path `sub` created or opened last, or None."""
        return LearnerProfiles(self.env).get(sub).get('active_path')

    def set_active_path(self, sub, path_id):
        LearnerProfiles(self.env).set_active_path(sub, path_id)

    # Internal methods

    def _chosen(self, found, chunk_ids):
        if chunk_ids is not None:
            known = {chunk['chunk_id'] for chunk in found}
            unknown = [c for c in chunk_ids if c not in known]
            if unknown:
                raise UnknownChunks(unknown)
            wanted = set(chunk_ids)
            found = [c for c in found if c['chunk_id'] in wanted]
        if not found:
            raise NothingToLearn()
        return found

    def _questions(self, chunks, query, difficulty):
        """Write a question per chunk, as many at once as the provider
        takes. Returns `({chunk_id: GeneratedQuestion}, skipped)`."""
        provider = LearningLLM(self.env).provider

        def ask(chunk):
            question = provider.generate_question(
                chunk['concept'], chunk['content'],
                difficulty or chunk['difficulty_level'], query)
            if question.key_points:
                problems = question_problems(
                    question_record(chunk['id'], question), chunk['content'])
                if problems:
                    raise QuestionError(_("its rubric breaks the rules: "
                                          "%(problems)s",
                                          problems='; '.join(problems)))
            return question

        def write(chunk):
            for attempt in range(QUESTION_ATTEMPTS):
                try:
                    return chunk['id'], ask(chunk), None
                except QuestionError as e:
                    # A model may write a sound rubric when asked again.
                    self.log.warning("Question for chunk %s refused "
                                     "(attempt %d): %s", chunk['id'],
                                     attempt + 1, e)
                    error = e
                except (LLMUnavailable, ValueError) as e:
                    self.log.warning("No question for chunk %s: %s",
                                     chunk['id'], e)
                    return chunk['id'], None, str(e) or type(e).__name__
            return chunk['id'], None, str(error)
        workers = min(provider.concurrent_calls(), self.question_concurrency,
                      len(chunks))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(write, chunks))
        else:
            results = [write(chunk) for chunk in chunks]
        questions = {cid: q for cid, q, _error in results if q is not None}
        skipped = [{'chunk_id': cid,
                    'reason': _("No question could be written: %(error)s",
                                error=error)}
                   for cid, q, error in results if q is None]
        return questions, skipped

    def _author(self):
        return question_author(LearningLLM(self.env).provider)

    def _write(self, sub, query, difficulty, concepts):
        store = LearningChunkStore(self.env).store
        try:
            # Linking the learner's other concepts reads their chunks from
            # the store, inside the transaction.
            return create_learning_path(
                self.env, sub, query, path_title(query_topic(query)),
                difficulty or DEFAULT_DIFFICULTY, concepts, store.get_chunks)
        except self.env.db_exc.DatabaseError as e:
            self.log.error("Creating a learning path failed, nothing was "
                           "written: %s", e)
            self._repair_trac_caches()
            raise PathNotSaved(str(e)) from e
        except ChunkStoreUnavailable as e:
            self.log.warning("Creating a learning path failed, nothing was "
                             "written: %s", e)
            self._repair_trac_caches()
            raise PathChunksUnavailable(str(e)) from e

    def _repair_trac_caches(self):
        """Trac refreshed its milestone and ticket-field caches inside the
        rolled-back transaction, so they hold milestones that were never
        written: make it read them again."""
        try:
            del MilestoneCache(self.env).milestones
            TicketSystem(self.env).reset_ticket_fields()
        except self.env.db_exc.DatabaseError as e:
            self.log.warning("Could not refresh Trac's caches: %s", e)

    def _tickets(self, sub, path_id, created):
        detail = path_detail(self.env, sub, path_id)
        prerequisites = {c['ticket_id']: c['prerequisites']
                         for c in detail['concepts']}
        return [{'ticket_id': c.ticket_id, 'concept': c.concept,
                 'subject': c.subject,
                 'question': c.question if c.question
                 else self._question_of(c.ticket_id),
                 'prerequisites': prerequisites.get(c.ticket_id, []),
                 'reused': c.reused} for c in created]

    def _question_of(self, ticket_id):
        """The question a reused concept was created with."""
        for value, in self.env.db_query(
                "SELECT value FROM ticket_custom WHERE ticket=%s AND "
                "name='question'", (ticket_id,)):
            return value
        return None


def question_author(provider):
    """Who writes the questions `provider` writes: its class and model,
    as `describe()` names them, for the question store."""
    name = type(provider).__name__
    if name.endswith('LLMProvider'):
        name = name[:-len('LLMProvider')]
    # OpenAICompatible -> open_ai_compatible, Anthropic -> anthropic
    name = re.sub(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])',
                  '_', name).lower()
    model = getattr(provider, 'model', None)
    return ('%s:%s' % (name, model) if isinstance(model, str) and model
            else name)[:200]


def _summary_json(summary):
    return {'path_id': summary.path_id, 'title': summary.title,
            'query': summary.query, 'created_at': iso(summary.created),
            'total': summary.total, 'mastered': summary.mastered,
            'studying': summary.studying,
            'completion': round(summary.completion, 1)}
