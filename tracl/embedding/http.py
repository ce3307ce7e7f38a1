"""An embeddings service over HTTP, for production indexes whose model runs
elsewhere (a 1536-dimension index of a hosted model, for instance).

The service has the OpenAI-compatible shape: `POST {url}` with
`{"model": M, "input": [texts]}` answers
`{"data": [{"index": i, "embedding": [...]}, ...]}`. Texts go in batches of
`[embeddings] batch_size`; each answer is checked (one vector per text, of
the configured dimension, finite), put back in the order of `index` and
L2-normalised to float32.

The API key comes from the `EMBEDDINGS_API_KEY` environment variable only
and travels as a Bearer token; it appears in no log line and no message.
Timeouts, network errors, 429 and 5xx answers are retried twice with
exponential backoff (or the service's `Retry-After`, when short enough);
anything else, such as a refused key, fails at once.
"""

import os
import random
import threading
import time

import httpx
import numpy as np

from trac.config import FloatOption, IntOption, Option
from trac.core import Component, implements

from tracl.api import IEmbedder, IHealthContributor
from tracl.embedding import EmbeddingUnavailable, text_list
from tracl.util import without_credentials

#: Environment variable holding the service's API key (never in trac.ini).
API_KEY_VARIABLE = 'EMBEDDINGS_API_KEY'

#: Retries after a timeout, a network error, a 429 or a 5xx answer.
RETRIES = 2

#: Seconds before the first retry; each further retry waits twice as long.
BACKOFF_SECONDS = 0.5

#: Longest wait before a retry: a request of a learner is waiting, so a
#: service asking for more (`Retry-After`) is not retried.
MAX_WAIT_SECONDS = 5.0

#: Characters of an unexpected answer quoted in messages.
QUOTED_CHARS = 200


class HttpEmbedder(Component):
    """Embeddings from an HTTP service with the OpenAI-compatible shape
    (OpenAI, Azure OpenAI, vLLM, Text Embeddings Inference, ...)."""

    implements(IEmbedder, IHealthContributor)

    url = Option('embeddings', 'url', '',
        """Address the texts are POSTed to, such as
        `https://api.openai.com/v1/embeddings`. The API key comes from the
        `EMBEDDINGS_API_KEY` environment variable, never from here.""")

    model = Option('embeddings', 'model', '',
        """Model the service embeds with, sent with every request and
        stored beside every vector, such as `text-embedding-3-small`.""")

    vector_dimension = IntOption('embeddings', 'dimension', 0,
        """Dimension of the model's vectors (1536 for
        `text-embedding-3-small`). Required, and it must be the chunk
        index's: an answer of another dimension is refused.""")

    timeout = FloatOption('embeddings', 'timeout', 10.0,
        """Seconds to wait for the service to answer one request; a request
        that times out is tried twice more.""")

    batch_size = IntOption('embeddings', 'batch_size', 64,
        """Most texts sent to the service in one request.""")

    def __init__(self):
        self._client = None
        self._client_lock = threading.Lock()

    # IEmbedder methods

    def embed(self, texts):
        texts = text_list(texts)
        dimension = self.dimension()
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32)
        self._check_configured()
        size = max(1, self.batch_size)
        return np.vstack([self._embed_batch(texts[start:start + size],
                                            dimension)
                          for start in range(0, len(texts), size)])

    def model_name(self):
        if not self.model:
            raise EmbeddingUnavailable(
                "The embeddings service's model is not configured: set "
                "`[embeddings] model` in trac.ini (the model the chunk "
                "index was built with).")
        return self.model

    def dimension(self):
        if self.vector_dimension <= 0:
            raise EmbeddingUnavailable(
                "The dimension of the embeddings service's vectors is not "
                "configured: set `[embeddings] dimension` in trac.ini to the "
                "chunk index's (1536 for text-embedding-3-small).")
        return self.vector_dimension

    def warm_up(self):
        # Nothing to load here, and a request may be billed.
        return None

    def describe(self):
        return 'at %s' % self.safe_url if self.url else 'at no address'

    # IHealthContributor methods

    def get_health_checks(self):
        if self.config.get('learning', 'embedder') == \
                self.__class__.__name__:
            yield 'embedder', self.health

    # Other methods

    def health(self):
        """`None` when the service's address, model and dimension are
        configured, else a sentence saying what to set. Makes no request
        (requests may be billed)."""
        try:
            self._check_configured()
            self.dimension()
        except EmbeddingUnavailable as e:
            return str(e)
        return None

    @property
    def safe_url(self):
        """The configured URL without credentials or query, for messages."""
        return without_credentials(self.url)

    # Internal methods

    def _check_configured(self):
        if not self.url:
            raise EmbeddingUnavailable(
                "The embeddings service is not configured: set "
                "`[embeddings] url` in trac.ini, or choose `[learning] "
                "embedder = LocalEmbedder`.")
        self.model_name()

    def _http(self):
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = httpx.Client(
                        timeout=httpx.Timeout(self.timeout),
                        follow_redirects=False)
        return self._client

    def _headers(self):
        headers = {'Accept': 'application/json'}
        key = os.environ.get(API_KEY_VARIABLE)
        if key:
            headers['Authorization'] = 'Bearer ' + key
        return headers

    def _embed_batch(self, texts, dimension):
        response = self._post({'model': self.model, 'input': texts})
        return self._vectors(response, len(texts), dimension)

    def _post(self, payload):
        """The service's successful answer to `payload`, after retrying
        what may pass; else `EmbeddingUnavailable`."""
        waited = 0.0
        for attempt in range(RETRIES + 1):
            retry_after = None
            try:
                response = self._http().post(self.url, json=payload,
                                             headers=self._headers())
            except httpx.TimeoutException:
                problem = 'did not answer within %g s' % self.timeout
            except httpx.TransportError as e:
                problem = 'could not be reached (%s)' % type(e).__name__
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status in (401, 403):
                    raise EmbeddingUnavailable(
                        "The embeddings service at %s refused the API key "
                        "(HTTP %d): set `%s` in the server's environment to a "
                        "valid key." % (self.safe_url, status,
                                        API_KEY_VARIABLE))
                if status != 429 and status < 500:
                    raise EmbeddingUnavailable(
                        "The embeddings service at %s refused the request "
                        "(HTTP %d: %s): check `[embeddings] url` and "
                        "`[embeddings] model`."
                        % (self.safe_url, status, _quote(response.text)))
                problem = 'answered HTTP %d' % status
                retry_after = _retry_after(response)
            if attempt == RETRIES:
                break
            delay = retry_after if retry_after is not None else \
                BACKOFF_SECONDS * 2 ** attempt * random.uniform(1.0, 1.25)
            if delay > MAX_WAIT_SECONDS:
                raise EmbeddingUnavailable(
                    "The embeddings service at %s %s and asks to wait %g s: "
                    "embeddings are unavailable until then."
                    % (self.safe_url, problem, delay))
            self.log.warning("The embeddings service at %s %s; retrying in "
                             "%.1f s (attempt %d of %d)", self.safe_url,
                             problem, delay, attempt + 2, RETRIES + 1)
            time.sleep(delay)
            waited += delay
        raise EmbeddingUnavailable(
            "The embeddings service at %s %s, %d times over %.1f s: "
            "embeddings are unavailable; check the service's health."
            % (self.safe_url, problem, RETRIES + 1, waited))

    def _vectors(self, response, count, dimension):
        """The unit float32 vectors of `response`, in the order of the
        texts, checked to be `count` vectors of `dimension`."""
        try:
            body = response.json()
        except ValueError:
            raise self._bad_answer('something that is not JSON (%s)'
                                   % _quote(response.text))
        data = body.get('data') if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._bad_answer('JSON without a `data` list (%s)'
                                   % _quote(response.text))
        if len(data) != count:
            raise self._bad_answer('%d embeddings for %d texts'
                                   % (len(data), count))
        vectors = [None] * count
        for position, item in enumerate(data):
            if not isinstance(item, dict):
                raise self._bad_answer('an item that is not an object')
            index = item.get('index', position)
            if not isinstance(index, int) or not 0 <= index < count or \
                    vectors[index] is not None:
                raise self._bad_answer('an embedding with index %r for %d '
                                       'texts' % (index, count))
            embedding = item.get('embedding')
            if not isinstance(embedding, list):
                raise self._bad_answer('an item without an `embedding` list')
            if len(embedding) != dimension:
                raise EmbeddingUnavailable(
                    "The embeddings service at %s answered vectors of %d "
                    "dimensions, but `[embeddings] dimension` is %d, the "
                    "chunk index's: set `[embeddings] model` to the model "
                    "the index was built with, or rebuild the index for "
                    "this model." % (self.safe_url, len(embedding),
                                     dimension))
            vectors[index] = embedding
        try:
            array = np.asarray(vectors, dtype=np.float64)
        except (TypeError, ValueError):
            raise self._bad_answer('an embedding with values that are not '
                                   'numbers')
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        if not np.isfinite(norms).all() or not norms.all():
            raise self._bad_answer('an embedding that is zero or not finite')
        return (array / norms).astype(np.float32)

    def _bad_answer(self, what):
        return EmbeddingUnavailable(
            "The embeddings service at %s answered %s: is `[embeddings] url` "
            "an OpenAI-compatible embeddings endpoint?" % (self.safe_url,
                                                           what))


def _retry_after(response):
    """The seconds of a `Retry-After: N` header, or `None`."""
    try:
        return max(0.0, float(response.headers.get('Retry-After', '')))
    except ValueError:
        return None


def _quote(text):
    text = ' '.join((text or '').split())
    if len(text) > QUOTED_CHARS:
        text = text[:QUOTED_CHARS] + '...'
    return repr(text)
