"""Benchmarks are opt-in: ``pytest benchmarks --benchmark-enable`` (see README)."""
