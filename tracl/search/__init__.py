"""Finding the chunks a learner needs: the chunk stores (`IChunkStore`),
relevance, and the search pipeline behind `learning-paths/generate`."""

from trac.config import ExtensionOption
from trac.core import Component

from tracl.api import IChunkStore


class ChunkStoreUnavailable(Exception):
    """The chunk store cannot answer now (the API answers 503)."""


class LearningChunkStore(Component):
    """The chunk store TracLearn uses, chosen in trac.ini."""

    store = ExtensionOption('learning', 'chunk_store', IChunkStore,
        'LocalChunkStore',
        """Name of the component holding the academic chunks:
        `LocalChunkStore` (chunks and embeddings in the Trac database,
        searched in memory) or `Neo4jChunkStore` (a Neo4j 5 vector index,
        configured in `[neo4j]`, read-only at run time).""")
