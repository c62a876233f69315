"""One small model trained from scratch on one objective: a plain PyTorch loop, short enough to read.

AdamW, a warmup then a cosine (or constant) learning rate, gradient clipping at 1, the held-out loss at step 0,
every ``eval_every`` steps and at the end, with a sample at each evaluation. Everything it says goes through
``on_event(kind, data)`` with plain data, in the shape of the fine-tuning worker's events (started, step {step,
loss, lr, grad_norm}, evaluating, eval {step, eval_loss, samples}, finished/cancelled), so a worker can write
them to a run folder unchanged. The same seed gives the same run: the data order, the masks and the spans all
come from one generator. ``on_checkpoint`` receives a :class:`LoopState` after each evaluation and on Stop, and
``start`` hands one back: the run then continues at the next step with the same data order and masks, its
curves continuing, and ends as if it had never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from playground.core.errors import InvalidInputError
from playground.core.validation import number, whole_number
from playground.pretrain.objectives import IGNORE, check_objective, make_batch
from playground.pretrain.samples import sample

EventFn = Callable[[str, dict[str, Any]], None]
SCHEDULES = ("cosine", "constant")
EVAL_SEED = 4321
"""The held-out set's masks and spans are drawn from this seed at every evaluation, so losses compare."""


@dataclass(frozen=True)
class TrainSettings:
    """How long and how fast to train; checked on creation."""

    steps: int = 60
    batch_size: int = 8
    learning_rate: float = 3e-3
    schedule: str = "cosine"
    warmup: float = 0.1
    eval_every: int = 20
    eval_sequences: int = 16
    seed: int = 0
    prompt: str = "ROMEO:\n"
    sample_tokens: int = 24

    def __post_init__(self) -> None:
        for name, low, high, hint in (("steps", 1, 1_000_000, "optimizer steps"),
                                      ("batch_size", 1, 1024, "sequences per step"),
                                      ("eval_every", 1, 1_000_000, "steps between held-out evaluations"),
                                      ("eval_sequences", 1, 4096, "held-out sequences per evaluation"),
                                      ("seed", 0, 2**31 - 1, "any whole number"),
                                      ("sample_tokens", 1, 256, "tokens in a sample continuation")):
            object.__setattr__(self, name, whole_number(name.replace("_", " ").capitalize(), getattr(self, name),
                                                        low, high, hint))
        number("Learning rate", self.learning_rate, 0.0, 1.0, "3e-3 suits tiny models", low_open=True)
        number("Warmup", self.warmup, 0.0, 0.5, "the share of steps spent warming up")
        if self.schedule not in SCHEDULES:
            raise InvalidInputError(f"Schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}.")


@dataclass
class TrainResult:
    """The run's curves and totals, as plain lists of [step, value]."""

    losses: list[list[float]] = field(default_factory=list)
    eval_losses: list[list[float]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    tokens_seen: int = 0
    seconds: float = 0.0
    steps: int = 0
    stopped: bool = False

    @property
    def final_eval_loss(self) -> float:
        return self.eval_losses[-1][1]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "final_eval_loss": self.final_eval_loss}


@dataclass
class LoopState:
    """Everything but the model's weights that a run needs to continue after ``step``: AdamW's averages, the
    schedule, the data-order and mask generator, and the curves so far."""

    step: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    generator: torch.Tensor
    result: TrainResult


CheckpointFn = Callable[[LoopState], None]


def train(model: Any, tokenizer: Any, objective: str, train_rows: torch.Tensor, held_out_rows: torch.Tensor,
          settings: TrainSettings, on_event: EventFn | None = None,
          should_stop: Callable[[], bool] | None = None, start: LoopState | None = None,
          on_checkpoint: CheckpointFn | None = None) -> TrainResult:
    """Train ``model`` on ``train_rows`` ([n, context] token ids) under ``objective``; see the module doc.

    With ``start`` (the model already holding that step's weights) the run goes on from ``start.step + 1``."""
    check_objective(objective)
    emit = on_event or (lambda kind, data: None)
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.1,
                                  betas=(0.9, 0.95))
    scheduler = _scheduler(optimizer, settings)
    held_out = held_out_rows[:settings.eval_sequences]
    order = _order(len(train_rows), settings.steps * settings.batch_size, generator)  # drawn first, as at step 0
    result = TrainResult()
    if start is not None:
        optimizer.load_state_dict(start.optimizer)
        scheduler.load_state_dict(start.scheduler)
        generator.set_state(start.generator)
        result = start.result
        result.stopped = False  # a checkpoint taken on Stop says it stopped; this run goes on
    first = result.steps + 1
    emit("started", {"max_steps": settings.steps, "eval_every": settings.eval_every, "objective": objective,
                     "tokens_per_step": settings.batch_size * train_rows.shape[1], "step": result.steps})
    began = time.perf_counter() - result.seconds
    saved = result.steps

    def checkpoint() -> None:
        nonlocal saved
        if on_checkpoint is not None and result.steps and saved != result.steps:
            result.seconds = time.perf_counter() - began
            on_checkpoint(LoopState(result.steps, optimizer.state_dict(), scheduler.state_dict(),
                                    generator.get_state(), result))
            saved = result.steps

    if start is None:
        _evaluate(model, tokenizer, objective, held_out, settings, 0, result, emit)
    model.train()
    for step in range(first, settings.steps + 1):
        if should_stop is not None and should_stop():
            result.stopped = True
            break
        rows = train_rows[order[(step - 1) * settings.batch_size:step * settings.batch_size]]
        loss = model(**make_batch(objective, rows, tokenizer, generator)).loss
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        lr = scheduler.get_last_lr()[0]
        scheduler.step()
        result.tokens_seen += rows.numel()
        result.steps = step
        result.losses.append([step, loss.item()])
        emit("step", {"step": step, "loss": loss.item(), "lr": lr, "grad_norm": grad_norm,
                      "tokens": result.tokens_seen})
        if step % settings.eval_every == 0 or step == settings.steps:
            _evaluate(model, tokenizer, objective, held_out, settings, step, result, emit)
            if step < settings.steps:
                checkpoint()
    result.seconds = time.perf_counter() - began
    if result.steps and result.eval_losses[-1][0] != result.steps:
        _evaluate(model, tokenizer, objective, held_out, settings, result.steps, result, emit)
    if result.stopped:
        checkpoint()
    emit("cancelled" if result.stopped else "finished",
         {"step": result.steps, "train_seconds": result.seconds, "tokens_seen": result.tokens_seen,
          "eval_loss": result.final_eval_loss, "message": "Stopped." if result.stopped else "Done."})
    return result


def _order(rows: int, needed: int, generator: torch.Generator) -> torch.Tensor:
    """Row indices for every step: shuffled passes over the rows, as many as the steps need."""
    passes = math.ceil(needed / rows)
    return torch.cat([torch.randperm(rows, generator=generator) for _ in range(passes)])[:needed]


def _scheduler(optimizer: torch.optim.Optimizer, settings: TrainSettings) -> Any:
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

    warmup = int(settings.warmup * settings.steps)
    if settings.schedule == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    return get_cosine_schedule_with_warmup(optimizer, warmup, settings.steps)


@torch.no_grad()
def held_out_loss(model: Any, tokenizer: Any, objective: str, rows: torch.Tensor, batch_size: int = 8) -> float:
    """Mean loss per scored token on ``rows``, with masks and spans drawn from ``EVAL_SEED``."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(EVAL_SEED)
    total = scored = 0.0
    for start in range(0, len(rows), batch_size):
        batch = make_batch(objective, rows[start:start + batch_size], tokenizer, generator)
        labels = batch["labels"]
        count = float((labels[:, 1:] if objective == "clm" else labels).ne(IGNORE).sum())
        total += float(model(**batch).loss) * count
        scored += count
    model.train(was_training)
    return total / max(scored, 1.0)


def _evaluate(model: Any, tokenizer: Any, objective: str, held_out: torch.Tensor, settings: TrainSettings,
              step: int, result: TrainResult, emit: EventFn) -> None:
    emit("evaluating", {"step": step})
    loss = held_out_loss(model, tokenizer, objective, held_out, settings.batch_size)
    samples = [sample(objective, model, tokenizer, held_out[0].tolist(), settings.prompt, settings.sample_tokens)]
    result.eval_losses.append([step, loss])
    result.samples.append({"step": step, "samples": samples})
    emit("eval", {"step": step, "eval_loss": loss, "samples": samples})
