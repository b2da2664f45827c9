"""Bulk parsing on every core, one writer: ``map_ordered`` runs a function over items in a
pool of worker processes and yields the results in the items' order, a bounded window
ahead, so that the one process that writes the archive sees exactly what a single-process
run would, in the same order.

The function and its items cross to the workers by pickling, a chunk of items to a task
(one message each way, one wake-up of the writer, for many items): a module-level
function, and plain data (bytes, strings, dataclasses). A worker's exception comes back
as the result ``Failed`` so that the caller decides, item by item, as it would in one
process.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

CHUNK = 16  # items per task: one message each way for 16 items, one wake-up of this process
WINDOW_PER_JOB = 3  # tasks in flight per worker: enough to keep it busy, little memory


@dataclass(frozen=True)
class Failed:
    """What an item's call raised, as text (exceptions do not all survive pickling)."""

    kind: str  # the exception's class name
    message: str


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def map_ordered(
    func: Callable[[Any], Any], items: Iterable[Any], jobs: int, chunk: int = CHUNK
) -> Iterator[Any]:
    """``func(item)`` for each item, in order; in ``jobs`` worker processes when ``jobs``
    is more than 1, ``chunk`` items to a task, else here. A call that raised yields
    ``Failed``. Items are drawn from ``items`` a bounded window ahead of the results
    taken, so an item made lazily may carry what the results taken so far changed."""
    if jobs <= 1:
        yield from (_guarded(func, item) for item in items)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: deque[Future] = deque()
        for batch in _batched(items, chunk):
            pending.append(pool.submit(_guarded_each, func, batch))
            if len(pending) >= jobs * WINDOW_PER_JOB:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _batched(items: Iterable[Any], size: int) -> Iterator[tuple]:
    """Tuples of ``size`` items (the last one shorter), drawn as they are asked for."""
    it = iter(items)
    while batch := tuple(itertools.islice(it, size)):
        yield batch


def _guarded_each(func: Callable[[Any], Any], batch: tuple) -> list:
    return [_guarded(func, item) for item in batch]


def _guarded(func: Callable[[Any], Any], item: Any) -> Any:
    try:
        return func(item)
    except Exception as exc:  # handed back to the caller, which decides
        return Failed(type(exc).__name__, str(exc))
