"""Tooling for `make run`, the tests and the bench (not used by the running service)."""
