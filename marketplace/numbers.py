"""JSON with exact numbers: Decimals written as JSON numbers, JSON numbers read as Decimals.

TMF's ``value`` is a JSON number on the wire. The standard encoder only writes floats, which would
turn 0.10 into 0.1000000000000000055…, so we write the Decimal's own digits (``49.00`` stays
``49.00``) and read numbers back with ``parse_float=Decimal``. No float arithmetic anywhere.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .errors import ViewError


def _encode(value: Any, out: list[str], floats: bool, sort_keys: bool) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ViewError("JSON has no NaN or infinity", expected="a finite number", found=value)
        out.append(f"{value:f}")
    elif isinstance(value, dict):
        out.append("{")
        items = sorted(value.items(), key=lambda kv: str(kv[0])) if sort_keys else value.items()
        for i, (key, item) in enumerate(items):
            if not isinstance(key, str):
                raise ViewError("JSON keys are strings", expected="str", found=key)
            out.append(("," if i else "") + json.dumps(key, ensure_ascii=False) + ":")
            _encode(item, out, floats, sort_keys)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, floats, sort_keys)
        out.append("]")
    elif isinstance(value, float) and not floats:
        raise ViewError("a float is not written as money", expected="a Decimal", found=value)
    elif value is None or isinstance(value, str | int | float):
        try:
            out.append(json.dumps(value, ensure_ascii=False, allow_nan=False))
        except ValueError:
            raise ViewError(
                "JSON has no NaN or infinity", expected="a finite number", found=value
            ) from None
    else:
        raise ViewError("not a JSON value", expected="JSON data", found=type(value).__name__)


def dumps(value: Any, *, floats: bool = False, sort_keys: bool = False) -> str:
    """Compact JSON text; Decimals keep their exact digits. Floats are refused unless ``floats``
    (for data that is not money, such as an ODRL constraint's right operand)."""
    out: list[str] = []
    _encode(value, out, floats, sort_keys)
    return "".join(out)


def loads(text: str | bytes) -> Any:
    """Parse JSON reading every non-integer number as a Decimal (never a float)."""
    return json.loads(text, parse_float=Decimal)
