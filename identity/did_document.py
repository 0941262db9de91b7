"""Parsed DID documents: verification methods with their keys parsed once, and services.

Parsing keys once per resolution (and caching the parsed document) keeps signature checks on
the hot path free of JWK decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Reason, ResolutionError, TokenError
from .keys import KeyAlg, PublicKey, alg_for_public_key, public_key_from_jwk

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
JWS_2020_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1"
DSPACE_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"

RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


@dataclass(frozen=True)
class VerificationMethod:
    id: str
    controller: str
    public_key: PublicKey
    alg: KeyAlg
    jwk: dict[str, Any]


@dataclass(frozen=True)
class Service:
    id: str
    type: str
    endpoint: str
    #: the entry's other properties (extensions a participant advertises on a service)
    properties: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class DidDocument:
    """The parts of a DID document the verifier needs, with the raw JSON kept for callers."""

    id: str
    methods: dict[str, VerificationMethod]
    relationships: dict[str, frozenset[str]]
    services: tuple[Service, ...]
    raw: dict[str, Any] = field(repr=False)

    def key_for(self, kid: str | None, relationship: str) -> VerificationMethod:
        """Pick the verification method named by a JWS ``kid`` and check its relationship.

        Without a kid the document must hold exactly one method (DCP base protocol rule).
        """
        if kid is None:
            if len(self.methods) != 1:
                raise TokenError(Reason.KEY_NOT_FOUND, "no kid and the DID has several keys")
            method = next(iter(self.methods.values()))
        else:
            full = self.id + kid if kid.startswith("#") else kid
            found = self.methods.get(full)
            if found is None:
                raise TokenError(Reason.KEY_NOT_FOUND, f"{kid} is not a key of {self.id}")
            method = found
        if method.id not in self.relationships.get(relationship, frozenset()):
            raise TokenError(
                Reason.KEY_NOT_FOUND, f"{method.id} is not authorised for {relationship}"
            )
        return method

    def service(self, type_: str) -> Service | None:
        for svc in self.services:
            if svc.type == type_:
                return svc
        return None

    @staticmethod
    def parse(raw: dict[str, Any], expected_id: str) -> DidDocument:
        """Validate and index a resolved document; its id must be the DID that was asked for."""
        if not isinstance(raw, dict) or raw.get("id") != expected_id:
            raise ResolutionError(
                Reason.DID_UNRESOLVABLE, f"document id does not match {expected_id}"
            )
        methods: dict[str, VerificationMethod] = {}
        vms = raw.get("verificationMethod", [])
        if not isinstance(vms, list):
            raise ResolutionError(Reason.DID_UNRESOLVABLE, "verificationMethod must be a list")

        def absolute(ref: str) -> str:
            return expected_id + ref if ref.startswith("#") else ref

        def add(vm: Any) -> str | None:
            """Index one method; methods we cannot use (other key types) are skipped, not fatal."""
            if not isinstance(vm, dict) or not isinstance(vm.get("id"), str):
                raise ResolutionError(Reason.DID_UNRESOLVABLE, "malformed verification method")
            vm_id = absolute(vm["id"])
            jwk = vm.get("publicKeyJwk")
            if not isinstance(jwk, dict) or not vm_id.startswith(expected_id + "#"):
                return None  # unusable here, or a key another DID would have to vouch for
            try:
                key = public_key_from_jwk(jwk)
            except TokenError:
                return None
            controller = str(vm.get("controller", expected_id))
            methods[vm_id] = VerificationMethod(
                vm_id, controller, key, alg_for_public_key(key), jwk
            )
            return vm_id

        for vm in vms:
            add(vm)
        relationships: dict[str, frozenset[str]] = {}
        for rel in RELATIONSHIPS:
            refs = raw.get(rel, [])
            ids = set()
            for ref in refs if isinstance(refs, list) else []:
                vm_id = absolute(ref) if isinstance(ref, str) else add(ref)
                if vm_id is not None:
                    ids.add(vm_id)
            relationships[rel] = frozenset(ids)
        services = []
        for svc in raw.get("service", []) or []:
            if isinstance(svc, dict) and isinstance(svc.get("serviceEndpoint"), str):
                services.append(
                    Service(
                        absolute(str(svc.get("id", ""))),
                        str(svc.get("type")),
                        svc["serviceEndpoint"],
                        {
                            k: v
                            for k, v in svc.items()
                            if k not in ("id", "type", "serviceEndpoint")
                        },
                    )
                )
        return DidDocument(expected_id, methods, relationships, tuple(services), raw)


def build_did_document(
    did: str,
    jwks: list[dict[str, Any]],
    *,
    credential_service: str | None = None,
    dsp_endpoint: str | None = None,
    dsp_properties: dict[str, Any] | None = None,
    extra_services: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A DID document with JsonWebKey2020 methods for every key and the DCP/DSP services.

    ``dsp_properties`` are added to the DSP service entry (extensions the participant speaks),
    ``extra_services`` are further service entries, each with its own ``id`` and ``type``.

    Every key gets every relationship: the active key signs ID tokens (capabilityInvocation),
    presentations (authentication) and credentials (assertionMethod); retired keys stay listed
    so what they signed still verifies.
    """
    vms = []
    for jwk in jwks:
        public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "kid", "alg")}
        vms.append(
            {
                "id": f"{did}#{jwk['kid']}",
                "type": "JsonWebKey2020",
                "controller": did,
                "publicKeyJwk": public,
            }
        )
    ids = [vm["id"] for vm in vms]
    doc: dict[str, Any] = {
        "@context": [DID_CONTEXT, JWS_2020_CONTEXT],
        "id": did,
        "verificationMethod": vms,
        **{rel: list(ids) for rel in RELATIONSHIPS},
    }
    services = []
    if credential_service:
        services.append(
            {
                "id": f"{did}#credential-service",
                "type": "CredentialService",
                "serviceEndpoint": credential_service,
            }
        )
    if dsp_endpoint:
        services.append(
            {
                "id": f"{did}#dsp",
                "type": "DataService",
                "serviceEndpoint": dsp_endpoint,
                **(dsp_properties or {}),
            }
        )
        doc["@context"].append(DSPACE_CONTEXT)
    services.extend(extra_services or [])
    if services:
        doc["service"] = services
    return doc
