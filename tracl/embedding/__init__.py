"""Sentence embeddings (`IEmbedder`): the local MiniLM model, the embedded
default, and an HTTP embeddings service for production indexes."""

from trac.config import ExtensionOption
from trac.core import Component

from tracl.api import IEmbedder


def text_list(texts):
    """`texts` as a list of str; a single str or a non-text is a caller's
    mistake (TypeError), not something to embed."""
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts, not one str")
    texts = list(texts)
    for text in texts:
        if not isinstance(text, str):
            raise TypeError("embed() takes texts (str), not %s"
                            % type(text).__name__)
    return texts


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
