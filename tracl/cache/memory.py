"""The embedded cache: in-process, bounded, with per-entry lifetimes.

It lives in one process, so it suits the single tracd of the demo. With
several server processes each has its own copy and an invalidation in one is
not seen by the others: use `RedisCache` there.
"""

import json
import threading
import time
from collections import OrderedDict

from trac.config import IntOption
from trac.core import Component, implements

from tracl.api import ICache


class MemoryCache(Component):
    """In-process cache with time to live and least-recently-used
    eviction."""

    implements(ICache)

    max_entries = IntOption('learning', 'memory_cache_entries', 10000,
        """Most entries the in-process cache keeps; the least recently used
        go first.""")

    def __init__(self):
        self._lock = threading.Lock()
        # key -> (expires at, monotonic seconds or None; value as JSON)
        self._entries = OrderedDict()

    # ICache methods

    def get(self, key):
        with self._lock:
            text = self._lookup(key, time.monotonic())
        return None if text is None else json.loads(text)

    def get_many(self, keys):
        found = {}
        now = time.monotonic()
        with self._lock:
            for key in keys:
                text = self._lookup(key, now)
                if text is not None:
                    found[key] = text
        return {key: json.loads(text) for key, text in found.items()}

    def set(self, key, value, ttl):
        text = json.dumps(value, separators=(',', ':'))
        expires = None if ttl is None else time.monotonic() + ttl
        with self._lock:
            self._store(key, expires, text)
        return True

    def delete(self, *keys):
        with self._lock:
            return sum(self._entries.pop(key, None) is not None
                       for key in keys)

    def incr(self, key, ttl=None):
        with self._lock:
            now = time.monotonic()
            text = self._lookup(key, now)
            try:
                value = (int(json.loads(text)) if text is not None else 0) + 1
            except (TypeError, ValueError):
                self.log.warning("Cache entry %s is not a counter", key)
                return None
            if ttl is not None:
                expires = now + ttl
            elif text is not None:
                # As Redis' INCR does, keep the lifetime the entry had.
                expires = self._entries[key][0]
            else:
                expires = None
            self._store(key, expires, str(value))
        return value

    def ping(self):
        return None

    def describe(self):
        return 'in-process cache (%d of at most %d entries)' % \
               (len(self._entries), self.max_entries)

    # Internal methods

    def _store(self, key, expires, text):
        """Store an entry as the most recently used one, evicting the least
        recently used beyond the bound. The caller holds the lock."""
        self._entries[key] = (expires, text)
        self._entries.move_to_end(key)
        while len(self._entries) > max(1, self.max_entries):
            self._entries.popitem(last=False)

    def _lookup(self, key, now):
        """The JSON text under `key`, dropping it when expired. The caller
        holds the lock."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, text = entry
        if expires is not None and expires <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return text
