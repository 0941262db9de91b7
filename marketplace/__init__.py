"""Agora marketplace package."""
