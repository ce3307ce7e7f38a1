"""Interfaces of the services TracLearn talks to.

Each outside service sits behind one small interface with two components: the
production backend and an embedded default that needs no network. The active
one is chosen in trac.ini by an `ExtensionOption` naming its class, as Trac
does for `[trac] permission_store`.
"""

from trac.core import Interface


class ICache(Interface):
    """A key/value cache with per-entry time to live.

    Values are JSON-serialisable objects; every backend stores them as JSON,
    so a value read back is a fresh copy whichever backend answered. A cache
    never raises into a request: an unreachable backend behaves as a miss.
    """

    def get(key):
        """Return the value stored under `key`, or `None` on a miss."""

    def get_many(keys):
        """Return a `dict` of the keys found among `keys`."""

    def set(key, value, ttl):
        """Store `value` under `key` for `ttl` seconds (`None`: no expiry).

        Return `True` when stored, `False` when the backend is unavailable.
        """

    def delete(*keys):
        """Remove `keys`; return how many existed."""

    def incr(key, ttl=None):
        """Atomically add one to the integer under `key` (missing: 0).

        Return the new value, or `None` when the backend is unavailable.
        """

    def ping():
        """Return `None` when the backend answers, else a sentence saying
        what is wrong (for health checks and `learning doctor`)."""

    def describe():
        """Return a short description of the backend, for admins."""


class IApiEndpointProvider(Interface):
    """Contributes endpoints to the JSON API under `/api/v1`.

    The API frame (`tracl.web.api`) does what every endpoint needs:
    routing, authentication, CSRF, CORS, rate limiting, body parsing and
    JSON errors; a provider only answers.
    """

    def get_api_endpoints():
        """Yield `tracl.web.api.Endpoint`s."""


class IHealthContributor(Interface):
    """Adds the state of an outside service to `GET /api/v1/health` and
    `learning doctor`."""

    def get_health_checks():
        """Yield `(name, check)` pairs; `check()` returns `None` when the
        service is fine, else a sentence saying what is wrong."""


class IEmbedder(Interface):
    """Turns text into sentence embeddings: L2-normalised float32 vectors
    of a fixed dimension. The chunk store and the embedder must agree on
    `model_name` and `dimension`."""

    def embed(texts):
        """Return a `numpy.ndarray` of shape `(len(texts), dimension)`,
        dtype float32, each row of unit length. Raises
        `tracl.embedding.EmbeddingUnavailable` when the model or service
        cannot answer."""

    def model_name():
        """The name of the model, stored beside every vector."""

    def dimension():
        """The vectors' dimension."""

    def warm_up():
        """Make the first `embed` quick: load and run, in this process,
        what embedding needs. Returns a sentence saying what was made
        ready, or `None` when nothing needs it (a service elsewhere is
        not called: its requests may be billed). Raises
        `tracl.embedding.EmbeddingUnavailable` when it cannot be made
        ready."""

    def describe():
        """Where the vectors are made, for admins (no credentials)."""


class ILLMProvider(Interface):
    """Writes the text a learning path needs and grades answers. Every
    method raises `tracl.llm.LLMUnavailable` when the provider cannot
    answer (the API then answers 503); learner text is data, never
    instructions."""

    def academic_sentences(query):
        """Five academic sentences about what `query` asks to learn (the
        search uses their averaged embedding), as a list of 5 str."""

    def generate_question(concept, content, difficulty, query):
        """A `tracl.llm.GeneratedQuestion` for a concept from its chunk
        `content`, at `difficulty` 1-5, with the learner's `query` as
        context: the question, its expected answer and its rubric, whose
        key points name the sentences of `content` they rest on
        (`tracl.model.rubrics.sentences` numbers them). The question asks
        only what its key points answer."""

    def evaluate(question, expected_answer, answer, context, rubric=None):
        """A `tracl.llm.Evaluation` of the learner's `answer`: score in
        [0, 1] (an estimate of a teacher's mark, mastery from
        `[learning] mastery_threshold`), feedback in whole sentences, the
        evidence per key point, the errors found, and what it takes to
        audit and regrade it. `rubric` is the question's
        `tracl.model.rubrics.Rubric`; without one (a question written
        before rubrics), the provider grades against key points it derives
        from `expected_answer`."""

    def concurrent_calls():
        """How many calls the provider takes at the same time (an int, at
        least 1): 1 for one that computes in this process, where calls at
        once only contend for the interpreter; more for one that waits on
        a remote service. Creating a path writes its questions this many
        at a time, at most `[learning] question_concurrency`."""

    def describe():
        """A short description for admins and health checks."""


class IChunkStore(Interface):
    """Where the academic chunks and their embeddings live, searched by
    vector similarity.

    A chunk is a dict with `id`, `subject`, `concept`, `content`,
    `has_prerequisite` and `prerequisite_for` (None, a name or a list of
    names), `difficulty_level` (1-5) and `source`: the fields and rules of
    `tracl.model.chunks`, whose `read_chunk` makes it. Similarities are raw
    cosines in [-1, 1] whichever store answers (Neo4j's (1 + cos) / 2 is
    converted back), so one relevance calibration serves every store.
    """

    def check_available():
        """Raise `tracl.search.ChunkStoreUnavailable` at once when the
        store is known to be down (an open circuit), without contacting
        it; else return. A search calls it first, so that an outage
        refuses the search before the language model is asked."""

    def search(vector, limit):
        """The `limit` chunks most similar to unit `vector`, best first, as
        `(chunk, cosine)` pairs. Raises `tracl.search.ChunkStoreUnavailable`
        when the store cannot answer, and `ValueError` when `vector` has
        another dimension than the stored embeddings."""

    def get_chunks(chunk_ids):
        """A dict of the chunks among `chunk_ids` that exist, by id."""

    def lexical_search(text, limit):
        """The `limit` chunks whose words best match the words of `text`
        (BM25 over subject, concept and content), best first, as
        `(chunk_id, lexical)` pairs. `lexical` is in [0, 1]: the chunk's
        BM25 score over the most the query's words could score together
        (each word's idf times its saturated weight), so 1 means every
        word of the query, each well represented. `[]` when no word of
        the query is in any chunk. Raises `ChunkStoreUnavailable` as
        `search` does."""

    def similarities(vector, chunk_ids):
        """`{chunk_id: cosine}` of unit `vector` with each stored chunk
        among `chunk_ids` (raw cosines in [-1, 1], as `search` gives
        them); ids without a stored embedding are left out."""

    def prerequisite_closure(chunk_ids):
        """Every chunk that the chunks `chunk_ids` need first, followed
        transitively through the stored prerequisite metadata
        (`has_prerequisite` of a chunk, and `prerequisite_for` of
        another, naming a concept of the same subject), and not itself
        among `chunk_ids`: `{chunk_id: [ids among chunk_ids that need
        it, directly or through other prerequisites]}`. A cycle in the
        metadata ends the walk where it closes. The in-process store
        follows chains of any length; Neo4j's traversal stops at
        `PREREQUISITE_DEPTH` links (24), twice the starter corpus's
        longest chain."""

    def upsert(chunks, embeddings, model_name):
        """Insert or update `chunks` with their `embeddings` (a float32
        array, one unit row per chunk) made by `model_name`. Returns
        `(new, updated)` counts. A read-only store raises
        `NotImplementedError`."""

    def iter_chunks():
        """Every chunk, in id order (for export and reindex)."""

    def stats():
        """A dict with at least `chunks`, `subjects` (name -> count),
        `embedding_model` and `dimension`."""

    def describe():
        """A short description for admins and health checks."""
