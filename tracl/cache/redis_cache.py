"""The production cache: Redis 7 (ElastiCache) through redis-py.

One connection pool per process, short timeouts, and a breaker: after a
failure the cache answers as a miss without trying for `retry_interval`
seconds, so an outage costs one timeout per interval instead of one per call.
Each outage is logged once when it starts and once when it ends.
"""

import json
import os
import threading
import time

import redis

from trac.config import FloatOption, IntOption, Option
from trac.core import Component, implements

from tracl.api import ICache
from tracl.util import without_credentials

#: Environment variable holding the Redis AUTH token (never in trac.ini).
AUTH_TOKEN_VARIABLE = 'REDIS_AUTH_TOKEN'


class RedisCache(Component):
    """Cache in Redis, shared by every server process."""

    implements(ICache)

    url = Option('redis', 'url', 'redis://127.0.0.1:6379/0',
        """Redis address as `redis://host:port/db`, or `rediss://...` for
        TLS (ElastiCache in-transit encryption). The AUTH token comes from
        the `REDIS_AUTH_TOKEN` environment variable, never from here.""")

    key_prefix = Option('redis', 'key_prefix', 'tracl:',
        """Prefix of every key, so several environments can share one Redis
        database.""")

    socket_timeout = FloatOption('redis', 'socket_timeout', 0.25,
        """Seconds to wait for Redis to answer a command.""")

    connect_timeout = FloatOption('redis', 'connect_timeout', 0.25,
        """Seconds to wait for a connection to Redis.""")

    max_connections = IntOption('redis', 'max_connections', 32,
        """Most connections this process opens to Redis.""")

    retry_interval = FloatOption('redis', 'retry_interval', 1.0,
        """Seconds after a failed call during which the cache answers as
        a miss without contacting Redis.""")

    def __init__(self):
        self._client = None
        self._client_lock = threading.Lock()
        self._down_until = 0.0
        self._in_outage = False

    # ICache methods

    def get(self, key):
        text = self._call(lambda r: r.get(self._key(key)))
        return self._decode(key, text)

    def get_many(self, keys):
        keys = list(keys)
        texts = self._call(lambda r: r.mget([self._key(k) for k in keys]))
        found = {}
        for key, text in zip(keys, texts or ()):
            value = self._decode(key, text)
            if value is not None:
                found[key] = value
        return found

    def set(self, key, value, ttl):
        text = json.dumps(value, separators=(',', ':'))
        ex = None if ttl is None else max(1, int(round(ttl)))
        return bool(self._call(lambda r: r.set(self._key(key), text, ex=ex),
                               default=False))

    def delete(self, *keys):
        if not keys:
            return 0
        return self._call(lambda r: r.delete(*[self._key(k) for k in keys]),
                          default=0)

    def incr(self, key, ttl=None):
        def incr(r):
            with r.pipeline(transaction=True) as pipe:
                pipe.incr(self._key(key))
                if ttl is not None:
                    pipe.expire(self._key(key), max(1, int(ttl)))
                return pipe.execute()[0]
        return self._call(incr)

    def ping(self):
        try:
            self._redis().ping()
        except redis.RedisError as e:
            return 'Redis at %s does not answer: %s' % (self.safe_url, e)
        return None

    def describe(self):
        return 'Redis at %s' % self.safe_url

    # Internal methods

    @property
    def safe_url(self):
        """The configured URL without any password in it, for messages."""
        return without_credentials(self.url)

    def _key(self, key):
        return self.key_prefix + key

    def _redis(self):
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    kwargs = {}
                    token = os.environ.get(AUTH_TOKEN_VARIABLE)
                    if token:
                        kwargs['password'] = token
                    pool = redis.ConnectionPool.from_url(
                        self.url, socket_timeout=self.socket_timeout,
                        socket_connect_timeout=self.connect_timeout,
                        max_connections=self.max_connections,
                        health_check_interval=30, **kwargs)
                    self._client = redis.Redis(connection_pool=pool)
        return self._client

    def _call(self, operation, default=None):
        """Run `operation(client)`. When Redis cannot be reached, answer
        `default` and stay away for `retry_interval` seconds; when it
        refuses a command, answer `default` for that call only."""
        if self._down_until and time.monotonic() < self._down_until:
            return default
        try:
            result = operation(self._redis())
        except (redis.ConnectionError, redis.TimeoutError) as e:
            self._down_until = time.monotonic() + self.retry_interval
            if not self._in_outage:
                self._in_outage = True
                self.log.warning("Redis at %s failed (%s): the cache answers "
                                 "as a miss until Redis is back",
                                 self.safe_url, e)
            return default
        except redis.RedisError as e:
            self.log.warning("Redis at %s refused a command: %s",
                             self.safe_url, e)
            return default
        if self._in_outage:
            self._in_outage = False
            self._down_until = 0.0
            self.log.info("Redis at %s answers again", self.safe_url)
        return result

    def _decode(self, key, text):
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            self.log.warning("Ignoring a cache entry that is not JSON: %s",
                             key)
            return None
