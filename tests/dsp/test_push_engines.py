"""PUSH transfers on each storage engine: the subscription is written in the DSP transaction."""

from __future__ import annotations

from connector.enforcement.push import subscription_id
from connector.enforcement.tables import subscriptions as bindings
from tests.dsp.helpers import Node, wait_for
from tests.dsp.test_push import AIR, Receiver, count, start_push, subscription, upsert


async def test_push_on_each_engine(pair_on: tuple[Node, Node]) -> None:
    city, company = pair_on
    async with Receiver() as receiver:
        consumer, provider = await start_push(city, company, receiver.uri)
        sub_id = subscription_id(provider["id"])
        await upsert(city, AIR + "pg", 51)
        [*_, note] = await receiver.next_with(AIR + "pg", 51)
        assert note["subscriptionId"] == sub_id
        status, body = await company.admin("POST", f"/transfers/{consumer['id']}/suspend")
        assert status == 200, body
        await wait_for(city.transfer, provider["id"], {"SUSPENDED"})
        assert (await subscription(city, sub_id))[1]["status"] == "paused"
        status, body = await city.admin("POST", f"/transfers/{provider['id']}/terminate")
        assert status == 200, body
        assert (await subscription(city, sub_id))[0] == 404
        assert await count(city, bindings.c.subscription_id, sub_id) == 0
