#!/usr/bin/env python3
"""Cache operation latency: MemoryCache and RedisCache (the real server),
and the cost of a Redis outage (goal: cache operations < 10 ms).

Usage: .venv/bin/python bench/cache_bench.py   (Redis on TRACL_TEST_REDIS_URL,
default redis://127.0.0.1:6379/15)
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests'))

from common import machine, measure, report  # noqa: E402
from support.envs import load_plugin_modules  # noqa: E402
from trac.test import EnvironmentStub  # noqa: E402

from tracl.cache import LearningCache, search_key  # noqa: E402

REDIS_URL = os.environ.get('TRACL_TEST_REDIS_URL', 'redis://127.0.0.1:6379/15')

# A search result of 20 chunks, the largest value the product caches often.
SEARCH_RESULT = {'query': 'I want to understand blockchain technology',
                 'chunks': [{'chunk_id': 'bc_%02d' % i, 'concept': 'C%d' % i,
                             'content': 'word ' * 200, 'relevance': 0.8,
                             'cosine': 0.55} for i in range(20)]}


def cache_for(backend, **redis):
    config = [('learning', 'cache', backend)]
    config += [('redis', key, value) for key, value in redis.items()]
    env = EnvironmentStub(enable=['trac.*', 'tracl.*'], config=config)
    return LearningCache(env)


def bench_backend(name, cache):
    print(name + ':')
    key = search_key(SEARCH_RESULT['query'], 'sub-bench')
    cache.set(key, SEARCH_RESULT, 3600)
    report('set 20-chunk search result (%d KB)'
           % (len(str(SEARCH_RESULT)) // 1024),
           measure(lambda: cache.set(key, SEARCH_RESULT, 3600), 500))
    report('get 20-chunk search result', measure(lambda: cache.get(key), 500))
    report('get miss', measure(lambda: cache.get('missing'), 500))
    report('incr progress version',
           measure(lambda: cache.bump_progress_version('sub-bench'), 500))


def main():
    load_plugin_modules()
    print('Cache benchmark on', machine())
    bench_backend('MemoryCache', cache_for('MemoryCache'))
    prefix = 'tracl-bench-%s:' % uuid.uuid4().hex[:8]
    redis_cache = cache_for('RedisCache', url=REDIS_URL, key_prefix=prefix)
    bench_backend('RedisCache (%s)' % REDIS_URL, redis_cache)
    down = cache_for('RedisCache', url='redis://127.0.0.1:9/0',
                     retry_interval='1.0')
    print('RedisCache with Redis down (nothing listens on port 9):')
    report('get while down (breaker open)', measure(lambda: down.get('k'), 500))
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    for k in client.scan_iter(prefix + '*'):
        client.delete(k)


if __name__ == '__main__':
    main()
