"""Agora connector package."""
