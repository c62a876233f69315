"""The engine's limits, each with the figure that chose it: rows per batch, KV room, waiting lines, endpoint
connections, comparisons at once.

The figures come from ``python -m bench load`` (30 students against one app on 2 cores; see
docs/reliability.md). Gradio's own queue settings live beside the app, in ``tabs/shared/queues.py``.
"""

BATCH_ROWS = 32
"""Rows one model decodes together: a class of 30 fits in one batch. With 32 students asking at once on
2 cores, 32 rows gave 141 tokens/s (answer p95 7.0 s) against 131 (p95 7.5 s) with 16 rows; a step
costs little more per extra row because it reads the weights once (docs/benchmarks.md)."""

BATCH_KV_TOKENS = 32_768
"""KV positions one model's batch may hold, padding included (rows x longest row): about 1.5 GB for the
135M model in fp32. A request's worst case (prompt + max_new_tokens) is reserved when it joins."""

GENERATIONS_PER_MODEL = 2
"""Decodes at once on one model *outside* its batch (a fine-tuned adapter's chat, say): they run alone."""

WAITING_PER_MODEL = 40
"""Past this many waiting (a batch submission counts once), a generation is refused with "busy, try
again". The load benchmark's class of 30 students (one request each at a time) peaked at 27 waiting
before batching, so a class never sees it; a flood does."""

ENDPOINT_IN_FLIGHT = 8
"""Requests this app keeps in flight to one OpenAI-compatible endpoint, all users together: an
evaluation of 120 items must not open 120 connections to a colleague's vLLM (or trip its rate limit);
the server batches what it gets, so a few in flight already keep it busy."""

ENDPOINT_WAITING = 1024
"""Past this many waiting for one endpoint, a request is refused with "busy" (an evaluation's items
each wait on their own, so this is far above the per-model figure)."""

ENDPOINT_TIMEOUT_SECONDS = 120.0
"""How long one endpoint request may go without a byte before it fails with a timeout (a cold vLLM
loading weights answers its first request late; PLAYGROUND_ENDPOINT_TIMEOUT overrides it)."""

ENDPOINT_CONNECT_SECONDS = 5.0
"""A host that does not accept the connection in this time is reported as unreachable."""

QUANT_RUNS_AT_ONCE = 1
"""Comparisons measuring at once: timing figures are meaningless when two runs share the CPU."""
