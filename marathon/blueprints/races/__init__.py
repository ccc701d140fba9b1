"""Races: courses, pace groups (buckets), sale states, the spec, lookup by id or slug, the admin API and CLI."""
