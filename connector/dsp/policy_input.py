"""What the management API accepts in a policy beyond the DSP schema's plain strings.

The DSP 2025-1 schema types a constraint's ``rightOperand`` as a string, an object or a list of
those; ODRL itself allows any literal, and people (and ``policies.to_compact``) write
``"rightOperand": 5``. A JSON number or boolean is turned into the typed literal it means
(``{"@value": "5", "@type": "xsd:integer"}``, ``xsd:decimal``, ``xsd:boolean``) before the
checks, so the stored offer is what peers' schema validation accepts and means the same.

The DSP context defines no ``unit`` term, so a bare ``unit`` (as the policies README and
ODRL's own examples write it) is taken as ``odrl:unit``, the IRI it stands for.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

XSD = "http://www.w3.org/2001/XMLSchema#"
#: keys under which constraints (or rules holding constraints) appear in the compact form
_NESTED = (
    "permission",
    "prohibition",
    "obligation",
    "duty",
    "consequence",
    "remedy",
    "constraint",
    "refinement",
    "and",
    "or",
    "xone",
    "andSequence",
    "odrl:refinement",
    "odrl:constraint",
)


def typed_literal(value: Any) -> Any:
    """A JSON number or boolean as an xsd-typed JSON-LD value object; anything else as is."""
    if isinstance(value, bool):
        return {"@value": "true" if value else "false", "@type": XSD + "boolean"}
    if isinstance(value, int):
        return {"@value": str(value), "@type": XSD + "integer"}
    if isinstance(value, float):
        return {"@value": str(Decimal(repr(value))), "@type": XSD + "decimal"}
    return value


def normalise(node: Any) -> Any:
    """A copy of a compact policy (or part) with typed literals and ``odrl:unit``."""
    if isinstance(node, list):
        return [normalise(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "rightOperand":
            items = value if isinstance(value, list) else None
            out[key] = (
                [typed_literal(v) for v in items] if items is not None else typed_literal(value)
            )
        elif key == "unit" and "odrl:unit" not in node:
            out["odrl:unit"] = value
        elif key == "action" and isinstance(value, dict):
            out[key] = normalise(value)
        elif key in _NESTED:
            out[key] = normalise(value)
        else:
            out[key] = value
    return out
