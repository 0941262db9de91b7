"""NGSI-LD subscriptions (GS CIM 009 §5.8, §6.10-6.11): stored in SQL, triggered by the broker's
change feed and by timers, notified over HTTP(S) and MQTT(S) in background tasks."""
