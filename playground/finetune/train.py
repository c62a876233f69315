"""The fine-tuning worker: the method's Trainer (full, LoRA, QLoRA, DPO or distillation; see
:mod:`playground.finetune.methods`) driven with the project's events, STOP file and checkpoints.

Runs as its own process (``python -m playground.finetune --config runs/<id>/config.json``), from
the page's runner, from a shell, or under ``accelerate launch`` on several GPUs. Everything it
has to say goes into the run folder's ``events.jsonl``; a ``STOP`` file there asks it to stop
at the next step, saving the adapter first.
"""

from __future__ import annotations

import errno
import math
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from playground.core.device import Device, detect_device, device_kind
from playground.core.errors import PlaygroundError, first_line, is_out_of_memory
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import IGNORE, with_default_probes
from playground.finetune.events import append_event

STOP_FILE = "STOP"
ADAPTER = "adapter"
CHECKPOINTS = "checkpoints"
EXTRA_METRICS = {"rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy", "kl": "kl",
                 "ce": "ce", "margin": "reward_margin", "accuracy": "reward_accuracy", "reward": "reward_mean",
                 "reward_std": "reward_std", "completions/mean_length": "completion_tokens"}
"""What DPO and the reward model (the reward margin, how often chosen wins), distillation (KL to the teacher,
next-token loss) and GRPO (the mean reward and its spread, KL to the reference, the answers' mean length)
log beside the loss, as the step event's names. GRPO's per-reward means go in ``rewards``."""
EVAL_METRICS = {"eval_accuracy": "eval_accuracy", "eval_reward": "eval_reward"}
"""What the reward model (held-out accuracy) and GRPO (held-out mean reward) add to an eval event."""


def is_main_process() -> bool:
    """Under ``accelerate launch`` only rank 0 writes events."""
    import os

    return os.environ.get("RANK", "0") == "0"


def training_device() -> Device:
    """The worker's device: ``PLAYGROUND_DEVICE`` (the runner passes the app's ``Settings.device``),
    else CUDA when present; the same decision as the app's, never torch asked on its own."""
    return device_kind(detect_device())


def model_kwargs(config: FinetuneConfig, device: Device) -> dict[str, Any]:
    """How the base loads: fp32 on CPU, bf16 on GPU; 4-bit NF4 base weights for QLoRA.

    On the CPU QLoRA says so: bitsandbytes would otherwise put the weights on any GPU it sees.
    """
    # Full training keeps fp32 master weights (bf16 autocast on a GPU): Adam updates vanish in bf16.
    method = config.training_method
    dtype = torch.bfloat16 if device == "cuda" and method.trains != "all" else torch.float32
    if not method.base_in_4bit:
        return {"dtype": dtype}
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=dtype)
    return {"quantization_config": quantization, **({"device_map": {"": "cpu"}} if device == "cpu" else {})}


def load_model(config: FinetuneConfig, device: Device | None = None) -> tuple[Any, Any]:
    """The base model ready for SFT (full or LoRA), loaded as :func:`model_kwargs` says for ``device``
    (default: :func:`training_device`)."""
    from playground.finetune.methods.sft import load_model as load

    return load(config, device or training_device())


def collate(pad_id: int) -> Any:
    def pad(batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(example["input_ids"]) for example in batch)
        ids = [e["input_ids"] + [pad_id] * (width - len(e["input_ids"])) for e in batch]
        labels = [e["labels"] + [IGNORE] * (width - len(e["labels"])) for e in batch]
        mask = [[1] * len(e["input_ids"]) + [0] * (width - len(e["input_ids"])) for e in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}

    return pad


def probe(model: Any, tokenizer: Any, config: FinetuneConfig) -> list[dict[str, str]]:
    """The probe prompts' greedy answers, decoded together in one batch by the app's own step code."""
    from playground.generation.engine import Generation, PreparedPrompt, decode_together
    from playground.generation.sampling import SamplingSettings

    was_training = model.training
    model.eval()
    settings = SamplingSettings(max_new_tokens=config.probe_tokens, alternatives=0)
    generations = []
    for prompt in config.probe_prompts:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            tokenize=False)
        ids = tuple(tokenizer(text, add_special_tokens=False)["input_ids"])
        generations.append(Generation(config.base_model, PreparedPrompt(ids, text, (), config.probe_tokens),
                                      settings))
    decode_together(model, tokenizer, generations)
    if was_training:
        model.train()
    return [{"prompt": prompt, "output": generation.text}
            for prompt, generation in zip(config.probe_prompts, generations, strict=True)]


def make_callback(run_dir: Path, config: FinetuneConfig, tokenizer: Any) -> Any:
    from transformers import TrainerCallback

    class EventsCallback(TrainerCallback):
        """Turns the Trainer's log, eval and save moments into events; honours the STOP file."""

        nan_step: int | None = None
        stopped = False

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            if not is_main_process():
                return
            append_event(run_dir, "started", max_steps=state.max_steps or config.max_steps,
                         step=state.global_step, eval_every=config.eval_every)
            if state.global_step == 0 and model is not None and config.probe_prompts:
                # The base model's answers (LoRA's B starts at zero), the row every later probe is read against.
                append_event(run_dir, "evaluating", step=0)
                append_event(run_dir, "probe", step=0, samples=probe(model, tokenizer, config))

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
            logs = logs or {}
            if "loss" not in logs:
                return
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                self.nan_step = state.global_step
                control.should_training_stop = True
                return
            if is_main_process():
                extra = {name: _finite(logs[key]) for key, name in EXTRA_METRICS.items() if key in logs}
                rewards = {key.split("/")[1]: _finite(value) for key, value in logs.items()
                           if key.startswith("rewards/") and key.endswith("/mean")}
                append_event(run_dir, "step", step=state.global_step, loss=loss, lr=logs.get("learning_rate"),
                             grad_norm=_finite(logs.get("grad_norm")), **extra, **({"rewards": rewards} if rewards
                                                                                 else {}))

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                        model: Any = None, **kwargs: Any) -> None:
            if is_main_process() and metrics and "eval_loss" in metrics:
                samples = probe(model, tokenizer, config) if model is not None and config.probe_prompts else []
                extra = {name: _finite(metrics[key]) for key, name in EVAL_METRICS.items() if key in metrics}
                append_event(run_dir, "eval", step=state.global_step, eval_loss=float(metrics["eval_loss"]),
                             samples=samples, **extra)

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if is_main_process():
                path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                append_event(run_dir, "checkpoint", step=state.global_step, path=str(path))

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if (run_dir / STOP_FILE).exists():
                self.stopped = True
                control.should_training_stop = True
            elif control.should_evaluate and is_main_process():
                # The flow callback (run before this one) has just decided to evaluate: say so, or the
                # page's step count would stand still for the eval loss and the probes with no reason given.
                append_event(run_dir, "evaluating", step=state.global_step)

    return EventsCallback()


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def train(run_dir: Path, resume: bool = False) -> int:
    """Run the job described by ``run_dir/config.json``; returns the process exit code."""
    try:
        config = with_default_probes(FinetuneConfig.load(run_dir / "config.json"))
        return _train(run_dir, config, resume)
    except BaseException as error:  # noqa: BLE001 - every failure ends as an event, never a silent death
        if not isinstance(error, KeyboardInterrupt):
            traceback.print_exc()  # the event has the message; the worker's log keeps where it came from
        if is_main_process():
            append_event(run_dir, "failed", message=failure_message(error))
        if isinstance(error, KeyboardInterrupt):
            return 130
        return 1


def training_arguments(run_dir: Path, config: FinetuneConfig, device: Device, kind: Any = None,
                       **extra: Any) -> Any:
    """The Trainer's settings: the CPU in fp32, or the GPU in bf16, as ``device`` says; ``kind`` is a
    TrainingArguments subclass (TRL's DPOConfig) and ``extra`` its own settings."""
    from transformers import TrainingArguments

    return (kind or TrainingArguments)(
        output_dir=str(run_dir / CHECKPOINTS), max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation, learning_rate=config.learning_rate,
        warmup_steps=config.warmup_steps, lr_scheduler_type="cosine", logging_steps=1,
        eval_strategy="steps", eval_steps=config.eval_every, save_strategy="steps", save_steps=config.save_every,
        save_total_limit=2, save_only_model=False, report_to=[], seed=config.seed, disable_tqdm=True,
        use_cpu=device == "cpu", bf16=device == "cuda", dataloader_pin_memory=False, remove_unused_columns=False,
        include_num_input_tokens_seen=True, **extra)


def _train(run_dir: Path, config: FinetuneConfig, resume: bool) -> int:
    from playground.finetune.methods import build, result_folder

    torch.manual_seed(config.seed)
    device = training_device()
    callback = None

    def callback_of(tokenizer: Any) -> Any:
        nonlocal callback
        callback = make_callback(run_dir, config, tokenizer)
        return callback

    built = build(config, run_dir, device, callback_of)
    trainer, tokenizer = built.trainer, built.tokenizer
    if is_main_process():
        append_event(run_dir, "model", method=config.method, **built.info)
        for note in built.notes:
            append_event(run_dir, "note", message=note)
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=_last_checkpoint(run_dir) if resume else None)
    seconds = time.monotonic() - started
    if callback.nan_step is not None:
        raise PlaygroundError(f"The loss became NaN at step {callback.nan_step}: the learning rate "
                              f"({config.learning_rate}) is probably too high. The last checkpoint is kept.")
    if is_main_process():
        saved = run_dir / result_folder(config)
        trainer.model.save_pretrained(str(saved))
        tokenizer.save_pretrained(str(saved))
        what = "adapter" if saved.name == ADAPTER else "model"
        if config.training_method.scorer:
            measure_reward_model(run_dir, config)
        elif config.evaluate_on and not callback.stopped:
            evaluate_at_end_of(run_dir, config)
        kind = "cancelled" if callback.stopped else "finished"
        message = (f"Stopped at step {trainer.state.global_step}; {what} saved." if callback.stopped
                   else f"Finished {trainer.state.global_step} steps; {what} saved.")
        append_event(run_dir, kind, message=message, **{what: str(saved)}, step=trainer.state.global_step,
                     peak_rss_mb=peak_rss_mb(), train_seconds=seconds,
                     tokens_seen=int(getattr(trainer.state, "num_input_tokens_seen", 0) or 0), **peak_gpu_mb())
    return 0


def evaluate_at_end_of(run_dir: Path, config: FinetuneConfig) -> None:
    """Base beside trained on ``config.evaluate_on`` before the run is called finished; a failure is a note."""
    from playground.finetune.evaluation import evaluate_at_end

    append_event(run_dir, "evaluating", step=config.max_steps)
    try:
        result = evaluate_at_end(run_dir, config)
    except Exception as error:  # noqa: BLE001 - the trained result is saved: the run still finishes
        append_event(run_dir, "note", message=f"The evaluation on {config.evaluate_on} failed: "
                     f"{failure_message(error)}")
        return
    labelled = result["labelled"]
    append_event(run_dir, "note", message=f"{config.evaluate_on}: accuracy {labelled['base']['accuracy']:.0%} (base) → "
                 f"{labelled['tuned']['accuracy']:.0%} (trained) on {labelled['items']} items.")


def measure_reward_model(run_dir: Path, config: FinetuneConfig) -> None:
    """The saved reward model on the held-out pairs: a ``reward_eval`` event with its accuracy, the 95%
    interval and both answers' scores; a failure is a note (the model is saved: the run still finishes)."""
    from playground.finetune.preference import split_triples
    from playground.finetune.reward_model import held_out_accuracy, load_reward_model

    append_event(run_dir, "evaluating", step=config.max_steps)
    try:
        measured = held_out_accuracy(load_reward_model(run_dir), split_triples(config)[1])
    except Exception as error:  # noqa: BLE001
        append_event(run_dir, "note", message=f"Scoring the held-out pairs failed: {failure_message(error)}")
        return
    append_event(run_dir, "reward_eval", **measured)


def peak_gpu_mb() -> dict[str, float]:
    """``{"peak_gpu_mb": ...}`` on CUDA (what the GPU check and a trade-off table read), else nothing."""
    import torch

    if not torch.cuda.is_available():
        return {}
    return {"peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's ``VmHWM`` first: ``getrusage``'s ``ru_maxrss`` is inherited through fork and exec, so a worker
    started by an app (or a benchmark) holding 4 GB of models would report that 4 GB as its own peak.
    """
    import resource

    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Saved checkpoints, oldest first; one cut short (a full disk, a kill mid-save) is skipped.

    The Trainer writes ``trainer_state.json`` last, so its presence marks a whole checkpoint.
    """
    found = [path for path in (run_dir / CHECKPOINTS).glob("checkpoint-*")
             if path.name.split("-")[-1].isdigit() and (path / "trainer_state.json").is_file()]
    return sorted(found, key=lambda path: int(path.name.split("-")[-1]))


def _last_checkpoint(run_dir: Path) -> str | None:
    checkpoints = complete_checkpoints(run_dir)
    if not checkpoints:
        raise PlaygroundError("No checkpoint to resume from in this run.")
    return str(checkpoints[-1])


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def failure_message(error: BaseException) -> str:
    """A sentence for the page: what happened, and what to try."""
    if is_out_of_memory(error):
        return ("Out of memory: lower batch_size or max_seq_length, or use QLoRA. Checkpoints saved so far "
                "are kept.")
    if (isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS) or any(
            f"os error {number})" in str(error) for number in DISK_FULL_ERRNOS):  # safetensors' Rust I/O errors
        return ("The disk is full (or a quota or file-size limit was hit): saving failed. Free some space; "
                "checkpoints saved so far are kept.")
    if isinstance(error, KeyboardInterrupt):
        return "Interrupted."
    if isinstance(error, PlaygroundError):
        return str(error)
    return first_line(error, 400, with_type=True)
