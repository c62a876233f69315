"""Maintenance commands for the project itself (not the library): the lock check."""
