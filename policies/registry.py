"""The left-operand registry itself: which left operands exist and how their values are typed.

Kept apart from :mod:`policies.operands` (which reads values out of a World) so that
:mod:`policies.world` can type caller-supplied values without importing the readers, and the
readers can import the world: the two depend on this module, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .vocab import normalize_iri


@dataclass(frozen=True, slots=True)
class LeftOperand:
    """One registered left operand.

    ``source`` names how its value is obtained: ``"value"`` (the caller's ``World.values``),
    ``"now"``, ``"elapsed"``, ``"count"``, ``"credential_types"``, ``"roles"``, ``"claim"`` or
    ``"consent"``. ``multi`` operands hold a set of values (``eq`` then means "one of them is").
    """

    iri: str
    label: str
    datatype: str | None = None
    source: str = "value"
    multi: bool = False
    geometry: bool = False


REGISTRY: dict[str, LeftOperand] = {}
# (left operand as written) -> (IRI, datatype hint); cleared when the registry changes.
_KEYS: dict[str, tuple[str, str | None]] = {}


def register(spec: LeftOperand) -> None:
    """Add (or replace) a left operand."""
    REGISTRY[spec.iri] = spec
    _KEYS.clear()


def unregister(iri: str) -> None:
    """Remove a left operand; constraints on it then fail closed again."""
    REGISTRY.pop(iri, None)
    _KEYS.clear()


def operand_key(key: str) -> tuple[str, str | None]:
    """The IRI a caller's value key names and the datatype its values are compared as."""
    try:
        return _KEYS[key]
    except KeyError:
        iri = normalize_iri(key)
        spec = REGISTRY.get(iri)
        entry = (iri, spec.datatype if spec is not None else None)
        if len(_KEYS) < 4096:
            _KEYS[key] = entry
        return entry
