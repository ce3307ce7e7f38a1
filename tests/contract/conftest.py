"""Contract tests against real language-model servers.

Each file is collected only when its server is configured, so that a run
without it reports nothing here rather than skipped tests:

- `test_anthropic_contract.py` when `ANTHROPIC_API_KEY` is set; it costs a
  few requests to the configured model (the `[anthropic]` defaults);
- `test_openai_compatible_contract.py` when `OPENAI_COMPATIBLE_BASE_URL`
  is set (the server's API up to `/v1`; the model in
  `OPENAI_COMPATIBLE_MODEL`, a key in `OPENAI_API_KEY` if it wants one).
"""

import os

collect_ignore_glob = []
if not os.environ.get('ANTHROPIC_API_KEY', '').strip():
    collect_ignore_glob.append('test_anthropic_*.py')
if not os.environ.get('OPENAI_COMPATIBLE_BASE_URL', '').strip():
    collect_ignore_glob.append('test_openai_compatible_*.py')
