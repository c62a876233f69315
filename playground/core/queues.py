"""Every queue and concurrency setting of the app, in one place, each with the figure that chose it.

The figures come from ``python -m bench load`` (30 students against one app on 2 cores; see
docs/reliability.md). Gradio's settings are plain names and numbers here so the library stays free of
gradio; the tabs pass them on as ``concurrency_id`` / ``concurrency_limit``.
"""

QUEUE_MAX_SIZE = 128
"""Events waiting in Gradio's queue, all endpoints together: 4x the load benchmark's peak (30 students, 29
in flight). Past it Gradio answers "queue is full, try again"; per model, the engine refuses sooner."""

DEFAULT_CONCURRENCY = 4
"""Events of one endpoint at once unless it says otherwise (tokenizing, say)."""

GENERATION_QUEUE = "generation"
"""One Gradio queue for every generating event; the engine's per-model batch admits them fairly."""
GENERATION_CONCURRENCY = 32
"""Generating events Gradio lets through at once. The engine decodes them together (up to
``BATCH_ROWS`` rows per model, the rest waiting in its line with their place shown), so this only has
to be large enough for a class's requests to reach the batch; a waiting event costs one idle thread."""

BATCH_ROWS = 32
"""Rows one model decodes together: a class of 30 fits in one batch. With 32 students asking at once on
2 cores, 32 rows gave 141 tokens/s (answer p95 7.0 s) against 131 (p95 7.5 s) with 16 rows; a step
costs little more per extra row because it reads the weights once (docs/benchmarks.md)."""

BATCH_KV_TOKENS = 32_768
"""KV positions one model's batch may hold, padding included (rows x longest row): about 1.5 GB for the
135M model in fp32. A request's worst case (prompt + max_new_tokens) is reserved when it joins."""

WORKER_THREADS = 96
"""Gradio's worker threads (its default is 40): every queue's limit above together, with room."""

GIL_SWITCH_SECONDS = 0.0005
"""How long a thread waiting for Python's GIL lets the holder run before asking for it (Python's default
is 5 ms), set by the server at start. The batch's model thread wants the GIL back after each of the few
hundred torch ops of a decode step; under the classroom load the event loop and the other handlers held
it for up to 5 ms each time, and the step took 3.5x its idle time with 45% of the CPU idle. At 0.5 ms the
turn took 259-290 ms instead of 342-374 ms (0.2 ms: 405 ms, the switching itself costing more)."""

GRADIO_ANALYTICS_EVERY = 100
"""Events between two refreshes of Gradio's per-endpoint statistics (``GRADIO_ANALYTICS_CACHE_FREQUENCY``,
default 1). Gradio rebuilds them with pandas from its last 10,000 events after *every* event, under the
GIL: 10% of the GIL-held samples in a 2-minute classroom run (about 1,500 events kept), and the cost grows
with every event a class sends until 10,000 are kept. An operator's own value wins."""

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

ATTENTION_FORWARD_QUEUE = "attention-forward"
ATTENTION_FORWARD_CONCURRENCY = 2
"""Attention forward passes at once: at 4, tokenize's p95 in the first seconds of a class doubled."""

ATTENTION_HEAD_DRAW_QUEUE = "attention-head-draw"
ATTENTION_HEAD_DRAW_CONCURRENCY = 1
"""Chained and slider head draws share one line of width 1, so a late chained draw cannot land after
the user's own."""

INSIDE_QUEUE = "inside"
INSIDE_CONCURRENCY = 2
"""Inside-the-model forwards at once, as for the attention tab's: on 2 cores more only add contention, and
a text's traced forward is cached, so the views that read it are lookups."""

QUANT_QUEUE = "quantization"
QUANT_CONCURRENCY = 4
QUANT_RUNS_AT_ONCE = 1
"""Comparisons measuring at once: timing figures are meaningless when two runs share the CPU."""

GPU_QUEUES = frozenset({GENERATION_QUEUE, QUANT_QUEUE, ATTENTION_FORWARD_QUEUE, ATTENTION_HEAD_DRAW_QUEUE,
                        INSIDE_QUEUE})
"""The concurrency ids of events that run a model; the others (tokenizing, listing) need no GPU."""
