"""Contract tests against Anthropic's real API.

They are collected only when `ANTHROPIC_API_KEY` is set, so that a run
without the key reports nothing here rather than skipped tests. They cost a
few requests to the configured model (the `[anthropic]` defaults).
"""

import os

if not os.environ.get('ANTHROPIC_API_KEY', '').strip():
    collect_ignore_glob = ['test_*.py']
