"""Keep Trac's per-request garbage collection cheap.

Trac's dispatcher runs a full `gc.collect()` after every request. In a
TracLearn process most objects are loaded once and live for ever (Trac,
Jinja, numpy, the embedding model): scanning them each time cost about
two thirds of a request's CPU under tracd (bench/study_bench.py). Once the
process has served its first request, the objects it holds are moved out
of the collector's sight with `gc.freeze()`; they are still freed by
reference counting, only cycles among them would stay.
"""

import gc
import threading

from trac.core import Component, implements
from trac.web.api import IRequestFilter

_frozen = threading.Event()


def freeze_startup_objects():
    """Collect once, then freeze what is left; later calls do nothing."""
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()


class StartupObjectsFreezer(Component):
    """Freezes the process's long-lived objects at its first request."""

    implements(IRequestFilter)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        freeze_startup_objects()
        return handler

    def post_process_request(self, req, template, data, metadata):
        return template, data, metadata
