"""Feed pages built earlier, reused while the user's feed stays the same.

A page is stored with the feed version the store reported before the page
was read. While the store still reports that version, nothing of the
user's notifications has changed, so the same request gets the same body
and ETag without reading or encoding the page again. Each worker process
has its own cache.
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

# Bytes of page bodies one worker keeps: about 680 pages of 50 notifications.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
# Pages one worker keeps. Each entry also costs its key, its ETag and the
# dictionary's bookkeeping, about 460 bytes measured with tracemalloc, so
# many small pages (empty ones past the end of a feed, say) need a bound
# of their own.
DEFAULT_MAX_ENTRIES = 2048


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A page's JSON body and ETag, and the feed version it was built at."""

    version: int
    body: bytes
    etag: str


class PageCache:
    """Built pages by request, dropping the least recently used beyond the bounds."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """Return the total size of the bodies kept."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable, version: int) -> CachedPage | None:
        """Return the page stored under ``key`` if it was built at ``version``."""
        with self._lock:
            page = self._pages.get(key)
            if page is None or page.version != version:
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: CachedPage) -> None:
        """Keep ``page`` under ``key`` in place of any older one.

        A body larger than the whole cache is not kept.
        """
        if len(page.body) > self._max_bytes or self._max_entries == 0:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._pages[key] = page
            self._bytes += len(page.body)
            while self._bytes > self._max_bytes or len(self._pages) > self._max_entries:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)
