"""Which models exist (registry and resolve), the shared store of loaded ones, the embedded carriers.

May import ``playground.core`` only."""
