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


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A page's JSON body and ETag, and the feed version it was built at."""

    version: int
    body: bytes
    etag: str


class PageCache:
    """Built pages by request, dropping the least recently used beyond a size."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """Return the total size of the bodies kept."""
        return self._bytes

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
        if len(page.body) > self._max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._pages[key] = page
            self._bytes += len(page.body)
            while self._bytes > self._max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)
