"""Conformance of ``policies`` against public ODRL test material kept outside the repository."""
