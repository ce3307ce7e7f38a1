"""Helpers shared by the benchmark scripts: timing and the machine line."""

import os
import platform
import statistics
import time


def machine():
    cpus = os.cpu_count()
    try:
        with open('/proc/meminfo') as f:
            mem_kb = int(f.readline().split()[1])
        memory = '%.0f GiB' % (mem_kb / 1024 / 1024)
    except OSError:
        memory = '?'
    return '%s, %d cores, %s, Python %s' % (
        platform.machine(), cpus, memory, platform.python_version())


def measure(function, repeat, warmup=10):
    """Call `function` `repeat` times; return the durations in ms."""
    for _ in range(warmup):
        function()
    durations = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def summary(durations):
    ordered = sorted(durations)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return 'median %.3f ms  p95 %.3f ms  (n=%d)' % (
        statistics.median(ordered), p95, len(ordered))


def report(label, durations, width=48):
    print('  %-*s %s' % (width, label, summary(durations)), flush=True)


def percentile(durations, fraction):
    """The value below which `fraction` of `durations` lie (nearest rank,
    as `summary`'s p95)."""
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class fresh_pg_env(object):
    """`with fresh_pg_env(**options) as env:` a TracLearn environment
    (`support.envs.learning_env(**options)`) on a PostgreSQL database of
    its own on `TRACL_TEST_PG_URI`'s server, dropped afterwards. The
    caller puts `tests/` on `sys.path`."""

    def __init__(self, **options):
        self.options = options

    def __enter__(self):
        import uuid
        from support import pg
        from support.envs import learning_env
        self.server = os.environ.get(
            'TRACL_TEST_PG_URI', 'postgres://postgres@127.0.0.1:5432/postgres')
        self.name = 'tracl_bench_%s' % uuid.uuid4().hex[:8]
        os.environ['TRAC_TEST_DB_URI'] = pg.create_database(self.server,
                                                            self.name)
        self.env = learning_env(**self.options)
        return self.env

    def __exit__(self, *exc):
        from support import pg
        from support.envs import destroy_env
        try:
            destroy_env(self.env)
        finally:
            pg.drop_database(self.server, self.name)
        return False
