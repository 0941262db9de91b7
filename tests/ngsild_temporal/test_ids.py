"""History instance ids: version 7 UUIDs under the NGSI-LD instance prefix, unique, in order."""

from __future__ import annotations

import uuid

from connector.ngsild.temporal.ids import PREFIX, new_instance_id


def test_instance_ids_are_uuid7_urns() -> None:
    iid = new_instance_id()
    assert iid.startswith(PREFIX)
    parsed = uuid.UUID(iid[len(PREFIX) :])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == iid[len(PREFIX) :]


def test_instance_ids_are_unique_and_grow_with_time() -> None:
    ids = [new_instance_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    # ordered by time first: ids made later never sort before earlier ones' millisecond
    stamps = [uuid.UUID(i[len(PREFIX) :]).int >> 80 for i in ids]
    assert stamps == sorted(stamps)
