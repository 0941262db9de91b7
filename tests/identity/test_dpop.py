"""DPoP proofs through identity.dpop's API: each §4.3 check refuses with a typed reason."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from identity.dpop import (
    DpopError,
    access_token_hash,
    create_proof,
    key_thumbprint,
    normalize_htu,
    verify_proof,
)
from identity.errors import Reason, TokenError
from identity.keys import KeyAlg, SigningKey, public_jwk
from identity.replay import InMemoryReplayCache

URL = "https://city.example/ngsi-ld/v1/entities"
TOKEN = "header.payload.signature"


async def check(proof: str, key: SigningKey, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "method": "GET",
        "url": URL,
        "access_token": TOKEN,
        "expected_jkt": key_thumbprint(key),
        "replay": InMemoryReplayCache(),
    }
    args.update(kw)
    return await verify_proof(proof, **args)


@pytest.mark.parametrize("alg", [KeyAlg.EDDSA, KeyAlg.ES256])
async def test_a_good_proof_verifies_once(alg: KeyAlg) -> None:
    key = SigningKey.generate(alg)
    replay = InMemoryReplayCache()
    proof = create_proof(key, method="get", url=URL + "?type=X", access_token=TOKEN)
    verified = await check(proof, key, replay=replay)
    assert verified.jkt == key_thumbprint(key)
    with pytest.raises(DpopError) as replayed:
        await check(proof, key, replay=replay)
    assert replayed.value.reason is Reason.REPLAYED


def _forged(key: SigningKey, header: dict[str, Any], **claims: Any) -> str:
    body = {
        "jti": "j-1",
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": access_token_hash(TOKEN),
        **claims,
    }
    return jwt.encode(body, key.private_key, algorithm=key.alg.value, headers=header)


async def test_each_check_refuses_with_its_reason() -> None:
    key = SigningKey.generate()
    jwk = public_jwk(key.public_key)
    good_header = {"typ": "dpop+jwt", "jwk": jwk}
    cases: list[tuple[str, Reason]] = [
        (_forged(key, {"typ": "JWT", "jwk": jwk}), Reason.MALFORMED),
        (_forged(key, {"typ": "dpop+jwt"}), Reason.MALFORMED),  # no jwk
        (_forged(key, {**good_header, "jwk": {**jwk, "d": "AAAA"}}), Reason.MALFORMED),
        (_forged(key, good_header, htm="POST"), Reason.MALFORMED),
        (
            _forged(key, good_header, htu="https://other.example/ngsi-ld/v1/entities"),
            Reason.MALFORMED,
        ),
        (_forged(key, good_header, iat=int(time.time()) + 600), Reason.NOT_YET_VALID),
        (_forged(key, good_header, iat=int(time.time()) - 600), Reason.EXPIRED),
        (_forged(key, good_header, iat="now"), Reason.MALFORMED),
        (_forged(key, good_header, ath=access_token_hash("other")), Reason.MALFORMED),
        (_forged(key, good_header, ath=None), Reason.MALFORMED),
        (_forged(key, good_header, jti="x" * 300), Reason.MALFORMED),
        ("a.b", Reason.MALFORMED),
    ]
    for proof, reason in cases:
        with pytest.raises(DpopError) as refused:
            await check(proof, key)
        assert refused.value.reason is reason, (proof, refused.value.detail)


async def test_algorithms_and_keys_are_not_negotiable() -> None:
    key = SigningKey.generate()
    jwk = public_jwk(key.public_key)
    hmac_proof = jwt.encode(
        {"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time())},
        "secret-secret-secret-secret-32by",
        algorithm="HS256",
        headers={"typ": "dpop+jwt", "jwk": jwk},
    )
    with pytest.raises(DpopError) as refused:
        await check(hmac_proof, key)
    assert refused.value.reason is Reason.ALG_NOT_ALLOWED
    # the header names the bound key but another key signed: the signature does not verify
    other = SigningKey.generate()
    claims = {"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time())}
    swapped = jwt.encode(
        {**claims, "ath": access_token_hash(TOKEN)},
        other.private_key,
        algorithm="EdDSA",
        headers={"typ": "dpop+jwt", "jwk": jwk},
    )
    with pytest.raises(TokenError) as bad:
        await check(swapped, key)
    assert bad.value.reason is Reason.BAD_SIGNATURE
    # a proof by the other key with its own jwk: the token is not bound to that key
    with pytest.raises(DpopError) as mismatch:
        await check(create_proof(other, method="GET", url=URL, access_token=TOKEN), key)
    assert mismatch.value.reason is Reason.HOLDER_MISMATCH


def test_htu_normalization() -> None:
    assert normalize_htu("HTTPS://City.Example:443/a%3Ab?q=1#f") == "https://city.example/a:b"
    assert normalize_htu("http://127.0.0.1:8080") == "http://127.0.0.1:8080/"
    assert normalize_htu("http://[::1]:80/x") == "http://[::1]/x"
