"""Compiled contracts of the ledger (built by ``scripts/compile-contracts``, committed)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def abi(name: str = "AgoraAnchor") -> list[dict[str, Any]]:
    text = resources.files(__package__).joinpath(f"{name}.abi").read_text()
    loaded: list[dict[str, Any]] = json.loads(text)
    return loaded


def bytecode(name: str = "AgoraAnchor") -> str:
    return "0x" + resources.files(__package__).joinpath(f"{name}.bin").read_text().strip()
