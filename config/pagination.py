"""Page-number pagination for lists that can hold millions of rows."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

# Past this many rows a list says "more than 2,000" and asks for filters, as the big
# CRMs do: counting a rep's 20,000 open leads, or a million leads, on every page view
# costs more than the page itself (each row's visibility is read from the heap).
LIST_COUNT_CAP = 2000


class CappedPaginator(Paginator):
    """A Paginator whose count stops at `cap`: `COUNT(*)` over a `LIMIT cap + 1` subquery.

    When there are more rows, `capped` is true, `count` is the cap and the pages stop
    there; the template says so (partials/pager.html and the lists' counts).
    """

    def __init__(self, object_list, per_page, *, cap: int | None = None, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap if cap is not None else LIST_COUNT_CAP

    @cached_property
    def _counted(self) -> int:
        return self.object_list[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap
