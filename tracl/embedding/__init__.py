"""Sentence embeddings (`IEmbedder`): the local MiniLM model, the embedded
default, and an HTTP embeddings service for production indexes."""

from trac.config import ExtensionOption
from trac.core import Component

from tracl.api import IEmbedder


class EmbeddingUnavailable(Exception):
    """The embedding model or service cannot answer now."""


class LearningEmbedder(Component):
    """The embedder TracLearn uses, chosen in trac.ini."""

    embedder = ExtensionOption('learning', 'embedder', IEmbedder,
        'LocalEmbedder',
        """Name of the component that embeds text: `LocalEmbedder`
        (all-MiniLM-L6-v2 on this machine, 384 dimensions) or
        `HttpEmbedder` (an embeddings service configured in
        `[embeddings]`). It must match the chunk store's vectors.""")
