"""Ledger benchmark: ``python -m bench.ledger``."""
