"""Gradio's queue and concurrency settings and the server's, each with the figure that chose it.

The figures come from ``python -m bench load`` (30 students against one app on 2 cores; see
docs/reliability.md). The tabs pass these on as ``concurrency_id`` / ``concurrency_limit``; the engine's own
limits (rows per batch, waiting lines) are the library's, in ``playground/core/queues.py``.
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

CAUSES_QUEUE = "causes"

CAUSES_CONCURRENCY = 2
"""What-causes-it requests at once (patching sweeps, salience, steering, base vs fine-tuned: seconds each), in a line
of their own. ``python -m bench contention`` (3 students looping salience for 90 s while a teacher types in Inside
the model): when they shared Inside the model's line of 2, two salience requests held both places and the
teacher's next-token view waited 7.22 s at the median (0.24 s alone, 30.6x); in their own line of 2 it waits 0.38 s
(2.0x), the students' requests taking 10.3 s at the median against 10.0 s. A line of 1 cut the teacher's wait to
0.25 s but made the students' 11.7 s. A repeat of a request is remembered, so a class following the teacher's
example does not queue for it."""

QUANT_QUEUE = "quantization"

QUANT_CONCURRENCY = 4

GPU_QUEUES = frozenset({GENERATION_QUEUE, QUANT_QUEUE, ATTENTION_FORWARD_QUEUE, ATTENTION_HEAD_DRAW_QUEUE,
                        INSIDE_QUEUE, CAUSES_QUEUE})
"""The concurrency ids of events that run a model; the others (tokenizing, listing) need no GPU."""
