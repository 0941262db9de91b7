"""Build model objects from expanded JSON-LD, validating as we go.

Both input paths end here: the fast compact parser produces expanded JSON-LD by hand, the slow
path gets it from pyld, Turtle gets it from rdflib. Errors carry a JSON path written with ODRL's
compact names (``$.permission[0].constraint[1].rightOperand``) so authors recognise it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .actions import NO_ACTION
from .errors import PolicyError
from .model import (
    Action,
    AnyConstraint,
    Asset,
    ConflictStrategy,
    Constraint,
    Duty,
    LogicalConstraint,
    LogicalOperator,
    Party,
    Permission,
    Policy,
    PolicyType,
    Prohibition,
    RightOperand,
    Value,
)
from .operands import datatype_hint
from .values import IRI, Literal, parse_datetime, to_python
from .vocab import (
    CLAIM_PATH,
    DSPACE_TIMESTAMP,
    LOGICAL_OPERATORS,
    ODRL,
    RDF_JSON,
    RDF_VALUE,
    normalize_iri,
)

Node = Mapping[str, Any]
_O = ODRL
_LOGICAL = {ODRL + name: LogicalOperator(name) for name in LOGICAL_OPERATORS}
_POLICY_TYPES = {ODRL + t.value: t for t in PolicyType}
_POLICY_TYPES[ODRL + "Policy"] = PolicyType.SET


class Builder:
    """Turns one expanded JSON-LD policy (nested or flattened) into a :class:`Policy`."""

    def __init__(self, nodes: list[Any] | None = None) -> None:
        self.policy_action: list[Any] = []  # a compact policy's action, applied to its rules
        self.node_map: dict[str, Node] = {}
        for n in nodes or ():
            if isinstance(n, dict) and "@id" in n and len(n) > 1:
                self.node_map[n["@id"]] = n

    # -- helpers -----------------------------------------------------------------------------
    def deref(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"@id"}:
            return self.node_map.get(value["@id"], value)
        return value

    def values(self, node: Node, key: str) -> list[Any]:
        raw = node.get(_O + key if "://" not in key else key, [])
        raw = raw if isinstance(raw, list) else [raw]
        out: list[Any] = []
        for v in raw:
            if isinstance(v, dict) and "@list" in v:
                out.extend(self.deref(x) for x in v["@list"])
            else:
                out.append(self.deref(v))
        return out

    def one(self, node: Node, key: str, path: str) -> Any:
        vals = self.values(node, key)
        if len(vals) > 1:
            raise PolicyError(f"{path}.{_short(key)}", "only one value is allowed")
        return vals[0] if vals else None

    def iri(self, value: Any, path: str) -> str:
        if isinstance(value, dict) and isinstance(value.get("@id"), str):
            return normalize_iri(value["@id"])
        if isinstance(value, dict) and isinstance(value.get("@value"), str):
            # A plain string where an IRI is expected (e.g. a non-@vocab context); accept it.
            return normalize_iri(value["@value"])
        raise PolicyError(path, "an IRI is expected here")

    # -- policy ------------------------------------------------------------------------------
    def policy(self, node: Node, path: str = "$") -> Policy:
        types = node.get("@type", [])
        types = types if isinstance(types, list) else [types]
        ptype: PolicyType | None = None
        for t in types:
            if t in _POLICY_TYPES:
                ptype = _POLICY_TYPES[t]
        if ptype is None:
            if types:
                raise PolicyError(f"{path}.@type", f"unsupported policy type {types!r}")
            ptype = PolicyType.SET
        uid = node.get("@id")
        if not isinstance(uid, str) or uid.startswith("_:"):
            raise PolicyError(f"{path}.@id", "a policy needs a uid (@id) that is an IRI")
        self.policy_action = self.values(node, "action")
        if len(self.policy_action) > 1:
            raise PolicyError(f"{path}.action", "a compact policy names at most one action")
        perms = tuple(
            self.permission(n, f"{path}.permission[{i}]")
            for i, n in enumerate(self.values(node, "permission"))
        )
        prohibs = tuple(
            self.prohibition(n, f"{path}.prohibition[{i}]")
            for i, n in enumerate(self.values(node, "prohibition"))
        )
        obligs = tuple(
            self.duty(n, f"{path}.obligation[{i}]", allow_consequences=True)
            for i, n in enumerate(self.values(node, "obligation"))
        )
        if not (perms or prohibs or obligs):
            raise PolicyError(
                path, "a policy needs at least one permission, prohibition or obligation"
            )
        conflict = None
        c = self.one(node, "conflict", path)
        if c is not None:
            name = self.iri(c, f"{path}.conflict")
            try:
                conflict = ConflictStrategy(name[len(ODRL) :] if name.startswith(ODRL) else name)
            except ValueError:
                raise PolicyError(f"{path}.conflict", f"unknown conflict strategy {name}") from None
        timestamp = None
        ts = node.get(DSPACE_TIMESTAMP) or node.get("http://purl.org/dc/terms/issued")
        if ts:
            raw = ts[0] if isinstance(ts, list) else ts
            lexical = raw.get("@value") if isinstance(raw, dict) else raw
            try:
                timestamp = parse_datetime(str(lexical))
            except ValueError:
                raise PolicyError(f"{path}.timestamp", f"{lexical!r} is not a dateTime") from None
        policy = Policy(
            uid=uid,
            type=ptype,
            permissions=perms,
            prohibitions=prohibs,
            obligations=obligs,
            target=self.asset(self.one(node, "target", path), f"{path}.target"),
            assigner=self.party(self.one(node, "assigner", path), f"{path}.assigner"),
            assignee=self.party(self.one(node, "assignee", path), f"{path}.assignee"),
            profiles=tuple(self.iri(v, f"{path}.profile") for v in self.values(node, "profile")),
            inherit_from=tuple(
                self.iri(v, f"{path}.inheritFrom") for v in self.values(node, "inheritFrom")
            ),
            conflict=conflict,
            timestamp=timestamp,
        )
        return policy

    # -- rules -------------------------------------------------------------------------------
    def _common(self, node: Node, path: str, *, duty: bool = False) -> dict[str, Any]:
        if not isinstance(node, dict) or "@value" in node:
            raise PolicyError(path, "a rule must be an object")
        actions = self.values(node, "action") or self.policy_action
        if not actions and duty:
            raise PolicyError(f"{path}.action", "a duty needs an action (what is to be done)")
        if len(actions) > 1:
            raise PolicyError(f"{path}.action", "a rule has exactly one action (split the rule)")
        uid = node.get("@id")
        # A permission or prohibition without an action is kept (the report says it is missing);
        # validate() refuses it where the policy is a contract (Offer, Agreement).
        return {
            "action": self.action(actions[0], f"{path}.action") if actions else Action(NO_ACTION),
            "target": self.asset(self.one(node, "target", path), f"{path}.target"),
            "assigner": self.party(self.one(node, "assigner", path), f"{path}.assigner"),
            "assignee": self.party(self.one(node, "assignee", path), f"{path}.assignee"),
            "constraints": self.constraints(node, "constraint", path),
            "uid": uid if isinstance(uid, str) and not uid.startswith("_:") else None,
        }

    def permission(self, node: Node, path: str) -> Permission:
        common = self._common(node, path)
        duties = tuple(
            self.duty(n, f"{path}.duty[{i}]", allow_consequences=True)
            for i, n in enumerate(self.values(node, "duty"))
        )
        return Permission(**common, duties=duties)

    def prohibition(self, node: Node, path: str) -> Prohibition:
        common = self._common(node, path)
        remedies = tuple(
            self.duty(n, f"{path}.remedy[{i}]", allow_consequences=False)
            for i, n in enumerate(self.values(node, "remedy"))
        )
        return Prohibition(**common, remedies=remedies)

    def duty(self, node: Node, path: str, allow_consequences: bool) -> Duty:
        common = self._common(node, path, duty=True)
        cons = self.values(node, "consequence")
        if cons and not allow_consequences:
            raise PolicyError(
                f"{path}.consequence", "a remedy or consequence cannot have consequences"
            )
        consequences = tuple(
            self.duty(n, f"{path}.consequence[{i}]", allow_consequences=False)
            for i, n in enumerate(cons)
        )
        return Duty(**common, consequences=consequences)

    def action(self, value: Any, path: str) -> Action:
        if isinstance(value, dict) and RDF_VALUE in value:
            inner = value[RDF_VALUE]
            inner = inner[0] if isinstance(inner, list) else inner
            iri = self.iri(inner, f"{path}.rdf:value")
            return Action(iri, self.constraints(value, "refinement", path))
        return Action(self.iri(value, path))

    def _collection(self, value: Any, path: str, kind: str) -> tuple[Any, ...] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise PolicyError(path, f"a {kind} must be an IRI or an object")
        uid = value.get("@id")
        types = value.get("@type", [])
        types = types if isinstance(types, list) else [types]
        refinements = self.constraints(value, "refinement", path)
        collection = (ODRL + kind + "Collection") in types or bool(refinements)
        source = self.one(value, "source", path)
        if uid is None and not collection:
            raise PolicyError(path, f"a {kind} needs an IRI")
        return (
            uid if isinstance(uid, str) and not uid.startswith("_:") else None,
            collection,
            refinements,
            self.iri(source, f"{path}.source") if source is not None else None,
        )

    def asset(self, value: Any, path: str) -> Asset | None:
        parts = self._collection(value, path, "Asset")
        return Asset(*parts) if parts else None

    def party(self, value: Any, path: str) -> Party | None:
        parts = self._collection(value, path, "Party")
        return Party(*parts) if parts else None

    # -- constraints ---------------------------------------------------------------------------
    def constraints(self, node: Node, key: str, path: str) -> tuple[AnyConstraint, ...]:
        return tuple(
            self.constraint(c, f"{path}.{key}[{i}]") for i, c in enumerate(self.values(node, key))
        )

    def constraint(self, node: Any, path: str) -> AnyConstraint:
        if not isinstance(node, dict) or "@value" in node:
            raise PolicyError(path, "a constraint must be an object")
        logical = [k for k in node if k in _LOGICAL]
        uid = node.get("@id")
        uid = uid if isinstance(uid, str) and not uid.startswith("_:") else None
        if logical:
            if len(logical) > 1 or _O + "leftOperand" in node:
                raise PolicyError(
                    path, "a logical constraint has exactly one operator and no operands"
                )
            key = logical[0]
            op = _LOGICAL[key]
            members = self.values(node, key)
            if not members:
                raise PolicyError(f"{path}.{op.value}", "a logical constraint needs constraints")
            inner = tuple(
                self.constraint(m, f"{path}.{op.value}[{i}]") for i, m in enumerate(members)
            )
            return LogicalConstraint(op, inner, uid)
        left = self.one(node, "leftOperand", path)
        if left is None:
            raise PolicyError(f"{path}.leftOperand", "a constraint needs a leftOperand")
        left_iri = self.iri(left, f"{path}.leftOperand")
        op_value = self.one(node, "operator", path)
        if op_value is None:
            raise PolicyError(f"{path}.operator", "a constraint needs an operator")
        op_iri = self.iri(op_value, f"{path}.operator")
        rights = self.values(node, "rightOperand")
        ref = self.one(node, "rightOperandReference", path)
        if bool(rights) == (ref is not None):
            raise PolicyError(
                path, "a constraint needs exactly one of rightOperand or rightOperandReference"
            )
        right: RightOperand | None = None
        if rights:
            vals = tuple(self.value(v, f"{path}.rightOperand") for v in rights)
            listed = any(isinstance(v, dict) and "@list" in v for v in _raw(node, "rightOperand"))
            right = vals[0] if len(vals) == 1 and not listed else vals
            self._check_typed(left_iri, right, f"{path}.rightOperand")
        data_type = self.one(node, "dataType", path) or self.one(node, "datatype", path)
        unit = self.one(node, "unit", path)
        claim = node.get(CLAIM_PATH)
        claim_path = None
        if claim:
            c0 = claim[0] if isinstance(claim, list) else claim
            claim_path = str(c0.get("@value") if isinstance(c0, dict) else c0)
        return Constraint(
            left_operand=left_iri,
            operator=op_iri,
            right_operand=right,
            right_operand_reference=self.iri(ref, f"{path}.rightOperandReference") if ref else None,
            data_type=self.iri(data_type, f"{path}.dataType") if data_type else None,
            unit=self.iri(unit, f"{path}.unit") if unit else None,
            uid=uid,
            claim_path=claim_path,
        )

    def value(self, v: Any, path: str) -> Value:
        if isinstance(v, dict):
            if "@value" in v:
                dt = v.get("@type")
                if dt == "@json" or dt == RDF_JSON:
                    raw = v["@value"]
                    text = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)
                    return Literal(text, RDF_JSON)
                raw = v["@value"]
                if isinstance(raw, bool):
                    return Literal("true" if raw else "false", _XSD + "boolean")
                if isinstance(raw, int):
                    return Literal(str(raw), dt or _XSD + "integer")
                if isinstance(raw, float):
                    return Literal(repr(raw), dt or _XSD + "decimal")
                if not isinstance(raw, str):
                    raise PolicyError(path, "a literal value must be a string, number or boolean")
                return Literal(raw, dt, v.get("@language"))
            if isinstance(v.get("@id"), str) and not v["@id"].startswith("_:"):
                return IRI(v["@id"])
        raise PolicyError(path, "a right operand must be a literal or an IRI")

    def _check_typed(self, left: str, right: RightOperand, path: str) -> None:
        hint = datatype_hint(left)
        for i, v in enumerate(right if isinstance(right, tuple) else (right,)):
            if isinstance(v, Literal):
                try:
                    to_python(v, hint)
                except (ValueError, ArithmeticError) as exc:
                    where = path if not isinstance(right, tuple) else f"{path}[{i}]"
                    raise PolicyError(
                        where, f"invalid {v.datatype or hint or 'value'}: {exc}"
                    ) from None


_XSD = "http://www.w3.org/2001/XMLSchema#"


def _raw(node: Node, key: str) -> list[Any]:
    raw = node.get(_O + key, [])
    return raw if isinstance(raw, list) else [raw]


def _short(key: str) -> str:
    return key[len(ODRL) :] if key.startswith(ODRL) else key
