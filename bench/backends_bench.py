"""Batching backends: the engine's own batched step against transformers' ``ContinuousBatchingManager``
(``generate_batch``) on the same prompts, in one run, on whichever device the workspace uses.

``python -m bench backends --write`` here; :mod:`bench.gpu` runs :func:`measure` on CUDA. Both backends
decode the same 16 chat prompts greedily at repetition penalty 1.0, the only penalty the manager
honours: transformers 5.23 drops ``RepetitionPenaltyLogitsProcessor`` from a continuous batch ("isn't
supported by CB"), which the run shows by decoding with penalty 1.2 too and comparing. Besides speed it
counts rows whose tokens equal the engine's, so a faster backend that writes other text is seen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench import machine_line
from bench.batch_bench import PROMPTS
from playground.core.settings import Settings
from playground.generation.engine import Ask
from playground.generation.sampling import SamplingSettings
from playground.workspace import Workspace

COMMAND = "python -m bench backends --write"
MODEL = "smollm2-135m-instruct"
PENALTY = 1.2
"""The app's default repetition penalty, which the manager's run is also given, to see it dropped."""

GAPS = ("repetition penalty (dropped: a continuous batch does not support its processor)",
        "a seed per request (one seed per manager, `ContinuousBatchingConfig.seed`)",
        "per-token entropy, rank and runner-up tokens (only the chosen token's log-probability)",
        "stop strings (only end-of-sequence ids)")
"""What a request of the app has that transformers' manager does not give it (transformers 5.23)."""

Rows = list[list[int]]


@dataclass(frozen=True)
class Workload:
    """The prompts both backends decode, all given at once, and how many tokens each writes."""

    prompts: tuple[str, ...] = tuple(PROMPTS[:16])
    new_tokens: int = 32

    def settings(self, alternatives: int, penalty: float = 1.0) -> SamplingSettings:
        return SamplingSettings(max_new_tokens=self.new_tokens, repetition_penalty=penalty,
                                alternatives=alternatives)


def engine_run(ws: Workspace, model: str, work: Workload, alternatives: int,
               penalty: float = 1.0) -> tuple[float, Rows]:
    """(tokens/s, each row's token ids) of the engine decoding every prompt as one batch submission."""
    asks = [Ask(model, prompt, work.settings(alternatives, penalty)) for prompt in work.prompts]
    started = time.perf_counter()
    generations = ws.generation.generate_many(asks)
    wall = time.perf_counter() - started
    failed = [g.error for g in generations if g.error]
    if failed:
        raise RuntimeError(f"engine: {failed[0]}")
    rows = [[token.id for token in g.tokens] for g in generations]
    return sum(map(len, rows)) / wall, rows


class Manager:
    """transformers' continuous batching on a private copy of the model (the manager switches the
    copy's attention to its paged kernels, which the shared model must not see), with the engine's own
    cap on KV positions: by default it sizes its paged cache from free memory, which on this CPU made
    every call take about 10 s more to set up."""

    def __init__(self, ws: Workspace, model: str, work: Workload) -> None:
        from transformers import AutoModelForCausalLM, ContinuousBatchingConfig

        shared = ws.store.causal_lm(model)
        self.tokenizer = ws.store.hf_tokenizer(model)
        self.model = AutoModelForCausalLM.from_pretrained(
            shared.name_or_path, attn_implementation="sdpa", dtype=shared.dtype).to(shared.device).eval()
        self.rows = [list(ws.generation.prepare(model, prompt, work.new_tokens).ids) for prompt in work.prompts]
        self.new_tokens = work.new_tokens
        self.config = ContinuousBatchingConfig(num_blocks=max(1, ws.generation.limits.max_kv_tokens // 256),
                                               page_size=256)
        self._kept_penalty: float | None = None

    def run(self, penalty: float) -> tuple[float, Rows]:
        """(tokens/s, each row's token ids in prompt order) of one ``generate_batch`` call.

        The manager is kept between calls with the same penalty, as a server keeps it (on CUDA it
        captures its graphs once); its generation config is fixed when it is made, so another
        penalty makes a new one.
        """
        from transformers import GenerationConfig

        if penalty != self._kept_penalty:
            self.close()
            self._kept_penalty = penalty
        config = GenerationConfig(max_new_tokens=self.new_tokens, do_sample=False, repetition_penalty=penalty,
                                  eos_token_id=self.tokenizer.eos_token_id)
        started = time.perf_counter()  # its own threads: no inference_mode around it (it writes its tensors)
        outputs = self.model.generate_batch(inputs=self.rows, generation_config=config,
                                            continuous_batching_config=self.config, progress_bar=False,
                                            persistent_manager=True, warmup=self.model.device.type == "cuda")
        wall = time.perf_counter() - started
        by_prompt = {tuple(output.prompt_ids): list(output.generated_tokens) for output in outputs.values()}
        rows = [by_prompt.get(tuple(row), []) for row in self.rows]
        return sum(map(len, rows)) / wall, rows

    def close(self) -> None:
        self.model.destroy_cached_continuous_batching_manager()


def equal_rows(a: Rows, b: Rows, eos: int | None) -> int:
    """Rows whose token ids are the same (a trailing end-of-sequence id does not count)."""
    def trimmed(row: list[int]) -> list[int]:
        return row[:-1] if row and row[-1] == eos else row
    return sum(trimmed(x) == trimmed(y) for x, y in zip(a, b, strict=True))


def best(runs: list[tuple[float, Rows]]) -> tuple[float, Rows]:
    return max(runs, key=lambda run: run[0])


def measure(ws: Workspace, model: str = MODEL, repeat: int = 2, work: Workload | None = None) -> dict[str, Any]:
    """Both backends on the same prompts, the better of ``repeat`` timed runs each after a warm-up."""
    work = work or Workload()
    _, penalised = engine_run(ws, model, work, 0, PENALTY)  # also the warm-up: loads the model
    full = best([engine_run(ws, model, work, 5) for _ in range(repeat)])
    bare = best([engine_run(ws, model, work, 0) for _ in range(repeat)])
    manager = Manager(ws, model, work)
    try:
        _, manager_penalised = manager.run(PENALTY)
        manager.run(1.0)  # warm-up of the manager the timed runs keep
        plain = best([manager.run(1.0) for _ in range(repeat)])
    finally:
        manager.close()
    eos, rows = manager.tokenizer.eos_token_id, len(work.prompts)
    return {
        "engine tokens/s (5 alternatives)": full[0], "engine tokens/s (no alternatives)": bare[0],
        "manager tokens/s": plain[0], "manager vs engine (no alternatives)": plain[0] / bare[0],
        "rows": rows, "rows equal to the engine's": equal_rows(plain[1], bare[1], eos),
        f"engine rows changed by penalty {PENALTY}": rows - equal_rows(penalised, bare[1], eos),
        f"manager rows changed by penalty {PENALTY}": rows - equal_rows(manager_penalised, plain[1], eos),
        "new tokens": work.new_tokens, "manager KV positions": manager.config.num_blocks * manager.config.page_size,
        "device": str(ws.store.causal_lm(model).device),
    }


def markdown(figures: dict[str, Any], machine: str) -> str:
    ratio = figures["manager vs engine (no alternatives)"]
    penalty_engine = figures[f"engine rows changed by penalty {PENALTY}"]
    penalty_manager = figures[f"manager rows changed by penalty {PENALTY}"]
    rows, equal = figures["rows"], figures["rows equal to the engine's"]
    return "\n".join([
        "## Generation: batching backends, the engine against transformers' continuous batching",
        "",
        f"`{COMMAND}` on {machine} ({figures['device']}); {MODEL}, the same {rows} chat prompts, "
        f"{figures['new tokens']} new tokens, greedy, repetition penalty 1.0 (the manager drops any other); "
        "each backend given all the prompts at once (the engine as one batch submission, the manager as one "
        "`generate_batch`, kept between calls, its paged cache capped at the engine's "
        f"{figures['manager KV positions']:,} KV positions); the better of two runs after a warm-up.",
        "",
        "| backend | tokens/s | rows equal to the engine's |",
        "|---|---:|---:|",
        f"| engine, per-token view (5 alternatives) | {figures['engine tokens/s (5 alternatives)']:.1f} | |",
        f"| engine, no alternatives | {figures['engine tokens/s (no alternatives)']:.1f} | {rows}/{rows} |",
        f"| transformers' `ContinuousBatchingManager` | {figures['manager tokens/s']:.1f} "
        f"({ratio:.2f}x the engine) | {equal}/{rows} |",
        "",
        f"With repetition penalty {PENALTY} (the app's default) the engine's output changed in {penalty_engine} "
        f"of {rows} rows and the manager's in {penalty_manager}: the manager decodes as if there were no "
        "penalty, and SmolLM2-135M loops without one.",
        "",
        "What the manager does not give a request of the app: " + "; ".join(GAPS) + ".",
        "",
        choice(ratio),
    ])


def choice(ratio: float) -> str:
    """The backend decision these figures support, worded from the measured speed ratio."""
    speed = (f"here the engine is also the faster backend (the manager at {ratio:.2f}x)" if ratio < 1 else
             f"here the manager is {ratio:.2f}x the engine's speed on the requests it can serve")
    return ("Choice: the app batches with its engine on every device; " + speed + ". Where the manager is "
            "faster (CUDA, by `python -m bench.gpu`'s same measurement) it could still serve only requests "
            "without a penalty, seed, stop strings or per-token view, and every page sends a penalty and "
            "shows the per-token view by default.")


def run(argv: list[str]) -> str:
    del argv
    return markdown(measure(Workspace.create(Settings.from_env())), machine_line())
