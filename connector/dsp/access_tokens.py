"""Access tokens for PULL transfers, and their check by the NGSI-LD data plane (the PEP).

The provider hands the consumer a short-lived JWT in the TransferStartMessage's data address.
It is bound to one agreement and one transfer (claims ``agreementId``, ``transferId``,
``sub`` = consumer DID, ``exp``). Verifying it checks the signature and expiry *and reads the
transfer's current state*: a suspension or termination revokes access at once, whatever the
token's ``exp``. A fresh token for a started transfer comes from the refresh endpoint.

Under an offer with ``tokenBinding: dpop`` the token is sender-constrained (RFC 9449 §6.1):
``cnf.jkt`` names the consumer's key, and the data plane wants a DPoP proof by that key with
every request (:mod:`identity.dpop`), so a token that leaks is of no use to whoever finds it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.auth import LocalIdentity
from connector.dsp.tables import agreements, transfers
from connector.dsp.transfer_states import TState
from connector.http.context import ConnectorContext

TOKEN_TYP = "agora-transfer+jwt"
DEFAULT_TTL_S = 600


@dataclass(frozen=True)
class TransferGrant:
    """What a valid access token grants: the agreement (ODRL) under which data may flow."""

    agreement_id: str
    transfer_id: str
    consumer_did: str
    agreement: dict[str, Any]
    target: str
    expires_at: float
    #: the thumbprint of the key a DPoP proof must be signed with; None for a bearer token
    jkt: str | None = None


class AccessDenied(Exception):
    """The token is not (or no longer) good for data access; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessTokens:
    def __init__(
        self, identity: LocalIdentity, engine: AsyncEngine, ttl: int = DEFAULT_TTL_S
    ) -> None:
        self.identity = identity
        self.engine = engine
        self.ttl = ttl

    def issue(
        self,
        *,
        agreement_id: str,
        transfer_id: str,
        consumer_did: str,
        ttl: int | None = None,
        jkt: str | None = None,
    ) -> tuple[str, int]:
        """A signed token; with ``jkt``, bound to the key of that thumbprint (DPoP)."""
        ttl = ttl or self.ttl
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.identity.did,
            "aud": self.identity.did,
            "sub": consumer_did,
            "agreementId": agreement_id,
            "transferId": transfer_id,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + ttl,
        }
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        token = jwt.encode(
            claims,
            self.identity.key.private_key,
            algorithm=self.identity.key.alg.value,
            headers={"kid": self.identity.kid, "typ": TOKEN_TYP},
        )
        return token, ttl

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != TOKEN_TYP:
                raise AccessDenied("not a transfer access token")
            claims: dict[str, Any] = jwt.decode(
                token,
                self.identity.key.public_key,
                algorithms=[self.identity.key.alg.value],
                audience=self.identity.did,
                issuer=self.identity.did,
                options={"require": ["exp", "iat", "sub", "agreementId", "transferId"]},
            )
        except jwt.ExpiredSignatureError:
            raise AccessDenied("the access token has expired; refresh it") from None
        except jwt.PyJWTError as exc:
            raise AccessDenied(f"invalid access token: {exc}") from None
        cnf = claims.get("cnf")
        if cnf is not None and not (isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str)):
            raise AccessDenied("invalid access token: cnf must hold a jkt")
        return claims

    async def verify_access_token(
        self, token: str, *, require_started: bool = True
    ) -> TransferGrant:
        """The grant behind ``token``; :class:`AccessDenied` unless the transfer is STARTED."""
        claims = self._claims(token)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        transfers.c.state, transfers.c.agreement_id, transfers.c.counterparty_did
                    )
                    .where(transfers.c.pid == claims["transferId"])
                    .where(transfers.c.role == "provider")
                )
            ).first()
            if row is None or row.agreement_id != claims["agreementId"]:
                raise AccessDenied("no such transfer under this agreement")
            if row.counterparty_did != claims["sub"]:
                raise AccessDenied("the token was not issued to this consumer")
            if require_started and row.state != TState.STARTED.value:
                raise AccessDenied(f"the transfer is {row.state}, not STARTED")
            agreement = (
                await conn.execute(
                    select(agreements.c.agreement, agreements.c.target).where(
                        agreements.c.id == claims["agreementId"]
                    )
                )
            ).first()
        if agreement is None:
            raise AccessDenied("the agreement is unknown")
        return TransferGrant(
            agreement_id=str(claims["agreementId"]),
            transfer_id=str(claims["transferId"]),
            consumer_did=str(claims["sub"]),
            agreement=json.loads(agreement.agreement),
            target=agreement.target,
            expires_at=float(claims["exp"]),
            jkt=claims["cnf"]["jkt"] if "cnf" in claims else None,
        )


async def verify_access_token(ctx: ConnectorContext, token: str) -> TransferGrant:
    """The PEP's entry point: the grant behind ``token`` on this connector, or AccessDenied."""
    tokens: AccessTokens = ctx.components["dsp"].tokens
    return await tokens.verify_access_token(token)
