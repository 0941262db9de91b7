"""Agora identity package."""
