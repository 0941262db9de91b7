"""The policy templates of :mod:`policies.templates`, offered through the management API.

``GET /api/v1/policy-templates`` lists them with their parameters; ``POST
/api/v1/policy-templates/{name}`` makes one into a stored policy (``{"parameters": {…},
"id": …}``), ready for ``POST /offers``. Parameters arrive as JSON and are checked against the
template function's own signature (dates as ISO 8601, amounts as strings or numbers), so a
template needs no second description here.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections import abc
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from connector.dsp.policy_input import normalise
from policies.errors import PoliciesError
from policies.jsonld import to_compact
from policies.templates import TEMPLATES

#: the template's target and assigner are the offer's business (set when it is offered)
PLACEHOLDER_TARGET = "urn:agora:template-target"
_FIXED = ("uid", "assigner", "target")
_KEEP = ("permission", "prohibition", "obligation", "profile")


class TemplateError(ValueError):
    """A template name or parameter that does not fit; the message names it."""


def _function(name: str) -> Callable[..., Any]:
    found: Callable[..., Any] | None = TEMPLATES.get(name)  # type: ignore[assignment]
    if found is None:
        raise LookupError(f"no policy template {name!r}; one of {', '.join(sorted(TEMPLATES))}")
    return found


def _parameters(fn: Callable[..., Any]) -> list[tuple[str, Any, inspect.Parameter]]:
    hints = typing.get_type_hints(fn)
    return [
        (p.name, hints.get(p.name, Any), p)
        for p in inspect.signature(fn).parameters.values()
        if p.name not in _FIXED
    ]


_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Decimal: "decimal",
    datetime: "date-time (ISO 8601)",
    dict: "object",
}


def _type_name(hint: Any) -> str:
    """A parameter's type as a newcomer writes it in JSON ("decimal", "list of strings"), not
    as Python spells it; an optional one is shown without its ``None``."""
    if hint in _NAMES:
        return _NAMES[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        shown = [_type_name(a) for a in args if a is not type(None)]
        if "decimal" in shown:  # written as a string or a number: both mean the decimal
            shown = ["decimal"]
        return " or ".join(dict.fromkeys(shown))
    if origin in (list, tuple, abc.Sequence) and args:
        inner = _type_name(args[0])
        return f"list of {inner}s" if " " not in inner else f"list of ({inner})"
    if origin is dict:
        return "object"
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


def describe(name: str) -> dict[str, Any]:
    """A template's name, what it means and its parameters (JSON names, types, defaults)."""
    fn = _function(name)
    params = []
    for pname, hint, p in _parameters(fn):
        entry: dict[str, Any] = {"name": _camel(pname), "type": _type_name(hint)}
        if p.default is inspect.Parameter.empty:
            entry["required"] = True
        elif p.default is not None:
            entry["default"] = (
                p.default
                if isinstance(p.default, str | int | float)
                else list(p.default)
                if isinstance(p.default, tuple | list)
                else str(p.default)
            )
        params.append(entry)
    doc = inspect.getdoc(fn) or ""
    return {
        "name": name,
        "description": " ".join(doc.split("\n\n", 1)[0].split()),
        "parameters": params,
    }


def describe_all() -> list[dict[str, Any]]:
    return [describe(name) for name in sorted(TEMPLATES)]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def instantiate(name: str, uid: str, assigner: str, values: dict[str, Any]) -> dict[str, Any]:
    """The compact ODRL rules (permission/prohibition/obligation/profile) of the template with
    these parameters (camelCase or snake_case keys); TemplateError naming a bad one."""
    fn = _function(name)
    known = {_camel(p): (p, hint, param) for p, hint, param in _parameters(fn)}
    known.update({p: (p, hint, param) for p, hint, param in _parameters(fn)})
    unknown = sorted(set(values) - set(known))
    if unknown:
        names = ", ".join(sorted({_camel(p) for p, _, _ in _parameters(fn)}))
        raise TemplateError(f"/parameters/{unknown[0]}: not a parameter of {name} ({names})")
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        pname, hint, _ = known[key]
        try:
            kwargs[pname] = TypeAdapter(hint).validate_python(value)
            if "decimal" in _type_name(hint) and not Decimal(str(kwargs[pname])).is_finite():
                raise ArithmeticError
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise TemplateError(f"/parameters/{key}: {msg} (expected {_type_name(hint)})") from None
        except ArithmeticError:  # decimal.InvalidOperation for "x"
            raise TemplateError(f"/parameters/{key}: a decimal number, not {value!r}") from None
    missing = [
        _camel(p) for p, _, param in _parameters(fn)
        if param.default is inspect.Parameter.empty and p not in kwargs
    ]  # fmt: skip
    if missing:
        raise TemplateError(f"/parameters/{missing[0]}: required by {name}")
    try:
        policy = fn(uid, assigner, PLACEHOLDER_TARGET, **kwargs)
    except (PoliciesError, ValueError, ArithmeticError, TypeError) as exc:
        # e.g. an amount that is no number: the template's own check (decimal.InvalidOperation)
        shown = str(exc) or type(exc).__name__
        raise TemplateError(f"/parameters: {name} refused them: {shown}") from None
    compact = to_compact(policy)
    return normalise({k: v for k, v in compact.items() if k in _KEEP})
