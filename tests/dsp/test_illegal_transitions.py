"""Every transition the two state tables do not allow, sent over HTTP: 400 with the protocol's
error message when the process exists, 404 when it does not, and the state never changes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from connector.dsp import messages as m
from connector.dsp import negotiation_states as ns
from connector.dsp import transfer_states as ts
from connector.dsp.agreements import sign_agreement
from connector.dsp.agreements import signed as signed_agreement
from connector.dsp.tables import negotiations, transfers
from connector.dsp.validation import validate
from tests.dsp.helpers import Node, db_state, insert_negotiation, insert_transfer, signed

pytestmark = pytest.mark.asyncio(loop_scope="module")

OFFER = {
    "@id": "urn:uuid:o",
    "@type": "Offer",
    "target": "urn:uuid:ds",
    **{"permission": [{"action": "use"}]},
}
N_PATH = {
    ns.NMessage.REQUEST: "request",
    ns.NMessage.OFFER: "offers",
    ns.NMessage.ACCEPTED: "events",
    ns.NMessage.FINALIZED: "events",
    ns.NMessage.AGREEMENT: "agreement",
    ns.NMessage.VERIFICATION: "agreement/verification",
    ns.NMessage.TERMINATION: "termination",
}


def n_message(
    kind: ns.NMessage, ppid: str, cpid: str, sender: Node, receiver: Node
) -> dict[str, Any]:
    if kind is ns.NMessage.REQUEST:
        return m.contract_request(cpid, OFFER, provider_pid=ppid)
    if kind is ns.NMessage.OFFER:
        return m.contract_offer(ppid, OFFER, consumer_pid=cpid)
    if kind is ns.NMessage.ACCEPTED:
        return m.negotiation_event(ppid, cpid, "ACCEPTED")
    if kind is ns.NMessage.FINALIZED:
        return m.negotiation_event(ppid, cpid, "FINALIZED")
    if kind is ns.NMessage.AGREEMENT:
        agreement = {
            "@id": f"urn:uuid:{uuid.uuid4()}",
            "@type": "Agreement",
            "target": "urn:uuid:ds",
            "assigner": sender.did,
            "assignee": receiver.did,
            "timestamp": "2026-01-01T00:00:00Z",
            "permission": [{"action": "use"}],
        }
        jws = sign_agreement(sender.dsp.identity, agreement)  # valid but for the transition
        return m.contract_agreement(ppid, cpid, signed_agreement(agreement, jws))
    if kind is ns.NMessage.VERIFICATION:
        return m.agreement_verification(ppid, cpid)
    return m.negotiation_termination(ppid, cpid, "x", "test")


@pytest.mark.parametrize(
    ("state", "kind", "sender"),
    ns.illegal_cases(),
    ids=lambda v: getattr(v, "name", str(v)),
)
async def test_illegal_negotiation_transition(
    shared: tuple[Node, Node], state: ns.NState | None, kind: ns.NMessage, sender: ns.Role
) -> None:
    city, company = shared
    # the receiver plays the other role; the message comes from the sender's connector
    receiver_role = ns.Role.CONSUMER if sender is ns.Role.PROVIDER else ns.Role.PROVIDER
    receiver, origin = (city, company) if receiver_role is ns.Role.PROVIDER else (company, city)
    if state is None:
        ppid, cpid = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        pid = ppid if receiver_role is ns.Role.PROVIDER else cpid
        msg = n_message(kind, ppid, cpid, origin, receiver)
        status, body = await signed(
            origin, receiver, "POST", f"/negotiations/{pid}/{N_PATH[kind]}", msg
        )
        assert status == 404, body
        return
    row = await insert_negotiation(
        receiver, role=receiver_role.value, state=state.value, peer=origin
    )
    msg = n_message(kind, row["providerPid"], row["consumerPid"], origin, receiver)
    validate(msg["@type"], msg)
    status, body = await signed(
        origin, receiver, "POST", f"/negotiations/{row['pid']}/{N_PATH[kind]}", msg
    )
    assert status == 400, body
    validate("ContractNegotiationError", body)
    assert body["code"] == "IllegalTransition"
    assert await db_state(receiver, negotiations, row["pid"]) == state.value


T_PATH = {
    ts.TMessage.START: "start",
    ts.TMessage.SUSPENSION: "suspension",
    ts.TMessage.COMPLETION: "completion",
    ts.TMessage.TERMINATION: "termination",
}


def t_message(kind: ts.TMessage, ppid: str, cpid: str, callback: str) -> dict[str, Any]:
    if kind is ts.TMessage.REQUEST:
        return m.transfer_request(cpid, "urn:uuid:agreement", "NGSI-LD-PULL", callback)
    if kind is ts.TMessage.START:
        return m.transfer_start(ppid, cpid)
    return m.transfer_coded(kind.value, ppid, cpid, "x", "test")


@pytest.mark.parametrize(
    ("state", "kind", "sender"),
    ts.illegal_cases(),
    ids=lambda v: getattr(v, "name", str(v)),
)
async def test_illegal_transfer_transition(
    shared: tuple[Node, Node], state: ts.TState | None, kind: ts.TMessage, sender: ns.Role
) -> None:
    city, company = shared
    receiver_role = ns.Role.CONSUMER if sender is ns.Role.PROVIDER else ns.Role.PROVIDER
    receiver, origin = (city, company) if receiver_role is ns.Role.PROVIDER else (company, city)
    if state is None:
        ppid, cpid = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        pid = ppid if receiver_role is ns.Role.PROVIDER else cpid
        if kind is ts.TMessage.REQUEST:
            # a request "from the provider": there is no such endpoint on a consumer process
            status, _ = await signed(
                origin,
                receiver,
                "POST",
                f"/transfers/{pid}/request",
                t_message(kind, ppid, cpid, origin.dsp_url),
            )
            assert status in (404, 405)
            return
        msg = t_message(kind, ppid, cpid, origin.dsp_url)
        status, body = await signed(
            origin, receiver, "POST", f"/transfers/{pid}/{T_PATH[kind]}", msg
        )
        assert status == 404, body
        validate("TransferError", body)
        return
    row = await insert_transfer(receiver, role=receiver_role.value, state=state.value, peer=origin)
    msg = t_message(kind, row["providerPid"], row["consumerPid"], origin.dsp_url)
    if kind is ts.TMessage.REQUEST:
        # a second TransferRequestMessage for an existing process (a new one, in effect)
        status, body = await signed(origin, receiver, "POST", "/transfers/request", msg)
    else:
        path = f"/transfers/{row['pid']}/{T_PATH[kind]}"
        status, body = await signed(origin, receiver, "POST", path, msg)
    assert status == 400, body
    validate("TransferError", body)
    if kind is not ts.TMessage.REQUEST:
        assert body["code"] == "IllegalTransition"
    assert await db_state(receiver, transfers, row["pid"]) == state.value


async def test_tables_cover_the_spec() -> None:
    assert len(ns.TRANSITIONS) == 9 + 5 * 2
    assert (
        ns.next_state(ns.NState.REQUESTED, ns.NMessage.AGREEMENT, ns.Role.PROVIDER)
        is ns.NState.AGREED
    )
    assert (
        ts.next_state(ts.TState.SUSPENDED, ts.TMessage.START, ns.Role.CONSUMER) is ts.TState.STARTED
    )
    with pytest.raises(ns.IllegalTransition):
        ns.next_state(ns.NState.FINALIZED, ns.NMessage.TERMINATION, ns.Role.CONSUMER)
    with pytest.raises(ts.IllegalTransition):
        ts.next_state(ts.TState.COMPLETED, ts.TMessage.START, ns.Role.PROVIDER)
