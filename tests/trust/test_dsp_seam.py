"""The trust layer behind DSP's CallerAuthenticator and TokenIssuer protocols."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from connector.dsp.auth import AuthenticationFailed, CallerAuthenticator, TokenIssuer
from connector.trust.dsp_seam import TrustCallerAuthenticator, TrustTokenIssuer
from tests.trust.conftest import Space


async def test_dsp_seam_runs_the_full_dcp_check(onboarded: Space) -> None:
    city, company = onboarded["city"], onboarded["company"]
    assert city.connector.ctx is not None and company.connector.ctx is not None
    authenticator: CallerAuthenticator = TrustCallerAuthenticator(city.connector.ctx)
    issuer: TokenIssuer = TrustTokenIssuer(company.connector.ctx)

    token = await issuer.token_for(city.did)
    request = make_mocked_request("POST", "/dsp/x", headers={"Authorization": f"Bearer {token}"})
    caller = await authenticator.authenticate(request)
    assert caller.did == company.did
    assert {t for c in caller.credentials for t in c["type"]} >= {
        "MembershipCredential",
        "ParticipantCredential",
    }
    assert caller.claims["aud"] == city.did

    with pytest.raises(AuthenticationFailed) as err:
        await authenticator.authenticate(request)  # the same token again
    assert err.value.reason.startswith("replayed")
    with pytest.raises(AuthenticationFailed):
        await authenticator.authenticate(make_mocked_request("POST", "/dsp/x"))


async def test_trust_authenticate_raises_a_401_problem_with_the_reason(onboarded: Space) -> None:
    from connector.http.problems import Problem

    city, company = onboarded["city"], onboarded["company"]
    token = await company.trust.token_for(city.did)
    request = make_mocked_request("GET", "/x", headers={"Authorization": f"Bearer {token}"})
    assert (await city.trust.authenticate(request)).did == company.did
    with pytest.raises(Problem) as err:
        await city.trust.authenticate(request)
    assert err.value.status == 401 and err.value.body()["reason"] == "replayed"
    assert "WWW-Authenticate" in err.value.headers
    with pytest.raises(Problem) as err:
        await city.trust.authenticate(make_mocked_request("GET", "/x"))
    assert err.value.status == 401 and err.value.body()["reason"] == "malformed"


async def test_oversized_bodies_are_refused_everywhere(onboarded: Space) -> None:
    company = onboarded["company"]
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    for path, admin in (
        ("/dcp/presentations/query", False),
        ("/api/v1/membership", True),
        ("/api/v1/trust/tokens", True),
        ("/api/v1/trust/verify", True),
    ):
        status, body = await company.call(
            "POST",
            path,
            admin=admin,
            data=big,
            headers={"Authorization": "Bearer x.y.z"} if not admin else {},
        )
        assert status == 413, (path, status, body)
        assert isinstance(body, dict) and body["status"] == status
