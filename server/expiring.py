"""A bounded, thread-safe map whose entries expire: what a process remembers of
work it need not redo (a verified token, a derived key). The least recently used
entry goes first when it is full; an expired entry is never returned."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringLru(Generic[K, V]):
    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._size, self._clock = size, clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= self._clock():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: K, value: V, expires_at: float) -> None:
        """Keep `value` until `expires_at` on this map's clock."""
        with self._lock:
            self._items[key] = (expires_at, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def discard_if(self, doomed: Callable[[V], bool]) -> None:
        with self._lock:
            for key in [k for k, (_, value) in self._items.items() if doomed(value)]:
                del self._items[key]
