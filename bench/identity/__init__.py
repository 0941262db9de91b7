"""Benchmark of the identity package's complete DCP check."""
