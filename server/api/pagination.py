"""Offset pagination over SQLAlchemy selects, for flask-smorest's @paginate."""

from __future__ import annotations

from typing import Any

from flask_smorest import Page
from sqlalchemy import func, select

from server.extensions import db


class SelectPage(Page):
    """Pages a `select()`; the count runs as a subquery so joins count right."""

    # flask-smorest bounds page_size but not page; an offset past every
    # database's integer range would be a 500, so such pages are simply empty.
    MAX_OFFSET = 2**31 - 1

    @property
    def items(self) -> list[Any]:
        if self.page_params.first_item > self.MAX_OFFSET:
            return []
        stmt = self.collection.offset(self.page_params.first_item).limit(
            self.page_params.page_size)
        return list(db.session.scalars(stmt))

    @property
    def item_count(self) -> int:
        return int(db.session.scalar(select(func.count()).select_from(
            self.collection.order_by(None).subquery())) or 0)
