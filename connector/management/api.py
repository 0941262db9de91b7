"""`/api/v1` root: who this connector is, and its public profile.

Other components add their own management routes to the same sub-application through
:data:`MANAGEMENT_APP`; the admin key guard applies to all of them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
)
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from connector.http.auth import require_principal
from connector.http.context import CTX, ConnectorContext
from connector.http.problems import Problem, read_json
from connector.http.routes import DECLARED, Route, View, add_routes
from connector.management import conflicts, docs
from connector.storage.schema import settings_kv

MANAGEMENT_APP: web.AppKey[web.Application] = web.AppKey("agora.management", web.Application)
PROFILE_KEY = "participant.profile"


#: Longest homepage URL stored, normalised; below HttpUrl's own bound of 2,083 so that a URL that
#: grows when normalised is refused at write rather than failing every later read.
MAX_HOMEPAGE = 2000


class Profile(BaseModel):
    """What a participant says of itself in catalogs and DID documents."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=2000)
    homepage: HttpUrl | None = None
    contact_email: EmailStr | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @field_validator("homepage")
    @classmethod
    def _homepage_fits(cls, value: HttpUrl | None) -> HttpUrl | None:
        """The URL as it will be stored (normalised: IDNA host, percent-encoded path) must fit
        the bound, or the stored profile would no longer validate when it is read back."""
        if value is not None and len(str(value)) > MAX_HOMEPAGE:
            raise ValueError(
                f"the homepage URL is {len(str(value))} characters once normalised; "
                f"at most {MAX_HOMEPAGE} are kept"
            )
        return value


def validation_problem(exc: ValidationError) -> Problem:
    errors = [
        {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]}
        for e in exc.errors()
    ]
    first = errors[0]
    return Problem(
        400,
        "Bad Request",
        detail=f"{first['pointer']}: {first['detail']}",
        errors=errors,
    )


async def load_profile(ctx: ConnectorContext) -> Profile:
    async with ctx.engine.connect() as conn:
        row = (
            await conn.execute(select(settings_kv.c.value).where(settings_kv.c.key == PROFILE_KEY))
        ).first()
    stored = _stored_profile(ctx, row[0]) if row else Profile()
    return _with_defaults(ctx, stored)


def _with_defaults(ctx: ConnectorContext, stored: Profile) -> Profile:
    """Fields the stored profile never set come from ``[participant]`` in agora.toml (written
    by ``agora init --country …``); a value that no longer validates there is left out."""
    p = ctx.settings.participant
    defaults = {
        "description": p.description or None,
        "homepage": p.homepage,
        "contact_email": p.contact_email,
        "country": p.country,
    }
    merged = stored.model_dump(exclude_unset=True)
    for name, value in defaults.items():
        if value is not None and name not in merged:
            try:
                Profile.model_validate({name: value})
            except ValidationError:
                continue
            merged[name] = value
    return Profile.model_validate(merged)


def _stored_profile(ctx: ConnectorContext, text: str) -> Profile:
    """The stored profile; a field that no longer validates (written by an older version,
    or by hand) is left out and logged, so that reading the participant never fails."""
    try:
        return Profile.model_validate_json(text)
    except ValidationError:
        pass
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        ctx.log.warning("the stored participant profile is not a JSON object; ignored")
        return Profile()
    kept: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            Profile.model_validate({name: value})
        except ValidationError:
            ctx.log.warning("the stored participant profile's %r is invalid; ignored", name)
            continue
        kept[name] = value
    return Profile.model_validate(kept)


async def save_profile(ctx: ConnectorContext, profile: Profile) -> None:
    values = {
        "key": PROFILE_KEY,
        "value": profile.model_dump_json(),
        "updated_at": datetime.now(UTC),
    }
    dialect = postgresql if ctx.engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(settings_kv).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": values["value"], "updated_at": values["updated_at"]}
    )
    async with ctx.engine.begin() as conn:
        await conn.execute(stmt)


async def get_participant(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    s = ctx.settings
    body: dict[str, Any] = {
        "name": s.participant.name,
        "role": s.participant.role.value,
        "did": s.did,
        "publicUrl": s.public_url,
        "profile": (await load_profile(ctx)).model_dump(mode="json"),
    }
    return web.json_response(body)


async def put_profile(request: web.Request) -> web.Response:
    payload = await read_json(request)
    try:
        profile = Profile.model_validate(payload)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    await save_profile(request.app[CTX], profile)
    return web.json_response(profile.model_dump(mode="json"))


class ParticipantView(View):
    name: str
    role: str = Field(description="city | company | civic | auditor | authority")
    did: str
    publicUrl: str
    profile: Profile


ROUTES = [
    Route(
        "GET",
        "/participant",
        get_participant,
        "Who this connector is: name, role, DID, public URL, profile",
        response=ParticipantView,
    ),
    Route(
        "PUT",
        "/participant/profile",
        put_profile,
        "Replace the participant's public profile",
        request=Profile,
        response=Profile,
        example={"description": "Open data of the city", "country": "ES"},
    ),
]


class ManagementApi:
    name = "management"

    async def start(self, ctx: ConnectorContext) -> None:
        return None

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        api = web.Application(middlewares=[require_principal])
        api[CTX] = ctx
        api[DECLARED] = []
        add_routes(api, ROUTES)
        add_routes(api, conflicts.ROUTES)
        add_routes(api, docs.routes(api))
        root[MANAGEMENT_APP] = api

    async def stop(self) -> None:
        return None
