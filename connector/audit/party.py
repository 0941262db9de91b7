"""A connector as the auditor sees it: its DID (did:web of its URL) and its ledger keys.

The public key that checks a log's tree heads comes from the connector's DID document, fetched
from ``URL/.well-known/did.json`` through identity's resolver, and the head's ``kid`` must name a
key of that document: a log signed by any other key is not this connector's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from connector.config import did_web_for
from identity import IdentityError
from identity.did_document import DidDocument
from identity.http_guard import FetchPolicy
from identity.resolver import DidResolver
from ledger.signing import PublicKey

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class PartyError(Exception):
    """The connector's DID document or key cannot be had."""


@dataclass(frozen=True)
class Party:
    url: str
    did: str
    document: DidDocument

    def key(self, kid: str) -> PublicKey:
        method = self.document.methods.get(kid)
        if method is None:
            raise PartyError(f"the log is signed with {kid}, which is not a key of {self.did}")
        return method.public_key


def resolver_for_url(url: str) -> DidResolver:
    """Reach exactly the audited host; plain http only on loopback (local test set-ups)."""
    host = (urlsplit(url).hostname or "").lower()
    loopback = host in LOOPBACK
    policy = FetchPolicy(
        allowed_hosts=frozenset({host}),
        allow_loopback=loopback,
        allow_http=loopback,
        timeout=15.0,
    )
    return DidResolver(policy, ttl=60.0)


MAX_AUTHORS = 8


async def author_keys(dids: list[str], audited_url: str) -> tuple[dict[str, PublicKey], list[str]]:
    """The keys (by key id) of the other authors of a log's statements, from their DID documents,
    and a note for each author whose keys could not be had. Each did:web is fetched from its own
    host only, plain http and loopback only when the audited connector itself is on loopback;
    at most ``MAX_AUTHORS`` (a log cannot make the auditor fetch from any number of hosts)."""
    near = (urlsplit(audited_url).hostname or "").lower() in LOOPBACK
    keys: dict[str, PublicKey] = {}
    notes = []
    if len(dids) > MAX_AUTHORS:
        notes.append(
            f"statements of {len(dids) - MAX_AUTHORS} more authors not checked "
            f"(at most {MAX_AUTHORS} DID documents are fetched)"
        )
    for did in dids[:MAX_AUTHORS]:
        host = ""
        if did.startswith("did:web:"):
            host = unquote(did.split(":")[2]).split(":")[0].lower()
        policy = FetchPolicy(
            allowed_hosts=frozenset({host} if host else set()),
            allow_loopback=near,
            allow_http=near,
            timeout=15.0,
        )
        resolver = DidResolver(policy, ttl=60.0)
        try:
            document = await resolver.resolve(did)
        except IdentityError as exc:
            notes.append(f"statements by {did} not checked: its DID document: {exc}")
            continue
        finally:
            await resolver.close()
        keys.update((kid, method.public_key) for kid, method in document.methods.items())
    return keys, notes


async def party_at(url: str) -> Party:
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise PartyError(f"{url!r} is not an http(s) URL")
    did = did_web_for(url)
    resolver = resolver_for_url(url)
    try:
        document = await resolver.resolve(did)
    except IdentityError as exc:
        raise PartyError(f"cannot read the DID document of {url}: {exc}") from None
    finally:
        await resolver.close()
    return Party(url, did, document)
