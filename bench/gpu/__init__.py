"""``python -m bench.gpu``: the one prepared GPU check, run in one go on a lent GPU box or Space.

Every check is named, timed and guarded on its own (see :mod:`bench.gpu.checks`); the report
(docs/gpu.md and docs/gpu.json) is written by :mod:`bench.gpu.report` so it can be tested on a CPU.
"""
