"""Read and write ODRL policies as JSON-LD.

Reading has two paths. When a document's ``@context`` is one we bundle (the ODRL 2.2 context, the
DSP 2025-1 context or its ODRL profile) we expand it by hand from the known term table — JSON-LD
expansion through pyld costs milliseconds per policy and catalogs hold many. Anything else (inline
contexts, nested contexts) goes through pyld with a loader that serves only bundled contexts.
The fast path is stricter than JSON-LD: an unknown key is an error, not silently dropped, because a
misspelt ``constraints`` would otherwise turn a restricted permission into an unrestricted one.

Writing is done from the model directly: compact with the DSP profile context, compact with the
ODRL context, or expanded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from typing import Literal as Lit

from pyld import jsonld
from pyld.context_resolver import ContextResolver

from . import safe_json
from .actions import NO_ACTION
from .build import Builder
from .contexts import (
    DSP_CONTEXT_URL,
    DSP_ODRL_PROFILE_URL,
    ODRL_CONTEXT_URL,
    TermTable,
    document_loader,
    is_known,
    merge,
    term_table,
)
from .errors import PolicyError
from .model import (
    Action,
    AnyConstraint,
    Asset,
    Duty,
    LogicalConstraint,
    LogicalOperator,
    Party,
    Permission,
    Policy,
    Prohibition,
    RightOperand,
    Value,
)
from .values import IRI, Literal
from .vocab import (
    CLAIM_PATH,
    DSPACE_TIMESTAMP,
    ODRL,
    ODRL_TERMS,
    RDF_JSON,
    RDF_TYPE,
    RDF_VALUE,
    XSD,
    XSD_BOOLEAN,
    XSD_INTEGER,
    XSD_STRING,
)

Style = Lit["dsp", "odrl"]


class _NeedsPyld(Exception):
    """The document uses JSON-LD features the fast path does not implement."""


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------


def _known_table(ctx: Any) -> TermTable | None:
    urls = ctx if isinstance(ctx, list) else [ctx]
    if not urls or not all(isinstance(u, str) and is_known(u) for u in urls):
        return None
    return merge(*(term_table(_canonical(u)) for u in urls))


def _canonical(url: str) -> str:
    if "odrl.jsonld" in url or url.endswith("/odrl/2/"):
        return ODRL_CONTEXT_URL
    return url


def _expand_value(item: Any, coerce: str | None, table: TermTable, path: str) -> Any:
    if isinstance(item, dict):
        if "@context" in item:
            raise _NeedsPyld
        if "@value" in item:
            out = dict(item)
            if isinstance(out.get("@type"), str) and out["@type"] != "@json":
                out["@type"] = table.expand_prefixed(out["@type"])
            return out
        if "@list" in item:
            return {"@list": [_expand_value(x, coerce, table, path) for x in item["@list"]]}
        if set(item) == {"@id"} or (set(item) <= set(table.id_aliases) | {"@id"} and item):
            key = next(iter(item))
            return {"@id": table.expand_prefixed(str(item[key]))}
        return _expand_node(item, table, path)
    if isinstance(item, str):
        if coerce == "@id":
            return {"@id": table.expand_prefixed(item)}
        if coerce == "@vocab":
            return {"@id": table.expand_vocab(item)}
        if coerce is not None and not coerce.startswith("@"):
            return {"@value": item, "@type": coerce}
        return {"@value": item}
    if isinstance(item, bool | int | float):
        return {"@value": item}
    raise PolicyError(path, f"unsupported JSON value {item!r}")


def _expand_node(obj: Mapping[str, Any], table: TermTable, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in obj.items():
        kpath = f"{path}.{key}"
        if key == "@context":
            if path != "$":
                raise _NeedsPyld
            continue
        if key == "@id" or key in table.id_aliases:
            if not isinstance(val, str):
                raise PolicyError(kpath, "an @id must be a string")
            out["@id"] = table.expand_prefixed(val)
            continue
        if key == "@type" or key in table.type_aliases:
            types = val if isinstance(val, list) else [val]
            out["@type"] = [table.expand_vocab(str(t)) for t in types]
            continue
        if key.startswith("@"):
            raise _NeedsPyld
        term = table.terms.get(key)
        if term is not None:
            iri, coerce = term.iri, term.coerce
        elif ":" in key:
            iri, coerce = table.expand_prefixed(key), None
            if iri == key and key.split(":", 1)[0] not in ("http", "https", "urn", "did"):
                raise PolicyError(kpath, f"unknown prefix in {key!r}")
        else:
            raise PolicyError(kpath, f"unknown term {key!r} for this @context")
        if val is None:
            continue
        items = val if isinstance(val, list) else [val]
        expanded = [_expand_value(it, coerce, table, f"{kpath}[{i}]") for i, it in enumerate(items)]
        if iri == RDF_TYPE:
            out.setdefault("@type", []).extend(e["@id"] for e in expanded if "@id" in e)
            continue
        out.setdefault(iri, []).extend(expanded)
    return out


def expand(doc: Mapping[str, Any], default_context: str | None = DSP_CONTEXT_URL) -> list[Any]:
    """Expanded JSON-LD of a policy document (fast path when the context is known)."""
    ctx = doc.get("@context", default_context)
    if ctx is None:
        raise PolicyError("$.@context", "the document has no @context")
    table = _known_table(ctx)
    if table is not None:
        try:
            return [_expand_node(doc, table, "$")]
        except _NeedsPyld:
            pass
    if "@context" not in doc:
        # The DSP message context only reaches policies through type-scoped contexts, which a
        # bare policy lacks; give pyld the profile plus the agreement timestamp instead.
        if ctx == DSP_CONTEXT_URL:
            ctx = [DSP_ODRL_PROFILE_URL, {"timestamp": DSPACE_TIMESTAMP}]
        doc = {"@context": ctx, **doc}
    return expand_with_pyld(doc)


#: Our own cache of resolved contexts. pyld's default cache is process-wide and shared with
#: every other pyld user (the DSP and NGSI-LD code); entries another loader left there have
#: broken our expansions (pyld then indexes a context URL as if it were an object).
_RESOLVED_CONTEXTS: Any = jsonld.LRUCache(maxsize=256)


def expand_with_pyld(doc: Mapping[str, Any]) -> list[Any]:
    """JSON-LD 1.1 expansion with pyld, bundled contexts only."""
    dropped: list[str | None] = []
    try:
        result: list[Any] = jsonld.expand(
            dict(doc),
            {
                "documentLoader": document_loader,
                "base": None,
                "contextResolver": ContextResolver(_RESOLVED_CONTEXTS, document_loader),
            },
            on_property_dropped=dropped.append,
        )
    except PolicyError:
        raise
    except jsonld.JsonLdError as exc:
        cause: Any = exc
        while cause is not None:
            if isinstance(cause, PolicyError):
                raise cause from None
            cause = getattr(cause, "cause", None) or cause.__cause__
        raise PolicyError("$", f"JSON-LD expansion failed: {exc}") from None
    if dropped:
        # JSON-LD silently drops keys its context does not define; a misspelt "constraints"
        # would turn a restricted permission into an unrestricted one, so we refuse instead.
        raise PolicyError("$", f"unknown term(s) {sorted(map(str, dropped))} for this @context")
    return result


def _find_policy(nodes: list[Any], uid: str | None) -> Mapping[str, Any]:
    policy_types = {ODRL + t for t in ("Set", "Offer", "Agreement", "Request", "Policy")}
    candidates = []
    for n in nodes:
        if not isinstance(n, dict):
            continue
        types = set(n.get("@type", []))
        if uid is not None and n.get("@id") == uid:
            return n
        if types & policy_types:
            candidates.append(n)
    if uid is None and len(candidates) == 1:
        return candidates[0]
    if uid is None and not candidates and len(nodes) == 1 and isinstance(nodes[0], dict):
        return nodes[0]
    if not candidates:
        raise PolicyError("$", "no ODRL policy found in the document")
    raise PolicyError("$", "several policies in the document; say which uid to read")


def from_expanded(nodes: list[Any] | Mapping[str, Any], uid: str | None = None) -> Policy:
    """A :class:`Policy` from expanded (or flattened) JSON-LD."""
    items: list[Any] = [nodes] if isinstance(nodes, Mapping) else list(nodes)
    if len(items) == 1 and isinstance(items[0], dict) and "@graph" in items[0]:
        items = list(items[0]["@graph"])
    return Builder(items).policy(_find_policy(items, uid))


def parse_policy(
    doc: Mapping[str, Any] | str | bytes,
    *,
    default_context: str | None = DSP_CONTEXT_URL,
) -> Policy:
    """Read a JSON-LD policy (compact or expanded) into a validated :class:`Policy`.

    A policy embedded in a DSP message has no ``@context`` of its own; it is read with
    ``default_context`` (the DSP 2025-1 context, whose ODRL profile the messages import).
    Raises :class:`PolicyError` with a path.
    """
    if isinstance(doc, str | bytes):
        try:
            doc = safe_json.loads(doc)
        except json.JSONDecodeError as exc:
            raise PolicyError("$", f"not JSON: {exc}") from None
    from .validate import validate

    if isinstance(doc, list):
        return validate(from_expanded(doc))
    if not isinstance(doc, dict):
        raise PolicyError("$", "a policy must be a JSON object")
    keys = [k for k in doc if not k.startswith("@")]
    if "@context" not in doc and keys and all("://" in k for k in keys):
        return validate(from_expanded([doc]))  # already expanded
    return validate(from_expanded(expand(doc, default_context)))


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def _lit_expanded(v: Literal) -> dict[str, Any]:
    if v.datatype == RDF_JSON:
        return {"@value": json.loads(v.lexical), "@type": "@json"}
    out: dict[str, Any] = {"@value": v.lexical}
    if v.datatype and v.datatype != XSD_STRING:
        out["@type"] = v.datatype
    if v.language:
        out["@language"] = v.language
    return out


def _val_expanded(v: Value) -> dict[str, Any]:
    return {"@id": str(v)} if isinstance(v, IRI) else _lit_expanded(v)


def _constraint_expanded(c: AnyConstraint) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if c.uid:
        out["@id"] = c.uid
    if isinstance(c, LogicalConstraint):
        out[ODRL + c.operator.value] = [{"@list": [_constraint_expanded(x) for x in c.constraints]}]
        return out
    out[ODRL + "leftOperand"] = [{"@id": c.left_operand}]
    out[ODRL + "operator"] = [{"@id": c.operator}]
    if c.right_operand is not None:
        r = c.right_operand
        if isinstance(r, tuple):
            out[ODRL + "rightOperand"] = [{"@list": [_val_expanded(v) for v in r]}]
        else:
            out[ODRL + "rightOperand"] = [_val_expanded(r)]
    if c.right_operand_reference:
        out[ODRL + "rightOperandReference"] = [{"@id": c.right_operand_reference}]
    if c.data_type:
        out[ODRL + "datatype"] = [{"@id": c.data_type}]
    if c.unit:
        out[ODRL + "unit"] = [{"@id": c.unit}]
    if c.claim_path:
        out[CLAIM_PATH] = [{"@value": c.claim_path}]
    return out


def _coll_expanded(x: Asset | Party, kind: str) -> dict[str, Any]:
    if not x.collection and not x.refinements and x.source is None:
        return {"@id": x.uid}
    out: dict[str, Any] = {}
    if x.uid:
        out["@id"] = x.uid
    if x.collection:
        out["@type"] = [ODRL + kind + "Collection"]
    if x.refinements:
        out[ODRL + "refinement"] = [_constraint_expanded(c) for c in x.refinements]
    if x.source:
        out[ODRL + "source"] = [{"@id": x.source}]
    return out


def _action_expanded(a: Action) -> dict[str, Any]:
    if not a.refinements:
        return {"@id": a.iri}
    return {
        RDF_VALUE: [{"@id": a.iri}],
        ODRL + "refinement": [_constraint_expanded(c) for c in a.refinements],
    }


def _rule_expanded(r: Permission | Prohibition | Duty) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.uid:
        out["@id"] = r.uid
    if r.action.iri != NO_ACTION:
        out[ODRL + "action"] = [_action_expanded(r.action)]
    if r.target:
        out[ODRL + "target"] = [_coll_expanded(r.target, "Asset")]
    if r.assigner:
        out[ODRL + "assigner"] = [_coll_expanded(r.assigner, "Party")]
    if r.assignee:
        out[ODRL + "assignee"] = [_coll_expanded(r.assignee, "Party")]
    if r.constraints:
        out[ODRL + "constraint"] = [_constraint_expanded(c) for c in r.constraints]
    if isinstance(r, Permission) and r.duties:
        out[ODRL + "duty"] = [_rule_expanded(d) for d in r.duties]
    if isinstance(r, Prohibition) and r.remedies:
        out[ODRL + "remedy"] = [_rule_expanded(d) for d in r.remedies]
    if isinstance(r, Duty) and r.consequences:
        out[ODRL + "consequence"] = [_rule_expanded(d) for d in r.consequences]
    return out


def to_expanded(policy: Policy) -> dict[str, Any]:
    """The policy as one expanded JSON-LD node object."""
    out: dict[str, Any] = {"@id": policy.uid, "@type": [ODRL + policy.type.value]}
    if policy.profiles:
        out[ODRL + "profile"] = [{"@id": p} for p in policy.profiles]
    if policy.inherit_from:
        out[ODRL + "inheritFrom"] = [{"@id": p} for p in policy.inherit_from]
    if policy.conflict:
        out[ODRL + "conflict"] = [{"@id": ODRL + policy.conflict.value}]
    if policy.target:
        out[ODRL + "target"] = [_coll_expanded(policy.target, "Asset")]
    if policy.assigner:
        out[ODRL + "assigner"] = [_coll_expanded(policy.assigner, "Party")]
    if policy.assignee:
        out[ODRL + "assignee"] = [_coll_expanded(policy.assignee, "Party")]
    if policy.timestamp:
        out[DSPACE_TIMESTAMP] = [{"@value": _iso(policy)}]
    if policy.permissions:
        out[ODRL + "permission"] = [_rule_expanded(r) for r in policy.permissions]
    if policy.prohibitions:
        out[ODRL + "prohibition"] = [_rule_expanded(r) for r in policy.prohibitions]
    if policy.obligations:
        out[ODRL + "obligation"] = [_rule_expanded(r) for r in policy.obligations]
    return out


def _iso(policy: Policy) -> str:
    assert policy.timestamp is not None
    return policy.timestamp.isoformat().replace("+00:00", "Z")


class _Compactor:
    """Writes compact JSON-LD for one of the two bundled contexts, term by term."""

    def __init__(self, style: Style, embedded: bool, bare: bool = False) -> None:
        self.style = style
        self.embedded = embedded
        self.bare = bare
        url = DSP_ODRL_PROFILE_URL if style == "dsp" else ODRL_CONTEXT_URL
        table = term_table(url)
        # Reverse map; skip the two erratum terms of the ODRL context (neq→neg, industry).
        self.names: dict[str, str] = {}
        for name, term in table.terms.items():
            if term.iri in (ODRL + "neg", ODRL + "industry:"):
                continue
            self.names.setdefault(term.iri, name)
        self.id_key = "uid" if style == "odrl" else "@id"
        self.xsd = "xsd:" if style == "odrl" else XSD
        self.rdf_value = "rdf:value" if style == "odrl" else RDF_VALUE

    def key(self, iri: str) -> str:
        name = self.names.get(iri)
        if name is not None:
            return name
        if iri.startswith(ODRL):
            return "odrl:" + iri[len(ODRL) :]
        return iri

    def vocab(self, iri: str) -> str:
        if self.bare and iri.startswith(ODRL) and iri[len(ODRL) :] in ODRL_TERMS:
            return iri[len(ODRL) :]
        return self.key(iri)

    def literal(self, v: Literal) -> Any:
        if v.datatype == RDF_JSON:
            return {"@value": json.loads(v.lexical), "@type": "@json"}
        if v.language:
            return {"@value": v.lexical, "@language": v.language}
        if v.datatype in (None, XSD_STRING):
            return v.lexical
        if (
            v.datatype == XSD_INTEGER
            and v.lexical.lstrip("-").isdigit()
            and v.lexical == str(int(v.lexical))
        ):
            return int(v.lexical)
        if v.datatype == XSD_BOOLEAN and v.lexical in ("true", "false"):
            return v.lexical == "true"
        dt = v.datatype
        return {
            "@value": v.lexical,
            "@type": self.xsd + dt[len(XSD) :] if dt.startswith(XSD) else dt,
        }

    def value(self, v: Value) -> Any:
        return {"@id": str(v)} if isinstance(v, IRI) else self.literal(v)

    def right(self, r: RightOperand) -> Any:
        if isinstance(r, tuple):
            vals = [self.value(v) for v in r]
            return vals if self.style == "dsp" else {"@list": vals}
        return self.value(r)

    def constraint(self, c: AnyConstraint) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if c.uid:
            out[self.id_key] = c.uid
        if isinstance(c, LogicalConstraint):
            members = [self.constraint(x) for x in c.constraints]
            ordered = self.style != "dsp" or c.operator is LogicalOperator.AND_SEQUENCE
            out[self.key(ODRL + c.operator.value)] = {"@list": members} if ordered else members
            return out
        out[self.key(ODRL + "leftOperand")] = self.vocab(c.left_operand)
        out[self.key(ODRL + "operator")] = self.vocab(c.operator)
        if c.right_operand is not None:
            out[self.key(ODRL + "rightOperand")] = self.right(c.right_operand)
        if c.right_operand_reference:
            k = self.key(ODRL + "rightOperandReference")
            out[k] = (
                c.right_operand_reference
                if k == "rightOperandReference"
                else {"@id": c.right_operand_reference}
            )
        if c.data_type:
            out["odrl:datatype"] = {"@id": c.data_type}
        if c.unit:
            out["odrl:unit"] = {"@id": c.unit}
        if c.claim_path:
            out[CLAIM_PATH] = c.claim_path
        return out

    def coll(self, x: Asset | Party, kind: str) -> Any:
        if not x.collection and not x.refinements and x.source is None:
            return x.uid
        out: dict[str, Any] = {}
        if x.uid:
            out[self.id_key] = x.uid
        if x.collection:
            out["@type"] = self.vocab(ODRL + kind + "Collection")
        if x.refinements:
            out[self.key(ODRL + "refinement")] = [self.constraint(c) for c in x.refinements]
        if x.source:
            k = self.key(ODRL + "source")
            out[k] = x.source if k == "source" else {"@id": x.source}
        return out

    def action(self, a: Action) -> Any:
        if not a.refinements:
            return self.vocab(a.iri)
        return {
            self.rdf_value: {"@id": self.vocab(a.iri) if self.names.get(a.iri) is None else a.iri},
            self.key(ODRL + "refinement"): [self.constraint(c) for c in a.refinements],
        }

    def rule(self, r: Permission | Prohibition | Duty) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if r.uid:
            out[self.id_key] = r.uid
        if r.action.iri != NO_ACTION:
            out["action"] = self.action(r.action)
        for name, val in (("target", r.target), ("assigner", r.assigner), ("assignee", r.assignee)):
            if val is not None:
                out[name] = self.coll(val, "Asset" if name == "target" else "Party")
        if r.constraints:
            out["constraint"] = [self.constraint(c) for c in r.constraints]
        if isinstance(r, Permission) and r.duties:
            out["duty"] = [self.rule(d) for d in r.duties]
        if isinstance(r, Prohibition) and r.remedies:
            out[self.key(ODRL + "remedy")] = [self.rule(d) for d in r.remedies]
        if isinstance(r, Duty) and r.consequences:
            out[self.key(ODRL + "consequence")] = [self.rule(d) for d in r.consequences]
        return out

    def policy(self, p: Policy) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.embedded:
            out["@context"] = DSP_ODRL_PROFILE_URL if self.style == "dsp" else ODRL_CONTEXT_URL
        out["@type"] = self.vocab(ODRL + p.type.value)
        out[self.id_key] = p.uid
        if p.profiles:
            out["profile"] = list(p.profiles)
        if p.inherit_from:
            k = self.key(ODRL + "inheritFrom")
            out[k] = (
                list(p.inherit_from) if k == "inheritFrom" else [{"@id": x} for x in p.inherit_from]
            )
        if p.conflict:
            k = self.key(ODRL + "conflict")
            v = self.vocab(ODRL + p.conflict.value)
            out[k] = v if k == "conflict" else {"@id": ODRL + p.conflict.value}
        for name, val in (("target", p.target), ("assigner", p.assigner), ("assignee", p.assignee)):
            if val is not None:
                out[name] = self.coll(val, "Asset" if name == "target" else "Party")
        if p.timestamp:
            key = "timestamp" if (self.style == "dsp" and self.embedded) else DSPACE_TIMESTAMP
            out[key] = _iso(p)
        if p.permissions:
            out["permission"] = [self.rule(r) for r in p.permissions]
        if p.prohibitions:
            out["prohibition"] = [self.rule(r) for r in p.prohibitions]
        if p.obligations:
            out["obligation"] = [self.rule(r) for r in p.obligations]
        return out


def to_compact(
    policy: Policy, style: Style = "dsp", *, embedded: bool = False, bare_odrl_terms: bool = False
) -> dict[str, Any]:
    """Compact JSON-LD. ``style="dsp"`` uses the DSP 2025-1 ODRL profile context (as DSP messages
    do), ``"odrl"`` the ODRL 2.2 context. ``embedded=True`` omits ``@context`` for a policy placed
    inside a DSP message (whose context then applies).

    ``bare_odrl_terms=True`` writes ODRL vocabulary values the DSP way (``"leftOperand":
    "dateTime"``) even where the context defines no such term — what DSP examples and some peers
    expect, though a generic JSON-LD processor then reads a relative IRI. We read both forms.
    """
    return _Compactor(style, embedded, bare_odrl_terms).policy(policy)


__all__ = [
    "DSP_CONTEXT_URL",
    "DSP_ODRL_PROFILE_URL",
    "ODRL_CONTEXT_URL",
    "expand",
    "expand_with_pyld",
    "from_expanded",
    "parse_policy",
    "to_compact",
    "to_expanded",
]
