"""Offering versions in the database: read an offering's history, write what an edit changed.

The model and its rules (lifecycle, versions on edit) are ``marketplace.offerings``'; this module
only loads an :class:`~marketplace.offerings.OfferingHistory` from the rows and writes back the
versions a change made, inside the caller's transaction (one transaction per change).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import and_, bindparam, delete, insert, select, update

from connector.market.tables import offerings
from connector.storage.inline import Conn
from marketplace.offerings import Lifecycle, Offering, OfferingHistory, offering_to_dict
from marketplace.offerings import parse_offering as _parse

OFFER_PREFIX: Final = "urn:agora:offer:"

_VERSIONS = select(offerings).where(offerings.c.id == bindparam("id")).order_by(offerings.c.version)


def encode(offering: Offering) -> str:
    return json.dumps(offering_to_dict(offering), sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=512)
def decode(text: str) -> Offering:
    """A stored version (written by :func:`encode`, so it parses; a failure is corruption).
    Kept by its text: a priced negotiation and its payment read the same version five or six
    times, and parsing (with the terms' ODRL check) is most of what such a read costs. An
    ``Offering`` is frozen, so sharing one is safe; an edited draft has another text."""
    return _parse(json.loads(text))


async def history(conn: Conn, offering_id: str, *, lock: bool = False) -> OfferingHistory | None:
    """Every stored version of one offering, or None. ``lock`` holds the rows (PostgreSQL) for
    an edit, so two concurrent edits cannot both make version n+1."""
    q = _VERSIONS.with_for_update() if lock and conn.dialect.name == "postgresql" else _VERSIONS
    rows = (await conn.execute(q, {"id": offering_id})).all()
    if not rows:
        return None
    return OfferingHistory(tuple(decode(r.document) for r in rows))


async def write(conn: Conn, before: OfferingHistory | None, after: OfferingHistory) -> None:
    """Insert the versions ``after`` has that ``before`` lacks; update those that changed."""
    old = {o.version: o for o in (before.versions if before else ())}
    stamp = datetime.now(UTC)
    for o in after.versions:
        values: dict[str, Any] = {
            "lifecycle": o.lifecycle.value,
            "dataset_id": o.dataset_id,
            "document": encode(o),
            "updated_at": stamp,
        }
        if o.version not in old:
            await conn.execute(
                insert(offerings).values(id=o.id, version=o.version, created_at=stamp, **values)
            )
        elif old[o.version] != o:
            await conn.execute(
                update(offerings)
                .where(and_(offerings.c.id == o.id, offerings.c.version == o.version))
                .values(**values)
            )


async def remove(conn: Conn, offering_id: str) -> None:
    await conn.execute(delete(offerings).where(offerings.c.id == offering_id))


async def current_versions(
    conn: Conn, *, lifecycle: str | None = None, dataset_id: str | None = None
) -> list[Offering]:
    """The current (latest) version of every offering, oldest offering first, filtered."""
    rows = (await conn.execute(select(offerings).order_by(offerings.c.created_at))).all()
    latest: dict[str, Any] = {}
    for r in rows:
        if r.id not in latest or r.version > latest[r.id].version:
            latest[r.id] = r
    out = []
    for r in latest.values():
        if lifecycle is not None and r.lifecycle != lifecycle:
            continue
        if dataset_id is not None and r.dataset_id != dataset_id:
            continue
        out.append(decode(r.document))
    return out


async def published(conn: Conn, dataset_ids: list[str]) -> list[Offering]:
    """Published versions for these datasets (what the DSP catalog offers)."""
    rows = (
        await conn.execute(
            select(offerings.c.document)
            .where(offerings.c.lifecycle == Lifecycle.PUBLISHED.value)
            .where(offerings.c.dataset_id.in_(dataset_ids))
            .order_by(offerings.c.created_at, offerings.c.id)
        )
    ).all()
    return [decode(r.document) for r in rows]


def parse_offer_id(offer_id: str) -> tuple[str, int, str] | None:
    """(offering id, version, plan id) of ``urn:agora:offer:<id>:<version>:<plan>``, or None."""
    if not isinstance(offer_id, str) or not offer_id.startswith(OFFER_PREFIX):
        return None
    parts = offer_id[len(OFFER_PREFIX) :].split(":")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 7:
        return None
    return parts[0], int(parts[1]), parts[2]


async def version_of(conn: Conn, offering_id: str, version: int) -> Offering | None:
    row = (
        await conn.execute(
            select(offerings.c.document).where(
                and_(offerings.c.id == offering_id, offerings.c.version == version)
            )
        )
    ).first()
    return decode(row.document) if row else None
