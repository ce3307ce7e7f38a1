"""The starter corpus in a test environment's chunk store, embedded once
per test process (embedding 156 chunks takes seconds)."""

from tracl.corpus import load_starter_corpus, validate_chunks
from tracl.embedding import LearningEmbedder
from tracl.search import LearningChunkStore
from tracl.search.relevance import chunk_text

_embedded = {}


def starter_chunks_and_vectors(env):
    """`(chunks, vectors, model_name)` of the starter corpus, embedded with
    `env`'s embedder. (A second in-memory `EnvironmentStub` would reset the
    database of the first: use the caller's.)"""
    if 'value' not in _embedded:
        embedder = LearningEmbedder(env).embedder
        chunks = validate_chunks(load_starter_corpus()).valid
        vectors = embedder.embed([chunk_text(c) for c in chunks])
        _embedded['value'] = (chunks, vectors, embedder.model_name())
    return _embedded['value']


def fill_store(env):
    """Put the starter corpus into `env`'s configured chunk store."""
    chunks, vectors, model = starter_chunks_and_vectors(env)
    LearningChunkStore(env).store.upsert(chunks, vectors, model)
    return chunks
