"""Races, waiting lines per bucket, holds and registrations."""
