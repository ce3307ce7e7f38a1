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
