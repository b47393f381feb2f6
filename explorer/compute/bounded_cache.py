"""One cache type for everything the app computes once and serves many times (posteriors, IWAE bounds,
quantisations, figure JSON): at most `size` entries, the least recently used dropped first, safe across threads,
and each key computed once even when several requests ask for it at the same moment.
"""
import threading
from collections import OrderedDict, defaultdict


class BoundedCache:
    """A thread-safe least-recently-used cache of at most `size` entries."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a cache holds at least 1 entry, got size {size}")
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()  # guards _items
        self._computing = defaultdict(threading.Lock)  # one lock per key being computed

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        return key in self._items

    def get(self, key, compute):
        """The value for `key`, from `compute()` the first time; concurrent callers of one key wait for one
        computation instead of each running their own."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._computing[key]
        with key_lock:
            with self._lock:
                if key in self._items:  # computed by the caller we waited for
                    self._items.move_to_end(key)
                    return self._items[key]
            value = compute()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)  # the least recently used
                self._computing.pop(key, None)
            return value
