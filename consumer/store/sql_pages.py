"""Paging shared by the SQL stores: the query for a page and its result."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common.models import Notification
from consumer.store.base import StoredNotification, check_page_limit


@dataclass(frozen=True)
class PageQueries:
    """A store's four page queries, each selecting ``seq, read`` first.

    The queries without ``after`` take the user id and a row limit; those
    with it take the user id, the ``seq`` to start after, and the limit.
    """

    oldest_first: str
    newest_first: str
    oldest_first_after: str
    newest_first_after: str

    def choose(
        self, user_id: int, limit: int, after_seq: int | None, newest_first: bool
    ) -> tuple[str, tuple[int, ...]]:
        """Return the query and parameters of a page, one row past ``limit``.

        The extra row shows whether more notifications follow the page.
        """
        check_page_limit(limit)
        if after_seq is None:
            query = self.newest_first if newest_first else self.oldest_first
            return query, (user_id, limit + 1)

        if newest_first:
            query = self.newest_first_after
        else:
            query = self.oldest_first_after
        return query, (user_id, after_seq, limit + 1)


def page_from_rows(
    rows: Sequence[Sequence],
    limit: int,
    to_notification: Callable[[Sequence], Notification],
) -> tuple[list[StoredNotification], bool]:
    """Turn the rows of a page query into the page and whether more follow."""
    found = [
        StoredNotification(to_notification(row[2:]), seq=row[0], read=bool(row[1]))
        for row in rows[:limit]
    ]
    return found, len(rows) > limit
