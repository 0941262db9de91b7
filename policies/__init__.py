"""Agora policies package."""
