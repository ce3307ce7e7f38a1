"""The search behind `learning-paths/generate` (FR-LP-1): five academic
sentences from the LLM provider, embedded, averaged and normalised; the
nearest chunks in the chunk store; those clearly relevant (calibrated
relevance at least the threshold), at most 20; cached an hour per learner
and normalised query (`search:{hash}:{sub}`). The query's vector is cached
an hour too, for every learner (`query_vector:{hash}:{source}`): a query
another learner asked costs no LLM call and no embedding."""

import base64

import numpy as np

from trac.config import FloatOption, IntOption
from trac.core import Component

from tracl.cache import (SEARCH_TTL, LearningCache, query_vector_key,
                         search_key)
from tracl.embedding import LearningEmbedder
from tracl.llm import LearningLLM
from tracl.search import LearningChunkStore
from tracl.search.relevance import query_vector, relevances

#: Fields a chunk must have to become a concept (FR-LP-2.5, spec 7.2).
REQUIRED_CHUNK_FIELDS = ('id', 'content', 'concept', 'subject')


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
        """How many nearest chunks the store returns before invalid ones
        and those below the threshold are dropped.""")

    def search(self, query, sub):
        """The generate response for `query` (without `query`/`cached`
        when fresh): `{'chunks': [...], 'message'?}`. The result is
        cached per learner and normalised query, and a cached result is
        served without contacting any service, so it still answers while
        the chunk store or the language model is down (spec 8.2). Raises
        `LLMUnavailable`, `EmbeddingUnavailable` or
        `ChunkStoreUnavailable` when a service cannot answer."""
        cache = LearningCache(self.env)
        key = search_key(query, sub)
        cached = cache.get(key)
        if cached is not None:
            return dict(cached, cached=True)
        result = self.run(query)
        cache.set(key, result, SEARCH_TTL)
        return dict(result, cached=False)

    def run(self, query):
        """Search without the cache."""
        store = LearningChunkStore(self.env).store
        # A store behind a circuit breaker (Neo4j) refuses at once while
        # the circuit is open: before the language model writes sentences
        # that could not be searched.
        check_circuit = getattr(store, 'check_circuit', None)
        if check_circuit is not None:
            check_circuit()
        embedder = LearningEmbedder(self.env).embedder
        vector = self.search_vector(query, embedder)
        hits = store.search(vector, max(self.candidates, self.max_chunks))
        hits = [(chunk, cosine) for chunk, cosine in hits
                if self._valid(chunk)]
        scores = relevances([cosine for _chunk, cosine in hits],
                            embedder.model_name()) if hits else []
        chunks = []
        for (chunk, cosine), relevance in zip(hits, scores):
            if relevance < self.relevance_threshold:
                continue
            chunks.append(self._chunk_json(chunk, cosine, relevance))
            if len(chunks) >= self.max_chunks:
                break
        result = {'chunks': chunks}
        if not chunks:
            result['message'] = ("Nothing in the library is clearly "
                                 "relevant to this query: try naming the "
                                 "subject or a concept.")
        return result

    def search_vector(self, query, embedder):
        """The unit vector searched for `query`: the average of the
        embeddings of the provider's five academic sentences, from the
        cache when this query was asked within the hour."""
        provider = LearningLLM(self.env).provider
        cache = LearningCache(self.env)
        key = query_vector_key(query, provider.describe(),
                               '%s/%d' % (embedder.model_name(),
                                          embedder.dimension()))
        vector = _decode_vector(cache.get(key), embedder.dimension())
        if vector is None:
            sentences = provider.academic_sentences(query)
            vector = query_vector(embedder.embed(list(sentences)))
            cache.set(key, _encode_vector(vector), SEARCH_TTL)
        return vector

    # Internal methods

    def _valid(self, chunk):
        missing = [f for f in REQUIRED_CHUNK_FIELDS
                   if not isinstance(chunk.get(f), str) or
                   not chunk.get(f).strip()]
        if missing:
            self.log.warning("Skipping chunk %r without %s",
                             chunk.get('id'), ', '.join(missing))
            return False
        return True

    def _chunk_json(self, chunk, cosine, relevance):
        try:
            difficulty = min(5, max(1, int(chunk.get('difficulty_level')
                                           or 3)))
        except (TypeError, ValueError):
            difficulty = 3
        return {
            'chunk_id': chunk['id'], 'concept': chunk['concept'],
            'subject': chunk['subject'], 'content': chunk['content'],
            'relevance': round(float(relevance), 4),
            'cosine': round(float(cosine), 4),
            'has_prerequisite': chunk.get('has_prerequisite'),
            'prerequisite_for': chunk.get('prerequisite_for'),
            'difficulty_level': difficulty,
            'source': chunk.get('source') or '',
        }


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
