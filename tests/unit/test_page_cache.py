"""The per-worker cache of built feed pages."""

import pytest

from consumer.page_cache import CachedPage, PageCache


def page(version: int, size: int = 10, etag: str = "e") -> CachedPage:
    return CachedPage(version, b"x" * size, etag)


def test_get_returns_page_of_same_version():
    cache = PageCache()
    stored = page(3)
    cache.put("k", stored)

    assert cache.get("k", 3) is stored


def test_get_misses_other_version_or_key():
    cache = PageCache()
    cache.put("k", page(3))

    assert cache.get("k", 4) is None
    assert cache.get("other", 3) is None


def test_put_replaces_page_of_key():
    cache = PageCache()
    cache.put("k", page(1, size=10))
    cache.put("k", page(2, size=30))

    assert cache.get("k", 1) is None
    assert cache.get("k", 2) is not None
    assert cache.size_bytes == 30


def test_put_drops_least_recently_used():
    cache = PageCache(max_bytes=30)
    cache.put("a", page(1))
    cache.put("b", page(1))
    cache.put("c", page(1))
    cache.get("a", 1)
    cache.put("d", page(1))

    assert cache.get("b", 1) is None
    assert cache.get("a", 1) is not None
    assert cache.get("c", 1) is not None
    assert cache.get("d", 1) is not None
    assert cache.size_bytes == 30


def test_put_skips_body_larger_than_cache():
    cache = PageCache(max_bytes=5)
    cache.put("k", page(1, size=6))

    assert cache.get("k", 1) is None
    assert cache.size_bytes == 0


def test_negative_size_rejected():
    with pytest.raises(ValueError, match="max_bytes"):
        PageCache(max_bytes=-1)


def test_put_bounds_number_of_pages():
    cache = PageCache(max_entries=2)
    cache.put("a", page(1))
    cache.put("b", page(1))
    cache.put("c", page(1))

    assert len(cache) == 2
    assert cache.get("a", 1) is None
    assert cache.size_bytes == 20


def test_zero_entries_keeps_nothing():
    cache = PageCache(max_entries=0)
    cache.put("k", page(1))

    assert len(cache) == 0
    assert cache.get("k", 1) is None


def test_negative_entries_rejected():
    with pytest.raises(ValueError, match="max_entries"):
        PageCache(max_entries=-1)
