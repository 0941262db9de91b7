"""Who the other party of an agreement is, where its connector answers, and its ledger key.

Receipts travel between the two connectors of an agreement, so each side must know, from the
agreement id alone, the peer's DID and base URL; and to check a signed tree head or a
countersignature it needs the peer's public key, taken from the peer's DID document (never from
the message being checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.extensions import LEDGER_EXCHANGE, from_catalog, ledger_endpoint
from connector.dsp.runtime import BASE_PATH
from connector.dsp.tables import agreements, negotiations
from identity import IdentityError
from identity.resolver import DidResolver
from ledger.signing import PublicKey


class PeerError(Exception):
    """The peer, its agreement or its key cannot be established; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AgreementParties:
    agreement_id: str
    provider: str
    consumer: str
    #: the peer's DSP address as the negotiation stored it (already checked against the
    #: operator's callback allow-list when it was accepted); None: ask the peer's DID document
    peer_address: str | None
    #: when this connector stored the agreement (UTC); records about it cannot be older
    created_at: datetime | None = None

    def peer_of(self, me: str) -> str:
        return self.consumer if me == self.provider else self.provider


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; they were stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Peers:
    """Agreement parties from the DSP tables and keys from DID documents, both cached."""

    def __init__(self, engine: AsyncEngine, resolver: DidResolver) -> None:
        self.engine = engine
        self.resolver = resolver
        self._parties: dict[str, AgreementParties] = {}

    def known_parties(self, agreement_id: str) -> AgreementParties | None:
        """The parties if already looked up (no I/O); else use :meth:`parties`."""
        return self._parties.get(agreement_id)

    async def parties(self, agreement_id: str) -> AgreementParties | None:
        """The parties of an agreement this connector stores, or None if it stores none."""
        found = self._parties.get(agreement_id)
        if found is not None:
            return found
        stmt = (
            select(
                agreements.c.provider_did,
                agreements.c.consumer_did,
                negotiations.c.counterparty_address,
                agreements.c.created_at,
            )
            .select_from(
                agreements.outerjoin(
                    negotiations, negotiations.c.pid == agreements.c.negotiation_pid
                )
            )
            .where(agreements.c.id == agreement_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        found = AgreementParties(agreement_id, row[0], row[1], row[2], _utc(row[3]))
        self._parties[agreement_id] = found
        return found

    async def base_url(self, parties: AgreementParties, me: str) -> str:
        """The peer connector's base URL: from its DSP address, else its DID document."""
        if parties.peer_address:
            return parties.peer_address.rstrip("/").removesuffix(BASE_PATH)
        peer = parties.peer_of(me)
        try:
            document = await self.resolver.resolve(peer)
        except IdentityError as exc:
            raise PeerError(f"cannot resolve {peer}: {exc}") from None
        service = document.service("DataService")
        if service is None:
            raise PeerError(f"{peer} publishes no DataService endpoint")
        endpoint = service.endpoint.rstrip("/")
        for suffix in (BASE_PATH, "/.well-known/dspace-version"):
            endpoint = endpoint.removesuffix(suffix)
        return endpoint

    async def exchanges_receipts(self, did: str) -> bool:
        """Does ``did`` advertise the ledger receipt exchange (DID document or catalog)? A peer that
        speaks only DSP has no such endpoint: nothing outside its DSP base path is sent to it."""
        try:
            document = await self.resolver.resolve(did)
        except IdentityError as exc:
            raise PeerError(f"cannot resolve {did}: {exc}") from None
        if ledger_endpoint(document) is not None:
            return True
        return LEDGER_EXCHANGE in await from_catalog(self.engine, did)  # or in its catalog

    async def key(self, did: str, kid: str) -> PublicKey:
        """The public key ``kid`` of ``did``, from its DID document."""
        if kid.split("#", 1)[0] != did:
            raise PeerError(f"the key {kid} does not belong to {did}")
        try:
            document = await self.resolver.resolve(did)
        except IdentityError as exc:
            raise PeerError(f"cannot resolve {did}: {exc}") from None
        method = document.methods.get(kid)
        if method is None:
            raise PeerError(f"{kid} is not a key of {did}")
        return method.public_key

    async def close(self) -> None:
        await self.resolver.close()
