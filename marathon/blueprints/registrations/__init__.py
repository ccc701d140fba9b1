"""Holds, registrations, transfers and cancellation: the services payment and fair play call."""
