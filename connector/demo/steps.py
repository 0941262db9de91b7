"""The scenario, one step per capability, in the order a data space comes to life.

Each capability adds its step here. A step returns the lines it reports and raises on failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from connector.audit.demo import auditor_audits_both_ledgers
from connector.demo.space import DataSpace
from connector.dsp.demo import company_acquires_air_quality
from connector.enforcement.demo import company_uses_data_within_its_terms
from connector.market.demo import company_buys_commercial_air_quality
from connector.ngsild.demo import city_publishes_context_data
from connector.ngsild.subscriptions.demo import city_subscribes_and_reads_history
from connector.trust.demo import dcp_tokens_verify, members_join, revocation_bites

StepFn = Callable[[DataSpace], Awaitable[list[str]]]


@dataclass(frozen=True)
class Step:
    title: str
    run: StepFn


class StepFailed(Exception):
    """A step saw something other than what the data space should do."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


async def data_space_is_up(space: DataSpace) -> list[str]:
    lines = []
    for member in space.members.values():
        status, body = await space.admin(member.key, "GET", "/health")
        expect(status == 200, f"{member.name} is not healthy: {status} {body}")
        status, info = await space.admin(member.key, "GET", "/api/v1/participant")
        expect(status == 200, f"{member.name} management API answered {status}")
        lines.append(f"{info['name']} ({info['role']}) at {member.url}  {info['did']}")
    return lines


async def management_is_guarded(space: DataSpace) -> list[str]:
    city = space["city"]
    async with space.http.get(city.url + "/api/v1/participant") as resp:
        expect(resp.status == 401, f"the city's API answered {resp.status} without a key")
        problem = await resp.json(content_type=None)
    return [f"without the admin key: {resp.status} {problem['title']} ({resp.content_type})"]


STEPS: list[Step] = [
    Step("Start the data space: authority, city, company and auditor", data_space_is_up),
    Step("Each connector's management API needs its admin key", management_is_guarded),
    Step("City, company and auditor join through the authority", members_join),
    Step("The city verifies the company's DCP token; auditors read ledgers", dcp_tokens_verify),
    Step("A revoked member's token is refused", revocation_bites),
    Step("The city publishes NGSI-LD context data and queries it", city_publishes_context_data),
    Step(
        "The city subscribes to NO2 above 40 and reads a station's history",
        city_subscribes_and_reads_history,
    ),
    Step(
        "The company finds the city's air-quality offer, negotiates and pulls data (DSP)",
        company_acquires_air_quality,
    ),
    Step(
        "Usage control: narrowed data within the terms, refusals beyond them (PEP)",
        company_uses_data_within_its_terms,
    ),
    Step(
        "The auditor verifies both ledgers and their agreement records; tampering is caught",
        auditor_audits_both_ledgers,
    ),
    Step(
        "Marketplace: the company buys the commercial plan (49 EUR/month), pays in an ERC-20",
        company_buys_commercial_air_quality,
    ),
]
