"""The search behind `learning-paths/generate`: five academic
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
from tracl.model.chunks import chunk_json, missing_fields
from tracl.search import LearningChunkStore
from tracl.search.relevance import query_vector, relevances


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
        the chunk store or the language model is down. Raises
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
        # Before the language model writes sentences that could not be
        # searched.
        store.check_available()
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
            chunks.append(chunk_json(chunk, cosine, relevance))
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
        # A chunk without these cannot become a concept.
        missing = missing_fields(chunk)
        if missing:
            self.log.warning("Skipping chunk %r without %s",
                             chunk.get('id'), ', '.join(missing))
            return False
        return True


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
