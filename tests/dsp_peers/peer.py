"""A counter-party that speaks only DSP 2025-1: no Agora code, no Agora extensions.

It plays what another vendor's connector would (the role the Eclipse DSP TCK's scripted
counter-party plays): a did:web identity on loopback with one Ed25519 key, DCP self-issued ID
tokens on every call it makes, the provider and consumer endpoints of the 2025-1 HTTPS binding.
It does not decide anything by itself: every message it receives is recorded and acknowledged,
and the test says what it sends next. Anything it receives outside its DSP base path is
recorded in :attr:`Peer.outside` and answered 404, as a plain DSP connector would.

Only aiohttp, PyJWT, cryptography and the standard library are used here, on purpose.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def msg(type_: str, **fields: Any) -> dict[str, Any]:
    """A DSP 2025-1 message: context, type and the given properties."""
    return {"@context": [CONTEXT], "@type": type_, **fields}


@dataclass
class Received:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class Peer:
    """The other vendor's connector. ``extensions`` go on its DSP service entry as given
    (a test may make it claim an extension it then does not honour)."""

    extensions: list[str] = field(default_factory=list)
    #: claim a ledger receipt exchange in the DID document (its endpoint then answers 404)
    ledger_service: bool = False
    #: Agora extensions listed on the DataService of the peer's catalog (not its DID document)
    catalog_extensions: list[str] = field(default_factory=list)
    #: the datasets of its catalog, by id (DCAT as a 2025-1 provider sends it)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    outside: list[Received] = field(default_factory=list)
    #: what the peer answers to a process message (a test may make it refuse)
    status_for: dict[str, int] = field(default_factory=dict)
    #: refresh-token grants received
    oauth: list[Received] = field(default_factory=list)
    #: requests to the peer's data plane
    pulls: list[Received] = field(default_factory=list)
    #: data pushed to the peer's inbox
    pushed: list[Received] = field(default_factory=list)
    issued: int = 0

    def __post_init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._arrived = asyncio.Event()
        self.http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ identity

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dsp_url(self) -> str:
        return self.url + "/dsp"

    @property
    def did(self) -> str:
        return f"did:web:127.0.0.1%3A{self.port}"

    def did_document(self) -> dict[str, Any]:
        kid = f"{self.did}#key-1"
        service: dict[str, Any] = {
            "id": f"{self.did}#dsp",
            "type": "DataService",
            "serviceEndpoint": self.url + "/.well-known/dspace-version",
        }
        if self.extensions:
            service["https://w3id.org/agora/dsp#extensions"] = list(self.extensions)
        return {
            "@context": ["https://www.w3.org/ns/did/v1", CONTEXT],
            "id": self.did,
            "verificationMethod": [
                {
                    "id": kid,
                    "type": "JsonWebKey2020",
                    "controller": self.did,
                    "publicKeyJwk": self.jwk,
                }
            ],
            "authentication": [kid],
            "assertionMethod": [kid],
            "capabilityInvocation": [kid],
            "service": [service, *self._ledger()],
        }

    def _ledger(self) -> list[dict[str, Any]]:
        if not self.ledger_service:
            return []
        return [
            {
                "id": f"{self.did}#ledger",
                "type": "AgoraLedgerExchange",
                "serviceEndpoint": self.url + "/ledger/v1",
            }
        ]

    def token_for(self, audience: str) -> str:
        """A DCP self-issued ID token (iss = sub = our DID, aud = theirs, jti, iat, exp)."""
        now = int(time.time())
        claims = {
            "iss": self.did,
            "sub": self.did,
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 120,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": f"{self.did}#key-1"})

    # ------------------------------------------------------------------ server

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        app = web.Application()
        app.router.add_get("/.well-known/did.json", self._did)
        app.router.add_get("/.well-known/dspace-version", self._version)
        app.router.add_route("*", "/dsp/{tail:.*}", self._dsp)
        app.router.add_post("/oauth/token", self._oauth)
        app.router.add_get("/data", self._data)
        app.router.add_post("/inbox", self._inbox)
        app.router.add_route("*", "/{tail:.*}", self._elsewhere)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _did(self, request: web.Request) -> web.Response:
        return web.json_response(self.did_document())

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"protocolVersions": [{"version": "2025-1", "path": "/dsp", "binding": "HTTPS"}]}
        )

    async def _record(self, request: web.Request) -> Received:
        raw = await request.read()
        try:
            body = await request.json() if raw else None
        except ValueError:
            body = raw
        return Received(request.method, request.path, body, dict(request.headers))

    def fresh_token(self) -> str:
        self.issued += 1
        return f"token-{self.issued}"

    def data_address(self, token: str, **props: str) -> dict[str, Any]:
        """A DataAddress as this peer hands it out (endpoint, token, and ``props``)."""
        properties = {"authorization": token, "authType": "bearer", **props}
        return {
            "@type": "DataAddress",
            "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
            "endpoint": self.url + "/data",
            "endpointProperties": [
                {"@type": "EndpointProperty", "name": k, "value": v} for k, v in properties.items()
            ],
        }

    async def _oauth(self, request: web.Request) -> web.Response:
        """An OAuth 2.0 refresh-token grant, as EDC-style providers answer it."""
        form = await request.post()
        self.oauth.append(Received(request.method, request.path, dict(form), dict(request.headers)))
        if form.get("grant_type") != "refresh_token" or not form.get("refresh_token"):
            return web.json_response({"error": "invalid_request"}, status=400)
        return web.json_response(
            {
                "access_token": self.fresh_token(),
                "refresh_token": f"refresh-{self.issued}",
                "expires_in": 600,
                "token_type": "bearer",
            }
        )

    async def _data(self, request: web.Request) -> web.Response:
        """The peer's HTTP data plane: a JSON document for a bearer token it issued."""
        self.pulls.append(await self._record(request))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token.startswith("token-"):
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response(
            {"rows": [{"station": "A1", "no2": 21}], "query": dict(request.query)}
        )

    async def _inbox(self, request: web.Request) -> web.Response:
        """Where this peer, as an HttpData-PUSH consumer, takes the data pushed to it."""
        self.pushed.append(await self._record(request))
        return web.Response(status=204)

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.outside.append(await self._record(request))
        return web.Response(status=404, text="not found")

    async def _dsp(self, request: web.Request) -> web.Response:
        got = await self._record(request)
        self.received.append(got)
        self._arrived.set()
        tail = request.match_info["tail"]
        body = got.body if isinstance(got.body, dict) else {}
        status = self.status_for.get(str(body.get("@type")), 200)
        if status >= 400:
            area = "TransferError" if tail.startswith("transfers") else "ContractNegotiationError"
            return web.json_response(
                msg(
                    area,
                    providerPid=body.get("providerPid", ""),
                    consumerPid=body.get("consumerPid", ""),
                    code="Refused",
                    reason=["the peer refuses"],
                ),
                status=status,
            )
        if tail == "catalog/request":  # its catalog, its DataService as configured
            service: dict[str, Any] = {
                "@id": f"{self.dsp_url}#service",
                "@type": "DataService",
                "endpointURL": self.dsp_url,
            }
            if self.catalog_extensions:
                service["https://w3id.org/agora/dsp#extensions"] = list(self.catalog_extensions)
            found: dict[str, Any] = {"@id": urn(), "participantId": self.did, "service": [service]}
            if self.datasets:
                found["dataset"] = list(self.datasets.values())
            return web.json_response(msg("Catalog", **found))
        if tail.startswith("catalog/datasets/"):
            dataset = self.datasets.get(
                request.match_info["tail"].removeprefix("catalog/datasets/")
            )
            if dataset is None:
                error = msg("CatalogError", code="NotFound", reason=["no such dataset"])
                return web.json_response(error, status=404)
            return web.json_response({**msg("Dataset"), **dataset})
        if tail.startswith("transfers/") and tail.endswith("/token"):  # a token refresh
            return web.json_response(self.data_address(self.fresh_token(), expiresIn="600"))
        if tail == "negotiations/request":  # we are the provider: a new negotiation
            pid = urn()
            body["providerPid"] = pid
            return web.json_response(
                msg(
                    "ContractNegotiation",
                    providerPid=pid,
                    consumerPid=body.get("consumerPid"),
                    state="REQUESTED",
                ),
                status=201,
            )
        if tail == "transfers/request":
            pid = urn()
            body["providerPid"] = pid
            return web.json_response(
                msg(
                    "TransferProcess",
                    providerPid=pid,
                    consumerPid=body.get("consumerPid"),
                    state="REQUESTED",
                ),
                status=201,
            )
        if tail == "negotiations/offers":  # we are the consumer of a provider's offer
            pid = urn()
            body["consumerPid"] = pid
            return web.json_response(
                msg(
                    "ContractNegotiation",
                    providerPid=body.get("providerPid"),
                    consumerPid=pid,
                    state="OFFERED",
                ),
                status=201,
            )
        return web.Response(status=200)

    async def next_message(
        self, type_: str, *, within: float = 10.0, **match: Any
    ) -> dict[str, Any]:
        """The first received message of ``type_`` (and the given properties), waiting for it."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for got in self.received:
                body = got.body
                if (
                    isinstance(body, dict)
                    and body.get("@type") == type_
                    and all(body.get(k) == v for k, v in match.items())
                ):
                    return body
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                seen = [g.body.get("@type") for g in self.received if isinstance(g.body, dict)]
                raise AssertionError(f"no {type_} {match} arrived; got {seen}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ client

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        audience: str | None = None,
        token: str | None = "",
    ) -> tuple[int, Any, dict[str, str]]:
        """A DSP request to another connector, with a fresh ID token for ``audience``
        (``token=None``: no Authorization header at all)."""
        assert self.http is not None
        headers = {}
        if token is not None:
            headers["Authorization"] = "Bearer " + (token or self.token_for(audience or ""))
        async with self.http.request(method, url, json=body, headers=headers) as resp:
            raw = await resp.read()
            try:
                doc = await resp.json(content_type=None) if raw else None
            except ValueError:
                doc = raw.decode(errors="replace")
            return resp.status, doc, dict(resp.headers)
