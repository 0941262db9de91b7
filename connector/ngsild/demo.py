"""The broker's demo step: the city publishes its example data and queries it over HTTP."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from connector.ngsild.context import SDM_URL, link_header
from connector.ngsild.examples import load_examples

if TYPE_CHECKING:
    from connector.demo.space import DataSpace


class DemoCheckFailed(Exception):
    """The broker answered something other than what the demo expects."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoCheckFailed(message)


async def city_publishes_context_data(space: DataSpace) -> list[str]:
    city = space["city"]
    base = city.url + "/ngsi-ld/v1"
    auth = {"Authorization": f"Bearer {city.admin_key}"}
    entities = load_examples()
    async with space.http.post(
        base + "/entityOperations/upsert",
        data=json.dumps(entities),
        headers={**auth, "Content-Type": "application/ld+json"},
    ) as resp:
        _expect(resp.status in (201, 204), f"batch upsert answered {resp.status}")
    kinds = sorted({e["type"] for e in entities})
    lines = [f"city loaded {len(entities)} entities over HTTP (batch upsert): {', '.join(kinds)}"]
    params = {
        "type": "AirQualityObserved",
        "q": "NO2>40",
        "georel": "near;maxDistance==3000",
        "geometry": "Point",
        "coordinates": "[-1.1281,37.9904]",
        "count": "true",
        "options": "keyValues",
        "attrs": "NO2,name",
    }
    headers = {**auth, "Link": link_header(SDM_URL)}
    async with space.http.get(base + "/entities", params=params, headers=headers) as resp:
        _expect(resp.status == 200, f"the query answered {resp.status}")
        found: list[dict[str, Any]] = await resp.json()
        count = resp.headers.get("NGSILD-Results-Count")
    _expect(len(found) >= 1, "no station above 40 µg/m³ NO2 near the centre")
    lines.append(
        f"GET /entities?type=AirQualityObserved&q=NO2>40 within 3 km of Plaza Circular: "
        f"{count} match(es)"
    )
    lines += [f"  {e['id']}  {e['name']}: NO2 {e['NO2']} µg/m³" for e in found]
    async with space.http.get(
        base + "/types", headers={**headers, "Accept": "application/json"}
    ) as resp:
        types = await resp.json()
    lines.append(f"GET /types: {', '.join(types['typeList'])}")
    return lines
