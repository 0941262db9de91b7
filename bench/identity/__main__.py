"""Complete DCP callee-side checks per second, single core, warm caches.

One check = ``DcpVerifier.verify_caller``: verify the caller's Self-Issued ID token (replay
cache included), sign our own ID token for the Credential Service, verify the returned VP-JWT
and both VC-JWTs in it (signature, validity, trusted issuer, holder binding) and their
Bitstring Status List entries. Tokens are minted before timing (that is the caller's and the
holder's work, not ours). The Credential Service is an in-process implementation of the client
Protocol returning the holder's pre-made answer, so no socket time is counted in the warm run.

Baseline, measured in the same run: the same check with cold caches (a fresh resolver and
status checker per check, so DID documents and the status list are fetched over HTTP from a
loopback aiohttp server). Also reported for context: raw ``jwt.decode`` of the same four
tokens with already-parsed keys (the floor set by signature verification alone).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from typing import Any

import jwt
from aiohttp import web

from identity import (
    DcpVerifier,
    DidResolver,
    FetchPolicy,
    GuardedHttp,
    HttpStatusListFetcher,
    InMemoryReplayCache,
    KeyRing,
    MembershipCredential,
    Participant,
    ParticipantCredential,
    StatusListChecker,
    StatusListIssuer,
    TrustedIssuersList,
    create_id_token,
    create_presentation,
    issue_access_token,
    issue_credential,
    presentation_nonce,
    type_scope,
)
from identity.jwt_codec import decode_unverified

TARGET = 2000.0
SCOPES = [type_scope("MembershipCredential"), type_scope("ParticipantCredential")]


class CannedCredentialService:
    """The holder's answers, prepared in advance, handed out in call order.

    A stand-in for the network hop; the verifier still checks that each presentation's nonce
    matches the access token of the call, so an answer given to the wrong call would fail.
    """

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.queue: deque[dict[str, Any]] = deque()

    def expect(self, tokens: list[str]) -> None:
        self.queue.extend(self.answers[t] for t in tokens)

    async def query(
        self, endpoint: str, authorization: str, message: dict[str, Any]
    ) -> dict[str, Any]:
        return self.queue.popleft()


class Space:
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{name}/did.json", self._did)
        app.router.add_get("/status/{name}", self._status)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.docs: dict[str, dict[str, Any]] = {}
        self.policy = FetchPolicy(
            allowed_hosts=frozenset({"127.0.0.1"}), allow_loopback=True, allow_http=True
        )

        def member(name: str) -> Participant:
            p = Participant(f"did:web:127.0.0.1%3A{self.port}:{name}", KeyRing.generate())
            self.docs[name] = p.did_document(credential_service=f"{self.base}/{name}/cs")
            return p

        self.authority, self.company, self.provider = (
            member("authority"),
            member("company"),
            member("provider"),
        )
        self.revocation = StatusListIssuer(self.authority, f"{self.base}/status/revocation")
        self.status_vc = self.revocation.issue_credential()
        in_a_day = time.time() + 86_400
        self.vcs = [
            issue_credential(
                self.authority,
                MembershipCredential(
                    id=self.company.did, memberOf=self.authority.did
                ).to_credential(
                    self.authority.did, valid_until=in_a_day, status=[self.revocation.allocate()]
                ),
            ),
            issue_credential(
                self.authority,
                ParticipantCredential(
                    id=self.company.did, legalName="Acme", role="company", country="DE"
                ).to_credential(
                    self.authority.did, valid_until=in_a_day, status=[self.revocation.allocate()]
                ),
            ),
        ]
        self.trusted = TrustedIssuersList()
        self.trusted.add(self.authority.did, ["MembershipCredential", "ParticipantCredential"])
        self.service = CannedCredentialService()

    async def _did(self, request: web.Request) -> web.Response:
        return web.json_response(self.docs[request.match_info["name"]])

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(text=self.status_vc, content_type="application/vc+jwt")

    def headers(self, n: int) -> list[str]:
        out = []
        self.tokens: list[str] = []
        for _ in range(n):
            access = issue_access_token(self.company, self.provider.did, SCOPES)
            vp = create_presentation(
                self.company,
                self.vcs,
                audience=self.provider.did,
                nonce=presentation_nonce(access),
            )
            self.service.answers[access] = {
                "type": "PresentationResponseMessage",
                "presentation": [vp],
            }
            out.append("Bearer " + create_id_token(self.company, self.provider.did, token=access))
            self.tokens.append(access)
        return out

    def verifier(self, http: GuardedHttp) -> tuple[DcpVerifier, DidResolver]:
        resolver = DidResolver(self.policy, http=http)
        checker = StatusListChecker(HttpStatusListFetcher(http), resolver)
        verifier = DcpVerifier(
            self.provider,
            resolver,
            trusted_issuers=self.trusted,
            status_checker=checker,
            replay_cache=InMemoryReplayCache(),
            credential_service=self.service,
        )
        return verifier, resolver


async def main() -> dict[str, Any]:
    space = Space()
    await space.start()
    http = GuardedHttp(space.policy)
    try:
        # warm: one verifier, caches filled by a first call
        verifier, _ = space.verifier(http)
        n_warm = 4000
        headers = space.headers(n_warm + 1)
        space.service.expect(space.tokens)
        await verifier.verify_caller(headers[0], SCOPES)
        start = time.perf_counter()
        for header in headers[1:]:
            await verifier.verify_caller(header, SCOPES)
        warm_s = time.perf_counter() - start
        warm_rate = n_warm / warm_s

        # baseline: cold caches, a fresh resolver + status checker per check (HTTP on loopback)
        n_cold = 200
        cold_headers = space.headers(n_cold)
        space.service.expect(space.tokens)
        start = time.perf_counter()
        for header in cold_headers:
            cold, _ = space.verifier(http)
            await cold.verify_caller(header, SCOPES)
        cold_rate = n_cold / (time.perf_counter() - start)

        # context: raw pyjwt decode of the same four tokens with parsed keys
        id_token = headers[1][7:]
        access = decode_unverified(id_token).payload["token"]
        vp = space.service.answers[access]["presentation"][0]
        company_key = space.company.keyring.active.public_key
        authority_key = space.authority.keyring.active.public_key
        aud = space.provider.did
        n_raw = 4000
        start = time.perf_counter()
        for _ in range(n_raw):
            jwt.decode(id_token, company_key, algorithms=["EdDSA"], audience=aud)
            jwt.decode(vp, company_key, algorithms=["EdDSA"], audience=aud)
            for vc in space.vcs:
                jwt.decode(vc, authority_key, algorithms=["EdDSA"])
        raw_rate = n_raw / (time.perf_counter() - start)
    finally:
        await http.close()
        await space.runner.cleanup()
    return {
        "benchmark": "identity.verify_caller (ID token + VP with two VCs + status list)",
        "unit": "checks/s",
        "warm_checks_per_s": round(warm_rate, 1),
        "target_per_s": TARGET,
        "meets_target": warm_rate >= TARGET,
        "baseline": "same check, cold caches: DID documents + status list over loopback HTTP",
        "baseline_checks_per_s": round(cold_rate, 1),
        "ratio_to_baseline": round(warm_rate / cold_rate, 2),
        "context_raw_pyjwt_4_decodes_per_s": round(raw_rate, 1),
        "ratio_to_raw_pyjwt": round(warm_rate / raw_rate, 2),
        "keys": "Ed25519 (EdDSA) for all parties",
        "n_warm": n_warm,
        "n_cold": n_cold,
        "single_core": True,
    }


if __name__ == "__main__":
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(json.dumps(asyncio.run(main())))
