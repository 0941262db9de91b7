"""The scenarios of the Eclipse DSP TCK (MET, CAT, CN, CN_C, TP, TP_C, the two it disables
included), played between Agora and a counter-party that speaks only DSP 2025-1.

Each scenario is a list of steps. ``p:`` steps are the provider's, ``c:`` steps the
consumer's; whichever side Agora plays is driven through its management API (as the TCK's
connector triggers drive a connector), the other side is the scripted peer. A step prefixed
``!`` is a message the protocol does not allow in that state: Agora must refuse it (400) and
stay where it was. After every step Agora's state is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from connector.dsp.validation import validate
from tests.dsp.helpers import OPEN_POLICY, Node, start_node, wait_for
from tests.dsp_peers.peer import Peer, msg, urn
from tests.dsp_peers.test_agora_consumer import agreement_for

pytestmark = pytest.mark.asyncio(loop_scope="package")

OTHER_TERMS = {"permission": [{"action": "use", "constraint": [
    {"leftOperand": "count", "operator": "lteq", "rightOperand": "1000"}
]}]}  # fmt: skip
HELD = {"agree": "manual", "offer": "manual", "finalize": "manual", "startTransfer": "manual"}


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def tck(
    tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession
) -> AsyncIterator[Node]:
    """Agora whose consumer decisions wait for the operator too (the TCK triggers them)."""
    decisions = {"acceptOffer": "manual", "verify": "manual"}
    node = await start_node(
        tmp_path_factory.mktemp("tck"),
        "city",
        "city",
        http=http,
        extra={"dsp": {"authentication": "self-issued", "decisions": decisions}},
    )
    try:
        yield node
    finally:
        await node.connector.stop()


# ---------------------------------------------------------------------------- MET and CAT


async def test_met_01_01_version_metadata(tck: Node, peer: Peer) -> None:
    status, doc, _ = await peer.call("GET", tck.url + "/.well-known/dspace-version", token=None)
    assert status == 200, doc
    found = [v for v in doc["protocolVersions"] if v["version"] == "2025-1"]
    assert found and found[0]["path"].endswith("/dsp") and found[0]["binding"] == "HTTPS"


async def test_cat_01_catalog_dataset_and_unknown_dataset(tck: Node, peer: Peer) -> None:
    dataset_id, _, _ = await tck.publish(title="cat")
    status, catalog, _ = await peer.call(
        "POST", f"{tck.dsp_url}/catalog/request", msg("CatalogRequestMessage"), audience=tck.did
    )
    assert status == 200, catalog  # CAT:01-01
    validate("Catalog", catalog)
    status, dataset, _ = await peer.call(
        "GET", f"{tck.dsp_url}/catalog/datasets/{dataset_id}", audience=tck.did
    )
    assert status == 200 and dataset["@id"] == dataset_id, dataset  # CAT:01-02
    validate("Dataset", dataset)
    status, error, _ = await peer.call(
        "GET", f"{tck.dsp_url}/catalog/datasets/{urn()}", audience=tck.did
    )
    assert status == 404, error  # CAT:01-03
    validate("CatalogError", error)


async def test_met_cat_agora_as_consumer(tck: Node, http: aiohttp.ClientSession) -> None:
    """MET:01-01 and CAT:01-01..03 with the roles swapped: Agora asks another vendor's
    provider, as the TCK's catalog requests would be answered by it."""
    ds_id = urn()
    service = {"@id": urn(), "@type": "DataService"}
    other = Peer()
    other.datasets[ds_id] = {
        "@id": ds_id,
        "@type": "Dataset",
        "hasPolicy": [{"@id": urn(), "@type": "Offer", **OPEN_POLICY}],
        "distribution": [{"@type": "Distribution", "format": "HttpData-PULL",
                          "accessService": service}],
    }  # fmt: skip
    await other.start(http)
    try:
        service["endpointURL"] = other.dsp_url
        # MET:01-01: an address without the DSP path is found in the peer's version metadata
        status, catalog = await tck.admin(
            "POST",
            "/catalog/request",
            {"counterPartyAddress": other.url, "counterPartyId": other.did},
        )
        assert status == 200, catalog  # CAT:01-01
        validate("Catalog", catalog)
        assert [d["@id"] for d in catalog["dataset"]] == [ds_id]
        asked = {"counterPartyAddress": other.dsp_url, "counterPartyId": other.did}
        status, dataset = await tck.admin("POST", "/catalog/dataset", {**asked, "datasetId": ds_id})
        assert status == 200 and dataset["@id"] == ds_id, dataset  # CAT:01-02
        status, problem = await tck.admin("POST", "/catalog/dataset", {**asked, "datasetId": urn()})
        assert status == 404, problem  # CAT:01-03
    finally:
        await other.stop()


# ---------------------------------------------------------------------------- negotiations


@dataclass
class Negotiation:
    agora: Node
    peer: Peer
    role: str  # Agora's
    pid: str = ""  # Agora's id
    other: str = ""  # the peer's id
    target: str = ""
    offer: dict[str, Any] = field(default_factory=dict)
    agreement: dict[str, Any] = field(default_factory=dict)

    @property
    def provider_pid(self) -> str:
        return self.pid if self.role == "provider" else self.other

    @property
    def consumer_pid(self) -> str:
        return self.other if self.role == "provider" else self.pid

    def pids(self) -> dict[str, str]:
        return {"providerPid": self.provider_pid, "consumerPid": self.consumer_pid}

    async def peer_sends(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        status, doc, _ = await self.peer.call(
            "POST",
            f"{self.agora.dsp_url}/negotiations/{self.pid}/{path}",
            body,
            audience=self.agora.did,
        )
        return status, doc

    async def peer_gets(self, type_: str, **match: Any) -> dict[str, Any]:
        wanted: dict[str, Any] = {**match}
        wanted["consumerPid" if self.role == "provider" else "providerPid"] = self.other
        return await self.peer.next_message(type_, **wanted)

    async def approve(self, decision: str) -> None:
        for _ in range(500):
            view = await self.agora.negotiation(self.pid)
            if view["pendingDecision"] == decision:
                break
            await asyncio.sleep(0.02)
        status, body = await self.agora.admin("POST", f"/decisions/{self.pid}/approve")
        assert status == 200, body


def peer_message(n: Negotiation, step: str) -> tuple[str, dict[str, Any]]:
    """(path, message) of a peer step."""
    p = n.pids()
    if step == "p:offer":
        offer = {"@id": urn(), "@type": "Offer", "target": n.target, **OPEN_POLICY}
        return "offers", msg("ContractOfferMessage", offer=offer, **p)
    if step == "p:agree":
        n.agreement = agreement_for(n.peer, n.agora, n.target)
        return "agreement", msg("ContractAgreementMessage", agreement=n.agreement, **p)
    if step == "p:finalize":
        return "events", msg("ContractNegotiationEventMessage", eventType="FINALIZED", **p)
    if step == "c:accept":
        return "events", msg("ContractNegotiationEventMessage", eventType="ACCEPTED", **p)
    if step == "c:verify":
        return "agreement/verification", msg("ContractAgreementVerificationMessage", **p)
    if step == "c:counter":
        offer = {"@id": urn(), "@type": "Offer", "target": n.target, **OTHER_TERMS}
        return "request", msg("ContractRequestMessage", offer=offer, **p)
    if step in ("p:terminate", "c:terminate"):
        return "termination", msg(
            "ContractNegotiationTerminationMessage", code="Tck", reason=["scenario"], **p
        )
    raise AssertionError(step)


NEXT = {
    "p:offer": "OFFERED",
    "c:accept": "ACCEPTED",
    "p:agree": "AGREED",
    "c:verify": "VERIFIED",
    "p:finalize": "FINALIZED",
    "c:counter": "REQUESTED",
    "p:terminate": "TERMINATED",
    "c:terminate": "TERMINATED",
}


async def provider_start(n: Negotiation, same_terms: bool) -> None:
    """The peer (consumer) requests Agora's offer; Agora holds it for its operator."""
    status, ds = await n.agora.admin(
        "POST", "/datasets", {"title": f"ds {urn()}", "entityTypes": ["AirQualityObserved"]}
    )
    assert status == 201, ds
    status, pol = await n.agora.admin("POST", "/policies", OPEN_POLICY)
    assert status == 201
    status, offer = await n.agora.admin(
        "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"], "decisions": HELD}
    )
    assert status == 201, offer
    n.target, n.offer, n.other = ds["id"], offer["offer"], urn()
    terms = {} if same_terms else OTHER_TERMS
    request = msg(
        "ContractRequestMessage",
        consumerPid=n.other,
        offer={**n.offer, **terms, "target": n.target},
        callbackAddress=n.peer.dsp_url,
    )
    status, doc, _ = await n.peer.call(
        "POST", f"{n.agora.dsp_url}/negotiations/request", request, audience=n.agora.did
    )
    assert status == 201 and doc["state"] == "REQUESTED", doc
    n.pid = doc["providerPid"]


async def consumer_start(n: Negotiation) -> None:
    """Agora (consumer) requests an offer of the peer."""
    n.target = urn()
    status, neg = await n.agora.admin(
        "POST",
        "/negotiations",
        {
            "counterPartyAddress": n.peer.dsp_url,
            "counterPartyId": n.peer.did,
            "offer": {"@id": urn(), **OPEN_POLICY},
            "target": n.target,
        },
    )
    assert status == 201, neg
    n.pid = neg["id"]
    got = await n.peer.next_message("ContractRequestMessage", consumerPid=n.pid)
    n.other = got["providerPid"]
    await wait_for(n.agora.negotiation, n.pid, {"REQUESTED"}, field="providerPid")


async def agora_step(n: Negotiation, step: str) -> None:
    """A step of the side Agora plays, through its management API; the peer receives it."""
    if step.endswith("terminate"):
        status, body = await n.agora.admin("POST", f"/negotiations/{n.pid}/terminate")
        assert status == 200, body
        await n.peer_gets("ContractNegotiationTerminationMessage")
    elif step == "p:offer":
        await n.approve("offer")  # our catalog offer, answering the other terms requested
        await n.peer_gets("ContractOfferMessage")
    elif step == "p:agree":
        await n.approve("agree")
        n.agreement = (await n.peer_gets("ContractAgreementMessage"))["agreement"]
    elif step == "p:finalize":
        await n.approve("finalize")
        await n.peer_gets("ContractNegotiationEventMessage", eventType="FINALIZED")
    elif step == "c:accept":
        await n.approve("acceptOffer")
        await n.peer_gets("ContractNegotiationEventMessage", eventType="ACCEPTED")
    elif step == "c:verify":
        await n.approve("verify")
        await n.peer_gets("ContractAgreementVerificationMessage")
    elif step == "c:counter":
        status, body = await n.agora.admin(
            "POST", f"/negotiations/{n.pid}/request", {"offer": {"@id": urn(), **OTHER_TERMS}}
        )
        assert status == 200, body
        await n.peer_gets("ContractRequestMessage")
    else:
        raise AssertionError(step)


#: Agora's management action for a step the protocol does not allow (mirrored scenarios)
AGORA_ACTIONS: dict[str, tuple[str, Any]] = {
    "terminate": ("terminate", None),
    "agree": ("agree", None),
    "offer": ("offer", {"offer": OTHER_TERMS}),
    "accept": ("accept", None),
    "counter": ("request", {"offer": {"@id": "urn:uuid:counter", **OTHER_TERMS}}),
}


async def play(n: Negotiation, steps: list[str]) -> None:
    mine = "p:" if n.role == "provider" else "c:"
    for step in steps:
        illegal = step.startswith("!")
        step = step.lstrip("!")
        before = (await n.agora.negotiation(n.pid))["state"]
        if illegal and step.startswith(mine):  # a mirrored scenario: Agora's API refuses it
            action, payload = AGORA_ACTIONS[step.split(":")[1]]
            status, body = await n.agora.admin("POST", f"/negotiations/{n.pid}/{action}", payload)
            assert status == 409, (step, body)
            assert (await n.agora.negotiation(n.pid))["state"] == before
            continue
        if illegal:
            path, body = peer_message(n, step)
            status, doc = await n.peer_sends(path, body)
            assert status == 400, (step, doc)
            validate("ContractNegotiationError", doc)
            assert doc["code"] == "IllegalTransition", doc
            assert (await n.agora.negotiation(n.pid))["state"] == before
            continue
        if step.startswith(mine):
            await agora_step(n, step)
        else:
            path, body = peer_message(n, step)
            status, doc = await n.peer_sends(path, body)
            assert status == 200, (step, doc)
        await wait_for(n.agora.negotiation, n.pid, {NEXT[step]})


CN = {  # Agora is the provider; the first step's "request" asks for our terms or others
    "CN:01-01": ["request*", "p:offer", "c:terminate"],
    "CN:01-02": ["request*", "p:offer", "c:counter", "p:terminate"],
    "CN:01-03": ["request*", "p:offer", "c:accept", "p:agree", "c:verify", "p:finalize"],
    "CN:01-04": ["request", "p:agree", "c:verify", "p:finalize"],
    "CN:02-01": ["request", "p:terminate"],
    "CN:02-02": ["request", "c:terminate"],
    "CN:02-03": ["request", "p:agree", "c:terminate"],
    "CN:02-04": ["request*", "p:offer", "c:terminate"],
    "CN:02-05": ["request*", "p:offer", "p:terminate"],
    "CN:02-06": ["request*", "p:offer", "c:accept", "p:terminate"],
    "CN:02-07": ["request", "p:agree", "c:verify", "p:terminate"],
    "CN:03-01": ["request", "p:agree", "c:verify", "p:finalize", "!c:terminate"],
    "CN:03-02": ["request*", "p:offer", "!c:verify"],
    "CN:03-03": ["request*", "p:offer", "c:accept", "!c:verify"],
    "CN:03-04": ["request*", "p:offer", "c:counter", "p:offer", "c:counter", "p:terminate"],
}

CN_C = {  # Agora is the consumer
    "CN_C:01-01": ["request", "p:offer", "c:accept", "p:agree", "c:verify", "p:finalize"],
    "CN_C:01-02": ["request", "p:offer", "c:counter", "p:terminate"],
    "CN_C:01-03": ["request", "p:offer", "c:terminate"],
    "CN_C:01-04": ["request", "p:agree", "c:verify", "p:finalize"],
    "CN_C:02-01": ["request", "p:terminate"],
    "CN_C:02-02": ["request", "c:terminate"],
    "CN_C:02-03": ["request", "p:agree", "c:terminate"],
    "CN_C:02-04": ["request", "p:offer", "p:terminate"],
    "CN_C:02-05": ["request", "p:offer", "c:accept", "p:terminate"],
    "CN_C:02-06": ["request", "p:agree", "c:verify", "p:terminate"],
    "CN_C:03-01": ["request", "!p:finalize"],
    "CN_C:03-02": ["request", "p:offer", "!p:agree"],
    "CN_C:03-03": ["request", "p:offer", "!p:finalize"],
    "CN_C:03-04": ["request", "p:offer", "c:accept", "!p:finalize"],
    "CN_C:03-05": ["request", "p:offer", "c:accept", "!p:offer"],
    "CN_C:03-06": ["request", "p:offer", "c:accept", "p:agree", "!p:finalize"],
}


# The TCK's scenarios with the roles swapped, where the other role has something to show:
# Agora plays the side the TCK plays. A step of Agora's that the protocol does not allow
# ("!" on Agora's side) is refused by its management API (409) and never sent. The negative
# scenarios whose illegal message is a verification or a finalization have no mirror: Agora's
# API has no action that sends one; it sends them only as the answer of the right state.
CN_AS_CONSUMER = {
    "CN:03-01": ["request", "p:agree", "c:verify", "p:finalize", "!c:terminate"],
    "CN:03-04": ["request", "p:offer", "c:counter", "p:offer", "c:counter", "p:terminate"],
}
CN_C_AS_PROVIDER = {
    "CN_C:03-02": ["request*", "p:offer", "!p:agree"],
    "CN_C:03-05": ["request*", "p:offer", "c:accept", "!p:offer"],
}


@pytest.mark.parametrize("name", list(CN_AS_CONSUMER))
async def test_cn_mirrored_agora_as_consumer(tck: Node, peer: Peer, name: str) -> None:
    _, *steps = CN_AS_CONSUMER[name]
    n = Negotiation(tck, peer, "consumer")
    await consumer_start(n)
    await play(n, steps)


@pytest.mark.parametrize("name", list(CN_C_AS_PROVIDER))
async def test_cn_c_mirrored_agora_as_provider(tck: Node, peer: Peer, name: str) -> None:
    first, *steps = CN_C_AS_PROVIDER[name]
    n = Negotiation(tck, peer, "provider")
    await provider_start(n, same_terms=first == "request")
    await play(n, steps)


@pytest.mark.parametrize("name", list(CN))
async def test_cn_agora_as_provider(tck: Node, peer: Peer, name: str) -> None:
    first, *steps = CN[name]
    n = Negotiation(tck, peer, "provider")
    await provider_start(n, same_terms=first == "request")
    await play(n, steps)


@pytest.mark.parametrize("name", list(CN_C))
async def test_cn_c_agora_as_consumer(tck: Node, peer: Peer, name: str) -> None:
    _, *steps = CN_C[name]
    n = Negotiation(tck, peer, "consumer")
    await consumer_start(n)
    await play(n, steps)


# ---------------------------------------------------------------------------- transfers


@dataclass
class Transfer:
    agora: Node
    peer: Peer
    role: str
    pid: str = ""
    other: str = ""

    def pids(self) -> dict[str, str]:
        if self.role == "provider":
            return {"providerPid": self.pid, "consumerPid": self.other}
        return {"providerPid": self.other, "consumerPid": self.pid}

    async def peer_gets(self, type_: str) -> dict[str, Any]:
        key = "consumerPid" if self.role == "provider" else "providerPid"
        count = sum(
            1
            for r in self.peer.received
            if isinstance(r.body, dict)
            and r.body.get("@type") == type_
            and r.body.get(key) == self.other
        )
        self.seen[type_] = self.seen.get(type_, 0) + 1
        for _ in range(500):
            found = [
                r.body
                for r in self.peer.received
                if isinstance(r.body, dict)
                and r.body.get("@type") == type_
                and r.body.get(key) == self.other
            ]
            if len(found) >= self.seen[type_]:
                return dict(found[self.seen[type_] - 1])
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {type_} number {self.seen[type_]} (had {count})")

    seen: dict[str, int] = field(default_factory=dict)


T_MESSAGE = {
    "start": ("start", "TransferStartMessage"),
    "complete": ("completion", "TransferCompletionMessage"),
    "suspend": ("suspension", "TransferSuspensionMessage"),
    "terminate": ("termination", "TransferTerminationMessage"),
}
T_ACTION = {
    "start": "resume",
    "complete": "complete",
    "suspend": "suspend",
    "terminate": "terminate",
}
T_NEXT = {
    "start": "STARTED",
    "complete": "COMPLETED",
    "suspend": "SUSPENDED",
    "terminate": "TERMINATED",
}


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def provider_agreement(tck: Node, peer: Peer) -> str:
    """A FINALIZED agreement with Agora as provider (transfers held for the operator)."""
    n = Negotiation(tck, peer, "provider")
    await provider_start(n, same_terms=True)
    await play(n, ["p:agree", "c:verify", "p:finalize"])
    return str(n.agreement["@id"])


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def consumer_agreement(tck: Node, peer: Peer) -> str:
    n = Negotiation(tck, peer, "consumer")
    await consumer_start(n)
    await play(n, ["p:agree", "c:verify", "p:finalize"])
    return str(n.agreement["@id"])


async def t_play(t: Transfer, steps: list[str]) -> None:
    mine = "p:" if t.role == "provider" else "c:"
    for raw in steps:
        illegal = raw.startswith("!")
        step = raw.lstrip("!")
        verb = step.split(":")[1]
        before = (await t.agora.transfer(t.pid))["state"]
        path, type_ = T_MESSAGE[verb]
        if step.startswith(mine) and illegal:  # a mirrored scenario: Agora's API refuses it
            action = T_ACTION[verb]
            status, body = await t.agora.admin("POST", f"/transfers/{t.pid}/{action}")
            assert status == 409, (step, body)
            assert (await t.agora.transfer(t.pid))["state"] == before
            continue
        if step.startswith(mine):
            if t.role == "provider" and verb == "start" and before == "REQUESTED":
                status, body = await t.agora.admin("POST", f"/decisions/{t.pid}/approve")
            else:
                status, body = await t.agora.admin("POST", f"/transfers/{t.pid}/{T_ACTION[verb]}")
            assert status == 200, (step, body)
            await t.peer_gets(type_)
        else:
            body = msg(type_, **t.pids())
            if verb == "start" and t.role == "consumer":
                body["dataAddress"] = t.peer.data_address(t.peer.fresh_token(), expiresIn="600")
            if verb in ("terminate", "suspend"):
                body.update(code="Tck", reason=["scenario"])
            status, doc, _ = await t.peer.call(
                "POST",
                f"{t.agora.dsp_url}/transfers/{t.pid}/{path}",
                body,
                audience=t.agora.did,
            )
            if illegal:
                assert status == 400, (step, doc)
                validate("TransferError", doc)
                assert doc["code"] == "IllegalTransition", doc
                assert (await t.agora.transfer(t.pid))["state"] == before
                continue
            assert status == 200, (step, doc)
        await wait_for(t.agora.transfer, t.pid, {T_NEXT[verb]})


TP = {  # Agora is the provider
    "TP:01-01": ["p:start", "p:terminate"],
    "TP:01-02": ["p:start", "p:complete"],
    "TP:01-03": ["p:start", "p:suspend", "p:terminate"],
    "TP:01-04": ["p:start", "p:suspend", "p:start", "p:complete"],
    "TP:01-05": ["p:terminate"],
    "TP:02-01": ["p:start", "c:terminate"],
    "TP:02-02": ["p:start", "c:complete"],
    "TP:02-03": ["p:start", "c:suspend", "c:terminate"],
    "TP:02-04": ["p:start", "c:suspend", "c:start", "c:complete"],  # disabled in the TCK
    "TP:02-05": ["c:terminate"],
    "TP:03-01": ["!c:complete"],
    "TP:03-02": ["!c:suspend"],
    "TP:03-03": ["p:start", "c:suspend", "!c:complete"],
    "TP:03-04": ["p:start", "c:terminate", "!c:start"],
    "TP:03-05": ["p:start", "c:terminate", "!c:suspend"],
    "TP:03-06": ["p:start", "c:terminate", "!c:complete"],
}

TP_C = {  # Agora is the consumer
    "TP_C:01-01": ["p:start", "p:terminate"],
    "TP_C:01-02": ["p:start", "p:complete"],
    "TP_C:01-03": ["p:start", "p:suspend", "p:terminate"],
    "TP_C:01-04": ["p:start", "p:suspend", "p:start", "p:complete"],
    "TP_C:01-05": ["p:terminate"],
    "TP_C:02-01": ["p:start", "c:terminate"],
    "TP_C:02-02": ["p:start", "c:complete"],
    "TP_C:02-03": ["p:start", "c:suspend", "c:terminate"],
    "TP_C:02-04": ["p:start", "c:suspend", "c:start", "c:complete"],  # disabled in the TCK
    "TP_C:02-05": ["c:terminate"],
    "TP_C:03-01": ["!p:complete"],
    "TP_C:03-02": ["!p:suspend"],
    "TP_C:03-03": ["p:start", "p:suspend", "!p:complete"],
    "TP_C:03-04": ["p:start", "p:terminate", "!p:start"],
    "TP_C:03-05": ["p:start", "p:terminate", "!p:suspend"],
    "TP_C:03-06": ["p:start", "p:terminate", "!p:complete"],
}


# mirrored (see CN_AS_CONSUMER): the negative scenarios, the illegal step Agora's own
TP_AS_CONSUMER = {name: steps for name, steps in TP.items() if name.startswith("TP:03")}
TP_C_AS_PROVIDER = {name: steps for name, steps in TP_C.items() if name.startswith("TP_C:03")}


@pytest.mark.parametrize("name", list(TP))
async def test_tp_agora_as_provider(
    tck: Node, peer: Peer, provider_agreement: str, name: str
) -> None:
    await as_provider(tck, peer, provider_agreement, TP[name])


@pytest.mark.parametrize("name", list(TP_C))
async def test_tp_c_agora_as_consumer(
    tck: Node, peer: Peer, consumer_agreement: str, name: str
) -> None:
    await as_consumer(tck, peer, consumer_agreement, TP_C[name])


@pytest.mark.parametrize("name", list(TP_AS_CONSUMER))
async def test_tp_mirrored_agora_as_consumer(
    tck: Node, peer: Peer, consumer_agreement: str, name: str
) -> None:
    await as_consumer(tck, peer, consumer_agreement, TP_AS_CONSUMER[name])


@pytest.mark.parametrize("name", list(TP_C_AS_PROVIDER))
async def test_tp_c_mirrored_agora_as_provider(
    tck: Node, peer: Peer, provider_agreement: str, name: str
) -> None:
    await as_provider(tck, peer, provider_agreement, TP_C_AS_PROVIDER[name])


async def as_provider(tck: Node, peer: Peer, agreement_id: str, steps: list[str]) -> None:
    """The peer requests a transfer; Agora (provider) holds it, then the steps are played."""
    t = Transfer(tck, peer, "provider", other=urn())
    request = msg(
        "TransferRequestMessage",
        consumerPid=t.other,
        agreementId=agreement_id,
        format="NGSI-LD-PULL",
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{tck.dsp_url}/transfers/request", request, audience=tck.did
    )
    assert status == 201 and doc["state"] == "REQUESTED", doc
    t.pid = doc["providerPid"]
    await t_play(t, steps)


async def as_consumer(tck: Node, peer: Peer, agreement_id: str, steps: list[str]) -> None:
    """Agora (consumer) requests a transfer of the peer, then the steps are played."""
    status, tr = await tck.admin(
        "POST", "/transfers", {"agreementId": agreement_id, "format": "HttpData-PULL"}
    )
    assert status == 201, tr
    t = Transfer(tck, peer, "consumer", pid=tr["id"])
    got = await peer.next_message("TransferRequestMessage", consumerPid=t.pid)
    t.other = got["providerPid"]
    await wait_for(tck.transfer, t.pid, {"REQUESTED"}, field="providerPid")
    await t_play(t, steps)
