"""Prompting techniques as data, reading answers out of text, and scoring techniques on labelled sets.

May import ``core`` and ``generation``."""
