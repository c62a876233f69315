"""Writing text: the engine and its decode loop, sampling, first-come-first-served lines, side by side.

May import ``core``, ``models`` and ``text``."""
