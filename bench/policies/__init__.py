"""Benchmark of the policies library's compiled decision path."""
