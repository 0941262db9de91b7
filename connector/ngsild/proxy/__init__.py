"""Proxy mode: ``/ngsi-ld/v1`` forwarded to an external broker (Orion-LD, Scorpio, Stellio,
another Agora) with the policy enforcement point still in front of every call."""
