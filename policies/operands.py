"""The left-operand registry: what each left operand means and where its value comes from.

Each entry says how to read the operand's value from the :class:`~policies.world.World` and which
datatype plain right operands are read as. A left operand that is not registered is never
guessed: constraints on it are *not satisfied* (fail closed) and the report says so.
The connector may :func:`register` more operands for its own profile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .durations import Elapsed
from .model import Constraint
from .registry import REGISTRY, LeftOperand, register, unregister
from .vocab import (
    AREA,
    ATTRIBUTE,
    CLAIM,
    CONSENT,
    CREDENTIAL_TYPE,
    ENTITY_TYPE,
    ODRL,
    ROLE,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DURATION,
    XSD_INTEGER,
)
from .world import World


class MissingValueError(LookupError):
    """The world has no value for a left operand; the constraint cannot be satisfied."""


def _core(name: str, label: str, datatype: str | None = None, source: str = "value") -> None:
    register(LeftOperand(ODRL + name, label, datatype, source))


_core("dateTime", "the date and time", XSD_DATETIME, "now")
_core("elapsedTime", "the time elapsed since the agreement started", XSD_DURATION, "elapsed")
_core("count", "the number of uses", XSD_INTEGER, "count")
_core("meteredTime", "the metered time of use", XSD_DURATION)
_core("delayPeriod", "the delay before use", XSD_DURATION)
_core("timeInterval", "the interval between uses", XSD_DURATION)
_core("payAmount", "the amount paid", XSD_DECIMAL)
_core("percentage", "the percentage of the asset", XSD_DECIMAL)
_core("absoluteSize", "the size", XSD_DECIMAL)
_core("relativeSize", "the relative size", XSD_DECIMAL)
_core("resolution", "the resolution", XSD_DECIMAL)
for _name, _label in (
    ("purpose", "the declared purpose"),
    ("spatial", "the location of use"),
    ("recipient", "the recipient"),
    ("event", "the event"),
    ("industry", "the industry sector"),
    ("fileFormat", "the file format"),
    ("language", "the language"),
    ("deliveryChannel", "the delivery channel"),
    ("systemDevice", "the system or device"),
    ("version", "the version"),
    ("virtualLocation", "the virtual location"),
    ("absolutePosition", "the absolute position"),
    ("absoluteSpatialPosition", "the spatial position"),
    ("absoluteTemporalPosition", "the temporal position"),
    ("relativePosition", "the relative position"),
    ("relativeSpatialPosition", "the relative spatial position"),
    ("relativeTemporalPosition", "the relative temporal position"),
    ("spatialCoordinates", "the spatial coordinates"),
    ("media", "the media"),
    ("product", "the product"),
    ("unitOfCount", "the unit of count"),
):
    _core(_name, _label)

register(LeftOperand(ENTITY_TYPE, "the NGSI-LD entity types requested", multi=True))
register(LeftOperand(ATTRIBUTE, "the NGSI-LD attributes requested", multi=True))
register(LeftOperand(AREA, "the area requested", geometry=True))
register(
    LeftOperand(CREDENTIAL_TYPE, "the caller's credential types", None, "credential_types", True)
)
register(LeftOperand(ROLE, "the caller's roles", None, "roles", True))
register(LeftOperand(CLAIM, "a claim in the caller's credentials", None, "claim", True))
register(LeftOperand(CONSENT, "the purposes the data subject consented to", None, "consent", True))


def datatype_hint(iri: str) -> str | None:
    spec = REGISTRY.get(iri)
    return spec.datatype if spec is not None else None


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, list | tuple) else [v]


def credential_types(world: World) -> tuple[str, ...]:
    def make() -> tuple[str, ...]:
        out: list[str] = []
        for vc in world.claims:
            out.extend(str(t) for t in _as_list(vc.get("type")))
        return tuple(dict.fromkeys(out))

    result: tuple[str, ...] = world.cached("types", make)
    return result


def roles(world: World) -> tuple[str, ...]:
    def make() -> tuple[str, ...]:
        out: list[str] = []
        for vc in world.claims:
            for subject in _as_list(vc.get("credentialSubject")):
                if isinstance(subject, Mapping):
                    out.extend(str(r) for r in _as_list(subject.get("role")))
                    out.extend(str(r) for r in _as_list(subject.get("roles")))
        return tuple(dict.fromkeys(out))

    result: tuple[str, ...] = world.cached("roles", make)
    return result


def json_path(doc: Any, path: str) -> list[Any]:
    """Values at a small JSONPath subset (``$.a.b[0].c``, ``$.a[*].b``); lists are flattened."""
    if not path.startswith("$"):
        raise ValueError(f"claim path {path!r} must start with '$'")
    steps: list[str | int] = []
    for part in path[1:].replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and part.endswith("]"):
            inner = part[1:-1]
            steps.append(-1 if inner == "*" else int(inner))
        else:
            steps.append(part)
    current = [doc]
    for step in steps:
        nxt: list[Any] = []
        for item in current:
            if isinstance(step, str) and isinstance(item, Mapping) and step in item:
                nxt.append(item[step])
            elif isinstance(step, str) and isinstance(item, list):
                nxt.extend(i[step] for i in item if isinstance(i, Mapping) and step in i)
            elif isinstance(step, int) and isinstance(item, list):
                if step == -1:
                    nxt.extend(item)
                elif -len(item) <= step < len(item):
                    nxt.append(item[step])
        current = nxt
    flat: list[Any] = []
    for v in current:
        flat.extend(v if isinstance(v, list) else [v])
    return flat


def claim_values(world: World, path: str) -> tuple[Any, ...]:
    def make() -> tuple[Any, ...]:
        out: list[Any] = []
        for vc in world.claims:
            out.extend(json_path(vc, path))
        return tuple(out)

    result: tuple[Any, ...] = world.cached("claim:" + path, make)
    return result


def consented_purposes(world: World) -> tuple[str, ...]:
    def make() -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.purpose for c in world.consents if c.valid_at(world.now)))

    result: tuple[str, ...] = world.cached("consent", make)
    return result


def agreement_start(world: World, default: datetime | None) -> datetime:
    start = world.agreement_start or default
    if start is None:
        raise MissingValueError("elapsedTime needs the agreement start (none known)")
    return start


Resolver = Callable[[World, Constraint, str, datetime | None], Any]


def resolve(
    spec: LeftOperand,
    world: World,
    constraint: Constraint,
    counter_key: str,
    start: datetime | None,
) -> Any:
    """The value of ``spec`` in ``world``; raises :class:`MissingValueError` when there is none.

    ``counter_key`` names the usage counter of a ``count`` constraint; ``start`` is the
    agreement's own start time (its timestamp), overridden by ``world.agreement_start``.
    """
    src = spec.source
    if src == "value":
        try:
            return world.values[spec.iri]
        except KeyError:
            raise MissingValueError(f"the request does not state {spec.label}") from None
    if src == "now":
        return world.now
    if src == "elapsed":
        return Elapsed(agreement_start(world, start), world.now)
    if src == "count":
        # The prospective count: uses so far in this window plus the one being decided.
        return world.usage.get(counter_key, 0) + 1
    if src == "credential_types":
        return credential_types(world)
    if src == "roles":
        return roles(world)
    if src == "claim":
        if not constraint.claim_path:
            raise MissingValueError("a vc:claim constraint needs agora:claimPath")
        return claim_values(world, constraint.claim_path)
    if src == "consent":
        return consented_purposes(world)
    raise MissingValueError(f"left operand source {src!r} is not supported")


__all__ = [
    "REGISTRY",
    "LeftOperand",
    "MissingValueError",
    "datatype_hint",
    "register",
    "resolve",
    "unregister",
]
