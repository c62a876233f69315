"""After training: the base and the trained model side by side on a Prompt lab labelled set (the same
scorer, so the numbers equal the Prompt lab's for the same model and set), perplexity on the run's
held-out rows, and for DPO the reward margin and how often chosen beats rejected on held-out pairs.

The trained model is read as a plain model folder (whole weights, or the adapter merged once), so it
goes through the same engine, batching and queue as any generation. The result is saved in the run
folder as ``evaluation.json``, where the trade-off table reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.iterutil import last
from playground.finetune.adapters import AdapterModels
from playground.finetune.compare import EVALUATION
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import held_out_examples
from playground.finetune.preference import split_triples
from playground.finetune.runner import JobRunner
from playground.finetune.scoring import kl_to_teacher, perplexity, preference_scores
from playground.generation.engine import GenerationEngine
from playground.prompting import techniques as prompts
from playground.prompting.evaluation import evaluate, shipped_items, uploaded_task

DEFAULT_LIMIT = 20
"""Items scored per model by default: enough for an interval, short enough for a CPU (two models)."""


def trained_model(runner: JobRunner, adapters: AdapterModels, run_id: str) -> tuple[FinetuneConfig, str]:
    """The run's config and its trained model as a folder the engine loads: whole weights, or base + adapter merged."""
    folder = runner.run_dir(run_id)
    config = FinetuneConfig.load(folder / "config.json")
    if config.training_method.scorer:
        raise InvalidInputError(f"Run {run_id} trained a reward model: it scores answers and writes none. Score "
                                "answers with it (/reward_score), or train a policy against it with GRPO.")
    if config.training_method.saves == "adapter":
        adapter = runner.adapter(run_id)
        return config, str(adapters.merge(config.base_model, adapter, folder / "merged"))
    if not (folder / "model" / "config.json").is_file():
        raise InvalidInputError(f"Run {run_id} has no saved model yet: it is saved when the run finishes or is "
                                "stopped.")
    return config, str(folder / "model")


def labelled_scores(engine: GenerationEngine, models: dict[str, str], task_name: str, file: str | None,
                    technique: str, limit: int, instruction: str = "") -> dict[str, Any]:
    """Each model's score on the set, with the Prompt lab's own ``evaluate``."""
    if file:
        task, items = uploaded_task(file, instruction)
    else:
        task = prompts.task(task_name)
        items = shipped_items(task)
    items = items[:max(1, int(limit))]
    scored: dict[str, Any] = {"task": task.name, "technique": technique, "items": len(items)}
    for label, model in models.items():
        final = last(evaluate(engine, model, task, items, [technique]))
        scored[label] = final.scores[0].to_dict(with_items=False)
    return scored


def held_out_measures(engine: GenerationEngine, config: FinetuneConfig, tuned: str) -> dict[str, Any]:
    """Perplexity (SFT, distillation) or the preference scores (DPO) on the rows the run held out."""
    base_model, tokenizer = engine.load(config.base_model)
    tuned_model, _ = engine.load(tuned)
    if config.training_method.data == "preferences":
        _, held_out = split_triples(config)
        return {"preference": preference_scores(tuned_model, tokenizer, held_out, config.dpo_beta,
                                                reference=base_model)}
    held_out = held_out_examples(config, tokenizer)
    pad = tokenizer.pad_token_id or 0
    measures: dict[str, Any] = {"perplexity": {"base": perplexity(base_model, held_out, pad),
                                               "tuned": perplexity(tuned_model, held_out, pad),
                                               "rows": len(held_out)}}
    if config.training_method.teacher and not config.teacher:
        measures["kl_to_teacher"] = kl_to_teacher(tuned_model, base_model, held_out, pad)
    return measures


def evaluate_run(runner: JobRunner, engine: GenerationEngine, adapters: AdapterModels, run_id: str,
                 task: str = "", file: str | None = None, technique: str = "zero-shot",
                 limit: int = DEFAULT_LIMIT, instruction: str = "") -> dict[str, Any]:
    """The base and trained model compared on ``task`` (a Prompt lab set) or ``file``, and on held-out rows."""
    if not task and not file:
        raise InvalidInputError(f"Name a labelled set ({', '.join(prompts.tasks())}) or give an eval file.")
    config, tuned = trained_model(runner, adapters, run_id)
    result: dict[str, Any] = {"run_id": run_id, "method": config.method, "base_model": config.base_model,
                              "tuned_model": tuned}
    result["labelled"] = labelled_scores(engine, {"base": config.base_model, "tuned": tuned}, task, file,
                                         technique, limit, instruction)
    result.update(held_out_measures(engine, config, tuned))
    Path(runner.run_dir(run_id), EVALUATION).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def evaluate_at_end(run_dir: Path, config: FinetuneConfig) -> dict[str, Any]:
    """``config.evaluate_on`` scored inside the worker once its result is saved (its own store and engine)."""
    from playground.core.settings import Settings
    from playground.models.store import ModelStore

    store = ModelStore(Settings.from_env())
    runner = JobRunner(run_dir.parent)
    return evaluate_run(runner, GenerationEngine(store), AdapterModels(store), run_dir.name, task=config.evaluate_on)
