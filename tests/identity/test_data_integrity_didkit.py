"""Data Integrity proofs through the optional didkit extra, signed and checked for real."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from identity import TokenError
from identity.data_integrity import verify_data_integrity
from identity.errors import Reason

didkit = pytest.importorskip("didkit", reason="the didkit extra is not installed")


async def _signed_credential() -> tuple[dict[str, Any], str]:
    jwk = didkit.generate_ed25519_key()
    did = didkit.key_to_did("key", jwk)
    method = await didkit.key_to_verification_method("key", jwk)
    credential = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:resident-42"},
    }
    options = {
        "proofPurpose": "assertionMethod",
        "verificationMethod": method,
        "type": "Ed25519Signature2020",
    }
    signed = await didkit.issue_credential(json.dumps(credential), json.dumps(options), jwk)
    return json.loads(signed), did


async def test_ed25519_signature_2020_proof_verifies() -> None:
    credential, did = await _signed_credential()
    assert credential["proof"]["type"] == "Ed25519Signature2020"
    verified = await verify_data_integrity(credential)
    assert verified["issuer"] == did


async def test_altered_claim_breaks_the_proof() -> None:
    credential, _ = await _signed_credential()
    altered = copy.deepcopy(credential)
    altered["credentialSubject"]["id"] = "did:example:someone-else"
    with pytest.raises(TokenError) as err:
        await verify_data_integrity(altered)
    assert err.value.reason is Reason.BAD_SIGNATURE


async def test_missing_proof_is_malformed() -> None:
    credential, _ = await _signed_credential()
    del credential["proof"]
    with pytest.raises(TokenError) as err:
        await verify_data_integrity(credential)
    assert err.value.reason is Reason.MALFORMED
