"""The cache layer (spec 8.1): the `ICache` contract on both backends, the
bound of the in-process cache, Redis key prefixes and outages, and the keys
TracLearn caches under.

Redis tests run against the real server of `redis_url` (each with a key
prefix of its own, removed afterwards); the outage tests run a redis-server
of their own on a free loopback port, and the cluster tests a three-node
Redis cluster of their own with TLS and an AUTH token, as ElastiCache in
cluster mode.
"""

import threading
import time
import uuid

import pytest
import redis

import support.envs  # noqa: F401 (loads the plugin modules)
from support.redis_servers import RedisCluster, RedisServer, free_port

from trac.core import Component, implements

from tracl.cache import (ICacheLookupListener, LearningCache, api_key,
                         graph_key, progress_key, search_key, session_key)
from tracl.cache.memory import MemoryCache
from tracl.cache import redis_cache as redis_cache_module
from tracl.cache.redis_cache import RedisCache

BACKENDS = {'MemoryCache': MemoryCache, 'RedisCache': RedisCache}


# -- Helpers

def redis_config(url, prefix, retry_interval=None):
    config = [('learning', 'cache', 'RedisCache'),
              ('redis', 'url', url),
              ('redis', 'key_prefix', prefix)]
    if retry_interval is not None:
        config.append(('redis', 'retry_interval', str(retry_interval)))
    return config


def new_prefix():
    return 'tracl-test-%s:' % uuid.uuid4().hex


def logged(env, level, text='Redis'):
    """The messages `env` logged at `level` that contain `text`."""
    return [message for lvl, message in env.log_messages
            if lvl == level and text in message]


# -- Fixtures

@pytest.fixture
def raw_redis(redis_url):
    """A plain redis-py client on the test Redis database."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_prefix(raw_redis):
    """Hand out unique key prefixes; every key under them is deleted
    afterwards."""
    prefixes = []

    def make():
        prefixes.append(new_prefix())
        return prefixes[-1]
    yield make
    for prefix in prefixes:
        keys = list(raw_redis.scan_iter(match=prefix + '*'))
        if keys:
            raw_redis.delete(*keys)


@pytest.fixture
def prefix(make_prefix):
    return make_prefix()


@pytest.fixture(params=['MemoryCache',
                        pytest.param('RedisCache', marks=pytest.mark.redis)])
def cache(request, make_stub_env):
    """A `LearningCache` on each backend, chosen by `[learning] cache`."""
    if request.param == 'RedisCache':
        config = redis_config(request.getfixturevalue('redis_url'),
                              request.getfixturevalue('prefix'))
    else:
        config = [('learning', 'cache', 'MemoryCache')]
    cache = LearningCache(make_stub_env(*config))
    assert isinstance(cache.backend, BACKENDS[request.param])
    return cache


@pytest.fixture
def redis_cache(make_stub_env, redis_url, prefix):
    """A `LearningCache` on the shared Redis, under the test's prefix."""
    return LearningCache(make_stub_env(*redis_config(redis_url, prefix)))


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own; always stopped afterwards."""
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


# -- The ICache contract, on both backends

def test_the_cache_option_chooses_the_backend(make_stub_env, redis_url, prefix):
    assert isinstance(LearningCache(make_stub_env()).backend, MemoryCache)
    env = make_stub_env(*redis_config(redis_url, prefix))
    assert isinstance(LearningCache(env).backend, RedisCache)


@pytest.mark.parametrize('value', [
    {'title': 'Hash functions', 'score': 0.75, 'mastered': False,
     'tags': ['crypto', 'basics'], 'parent': None},
    [1, 2.5, 'three', True, None, {'nested': [None, False]}],
    'Prüfsumme ∑ — 哈希',
    42,
    -3.25,
    True,
    False,
    {'deep': {'deeper': {'deepest': [[], {}, '']}}},
], ids=['dict', 'list', 'str', 'int', 'float', 'true', 'false', 'nested'])
def test_a_json_value_reads_back_equal_and_of_the_same_type(cache, value):
    assert cache.set('value', value, 60) is True
    found = cache.get('value')
    assert found == value
    assert type(found) is type(value)


def test_a_missing_key_is_a_miss(cache):
    assert cache.get('never-set') is None


def test_an_entry_expires_after_its_ttl_and_one_without_ttl_stays(cache):
    assert cache.set('short', 'soon gone', 1) is True
    assert cache.set('forever', 'still here', None) is True
    assert cache.get('short') == 'soon gone'
    time.sleep(1.2)
    assert cache.get('short') is None
    assert cache.get('forever') == 'still here'


def test_setting_a_key_again_replaces_its_value(cache):
    cache.set('k', {'v': 1}, 60)
    cache.set('k', {'v': 2}, 60)
    assert cache.get('k') == {'v': 2}


def test_get_many_returns_only_the_keys_found(cache):
    cache.set('a', 1, 60)
    cache.set('b', {'x': [1]}, 60)
    assert cache.get_many(['a', 'missing', 'b']) == {'a': 1, 'b': {'x': [1]}}
    assert cache.get_many(['missing']) == {}
    assert cache.get_many([]) == {}


def test_delete_returns_how_many_keys_existed(cache):
    cache.set('a', 1, 60)
    cache.set('b', 2, None)
    assert cache.delete('a', 'b', 'missing') == 2
    assert cache.get_many(['a', 'b']) == {}
    assert cache.delete('a') == 0
    assert cache.delete() == 0


def test_incr_counts_up_from_a_missing_key(cache):
    assert cache.backend.incr('counter') == 1
    assert cache.backend.incr('counter') == 2
    assert cache.get('counter') == 2


def test_incr_is_atomic_under_concurrent_callers(cache):
    backend = cache.backend
    barrier = threading.Barrier(8)
    results = []
    lock = threading.Lock()

    def increment():
        barrier.wait()
        mine = [backend.incr('counter') for _ in range(50)]
        with lock:
            results.extend(mine)
    threads = [threading.Thread(target=increment) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == list(range(1, 401))
    assert cache.get('counter') == 400


def test_a_value_read_back_is_a_copy(cache):
    stored = {'concepts': [1, 2], 'meta': {'done': False}}
    cache.set('k', stored, 60)
    stored['concepts'].append(3)

    first = cache.get('k')
    first['concepts'].append(99)
    first['meta']['done'] = True
    many = cache.get_many(['k'])
    many['k']['concepts'].clear()

    assert cache.get('k') == {'concepts': [1, 2], 'meta': {'done': False}}


def test_bumping_the_progress_version_retires_the_learners_graph_keys(cache):
    assert cache.progress_version('sub-a') == 0
    before = graph_key('Blockchain', 'sub-a',
                       cache.progress_version('sub-a'), 'svg')

    assert cache.bump_progress_version('sub-a') == 1

    assert cache.progress_version('sub-a') == 1
    after = graph_key('Blockchain', 'sub-a',
                      cache.progress_version('sub-a'), 'svg')
    assert after != before
    assert cache.progress_version('sub-b') == 0
    cache.bump_progress_version('sub-a')
    assert cache.progress_version('sub-a') == 2


def test_the_backend_describes_itself_for_admins(cache):
    assert isinstance(cache.describe(), str) and cache.describe()


# -- The in-process cache

class RecordedLookups(Component):
    """Hears every lookup of the cache (enabled only by the tests that ask
    for it)."""

    implements(ICacheLookupListener)

    lookups = []

    def cache_looked_up(self, key, hit):
        self.lookups.append((key, hit))


def test_every_lookup_is_told_to_the_lookup_listeners(cache):
    cache.env.enable_component(RecordedLookups)
    RecordedLookups.lookups = heard = []
    cache.set('progress:sub-heard:1', {'status': 'studying'}, 60)
    assert cache.get('progress:sub-heard:1') == {'status': 'studying'}
    assert cache.get('progress:sub-heard:2') is None
    assert list(cache.get_many(['progress:sub-heard:1',
                                'progress:sub-heard:3'])) == \
        ['progress:sub-heard:1']
    assert heard == [('progress:sub-heard:1', True),
                     ('progress:sub-heard:2', False),
                     ('progress:sub-heard:1', True),
                     ('progress:sub-heard:3', False)]


def test_counting_lookups_leaves_the_cache_class_as_it_is(cache):
    """The server counts through the listener: `LearningCache`'s own
    methods are never replaced."""
    from tracl.server.observer import RequestObserver
    methods = (LearningCache.get, LearningCache.get_many)
    RequestObserver(lambda environ, start_response: [], lambda: cache.env)
    assert (LearningCache.get, LearningCache.get_many) == methods
    assert LearningCache.get.__module__ == 'tracl.cache'


def test_memory_cache_evicts_the_least_recently_used_entry(make_stub_env):
    cache = LearningCache(make_stub_env(('learning', 'memory_cache_entries', '3')))
    cache.set('a', 1, None)
    cache.set('b', 2, None)
    cache.set('c', 3, None)
    assert cache.get('a') == 1  # 'b' is now the least recently used

    cache.set('d', 4, None)

    assert cache.get_many(['a', 'b', 'c', 'd']) == {'a': 1, 'c': 3, 'd': 4}


def test_memory_cache_evicts_in_insertion_order_without_reads(make_stub_env):
    cache = LearningCache(make_stub_env(('learning', 'memory_cache_entries', '3')))
    for n, key in enumerate('abcde'):
        cache.set(key, n, None)
    assert cache.get_many(list('abcde')) == {'c': 2, 'd': 3, 'e': 4}


def test_memory_cache_bound_holds_for_counters_too(make_stub_env):
    cache = LearningCache(make_stub_env(('learning', 'memory_cache_entries', '3')))
    for sub in ['sub-a', 'sub-b', 'sub-c', 'sub-d', 'sub-e']:
        cache.bump_progress_version(sub)
    keys = ['progress_version:sub-%s' % c for c in 'abcde']
    assert len(cache.get_many(keys)) <= 3


def test_memory_cache_is_always_up(make_stub_env):
    assert LearningCache(make_stub_env()).ping() is None


# -- Redis

@pytest.mark.redis
def test_redis_ping_answers_none_when_redis_is_up(redis_cache):
    assert redis_cache.ping() is None


@pytest.mark.redis
def test_redis_keys_carry_the_prefix_and_hold_json(redis_cache, prefix,
                                                   raw_redis):
    redis_cache.set('session:sub-a', {'name': 'Ada', 'groups': ['x']}, 60)
    redis_cache.set('forever', 1, None)

    assert set(raw_redis.scan_iter(match=prefix + '*')) == \
        {(prefix + 'session:sub-a').encode(), (prefix + 'forever').encode()}
    assert raw_redis.get(prefix + 'session:sub-a') == \
        b'{"name":"Ada","groups":["x"]}'
    assert raw_redis.exists('session:sub-a') == 0
    assert 0 < raw_redis.ttl(prefix + 'session:sub-a') <= 60
    assert raw_redis.ttl(prefix + 'forever') == -1  # no expiry


@pytest.mark.redis
def test_two_prefixes_do_not_see_each_others_keys(make_stub_env, redis_url,
                                                  make_prefix):
    one = LearningCache(make_stub_env(*redis_config(redis_url, make_prefix())))
    two = LearningCache(make_stub_env(*redis_config(redis_url, make_prefix())))
    one.set('shared-name', 'one', 60)
    one.bump_progress_version('sub-a')

    assert two.get('shared-name') is None
    assert two.progress_version('sub-a') == 0
    two.set('shared-name', 'two', 60)
    assert two.delete('shared-name') == 1
    assert one.get('shared-name') == 'one'
    assert one.progress_version('sub-a') == 1


@pytest.mark.redis
def test_redis_entry_that_is_not_json_is_a_miss_with_a_warning(
        redis_cache, prefix, raw_redis):
    raw_redis.set(prefix + 'broken', b'not json {')
    assert redis_cache.get('broken') is None
    assert redis_cache.get_many(['broken']) == {}
    env = redis_cache.env
    assert logged(env, 'WARNING', 'not JSON') == \
        ["Ignoring a cache entry that is not JSON: broken"] * 2


@pytest.mark.redis
def test_a_refused_redis_command_is_not_taken_for_an_outage(redis_cache):
    backend = redis_cache.backend
    assert backend.delete() == 0
    backend.set('text', 'not a number', 60)
    assert backend.incr('text') is None  # INCR on a string: Redis refuses

    assert backend.set('k', 'v', 60) is True
    assert backend.get('k') == 'v'
    warnings = logged(redis_cache.env, 'WARNING')
    assert len(warnings) == 1 and 'refused a command' in warnings[0]


def test_memory_counter_on_a_non_number_answers_none(make_stub_env):
    cache = LearningCache(make_stub_env())
    cache.set('text', 'not a number', None)
    assert cache.backend.incr('text') is None
    assert cache.get('text') == 'not a number'


def test_redis_url_password_stays_out_of_messages(make_stub_env):
    url = 'redis://:s3cret@127.0.0.1:%d/0' % free_port()
    cache = LearningCache(make_stub_env(*redis_config(url, new_prefix(), 0)))
    cache.get('k')
    texts = [cache.describe(), cache.ping()] + \
        [message for _, message in cache.env.log_messages]
    assert not [text for text in texts if 's3cret' in text]


# -- Redis outages: a miss, one warning per outage, never an exception

def test_unreachable_redis_answers_as_a_miss_with_one_warning(make_stub_env):
    port = free_port()
    env = make_stub_env(*redis_config('redis://127.0.0.1:%d/0' % port,
                                 new_prefix(), retry_interval=0))
    cache = LearningCache(env)
    backend = cache.backend

    for _ in range(4):
        assert backend.get('k') is None
        assert backend.set('k', {'v': 1}, 60) is False
        assert backend.incr('n') is None
        assert backend.delete('k', 'n') == 0
        assert backend.get_many(['k', 'n']) == {}

    assert logged(env, 'WARNING') == [
        "Redis at redis://127.0.0.1:%d/0 failed (Error 111 connecting to "
        "127.0.0.1:%d. Connection refused.): the cache answers as a miss "
        "until Redis is back" % (port, port)]
    sentence = cache.ping()
    assert isinstance(sentence, str)
    assert '127.0.0.1:%d' % port in sentence
    assert cache.progress_version('sub-a') == 0
    assert cache.bump_progress_version('sub-a') is None
    assert logged(env, 'INFO') == []


def test_redis_killed_and_restarted_misses_meanwhile_then_works_again(
        make_stub_env, own_redis):
    retry_interval = 0.3
    env = make_stub_env(*redis_config(own_redis.url, new_prefix(),
                                 retry_interval))
    cache = LearningCache(env)
    assert cache.set('k', {'v': 1}, None) is True
    assert cache.get('k') == {'v': 1}
    assert cache.ping() is None

    own_redis.stop()

    for _ in range(2):  # two rounds, so Redis is tried again in between
        for _ in range(5):
            assert cache.get('k') is None
            assert cache.set('k', {'v': 2}, 60) is False
            assert cache.get_many(['k']) == {}
            assert cache.delete('k') == 0
        assert isinstance(cache.ping(), str)
        time.sleep(retry_interval + 0.05)
    assert len(logged(env, 'WARNING')) == 1
    assert logged(env, 'INFO') == []

    own_redis.start()  # same port, no data kept
    time.sleep(retry_interval + 0.05)

    assert cache.get('k') is None
    assert cache.set('k', {'v': 3}, None) is True
    assert cache.get('k') == {'v': 3}
    assert cache.ping() is None
    assert logged(env, 'INFO', 'answers again') == [
        "Redis at %s answers again" % own_redis.url]
    assert len(logged(env, 'WARNING')) == 1

    own_redis.stop()  # a second outage is reported once more
    assert cache.get('k') is None
    assert cache.get('k') is None
    assert len(logged(env, 'WARNING')) == 2


def test_invalidations_missed_while_redis_is_unreachable_are_made_after(
        make_stub_env, own_redis):
    """A partition, or a failover to a replica: Redis comes back with its
    data, and the deletions and increments that failed meanwhile are made
    before anything is read, so no retired entry is served again."""
    retry_interval = 0.1
    env = make_stub_env(*redis_config(own_redis.url, new_prefix(),
                                 retry_interval))
    cache = LearningCache(env)
    cache.set('progress:sub-a:7', {'status': 'not_started'}, None)
    assert cache.bump_progress_version('sub-a') == 1

    own_redis.pause()
    started = time.monotonic()
    assert cache.delete('progress:sub-a:7') == 0
    assert cache.bump_progress_version('sub-a') is None
    assert cache.get('progress:sub-a:7') is None
    # Each call waits at most the socket timeout (0.25 s), then the
    # breaker answers at once: a paused Redis does not hang a request.
    assert time.monotonic() - started < 2
    own_redis.resume()
    time.sleep(retry_interval + 0.05)

    assert cache.get('progress:sub-a:7') is None
    assert cache.progress_version('sub-a') >= 2
    assert logged(env, 'INFO', 'invalidations missed') == [
        "Redis at %s: made 2 invalidations missed during the outage"
        % own_redis.url]
    # Made once: the next calls do not repeat them.
    cache.set('progress:sub-a:7', {'status': 'studying'}, None)
    assert cache.get('progress:sub-a:7') == {'status': 'studying'}


def test_missed_invalidations_beyond_the_bound_are_forgotten_with_a_warning(
        make_stub_env, own_redis, monkeypatch):
    monkeypatch.setattr(redis_cache_module, 'MAX_LOST_INVALIDATIONS', 3)
    retry_interval = 1.0
    env = make_stub_env(*redis_config(own_redis.url, new_prefix(),
                                 retry_interval))
    cache = LearningCache(env)
    keys = ['k%d' % n for n in range(5)]
    for key in keys:
        cache.set(key, key, None)

    own_redis.pause()
    for key in keys:
        assert cache.delete(key) == 0
    own_redis.resume()
    time.sleep(retry_interval + 0.05)

    # The first deletion timed out, but Redis may still have run it when
    # it resumed. The next four were not sent (the breaker answered): of
    # them the three newest are made now; k1 was forgotten, as warned.
    assert set(cache.get_many(keys)) - {'k0'} == {'k1'}
    assert len(logged(env, 'WARNING', 'more than 3 invalidations')) == 1


# -- Redis cluster (ElastiCache cluster mode): TLS and the AUTH token

CLUSTER_TOKEN = 'cluster-auth-token-for-tests'


@pytest.fixture(scope='module')
def redis_cluster(tmp_path_factory):
    """A three-node Redis cluster of the tests' own, TLS only, requiring
    `CLUSTER_TOKEN`."""
    cluster = RedisCluster(tmp_path_factory.mktemp('redis-cluster'),
                           CLUSTER_TOKEN)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def cluster_config(cluster, prefix, url=None, ca_certs=True,
                   retry_interval=0):
    return redis_config(url or cluster.url, prefix, retry_interval) + [
        ('redis', 'cluster', 'true'),
        ('redis', 'ca_certs', cluster.ca_file if ca_certs else '')]


def cluster_keys(cluster, prefix):
    """`{port: number of keys under prefix}` of each node."""
    counts = {}
    for port in cluster.ports:
        client = cluster.client(port)
        try:
            counts[port] = len(list(client.scan_iter(match=prefix + '*')))
        finally:
            client.close()
    return counts


def test_cluster_mode_spreads_the_keys_over_the_nodes_over_tls(
        make_stub_env, redis_cluster, monkeypatch):
    monkeypatch.setenv('REDIS_AUTH_TOKEN', CLUSTER_TOKEN)
    prefix = new_prefix()
    cache = LearningCache(make_stub_env(*cluster_config(redis_cluster, prefix)))
    backend = cache.backend
    assert cache.ping() is None
    assert 'cluster' in cache.describe()

    keys = ['api:learning-paths:%d:sub-%d' % (n, n) for n in range(40)]
    for n, key in enumerate(keys):
        assert cache.set(key, {'n': n}, 60) is True
    assert cache.get(keys[7]) == {'n': 7}
    # One call over keys of every node.
    assert cache.get_many(keys + ['missing']) == \
        {key: {'n': n} for n, key in enumerate(keys)}
    assert all(count > 0 for count in
               cluster_keys(redis_cluster, prefix).values())
    assert cache.delete(*keys[:20]) == 20
    assert cache.get_many(keys[:20]) == {}

    assert backend.incr('ratelimit:sub-a:1', 60) == 1
    assert backend.incr('ratelimit:sub-a:1', 60) == 2
    assert cache.bump_progress_version('sub-a') == 1
    assert cache.progress_version('sub-a') == 1
    client = redis_cluster.cluster_client()
    try:
        assert 0 < client.ttl(prefix + 'ratelimit:sub-a:1') <= 60
        assert client.ttl(prefix + 'progress_version:sub-a') == -1
    finally:
        client.close()
    assert cache.delete(*keys[20:]) == 20
    assert backend.delete('ratelimit:sub-a:1', 'progress_version:sub-a') \
        == 2
    assert sum(cluster_keys(redis_cluster, prefix).values()) == 0


@pytest.mark.parametrize('what', ['no token', 'wrong token', 'no tls',
                                  'unknown authority'])
def test_cluster_without_the_token_or_tls_is_a_miss_and_said(
        make_stub_env, redis_cluster, monkeypatch, what):
    if what == 'wrong token':
        monkeypatch.setenv('REDIS_AUTH_TOKEN', 'not-the-token')
    elif what != 'no token':
        monkeypatch.setenv('REDIS_AUTH_TOKEN', CLUSTER_TOKEN)
    else:
        monkeypatch.delenv('REDIS_AUTH_TOKEN', raising=False)
    url = redis_cluster.url.replace('rediss:', 'redis:') \
        if what == 'no tls' else None
    env = make_stub_env(*cluster_config(redis_cluster, new_prefix(), url=url,
                                   ca_certs=what != 'unknown authority'))
    cache = LearningCache(env)
    started = time.monotonic()
    assert cache.set('k', 1, 60) is False
    assert cache.get('k') is None
    assert cache.get_many(['k', 'l']) == {}
    assert cache.bump_progress_version('sub-a') is None
    assert time.monotonic() - started < 2
    sentence = cache.ping()
    assert isinstance(sentence, str) and 'does not answer' in sentence
    assert CLUSTER_TOKEN not in sentence
    assert len(logged(env, 'WARNING')) == 1


def test_cluster_with_a_node_down_answers_as_a_miss_at_once(
        make_stub_env, tmp_path, monkeypatch):
    cluster = RedisCluster(tmp_path, CLUSTER_TOKEN)
    try:
        cluster.start()
        monkeypatch.setenv('REDIS_AUTH_TOKEN', CLUSTER_TOKEN)
        env = make_stub_env(*cluster_config(cluster, new_prefix(),
                                       retry_interval=5))
        cache = LearningCache(env)
        keys = ['k%d' % n for n in range(30)]
        for key in keys:
            cache.set(key, key, None)
        assert len(cache.get_many(keys)) == 30

        cluster.stop_node(cluster.ports[1])

        started = time.monotonic()
        for _i in range(20):
            found = cache.get_many(keys)
            assert found == {} or set(found) < set(keys)
            cache.get(keys[0])
            cache.set('k-new', 1, 60)
        assert time.monotonic() - started < 3
        assert isinstance(cache.ping(), str)
        assert len(logged(env, 'WARNING', 'failed')) == 1
    finally:
        cluster.stop()


# -- Keys (spec 8.1)

def test_search_key_normalises_case_unicode_and_whitespace():
    key = search_key('hash functions', 'sub-a')
    assert search_key('  Hash \t FUNCTIONS\n', 'sub-a') == key
    # full-width letters and an ideographic space (NFKC)
    assert search_key('ｈａｓｈ\u3000ｆｕｎｃｔｉｏｎｓ', 'sub-a') == key
    assert search_key('hash\u00a0functions', 'sub-a') == key
    assert search_key('ﬁle', 'sub-a') == search_key('FILE', 'sub-a')
    assert search_key('Straße', 'sub-a') == search_key('STRASSE', 'sub-a')
    assert key.startswith('search:') and key.endswith(':sub-a')
    assert search_key('hash function', 'sub-a') != key


def test_search_key_differs_between_learners():
    assert search_key('hash functions', 'sub-a') != \
        search_key('hash functions', 'sub-b')


def test_api_key_does_not_depend_on_parameter_order():
    one = api_key('paths', {'a': 1, 'b': [1, 2], 'c': {'x': 1, 'y': 2}},
                  'sub-a')
    two = api_key('paths', {'c': {'y': 2, 'x': 1}, 'b': [1, 2], 'a': 1},
                  'sub-a')
    assert one == two
    assert one.startswith('api:paths:') and one.endswith(':sub-a')
    assert api_key('paths', {'a': 2, 'b': [1, 2], 'c': {'x': 1, 'y': 2}},
                   'sub-a') != one
    assert api_key('paths', {'b': [2, 1]}, 'sub-a') != \
        api_key('paths', {'b': [1, 2]}, 'sub-a')
    assert api_key('concepts', {'a': 1}, 'sub-a') != \
        api_key('paths', {'a': 1}, 'sub-a')
    assert api_key('paths', {'a': 1}, 'sub-b') != \
        api_key('paths', {'a': 1}, 'sub-a')


def test_progress_key_is_progress_sub_ticket():
    assert progress_key('sub-a', 42) == 'progress:sub-a:42'
    assert progress_key('sub-a', '42') == 'progress:sub-a:42'


def test_session_key_is_session_sub():
    assert session_key('sub-a') == 'session:sub-a'


def test_graph_key_changes_with_version_and_variant():
    key = graph_key('Blockchain', 'sub-a', 3, 'svg', 'LR')
    assert graph_key('Blockchain', 'sub-a', 3, 'svg', 'LR') == key
    assert key.startswith('graph:') and ':sub-a:v3:' in key
    assert graph_key('Blockchain', 'sub-a', 4, 'svg', 'LR') != key
    assert graph_key('Blockchain', 'sub-a', 3, 'png', 'LR') != key
    assert graph_key('Blockchain', 'sub-a', 3, 'svg', 'TB') != key
    assert graph_key('Blockchain', 'sub-b', 3, 'svg', 'LR') != key
    assert graph_key('Other', 'sub-a', 3, 'svg', 'LR') != key
    assert graph_key(None, 'sub-a', None) == graph_key('', 'sub-a', 0)
