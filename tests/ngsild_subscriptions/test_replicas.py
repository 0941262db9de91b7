"""Two replicas on one PostgreSQL database: a subscription made through one is honoured by the
other, which notifies for the changes written through it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.ngsild_subscriptions.support import (
    Receiver,
    air,
    make_participant,
    serving,
    subscription,
)


async def test_subscription_made_on_one_replica_fires_on_the_other(
    postgres_url: str, tmp_path: Path
) -> None:
    quick = {"subscription_refresh_s": 0.2}
    receiver = Receiver()
    await receiver.start()
    try:
        async with (
            serving(make_participant(tmp_path, postgres_url, quick)) as a,
            serving(make_participant(tmp_path, postgres_url, quick)) as b,
        ):
            body = subscription(receiver.url, id="urn:ngsi-ld:Subscription:shared", q="NO2>40")
            assert (await a.post("/subscriptions", body)).status == 201
            # b learns of it within its reload period; retry the write until it notifies
            for n in range(1, 20):
                assert (await b.post("/entities", air(n, no2=45))).status == 201
                if receiver.received:
                    break
                await receiver_wait(receiver)
            [note] = await receiver.wait_for(1)
            assert note["subscriptionId"] == "urn:ngsi-ld:Subscription:shared"
            # b counts the notification once its POST is answered, so just after the receiver
            # has it the count may not be committed yet: read it from a until it is (or 10 s)
            for _ in range(100):
                got = await a.get("/subscriptions/urn:ngsi-ld:Subscription:shared")
                if got.body["notification"]["timesSent"] >= 1:
                    break
                await asyncio.sleep(0.1)
            assert got.body["notification"]["timesSent"] >= 1
    finally:
        await receiver.stop()


async def receiver_wait(receiver: Receiver) -> None:
    try:
        await receiver.wait_for(1, within=0.25)
    except TimeoutError:
        pass
