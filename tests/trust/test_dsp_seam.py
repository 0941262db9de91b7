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
