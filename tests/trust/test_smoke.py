from tests.trust.conftest import Space


async def test_onboard_smoke(onboarded: Space) -> None:
    city, company = onboarded["city"], onboarded["company"]
    status, body = await company.call("GET", "/api/v1/membership")
    assert status == 200, body
    print(body)
    token = await company.trust.token_for(city.did)
    caller = await city.trust.verify_authorization(f"Bearer {token}")
    assert caller.did == company.did
