"""Quantization: one backend per method with its availability check, the comparison lab, metrics, the figure.

May import ``core``, ``models`` and ``generation``."""
