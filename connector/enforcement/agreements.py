"""Agreements compiled once for the data plane, with the dataset's NGSI-LD scope beside them.

The PEP answers thousands of requests under one agreement; the ODRL work (JSON-LD reading,
compilation, narrowing) must happen once per agreement id, not per request. Agreements are
immutable once stored (DSP never edits them) and so is a dataset's scope, so a cache entry never
goes stale; the transfer's state (suspension, termination), which does change, is *not* cached
here: the DSP grant check reads it on every request.

Names: datasets and agreements give entity types and attributes as NGSI-LD short names
("AirQualityObserved", "NO2", "location") or IRIs. Short names are expanded with the NGSI-LD core
context (its default vocabulary), the same expansion the broker applies to a request without a
user context; a provider storing entities under another vocabulary writes IRIs.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry import mapping, shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.access_tokens import TransferGrant
from connector.dsp.claims import NO_CREDENTIALS, HeldCredentials
from connector.dsp.tables import agreements, datasets
from connector.ngsild.context import CORE
from policies import CompiledPolicy, Narrowing, compile_policy, parse_policy
from policies.explain import describe_duty
from policies.model import Duty
from policies.vocab import ODRL

#: Permission actions that allow writing to the provider's broker. ODRL lets ``use`` include
#: ``modify``; on the data plane we do not: an agreement to *use* data never lets the consumer
#: change the city's data, only an explicit ``modify`` (or the deprecated ``write``) does.
WRITE_ACTIONS = frozenset({ODRL + "modify", ODRL + "write"})
#: Duties the provider's data plane does not block on, because it cannot observe them: paying
#: is settled by the marketplace, deleting is done by the consumer's connector, and informing
#: and attribution are done by this PEP on every access itself.
DEFERRED_DUTIES = frozenset(ODRL + a for a in ("compensate", "delete", "inform", "attribute"))


def expand(name: str) -> str:
    return CORE.expand(name)


@dataclass(frozen=True)
class DutyInfo:
    """A duty of the agreement, by the key the compiled policy reports it under."""

    key: str
    action: str  # short ODRL name: inform, attribute, delete, compensate, …
    text: str  # plain language, e.g. "pay 10.00 EUR"
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ScopeLimits:
    """What one action may reach: expanded IRIs (None: unrestricted) and the policy's own forms
    of those names (needed to state request values the compiled constraints compare with)."""

    types: frozenset[str] | None
    attributes: frozenset[str] | None
    area: dict[str, Any] | None
    policy_form: dict[str, str] = field(default_factory=dict)
    _names: dict[frozenset[str], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def names(self, iris: frozenset[str]) -> tuple[str, ...]:
        """``iris`` in the policy's own forms, sorted (what the compiled constraints compare
        with); remembered per set, as the same few sets come with every request."""
        found = self._names.get(iris)
        if found is None:
            found = tuple(sorted(self.policy_form.get(v, v.rsplit("/", 1)[-1]) for v in iris))
            if len(self._names) < 256:
                self._names[iris] = found
        return found


@dataclass
class CompiledAgreement:
    agreement_id: str
    target: str
    compiled: CompiledPolicy
    start: datetime | None
    dataset_types: frozenset[str] | None
    dataset_attributes: frozenset[str] | None
    dataset_area: dict[str, Any] | None
    may_modify: bool
    duties: dict[str, DutyInfo]
    deferred: frozenset[str]
    #: the consumer's verified credentials kept with the agreement (see ``connector.dsp.claims``)
    credentials: HeldCredentials = NO_CREDENTIALS
    #: the dataset is a plain HTTP source (``connector.dsp.http_source``), not a broker scope
    http_source: bool = False
    _limits: dict[str, ScopeLimits | None] = field(default_factory=dict)
    #: permits already decided, by what the request stated (see ``AgreementPep``); kept only
    #: for a clock-free policy, where equal inputs always get the same verdict
    decisions: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def limits(self, action: str) -> ScopeLimits | None:
        """The narrowing of ``action`` intersected with the dataset (None: not permitted)."""
        if action not in self._limits:
            self._limits[action] = self._compute(self.compiled.narrowing_for(action))
        return self._limits[action]

    def _compute(self, narrowing: Narrowing | None) -> ScopeLimits | None:
        if narrowing is None:
            return None
        forms: dict[str, str] = {}
        types = _intersect(
            _expanded(narrowing.entity_types, forms, self.dataset_types), self.dataset_types
        )
        attrs = _intersect(
            _expanded(narrowing.attributes, forms, self.dataset_attributes),
            self.dataset_attributes,
        )
        area = narrowing.area
        if area is not None and self.dataset_area is not None:
            area = dict(mapping(shape(area).intersection(shape(self.dataset_area))))
        elif area is None:
            area = self.dataset_area
        if area is not None:
            area = json.loads(json.dumps(area))  # shapely's tuples → GeoJSON lists
        return ScopeLimits(types, attrs, area, forms)


def _local(iri: str) -> str:
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _expanded(
    names: Iterable[str] | None, forms: dict[str, str], scope: frozenset[str] | None = None
) -> frozenset[str] | None:
    """IRIs of a policy's names. A short name the dataset's scope holds (expanded with the
    dataset's own @context, e.g. Smart Data Models) means that IRI: a template's
    "AirQualityObserved" must not fall to the core vocabulary while the data is SDM's."""
    if names is None:
        return None
    by_local: dict[str, list[str]] = {}
    for known in scope or ():
        by_local.setdefault(_local(known), []).append(known)
    out = set()
    for name in names:
        candidates = by_local.get(name, []) if ":" not in name else []
        iri = candidates[0] if len(candidates) == 1 else expand(name)
        forms[iri] = name
        out.add(iri)
    return frozenset(out)


def _intersect(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _duties(policy: Any) -> tuple[dict[str, DutyInfo], frozenset[str]]:
    from policies.evaluator import duty_parameters

    out: dict[str, DutyInfo] = {}
    deferred: set[str] = set()
    for i, perm in enumerate(policy.permissions):
        for j, duty in enumerate(perm.duties):
            assert isinstance(duty, Duty)
            key = duty.uid or f"permission[{i}].duty[{j}]"
            iri = duty.action.iri
            name = iri[len(ODRL) :] if iri.startswith(ODRL) else iri
            params = {k: str(v) for k, v in duty_parameters(duty).items()}
            out[key] = DutyInfo(key, name, describe_duty(duty), params)
            if iri in DEFERRED_DUTIES:
                deferred.add(key)
                if duty.uid:
                    deferred.add(duty.uid)
    return out, frozenset(deferred)


def compile_agreement(
    agreement_id: str,
    target: str,
    agreement: dict[str, Any],
    dataset: Any | None,
    credentials: Iterable[dict[str, Any]] = (),
) -> CompiledAgreement:
    """Parse (JSON-LD) and compile an agreement: the slow part, done once per agreement id."""
    policy = parse_policy({**agreement, "target": agreement.get("target", target)})
    compiled = compile_policy(policy)
    duties, deferred = _duties(policy)
    may_modify = any(p.action.iri in WRITE_ACTIONS for p in policy.permissions)
    types = attrs = area = None
    http_source = dataset is not None and bool(getattr(dataset, "source", None))
    if dataset is not None:
        types = frozenset(expand(t) for t in json.loads(dataset.entity_types))
        if dataset.attributes:
            attrs = frozenset(expand(a) for a in json.loads(dataset.attributes))
        if dataset.area:
            area = json.loads(dataset.area)
    return CompiledAgreement(
        agreement_id,
        target,
        compiled,
        compiled.start,
        types,
        attrs,
        area,
        may_modify,
        duties,
        deferred,
        HeldCredentials(credentials) if credentials else NO_CREDENTIALS,
        http_source,
    )


class AgreementCache:
    """Compiled agreements by id (bounded LRU); concurrent first requests share one compile."""

    def __init__(self, engine: AsyncEngine, size: int = 1024) -> None:
        self.engine = engine
        self.size = size
        self._entries: OrderedDict[str, asyncio.Future[CompiledAgreement]] = OrderedDict()
        self.compilations = 0  # observable in tests: once per agreement id

    async def get(self, grant: TransferGrant) -> CompiledAgreement:
        hit = self._entries.get(grant.agreement_id)
        if hit is not None:
            self._entries.move_to_end(grant.agreement_id)
            if hit.done() and not hit.cancelled():
                return hit.result()  # compiled already (the usual case): no extra future
            return await asyncio.shield(hit)
        future: asyncio.Future[CompiledAgreement] = asyncio.get_running_loop().create_future()
        self._entries[grant.agreement_id] = future
        try:
            entry = await self._load(grant)
        except BaseException as exc:
            self._entries.pop(grant.agreement_id, None)
            future.set_exception(exc)
            future.exception()  # retrieved: a failed load is not a stray error
            raise
        future.set_result(entry)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry

    async def by_id(self, agreement_id: str) -> CompiledAgreement | None:
        """The compiled agreement without a token (e.g. for a subscription's notifications)."""
        hit = self._entries.get(agreement_id)
        if hit is not None:
            return await asyncio.shield(hit)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        agreements.c.agreement, agreements.c.target, agreements.c.consumer_did
                    ).where(agreements.c.id == agreement_id)
                )
            ).first()
        if row is None:
            return None
        grant = TransferGrant(
            agreement_id, "", row.consumer_did, json.loads(row.agreement), row.target, 0.0
        )
        return await self.get(grant)

    async def _load(self, grant: TransferGrant) -> CompiledAgreement:
        async with self.engine.connect() as conn:
            dataset = (
                await conn.execute(select(datasets).where(datasets.c.id == grant.target))
            ).first()
            held = (
                await conn.execute(
                    select(agreements.c.consumer_credentials).where(
                        agreements.c.id == grant.agreement_id
                    )
                )
            ).scalar_one_or_none()
        self.compilations += 1
        return compile_agreement(
            grant.agreement_id,
            grant.target,
            grant.agreement,
            dataset,
            json.loads(held) if held else (),
        )
