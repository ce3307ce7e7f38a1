"""The search behind `learning-paths/generate`: five academic
sentences from the LLM provider, embedded, averaged and normalised; the
nearest chunks in the chunk store; those clearly relevant (calibrated
relevance at least the threshold), at most 20; cached an hour per learner
and normalised query (`search:{hash}:{sub}`). The query's vector is cached
an hour too, for every learner (`query_vector:{hash}:{source}`): a query
another learner asked costs no LLM call and no embedding."""

import base64
from collections import namedtuple

import numpy as np

from trac.config import FloatOption, IntOption
from trac.core import Component
from trac.util.translation import _

from tracl.cache import (SEARCH_TTL, LearningCache, library_subjects_key,
                         query_vector_key, search_key)
from tracl.embedding import LearningEmbedder
from tracl.llm import LearningLLM
from tracl.model.chunks import chunk_json, missing_fields
from tracl.search import LearningChunkStore
from tracl.search import ChunkStoreUnavailable
from tracl.search.foundations import choose_foundations
from tracl.search.relevance import (query_vector, ranking_scores,
                                    relevances)


#: The version of a cached generate result's shape: a result cached by an
#: earlier version (before foundations, or with another message) is
#: searched again rather than served.
RESULT_SHAPE = 2

#: Most subjects named when a search finds nothing; the rest are counted.
MAX_NAMED_SUBJECTS = 12

#: Seconds the library's subjects are cached for that message.
SUBJECTS_TTL = 300

#: A candidate of a search: the chunk, its cosine to the search vector,
#: its lexical match and its calibrated relevance.
Hit = namedtuple('Hit', 'chunk cosine lexical relevance')

#: A search's candidates, ranked, with the store and vector it used.
Ranking = namedtuple('Ranking', 'store vector hits')


class SearchPipeline(Component):
    """Finds the chunks a learner's query asks for."""

    max_chunks = IntOption('learning', 'search_max_chunks', 20,
        """Most chunks a search returns (and a learning path gets).""")

    relevance_threshold = FloatOption('learning', 'relevance_threshold',
        0.65,
        """Least calibrated relevance (0..1) a chunk needs to be offered.
        Relevance is a monotone map of the embedding cosine, fitted per
        embedding model on labelled queries, so 0.65 means "clearly
        relevant" whichever model and store answered; it is a floor
        against junk, results are ranked by score.""")

    candidates = IntOption('learning', 'search_candidates', 60,
        """How many chunks each retrieval (by meaning, and by words)
        returns before the two are fused and invalid ones and those below
        the threshold are dropped.""")

    max_foundations = IntOption('learning', 'max_foundations', 10,
        """Most foundations a search adds: chunks that the chunks found
        need first (their prerequisites, followed transitively) and that
        the search did not find. Over the cap, those most of the found
        chunks need are kept, then those nearest the query. 0 adds
        none.""")

    def search(self, query, sub):
        """The generate response for `query` (without `query`/`cached`
        when fresh): `{'chunks': [...], 'message'?}`. The result is
        cached per learner and normalised query, and a cached result is
        served without contacting any service, so it still answers while
        the chunk store or the language model is down. Raises
        `LLMUnavailable`, `EmbeddingUnavailable` or
        `ChunkStoreUnavailable` when a service cannot answer."""
        cache = LearningCache(self.env)
        key = search_key(query, sub)
        cached = cache.get(key)
        if isinstance(cached, dict) and \
                cached.get('shape') == RESULT_SHAPE:
            return dict(_without_shape(cached), cached=True)
        result = self.run(query)
        cache.set(key, dict(result, shape=RESULT_SHAPE), SEARCH_TTL)
        return dict(result, cached=False)

    def run(self, query):
        """Search without the cache."""
        ranking = self.rank(query)
        # The ranking chooses which chunks are offered; they are shown by
        # relevance (the easier first on a tie).
        found = sorted([hit for hit in ranking.hits
                        if hit.relevance >= self.relevance_threshold][
            :self.max_chunks], key=lambda hit: (
                -hit.relevance, hit.chunk['difficulty_level'],
                hit.chunk['id']))
        result = {'chunks': [
            chunk_json(hit.chunk, hit.cosine, hit.relevance, hit.lexical)
            for hit in found]}
        if found:
            result['chunks'].extend(self._foundations(
                ranking.store, ranking.vector, [hit.chunk for hit in found]))
        else:
            result['message'] = self._nothing_found(ranking.store)
        return result

    def rank(self, query):
        """Every candidate of both retrievals for `query`, best first by
        `ranking_scores`, before the threshold and the cut: a
        `Ranking`."""
        store = LearningChunkStore(self.env).store
        # Before the language model writes sentences that could not be
        # searched.
        store.check_available()
        embedder = LearningEmbedder(self.env).embedder
        vector = self.search_vector(query, embedder)
        wanted = max(self.candidates, self.max_chunks)
        dense = [(chunk, cosine) for chunk, cosine in
                 store.search(vector, wanted) if self._valid(chunk)]
        lexical = dict(store.lexical_search(query, wanted))
        chunks = {chunk['id']: chunk for chunk, _cosine in dense}
        cosines = {chunk['id']: cosine for chunk, cosine in dense}
        # A chunk only the words found: its meaning is measured too.
        only_lexical = [i for i in lexical if i not in chunks]
        if only_lexical:
            cosines.update(store.similarities(vector, only_lexical))
            chunks.update((i, c) for i, c in
                          store.get_chunks(only_lexical).items()
                          if i in cosines and self._valid(c))
        ids = list(chunks)
        model = embedder.model_name()
        found = [cosines[i] for i in ids]
        words = [lexical.get(i, 0.0) for i in ids]
        scores = relevances(found, model, words) if ids else []
        ranks = ranking_scores(found, words, [chunks[i]['subject']
                                              for i in ids], model) \
            if ids else []
        # Best first; on a tie, the easier concept, then the id.
        order = sorted(range(len(ids)), key=lambda k: (
            -ranks[k], chunks[ids[k]]['difficulty_level'], ids[k]))
        return Ranking(store, vector, [
            Hit(chunks[ids[k]], cosines[ids[k]], words[k], float(scores[k]))
            for k in order])

    def search_vector(self, query, embedder):
        """The unit vector searched for `query`: the average of the
        embeddings of the provider's five academic sentences with the
        query's own embedding (`query_vector`), from the cache when this
        query was asked within the hour."""
        provider = LearningLLM(self.env).provider
        cache = LearningCache(self.env)
        # Vectors made before the query counted on its own are another
        # method: the key names it.
        key = query_vector_key(query, provider.describe(),
                               '%s/%d+query' % (embedder.model_name(),
                                                embedder.dimension()))
        vector = _decode_vector(cache.get(key), embedder.dimension())
        if vector is None:
            sentences = list(provider.academic_sentences(query))
            embedded = embedder.embed(sentences + [query])
            vector = query_vector(embedded[:-1], embedded[-1])
            cache.set(key, _encode_vector(vector), SEARCH_TTL)
        return vector

    # Internal methods

    def _foundations(self, store, vector, found):
        """The chunks `found` need first that the search did not find, as
        the generate response lists them: without a relevance of their
        own, with the names of the found concepts that need them."""
        cap = max(0, self.max_foundations)
        if not cap:
            return []
        closure = store.prerequisite_closure([c['id'] for c in found])
        if not closure:
            return []
        cosines = store.similarities(vector, list(closure))
        ranked = choose_foundations(closure, cosines, len(closure))
        names = {c['id']: c['concept'] for c in found}
        foundations = []
        # A foundation gone since the load, or unfit for a concept, leaves
        # its place to the next one.
        for start in range(0, len(ranked), cap):
            chunks = store.get_chunks(ranked[start:start + cap])
            for chunk_id in ranked[start:start + cap]:
                chunk = chunks.get(chunk_id)
                if chunk is not None and self._valid(chunk):
                    foundations.append(chunk_json(
                        chunk, cosines.get(chunk_id, 0.0), None,
                        foundation_for=[names[i]
                                        for i in closure[chunk_id]]))
                if len(foundations) == cap:
                    return foundations
        return foundations

    def _nothing_found(self, store):
        """What a learner reads when nothing is relevant: that the library
        has nothing on it, and what it does have."""
        subjects = self._subjects(store)
        if not subjects:
            return _("The library has nothing on this yet.")
        named = subjects[:MAX_NAMED_SUBJECTS]
        if len(subjects) > len(named):
            named.append(_("%(count)d more subjects",
                           count=len(subjects) - len(named)))
        return _("The library has nothing on this. It covers: "
                 "%(subjects)s. Try a question about one of them.",
                 subjects=', '.join(named))

    def _subjects(self, store):
        """The subjects the library holds, largest first, cached a few
        minutes (counting them reads every chunk)."""
        cache = LearningCache(self.env)
        key = library_subjects_key(store.describe())
        subjects = cache.get(key)
        if not isinstance(subjects, list):
            try:
                counts = store.stats().get('subjects') or {}
            except ChunkStoreUnavailable:
                return []
            subjects = sorted(counts, key=lambda s: (-counts[s], s))
            cache.set(key, subjects, SUBJECTS_TTL)
        return list(subjects)

    def _valid(self, chunk):
        # A chunk without these cannot become a concept.
        missing = missing_fields(chunk)
        if missing:
            self.log.warning("Skipping chunk %r without %s",
                             chunk.get('id'), ', '.join(missing))
            return False
        return True


def _without_shape(result):
    return {name: value for name, value in result.items() if name != 'shape'}


def _encode_vector(vector):
    """A vector as the cache keeps it: little-endian float32, base64."""
    return base64.b64encode(
        np.asarray(vector, dtype='<f4').tobytes()).decode('ascii')


def _decode_vector(text, dimension):
    """The vector of `_encode_vector(...)`, or `None` for anything else
    (a miss, an entry of another shape)."""
    if not isinstance(text, str):
        return None
    try:
        vector = np.frombuffer(base64.b64decode(text, validate=True),
                               dtype='<f4')
    except ValueError:
        return None
    if vector.shape != (dimension,) or not np.all(np.isfinite(vector)):
        return None
    return vector.astype(np.float32)
