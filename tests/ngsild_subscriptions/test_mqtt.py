"""mqtt:// endpoints publish {"metadata", "body"} messages to the real Mosquitto on loopback."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiomqtt
import pytest

from tests.ngsild_subscriptions.support import (
    MQTT_HOST,
    MQTT_PORT,
    Client,
    air,
    require_mqtt,
)


@pytest.mark.mqtt
async def test_notification_is_published_to_the_topic(lite: Client) -> None:
    require_mqtt()
    topic = f"agora/test/{uuid.uuid4().hex}"
    async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as listener:
        await listener.subscribe(topic, qos=1)
        body = {
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved"}],
            "q": "NO2>40",
            "notification": {
                "format": "keyValues",
                "endpoint": {
                    "uri": f"mqtt://{MQTT_HOST}:{MQTT_PORT}/{topic}",
                    "accept": "application/json",
                    "receiverInfo": [{"key": "X-Station-Group", "value": "centro"}],
                    "notifierInfo": [
                        {"key": "MQTT-Version", "value": "mqtt3.1.1"},
                        {"key": "MQTT-QoS", "value": "1"},
                    ],
                },
            },
        }
        created = await lite.post("/subscriptions", body)
        assert created.status == 201, created.body
        sub_id = created.headers["Location"].rsplit("/", 1)[1]
        await lite.post("/entities", air(7, no2=12))
        await lite.post("/entities", air(8, no2=61))
        async with asyncio.timeout(5):
            message = await anext(aiter(listener.messages))
    assert str(message.topic) == topic
    assert isinstance(message.payload, bytes | bytearray)
    payload = json.loads(message.payload)
    assert payload["metadata"]["Content-Type"] == "application/json"
    assert "json-ld#context" in payload["metadata"]["Link"]
    assert payload["metadata"]["X-Station-Group"] == "centro"
    note = payload["body"]
    assert note["type"] == "Notification" and note["subscriptionId"] == sub_id
    assert note["data"] == [
        {
            "id": "urn:ngsi-ld:AirQualityObserved:008",
            "type": "AirQualityObserved",
            "NO2": 61,
            "temperature": 21.5,
            "location": {"type": "Point", "coordinates": [-1.13, 37.98]},
        }
    ]
    await asyncio.sleep(0.2)
    got = (await lite.get(f"/subscriptions/{sub_id}")).body["notification"]
    assert got["timesSent"] == 1 and got["status"] == "ok"
