"""Policy templates a city starts from.

Each function returns an :class:`~policies.model.Policy` of type Offer built from one clause family
of the UN-Habitat data-sharing playbook: open data with attribution, research only (non-commercial),
commercial use for a monthly fee, personal data under consent, and a time-limited pilot. Every
template takes the same NGSI-LD scope parameters (entity types, attributes, area) so the offer
narrows the data plane as well as stating terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..durations import Duration
from ..model import (
    Action,
    AnyConstraint,
    Asset,
    ConflictStrategy,
    Constraint,
    Duty,
    Party,
    Permission,
    Policy,
    PolicyType,
    Prohibition,
)
from ..validate import validate
from ..values import IRI, Literal
from ..vocab import (
    AGORA,
    AREA,
    ATTRIBUTE,
    CONSENT,
    CREDENTIAL_TYPE,
    ENTITY_TYPE,
    ODRL,
    RDF_JSON,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DURATION,
    XSD_INTEGER,
)

DPV = "https://w3id.org/dpv#"
RESEARCH_PURPOSES = (DPV + "AcademicResearch", DPV + "NonCommercialResearch")
COMMERCIAL_PURPOSES = (DPV + "CommercialPurpose", DPV + "Marketing", DPV + "Advertising")
DBPEDIA = "http://dbpedia.org/resource/"
CURRENCIES = {"EUR": DBPEDIA + "Euro", "USD": DBPEDIA + "United_States_dollar"}


def currency_iri(code: str) -> str:
    return CURRENCIES.get(code.upper(), "urn:iso:std:iso:4217:" + code.upper())


def _c(left: str, op: str, right: Any, unit: str | None = None) -> Constraint:
    return Constraint(ODRL + left if "://" not in left else left, ODRL + op, right, unit=unit)


def _dt(when: datetime) -> Literal:
    return Literal(when.isoformat().replace("+00:00", "Z"), XSD_DATETIME)


def _strings(values: Sequence[str]) -> tuple[Literal, ...]:
    return tuple(Literal(v) for v in values)


def scope(
    entity_types: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    area: dict[str, Any] | Sequence[float] | None = None,
) -> tuple[AnyConstraint, ...]:
    """NGSI-LD scope constraints: the request must stay within these types, attributes, area."""
    import json

    out: list[AnyConstraint] = []
    if entity_types:
        out.append(_c(ENTITY_TYPE, "isPartOf", _strings(entity_types)))
    if attributes:
        out.append(_c(ATTRIBUTE, "isPartOf", _strings(attributes)))
    if area is not None:
        if isinstance(area, dict):
            lit = Literal(json.dumps(area, sort_keys=True), RDF_JSON)
        else:
            lit = Literal(",".join(str(x) for x in area))
        out.append(_c(AREA, "isPartOf", lit))
    return tuple(out)


def _offer(
    uid: str,
    assigner: str,
    target: str,
    permissions: Sequence[Permission],
    prohibitions: Sequence[Prohibition] = (),
    conflict: ConflictStrategy | None = None,
) -> Policy:
    return validate(
        Policy(
            uid=uid,
            type=PolicyType.OFFER,
            permissions=tuple(permissions),
            prohibitions=tuple(prohibitions),
            target=Asset(target),
            assigner=Party(assigner),
            profiles=(AGORA.rstrip("#"),),
            conflict=conflict,
        ),
        strict_odrl=True,
    )


def open_data_with_attribution(
    uid: str,
    assigner: str,
    target: str,
    *,
    entity_types: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    area: dict[str, Any] | Sequence[float] | None = None,
) -> Policy:
    """Anyone may use and redistribute the data, crediting the city."""
    attribute = Duty(Action(ODRL + "attribute"), target=Asset(target))
    cs = scope(entity_types, attributes, area)
    return _offer(
        uid,
        assigner,
        target,
        [
            Permission(Action(ODRL + "use"), constraints=cs, duties=(attribute,)),
            Permission(Action(ODRL + "distribute"), constraints=cs, duties=(attribute,)),
        ],
    )


def research_non_commercial(
    uid: str,
    assigner: str,
    target: str,
    *,
    purposes: Sequence[str] = RESEARCH_PURPOSES,
    credential_type: str | None = None,
    entity_types: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    area: dict[str, Any] | Sequence[float] | None = None,
) -> Policy:
    """Use only for research purposes (optionally only by holders of a credential type); never
    sold or used commercially. Prohibitions win over the permission."""
    cs: list[AnyConstraint] = [_c("purpose", "isAnyOf", tuple(IRI(p) for p in purposes))]
    if credential_type:
        cs.append(_c(CREDENTIAL_TYPE, "eq", Literal(credential_type)))
    cs.extend(scope(entity_types, attributes, area))
    return _offer(
        uid,
        assigner,
        target,
        [Permission(Action(ODRL + "use"), constraints=tuple(cs))],
        [
            Prohibition(Action(ODRL + "sell")),
            Prohibition(
                Action(ODRL + "use"),
                constraints=(_c("purpose", "isAnyOf", tuple(IRI(p) for p in COMMERCIAL_PURPOSES)),),
            ),
        ],
        ConflictStrategy.PROHIBIT,
    )


def commercial_monthly_fee(
    uid: str,
    assigner: str,
    target: str,
    *,
    amount: Decimal | str,
    currency: str = "EUR",
    monthly_requests: int | None = None,
    entity_types: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    area: dict[str, Any] | Sequence[float] | None = None,
) -> Policy:
    """Commercial use against a monthly fee, optionally capped at N requests per month.

    The fee is a ``compensate`` duty refined by ``payAmount`` (with the currency as ``unit``) and
    ``timeInterval P1M``; it must be fulfilled before use — the marketplace marks it fulfilled
    for the month once paid.
    """
    price = Literal(str(Decimal(amount)), XSD_DECIMAL)
    refinements = (
        _c("payAmount", "eq", price, currency_iri(currency)),
        _c("timeInterval", "eq", Literal("P1M", XSD_DURATION)),
    )
    fee = Duty(Action(ODRL + "compensate", refinements))
    cs: list[AnyConstraint] = []
    if monthly_requests is not None:
        # A uid keeps the usage counter's key stable however the offer is re-serialised.
        cap = _c("count", "lteq", Literal(str(monthly_requests), XSD_INTEGER), AGORA + "perMonth")
        cs.append(replace(cap, uid=f"{uid}#monthly-requests"))
    cs.extend(scope(entity_types, attributes, area))
    use = Permission(Action(ODRL + "use"), constraints=tuple(cs), duties=(fee,))
    return _offer(uid, assigner, target, [use])


def personal_data_with_consent(
    uid: str,
    assigner: str,
    target: str,
    *,
    purpose: str,
    retention: str = "P30D",
    entity_types: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    area: dict[str, Any] | Sequence[float] | None = None,
) -> Policy:
    """Use for one purpose only while the data subjects' consent for it is valid; delete within
    ``retention`` of the agreement; never distribute."""
    Duration.parse(retention)
    cs: tuple[AnyConstraint, ...] = (
        _c("purpose", "eq", IRI(purpose)),
        _c(CONSENT, "eq", IRI(purpose)),
        *scope(entity_types, attributes, area),
    )
    within = _c("elapsedTime", "lteq", Literal(retention, XSD_DURATION))
    delete = Duty(Action(ODRL + "delete"), constraints=(within,))
    return _offer(
        uid,
        assigner,
        target,
        [Permission(Action(ODRL + "use"), constraints=cs, duties=(delete,))],
        [Prohibition(Action(ODRL + "distribute"))],
        ConflictStrategy.PROHIBIT,
    )


def time_limited_pilot(
    uid: str,
    assigner: str,
    target: str,
    *,
    start: datetime,
    end: datetime,
    delete_within: str = "P30D",
    entity_types: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    area: dict[str, Any] | Sequence[float] | None = None,
) -> Policy:
    """Use between ``start`` and ``end``; delete the data within ``delete_within`` after the end."""
    deadline = Duration.parse(delete_within).add_to(end)
    cs: tuple[AnyConstraint, ...] = (
        _c("dateTime", "gteq", _dt(start)),
        _c("dateTime", "lteq", _dt(end)),
        *scope(entity_types, attributes, area),
    )
    delete = Duty(Action(ODRL + "delete"), constraints=(_c("dateTime", "lteq", _dt(deadline)),))
    return _offer(
        uid, assigner, target, [Permission(Action(ODRL + "use"), constraints=cs, duties=(delete,))]
    )


TEMPLATES = {
    "open-data-attribution": open_data_with_attribution,
    "research-non-commercial": research_non_commercial,
    "commercial-monthly-fee": commercial_monthly_fee,
    "personal-data-consent": personal_data_with_consent,
    "time-limited-pilot": time_limited_pilot,
}
