"""The production cache: Redis 7 (ElastiCache) through redis-py.

One client per process, short timeouts and no retries inside redis-py, and
a breaker: after a failure the cache answers as a miss without trying for
`retry_interval` seconds, so an outage costs one timeout per interval
instead of one per call. Each outage is logged once when it starts and once
when it ends.

ElastiCache: `rediss://` for in-transit encryption, the AUTH token from the
environment, and `[redis] cluster = true` for a cluster-mode-enabled
replication group (redis-py's `RedisCluster` on the configuration
endpoint; keys spread over the shards by hash slot). TLS and the token
apply to every node alike.

Invalidations lost in an outage: while Redis cannot be reached, a deletion
or an increment (the progress version, a concept's generation) does not
happen, yet the change it announces is in the database. Should Redis come
back with its data (a network partition, a failover to a replica), the
entries it should have retired would be served again. So the keys of
those calls are remembered, and deleted or incremented again before
anything else once Redis answers.
"""

import json
import os
import threading
import time
from collections import OrderedDict

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from trac.config import BoolOption, FloatOption, IntOption, Option
from trac.core import Component, implements

from tracl.api import ICache
from tracl.util import without_credentials

#: Environment variable holding the Redis AUTH token (never in trac.ini).
AUTH_TOKEN_VARIABLE = 'REDIS_AUTH_TOKEN'

#: Most keys of lost invalidations remembered; beyond, the oldest are
#: forgotten (their entries then live out their TTL) with a warning.
MAX_LOST_INVALIDATIONS = 50000

#: Failures meaning that Redis cannot be reached or cannot serve now, as
#: opposed to a command it refuses. A cluster that lost a shard, or whose
#: nodes all refuse connections, raises the last two.
_OUTAGES = (redis.ConnectionError, redis.TimeoutError,
            redis.exceptions.ClusterDownError, RedisClusterException)

_DELETE, _INCR = 'delete', 'incr'


class RedisCache(Component):
    """Cache in Redis, shared by every server process."""

    implements(ICache)

    url = Option('redis', 'url', 'redis://127.0.0.1:6379/0',
        """Redis address as `redis://host:port/db`, or `rediss://...` for
        TLS (ElastiCache in-transit encryption). The AUTH token comes from
        the `REDIS_AUTH_TOKEN` environment variable, never from here.""")

    cluster = BoolOption('redis', 'cluster', 'false',
        """Talk to a Redis cluster (ElastiCache with cluster mode enabled)
        through redis-py's cluster client: `url` is then the configuration
        endpoint, with database 0. TLS and the AUTH token apply to every
        node.""")

    ca_certs = Option('redis', 'ca_certs', '',
        """File of the certificate authorities that sign the certificate
        of a `rediss://` Redis, for one with a private authority; empty
        for the system's authorities (enough for ElastiCache).""")

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
        # (operation, key) -> TTL of the increment, of invalidations that
        # could not be made; replayed once Redis answers.
        self._lost = OrderedDict()
        self._lost_lock = threading.Lock()
        self._lost_overflow_logged = False

    # ICache methods

    def get(self, key):
        text = self._call(lambda r: r.get(self._key(key)))
        return self._decode(key, text)

    def get_many(self, keys):
        keys = list(keys)
        if not keys:
            return {}
        names = [self._key(k) for k in keys]
        if self.cluster:
            # The keys lie in several hash slots: one MGET per node.
            texts = self._call(lambda r: r.mget_nonatomic(names))
        else:
            texts = self._call(lambda r: r.mget(names))
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
                          default=0,
                          lost=[((_DELETE, key), None) for key in keys])

    def incr(self, key, ttl=None):
        return self._call(lambda r: self._incr(r, key, ttl),
                          lost=[((_INCR, key), ttl)])

    def ping(self):
        try:
            client = self._redis()
            if self.cluster:
                # Every shard: a node down loses the keys of its slots.
                client.ping(target_nodes=RedisCluster.PRIMARIES)
            else:
                client.ping()
        except (redis.RedisError, RedisClusterException) as e:
            return 'Redis at %s does not answer: %s' % (self.safe_url, e)
        return None

    def describe(self):
        return 'Redis %sat %s' % ('cluster ' if self.cluster else '',
                                  self.safe_url)

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
                    self._client = self._connect()
        return self._client

    def _connect(self):
        """A client of the configured Redis. A cluster client reads the
        cluster's shards at once, so it raises when no node answers."""
        kwargs = {'socket_timeout': self.socket_timeout,
                  'socket_connect_timeout': self.connect_timeout,
                  'max_connections': self.max_connections,
                  'health_check_interval': 30}
        token = os.environ.get(AUTH_TOKEN_VARIABLE)
        if token:
            kwargs['password'] = token
        if self.ca_certs:
            kwargs['ssl_ca_certs'] = self.ca_certs
        if self.cluster:
            # One try per call: the breaker of `_call`, not redis-py's
            # retries with backoff, decides when to try again. The
            # configuration endpoint stays a startup node, so a failover
            # is found through it.
            return RedisCluster.from_url(
                self.url, retry=Retry(NoBackoff(), 0),
                dynamic_startup_nodes=False, **kwargs)
        pool = redis.ConnectionPool.from_url(
            self.url, retry=Retry(NoBackoff(), 0), **kwargs)
        return redis.Redis(connection_pool=pool)

    def _incr(self, client, key, ttl):
        name = self._key(key)
        # A cluster pipeline sends both commands to the key's node; it is
        # not a transaction, but INCR alone is atomic.
        with client.pipeline(transaction=not self.cluster) as pipe:
            pipe.incr(name)
            if ttl is not None:
                pipe.expire(name, max(1, int(ttl)))
            return pipe.execute()[0]

    def _call(self, operation, default=None, lost=()):
        """Run `operation(client)`. When Redis cannot be reached, answer
        `default`, remember the invalidations `lost` (`((operation, key),
        ttl)` pairs) and stay away for `retry_interval` seconds; when it
        refuses a command, answer `default` for that call only."""
        if self._down_until and time.monotonic() < self._down_until:
            self._remember(lost)
            return default
        try:
            client = self._redis()
            if self._lost:
                self._replay(client)
            result = operation(client)
        except _OUTAGES as e:
            self._remember(lost)
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

    def _remember(self, lost):
        if not lost:
            return
        with self._lost_lock:
            for item, ttl in lost:
                self._lost.pop(item, None)
                self._lost[item] = ttl
            overflow = len(self._lost) - MAX_LOST_INVALIDATIONS
            for _i in range(max(0, overflow)):
                self._lost.popitem(last=False)
        if overflow > 0 and not self._lost_overflow_logged:
            self._lost_overflow_logged = True
            self.log.warning("Redis at %s: more than %d invalidations "
                             "missed during the outage; the oldest are "
                             "forgotten and their entries may be served "
                             "until they expire", self.safe_url,
                             MAX_LOST_INVALIDATIONS)

    def _replay(self, client):
        """Make the invalidations missed during an outage, before any
        other call; on failure they stay remembered."""
        with self._lost_lock:
            lost = list(self._lost.items())
        deleted = [self._key(key) for (op, key), _ttl in lost
                   if op == _DELETE]
        if deleted:
            client.delete(*deleted)
        for (op, key), ttl in lost:
            if op == _INCR:
                self._incr(client, key, ttl)
        with self._lost_lock:
            for item, _ttl in lost:
                self._lost.pop(item, None)
            self._lost_overflow_logged = False
        self.log.info("Redis at %s: made %d invalidations missed during "
                      "the outage", self.safe_url, len(lost))

    def _decode(self, key, text):
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            self.log.warning("Ignoring a cache entry that is not JSON: %s",
                             key)
            return None
