"""Process-wide settings for a long-running bot, applied once start-up is over."""

from __future__ import annotations

import gc

COLLECT_EVERY = (20_000, 20, 50)
"""Allocations before a young collection, then young collections per middle one, and
middle ones per full one. Python's (700, 10, 10) suits short scripts: in a bot it ran
full collections, during which no update is served, every few seconds.
Why: see docs/performance.md#garbage-collector."""


def settle_after_startup() -> None:
    """Keep what start-up built (models, catalogues, caches) out of every collection, and
    collect less often. The per-update objects are freed by reference counting; the
    collector only has reference cycles to find, and few are made per update."""
    gc.freeze()
    gc.set_threshold(*COLLECT_EVERY)
