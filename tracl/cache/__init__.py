"""The cache: its keys and lifetimes and the component the rest of
TracLearn calls.

`LearningCache` delegates to the backend named by `[learning] cache`
(`MemoryCache`, the embedded default, or `RedisCache`). A cache is an
accelerator only: a miss, or a backend that is down, makes a request slower,
never wrong and never failed. Components implementing
`ICacheLookupListener` are told of every lookup, hit or miss (the
production server counts them for its metrics).
"""

import hashlib
import json
import unicodedata

from trac.config import ExtensionOption
from trac.core import Component, ExtensionPoint, Interface

from tracl.api import ICache

# Lifetimes, in seconds: searches and sessions change rarely; progress and
# API answers are also retired by the progress version, the TTL only bounds
# what an outage of invalidation could leave behind.
SEARCH_TTL = 3600
PROGRESS_TTL = 900
SESSION_TTL = 7200
API_TTL = 300
#: Graphs live "until progress changes": their keys carry the learner's
#: progress version, so a change retires them; the TTL only reclaims space.
GRAPH_TTL = 7 * 24 * 3600


def normalise_query(query):
    """The form of a learner's query that search results are cached under:
    Unicode-normalised, case-folded, whitespace collapsed."""
    text = unicodedata.normalize('NFKC', query or '')
    return ' '.join(text.casefold().split())


def _digest(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def search_key(query, sub):
    """`search:{query_hash}:{sub}`: a learner's search results."""
    return 'search:%s:%s' % (_digest(normalise_query(query)), sub)


def query_vector_key(query, provider, model):
    """`query_vector:{query_hash}:{source_hash}`: the averaged embedding
    of the five academic sentences the language model `provider` (its
    description: model and prompt version) writes for a query, embedded
    with `model`. It depends on neither the learner nor the library, so
    learners asking the same thing share it (one LLM call and one
    embedding per query an hour, instead of one per learner)."""
    return 'query_vector:%s:%s' % (
        _digest(normalise_query(query)),
        _digest('%s\n%s' % (provider, model))[:16])


def library_subjects_key(store):
    """`library_subjects:{store_hash}`: the subjects the chunk store
    (its description) holds, named when a search finds nothing."""
    return 'library_subjects:%s' % _digest(store)[:16]


def progress_key(sub, ticket_id):
    """`progress:{sub}:{ticket_id}`: a learner's progress on a concept."""
    return 'progress:%s:%d' % (sub, int(ticket_id))


def progress_version_key(sub):
    """`progress_version:{sub}`: bumped on every progress change; keys of
    views derived from a learner's progress include it, so a change makes
    them new keys and no stale view is served (nothing has to find and
    delete the old ones)."""
    return 'progress_version:%s' % sub


def graph_key(milestone, sub, version, *variant):
    """`graph:{milestone}:{sub}` extended with the learner's progress
    `version` and the view's `variant` (format, direction, ...)."""
    parts = [_digest(milestone or '*')[:16], sub, 'v%s' % (version or 0)]
    parts.extend(str(v) for v in variant)
    return 'graph:' + ':'.join(parts)


def session_key(sub):
    """`session:{sub}`: display name, groups and preferences."""
    return 'session:%s' % sub


def api_key(endpoint, params, sub):
    """`api:{endpoint}:{params_hash}:{sub}`: a cached API response."""
    canonical = json.dumps(params, sort_keys=True, separators=(',', ':'),
                           default=str)
    return 'api:%s:%s:%s' % (endpoint, _digest(canonical)[:32], sub)


class ICacheLookupListener(Interface):
    """Told of every lookup `LearningCache.get` and `get_many` answer, so
    that what watches the cache (the production server's metrics) needs
    nothing of the cache but this."""

    def cache_looked_up(key, hit):
        """`key` was looked up; `hit` says whether a value was found.
        Called in the thread that looked it up, before the value is
        returned: be quick, and do not raise."""


class LearningCache(Component):
    """The cache TracLearn uses, backed by the configured `ICache`."""

    backend = ExtensionOption('learning', 'cache', ICache, 'MemoryCache',
        """Name of the component that caches search results, progress,
        graphs and session data: `MemoryCache` (in-process, for a single
        server process) or `RedisCache` (configured in `[redis]`, shared by
        every process and server).""")

    lookup_listeners = ExtensionPoint(ICacheLookupListener)

    def get(self, key):
        value = self.backend.get(key)
        for listener in self.lookup_listeners:
            listener.cache_looked_up(key, value is not None)
        return value

    def get_many(self, keys):
        keys = list(keys)
        found = self.backend.get_many(keys) if keys else {}
        for listener in self.lookup_listeners:
            for key in keys:
                listener.cache_looked_up(key, key in found)
        return found

    def set(self, key, value, ttl):
        return self.backend.set(key, value, ttl)

    def delete(self, *keys):
        return self.backend.delete(*keys) if keys else 0

    def progress_version(self, sub):
        """The learner's current progress version (0 before any change)."""
        return self.backend.get(progress_version_key(sub)) or 0

    def learner_view(self, endpoint, sub, compute, ttl=API_TTL, **params):
        """A view of `sub`'s progress: cached under `api:{endpoint}:
        {params_hash}:{sub}` with the learner's progress version among the
        params, else `compute()`, cached for `ttl`. The version is read
        before `compute()` reads the database, so an entry made from data
        older than a change is filed under the version the change
        retires. An exception from `compute()` caches nothing."""
        key = api_key(endpoint, dict(params, v=self.progress_version(sub)),
                      sub)
        view = self.get(key)
        if view is None:
            view = compute()
            self.set(key, view, ttl)
        return view

    def bump_progress_version(self, sub):
        """Retire every cached view of the learner's progress."""
        return self.backend.incr(progress_version_key(sub))

    def ping(self):
        return self.backend.ping()

    def describe(self):
        return self.backend.describe()
