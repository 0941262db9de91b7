"""Agora ledger package."""
