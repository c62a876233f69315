"""Continuous batching for one model: requests join the running batch at step boundaries and leave it
when they finish, so a class of thirty shares each forward pass instead of queueing for it.

One thread per model owns the model's batch; callers submit requests and follow them. Each loop turn:
drop what finished or was cancelled, admit from the line (first come, first served, within the row and
KV caps, and no batch submission taking more than half the rows while someone else waits), prefill
newcomers within a token budget (chunked, so a long prompt never stalls the batch for long), then one
decode step for every running row. Callers see their request through a :class:`Request`, published
under one lock after every step (``follow`` in the engine waits on it).

Why not transformers' ``ContinuousBatchingManager``: in transformers 5.23 it drops the repetition
penalty from a continuous batch, takes one seed per manager and gives only the chosen token's
log-probability, so it cannot serve what every page asks for; on this CPU it was also slower
(``python -m bench backends``, docs/benchmarks.md; ``python -m bench.gpu`` measures it on CUDA).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import BusyError, is_out_of_memory
from playground.core.openmp import release_openmp_workers
from playground.core.queues import BATCH_KV_TOKENS, BATCH_ROWS, WAITING_PER_MODEL
from playground.generation.batch import Batch, mergeable
from playground.generation.prefix_cache import MIN_SHARED_TOKENS, PrefixCache, shared_length
from playground.generation.request import Generation
from playground.generation.rows import Row, prefill, prefill_all, prefill_together

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchLimits:
    """How much one model's batch may hold; past it, requests wait in line."""

    max_rows: int = BATCH_ROWS
    max_kv_tokens: int = BATCH_KV_TOKENS
    prefill_tokens_per_step: int = 256
    """Prompt tokens read between two decode steps; a longer prompt is read in chunks."""
    prefix_cache_tokens: int = 8_192
    """Prompt positions kept for reuse by later prompts that start the same way."""
    max_waiting: int = WAITING_PER_MODEL
    """Submissions waiting past which a new one is refused with "busy, try again"."""


@dataclass(eq=False)
class Request:
    """A caller's view of one generation: ``public`` is updated only under the scheduler's lock."""

    public: Generation
    group: int
    row: Row | None = None
    version: int = 0
    finished: bool = False
    tokens_published: int = field(default=0, repr=False)


class BatchScheduler:
    """The batch of one model, fed by a thread of its own."""

    def __init__(self, name: str, lm: Any, tokenizer: Any, limits: BatchLimits | None = None,
                 condition: threading.Condition | None = None) -> None:
        self.name, self.lm, self.tokenizer = name, lm, tokenizer
        self.limits = limits or BatchLimits()
        self.prefix_cache = PrefixCache(self.limits.prefix_cache_tokens)
        self._condition = condition or threading.Condition()
        """Guards the lines and every request's published state; callers wait on it for news."""
        self._waiting: deque[Request] = deque()
        self._prefilling: list[Request] = []
        self._running: list[Request] = []
        self._groups = itertools.count()
        self._batch = Batch(lm)
        self._row_limit = self.limits.max_rows
        self.steps = 0
        self.peak_rows = 0
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=f"batch-{name}", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # a thread still inside torch at interpreter exit aborts the process

    # --- callers' side -------------------------------------------------------------------------

    def submit(self, generations: list[Generation]) -> list[Request]:
        """Put generations in line as one group (a batch submission counts once against the cap)."""
        with self._condition:
            groups_waiting = len({request.group for request in self._waiting})
            if groups_waiting >= self.limits.max_waiting:
                raise BusyError(f"The model {self.name} is busy: {groups_waiting} requests are already "
                                "waiting for it. Try again in a minute.")
            group = next(self._groups)
            requests = [Request(generation, group) for generation in generations]
            self._waiting.extend(requests)
            self._update_positions()
            self._condition.notify_all()
            return requests

    def cancel(self, requests: list[Request]) -> None:
        """Stop requests at the next step boundary; their places are free at once."""
        with self._condition:
            for request in requests:
                if request.finished:
                    continue
                if request in self._waiting:
                    self._waiting.remove(request)
                if request.row is not None:
                    request.row.generation.finish_reason = "cancelled"
                request.public.finish_reason = "cancelled"
                request.finished = True
                request.version += 1
            self._update_positions()
            self._condition.notify_all()

    @property
    def busy(self) -> tuple[int, int]:
        """(decoding or prefilling, waiting): what the status lines and tests read."""
        with self._condition:
            active = [r for r in self._prefilling + self._running if not r.finished]
            return len(active), len(self._waiting)

    # --- the model's thread ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the model's thread after its current step; requests still in it are cancelled."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.cancel(self._waiting_and_active())

    def _waiting_and_active(self) -> list[Request]:
        with self._condition:
            return list(self._waiting) + self._prefilling + self._running

    def _has_work(self) -> bool:
        return bool(self._closing or self._waiting or self._prefilling or self._running)

    def _loop(self) -> None:
        while True:
            with self._condition:
                idle = not self._has_work()
            if idle:  # its OpenMP workers would slow other models' batches (playground.core.openmp)
                release_openmp_workers()
            with self._condition:
                self._condition.wait_for(self._has_work)
                if self._closing:
                    return
            try:
                self._turn()
            except Exception as error:  # a bug here must not leave every caller waiting forever
                log.exception("batch loop of %s failed; its requests are failed and the batch reset", self.name)
                self._fail_everything(_failure(error))

    def _turn(self) -> None:
        """One turn of the loop: admit, prefill, one decode step, publish."""
        with self._condition:
            self._drop_finished()
            self._admit()
            prefilling = list(self._prefilling)
        self._prefill(prefilling)
        with self._condition:
            self._join_prefilled()
            running = bool(self._running)
        if running:
            self._step()
        with self._condition:
            self._publish()
            self._condition.notify_all()

    def _fail_everything(self, message: str) -> None:
        with self._condition:
            for request in self._prefilling + self._running:
                if request.row is not None:
                    request.row.fail(message)
            self._publish()
            self._prefilling, self._running = [], []
            self._batch = Batch(self.lm)
            self._condition.notify_all()

    def _drop_finished(self) -> None:
        """Under the lock: forget finished and cancelled requests, freeing their rows."""
        self._prefilling = [r for r in self._prefilling if not r.finished]
        self._running = [r for r in self._running if not r.finished]
        self._batch.drop_finished()

    def _admit(self) -> None:
        """Under the lock: move requests from the line into prefill, first come first served."""
        limits = self.limits
        active = self._prefilling + self._running
        for request in list(self._waiting):
            if len(active) >= self._row_limit:
                break
            cost = len(request.public.prompt.ids) + request.public.prompt.max_new_tokens
            longest = max([cost] + [r.row.cost for r in active if r.row is not None])
            if active and (len(active) + 1) * longest > limits.max_kv_tokens:
                break  # memory cap: it waits (first come first served, so nobody overtakes it)
            if self._over_share(request, active):
                continue
            public = request.public
            request.row = Row(self.lm, self.tokenizer, Generation(public.model, public.prompt, public.settings,
                                                                  constraint=public.constraint, grammar=public.grammar,
                                                                  steer=public.steer))
            self._waiting.remove(request)
            self._prefilling.append(request)
            active.append(request)
        self._update_positions()

    def _over_share(self, request: Request, active: list[Request]) -> bool:
        """A group already holding half the rows waits while another group is in line."""
        share = max(1, self._row_limit // 2)
        if sum(r.group == request.group for r in active) < share:
            return False
        return any(r.group != request.group for r in self._waiting)

    def _prefill(self, prefilling: list[Request]) -> None:
        """Outside the lock: read prompt tokens of newcomers, within this step's budget.

        Newcomers whose (rest of the) prompt fits the budget are read together in one forward pass;
        a longer prompt is read alone, a chunk per step. A prompt that fails fails its own request.
        A newcomer whose whole prompt but its last token is a kept prefix (a class sending the same
        exercise, self-consistency samples) needs no pass of its own: it joins the batch as a decoding
        row whose newest token is that last one, and the next decode step gives its first token (a
        pass for one token costs about a decode step of the whole batch: every weight is read). When
        other newcomers are read this turn anyway, it rides along in their pass.
        """
        budget = self.limits.prefill_tokens_per_step
        together: list[Row] = []
        last_token_only: list[Row] = []
        leaders: list[list[int]] = []
        for request in prefilling:
            row = request.row
            if budget <= 0 or row is None or row.done:
                continue
            try:
                if row.cached == 0 and row.cache is None and row.steer is None:
                    row.cached, row.cache = self.prefix_cache.lookup(row.ids)
                    if row.cache is None and any(shares_prefix(leader, row.ids) for leader in leaders):
                        continue  # waits one step for a newcomer like it, then starts from its prefix
                    if row.cache is None:
                        leaders.append(row.ids)
                rest = len(row.ids) - row.cached
                if rest == 1 and row.cache is not None and mergeable(row.cache):
                    last_token_only.append(row)
                    continue
                if rest <= budget and mergeable_or_empty(row.cache):
                    together.append(row)
                    budget -= rest
                else:
                    budget -= prefill(self.lm, row, budget)
                    self._keep_prefix(row)
            except Exception as error:
                log.exception("prefill failed in %s; that request alone is failed", self.name)
                row.fail(_failure(error))
        for row in last_token_only:
            row.start_clock()  # the next decode step reads its last token, unless a pass below does
        if together:
            self._prefill_together(together + last_token_only[:max(0, budget)])

    def _prefill_together(self, rows: list[Row]) -> None:
        """One pass for newcomers' prompts; a row whose last token alone is left rides along, as the
        pass reads every weight anyway, and so gets its first token with the rows read with it."""
        try:
            if len(rows) > 1:
                prefill_together(self.lm, rows)
            else:
                prefill_all(self.lm, rows[0])
        except Exception:  # one bad prompt: read them one by one so only it fails (each failure logs there)
            log.info("prefill of %d prompts together failed in %s; reading them one by one", len(rows), self.name,
                     exc_info=True)
            for row in rows:
                self._prefill_alone(row)
            return
        for row in rows:
            self._keep_prefix(row)

    def _prefill_alone(self, row: Row) -> None:
        try:
            if row.steer is None:
                row.cached, row.cache = self.prefix_cache.lookup(row.ids)
            prefill_all(self.lm, row)
            self._keep_prefix(row)
        except Exception as error:
            log.exception("prefill failed in %s; that request alone is failed", self.name)
            row.fail(_failure(error))

    def _keep_prefix(self, row: Row) -> None:
        if row.cached >= row.prompt_length and row.cache is not None and mergeable(row.cache) and row.steer is None:
            self.prefix_cache.add(row.ids[:row.prompt_length], row.cache)

    def _join_prefilled(self) -> None:
        """Under the lock: rows that have their first token join the batch together.

        A row that finished at its first token (or failed) skips the batch: it is published, then
        dropped. A model whose cache cannot be stacked (sliding windows) decodes one row at a time.
        """
        joining: list[Request] = []
        for request in list(self._prefilling):
            row = request.row
            assert row is not None
            if row.done or request.finished:
                self._prefilling.remove(request)
                self._running.append(request)
                continue
            if row.cached < len(row.ids) - 1:
                continue  # still reading its prompt
            if not mergeable(row.cache):
                self._row_limit = 1
            if self._row_limit == 1 and (self._batch.rows or joining):
                continue
            joining.append(request)
        self._batch.join([request.row for request in joining if request.row is not None])
        for request in joining:
            self._prefilling.remove(request)
            self._running.append(request)
        self.peak_rows = max(self.peak_rows, len(self._batch))

    def _step(self) -> None:
        """Outside the lock: one forward pass for the batch; a failure fails the batch's rows."""
        try:
            self._batch.drop_finished()
            if len(self._batch):
                self._batch.step()
                self.steps += 1
        except Exception as error:
            log.exception("decode step of %s failed; its %d rows are failed", self.name, len(self._batch.rows))
            message = _failure(error)
            for row in self._batch.rows:
                row.fail(message)

    def _publish(self) -> None:
        """Under the lock: copy each row's progress into its caller's generation."""
        for request in self._prefilling + self._running:
            row = request.row
            if row is None or request.finished:
                continue
            private, public = row.generation, request.public
            if len(private.tokens) == request.tokens_published and private.finish_reason is None:
                continue
            public.tokens.extend(private.tokens[request.tokens_published:])
            request.tokens_published = len(private.tokens)
            public.text = private.text
            public.first_token_seconds = private.first_token_seconds
            public.compute_seconds = private.compute_seconds
            public.queue_position = 0
            public.error = private.error
            if private.grammar is not None:
                public.grammar_steps.extend(private.grammar_steps[len(public.grammar_steps):])
                public.grammar_seconds = private.grammar_seconds
                public.grammar_accepting = private.grammar_accepting
            public.finish_reason = private.finish_reason
            request.finished = private.done
            request.version += 1

    def _update_positions(self) -> None:
        """Under the lock: each waiting request's place in line (1 = next)."""
        for place, request in enumerate(self._waiting, start=1):
            if request.public.queue_position != place:
                request.public.queue_position = place
                request.version += 1


def shares_prefix(a: list[int], b: list[int]) -> bool:
    """Whether two prompts start alike for long enough that the second should reuse the first's KV."""
    return shared_length(tuple(a), b) >= MIN_SHARED_TOKENS


def mergeable_or_empty(cache: Any) -> bool:
    return cache is None or mergeable(cache)


def _failure(error: BaseException) -> str:
    if is_out_of_memory(error):
        return ("Out of memory while generating: try a shorter prompt or fewer new tokens. "
                "The app is still running.")
    return f"Generation failed ({type(error).__name__}: {error})."
