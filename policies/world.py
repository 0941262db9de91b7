"""The evaluation request and the state of the world an evaluator decides against.

The formal semantics draft separates *what is asked* (party, action, target) from *what is true*
(time, declared purpose, verified credentials, usage so far, fulfilled duties). The caller (the
connector's enforcement point) builds both; this library never fetches anything itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .errors import PaymentError
from .money import Payment
from .registry import operand_key
from .values import parse_datetime
from .vocab import XSD_DATETIME, XSD_DECIMAL, XSD_INTEGER, normalize_iri


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    """Who (assignee) wants to do what (action) to which asset (target).

    ``target_part_of`` lists collections the target belongs to (e.g. the dataset of an entity);
    ``assignee_member_of`` lists party collections the caller is verified to belong to.
    """

    action: str
    target: str | None = None
    assignee: str | None = None
    target_part_of: frozenset[str] = frozenset()
    assignee_member_of: frozenset[str] = frozenset()

    @classmethod
    def create(
        cls,
        action: str,
        target: str | None = None,
        assignee: str | None = None,
        target_part_of: Iterable[str] = (),
        assignee_member_of: Iterable[str] = (),
    ) -> EvaluationRequest:
        """Build a request; ``action`` may be an ODRL short name (``"read"``) or an IRI."""
        return cls(
            normalize_iri(action),
            target,
            assignee,
            frozenset(target_part_of),
            frozenset(assignee_member_of),
        )


@dataclass(frozen=True, slots=True)
class Consent:
    """A verified consent (e.g. from a ConsentCredential) for one purpose."""

    purpose: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    subject: str | None = None
    revoked: bool = False

    def valid_at(self, now: datetime) -> bool:
        if self.revoked:
            return False
        if self.valid_from is not None and now < self.valid_from:
            return False
        return not (self.valid_until is not None and now > self.valid_until)

    @classmethod
    def from_credential(cls, vc: Mapping[str, Any]) -> list[Consent]:
        """Consents in a verified ConsentCredential (one per ``credentialSubject.purpose``)."""
        subject = vc.get("credentialSubject", {})
        subjects = subject if isinstance(subject, list) else [subject]
        out = []
        start = vc.get("validFrom") or vc.get("issuanceDate")
        end = vc.get("validUntil") or vc.get("expirationDate")
        for s in subjects:
            purposes = s.get("purpose", [])
            for p in purposes if isinstance(purposes, list) else [purposes]:
                out.append(
                    cls(
                        str(p),
                        parse_datetime(start) if start else None,
                        parse_datetime(end) if end else None,
                        s.get("id"),
                    )
                )
        return out


_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NO_KEYS: frozenset[str] = frozenset()
_SCALARS = (str, int, bool, dict)
_ALREADY_TYPED: dict[str | None, tuple[type, ...]] = {
    None: _SCALARS,
    XSD_DECIMAL: (int, Decimal),
    XSD_INTEGER: (int, Decimal),
}


def normalize_value(value: Any, hint: str | None) -> Any:
    """Coerce a caller-supplied value to the type the left operand is compared as."""
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(normalize_value(v, hint) for v in value)
    if hint == XSD_DATETIME:
        if isinstance(value, str):
            try:
                return parse_datetime(value)
            except ValueError:
                return value
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
    elif hint in (XSD_DECIMAL, XSD_INTEGER):
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, str):
            try:
                return Decimal(value)
            except ArithmeticError:
                return value
    return value


class World:
    """The state of the world for one decision.

    ``values`` maps left operands (short names like ``"purpose"`` or ``"ngsi-ld:entityType"``, or
    IRIs) to the value observed for this request. ``claims`` are the caller's *verified*
    credentials (decoded VC JSON). ``usage`` maps counter keys (see
    :class:`policies.compiler.CounterSpec`) to the amount used in the current window.
    ``fulfilled`` holds the keys/uids of duties already fulfilled and ``violated`` those already
    known to be violated (a violation reported earlier, e.g. by a previous compliance report;
    it wins over ``fulfilled``). ``payments`` are observed payment events
    (:class:`policies.money.Payment`): when given (even empty), a ``compensate`` duty with a price
    is fulfilled only by payments whose amount, currency, payer and payee match — ``fulfilled``
    is then not taken on trust for it; when ``None`` the caller's ``fulfilled`` is used as
    before. ``broader`` is a taxonomy (value → broader values) used by ``isA``, ``isPartOf``
    and ``hasPart``.
    """

    __slots__ = (
        "_cache",
        "agreement_start",
        "broader",
        "claims",
        "consents",
        "fulfilled",
        "now",
        "payments",
        "usage",
        "usage_updated",
        "values",
        "violated",
    )

    def __init__(
        self,
        now: datetime | None = None,
        values: Mapping[str, Any] | None = None,
        claims: Sequence[Mapping[str, Any]] = (),
        consents: Iterable[Consent] = (),
        usage: Mapping[str, int] | None = None,
        usage_updated: Mapping[str, datetime] | None = None,
        fulfilled: Iterable[str] = (),
        agreement_start: datetime | None = None,
        broader: Mapping[str, Iterable[str]] | None = None,
        violated: Iterable[str] = (),
        payments: Iterable[Payment] | None = None,
    ) -> None:
        now = now or datetime.now(UTC)
        self.now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        vals: dict[str, Any] = {}
        if values:
            for key, value in values.items():
                iri, hint = operand_key(key)
                if type(value) in _ALREADY_TYPED.get(hint, ()):
                    vals[iri] = value
                elif hint is None and type(value) is tuple and all(type(v) is str for v in value):
                    vals[iri] = value  # what normalize_value would rebuild, element by element
                else:
                    vals[iri] = normalize_value(value, hint)
        self.values = vals
        self.claims = tuple(claims)
        self.consents = tuple(consents)
        # Per-request objects: the caller's mappings are used as given, not copied.
        self.usage: Mapping[str, int] = usage if usage is not None else _EMPTY
        self.usage_updated: Mapping[str, datetime] = (
            usage_updated if usage_updated is not None else _EMPTY
        )
        self.fulfilled = frozenset(fulfilled)
        self.violated = frozenset(violated) if violated else _NO_KEYS
        self.payments: tuple[Payment, ...] | None = None
        if payments is not None:
            self.payments = tuple(payments)
            if not all(isinstance(p, Payment) for p in self.payments):
                raise PaymentError("payments must be policies.money.Payment events")
        self.agreement_start = agreement_start
        self.broader: Mapping[str, frozenset[str]] = (
            {k: frozenset(v) for k, v in broader.items()} if broader else _EMPTY
        )
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, make: Any) -> Any:
        """Memoise a derived value (credential types, roles …) for this world."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = make()
            return value

    def ancestors(self, value: Any) -> frozenset[Any]:
        """Transitive broader terms of ``value`` in the taxonomy (excluding itself)."""
        if not self.broader or not isinstance(value, str):
            return frozenset()
        seen: set[Any] = set()
        todo = list(self.broader.get(value, ()))
        while todo:
            v = todo.pop()
            if v not in seen:
                seen.add(v)
                todo.extend(self.broader.get(v, ()))
        return frozenset(seen)
