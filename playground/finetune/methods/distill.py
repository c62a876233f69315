"""Knowledge distillation: a smaller student learns the teacher's whole next-token distribution, not
only the one token the data shows.

loss = alpha * T² * KL(teacher_T || student_T) + (1 - alpha) * next-token loss, over the answer tokens.
The divergence is TRL's (``GKDTrainer.generalized_jsd_loss`` with beta 0, the forward KL at temperature
T), and so are the data and the loop (``SFTTrainer``, as for SFT); the loss's mix is not: TRL's
``DistillationTrainer`` and ``GKDTrainer`` sample the student's own answers every step (on-policy) and
have no mix with the next-token loss, which is too slow on a CPU and not the classic recipe this tab
teaches. T² keeps the KL's gradients the size of the next-token loss's
as T softens the distributions (Hinton et al., 2015).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from playground.core.device import Device
from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import prepare
from playground.finetune.methods import Built, parameter_info
from playground.finetune.methods.sft import cut_rows, sft_arguments


def forward_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
               temperature: float) -> torch.Tensor:
    """Mean KL(teacher || student) per answer token at ``temperature``; logits at t predict labels at t+1."""
    from trl.experimental.gkd import GKDTrainer

    return GKDTrainer.generalized_jsd_loss(student_logits[:, :-1], teacher_logits[:, :-1], labels=labels[:, 1:],
                                           beta=0.0, temperature=temperature)


def half_layers(model: Any) -> Any:
    """``model`` with every other decoder layer removed (the first, third, ...), kept layers' weights as
    they were: a student half as deep that starts close to its teacher rather than from noise."""
    layers = model.model.layers
    kept = torch.nn.ModuleList(layers[index] for index in range(0, len(layers), 2))
    for new_index, layer in enumerate(kept):
        if hasattr(layer, "self_attn"):
            layer.self_attn.layer_idx = new_index  # the KV cache is indexed by position in the stack
    model.model.layers = kept
    model.config.num_hidden_layers = len(kept)
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[::2][:len(kept)]
    return model


def load_teacher(config: FinetuneConfig, store: Any) -> Any:
    """The teacher in eval mode, frozen: the base model, a finished run (its adapter merged, or its
    whole weights), or any model name."""
    source = config.teacher.strip()
    folder = Path(source).expanduser() if source else None
    if folder is not None and (folder / "config.json").is_file() and (folder / "events.jsonl").exists():
        run = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if (folder / "model" / "config.json").is_file():
            teacher = store.private_causal_lm(str(folder / "model"), dtype=torch.float32)
        elif (folder / "adapter" / "adapter_config.json").is_file():
            from peft import PeftModel

            base = store.private_causal_lm(run["base_model"], dtype=torch.float32)
            teacher = PeftModel.from_pretrained(base, str(folder / "adapter")).merge_and_unload()
        else:
            raise InvalidInputError(f"The teacher run {folder.name} has no saved model or adapter yet.")
    else:
        teacher = store.private_causal_lm(source or config.base_model, dtype=torch.float32)
    teacher.eval().requires_grad_(False)
    return teacher


def load_student(config: FinetuneConfig, store: Any, vocabulary: int) -> Any:
    if config.student.strip() in ("", "half"):
        student = half_layers(store.private_causal_lm(config.base_model, dtype=torch.float32))
    else:
        student = store.private_causal_lm(config.student.strip(), dtype=torch.float32)
    if student.get_output_embeddings().weight.shape[0] != vocabulary:
        raise InvalidInputError(f"The student {config.student} has a different vocabulary from the teacher: they "
                                "must share a tokenizer for their distributions to be compared token by token.")
    student.train().requires_grad_(True)
    return student


def distill_trainer_class() -> Any:
    from trl import SFTTrainer

    class DistillTrainer(SFTTrainer):
        """SFTTrainer (its data preparation, masking and batching) with the distillation loss; logs the
        loss's two parts (kl, ce) beside it."""

        def __init__(self, *args: Any, teacher: Any, alpha: float, temperature: float, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.teacher = teacher.to(self.args.device)
            self.alpha, self.temperature = alpha, temperature
            self._parts: dict[str, list[float]] = defaultdict(list)

        def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            outputs = model(**inputs)
            with torch.no_grad():
                teacher_logits = self.teacher(input_ids=inputs["input_ids"],
                                              attention_mask=inputs["attention_mask"]).logits
            kl = forward_kl(outputs.logits, teacher_logits, inputs["labels"], self.temperature)
            loss = self.alpha * self.temperature ** 2 * kl + (1 - self.alpha) * outputs.loss
            if model.training:
                self._parts["kl"].append(float(kl.detach()))
                self._parts["ce"].append(float(outputs.loss.detach()))
            return (loss, outputs) if return_outputs else loss

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if "loss" in logs and self._parts:
                logs = {**logs, **{name: sum(values) / len(values) for name, values in self._parts.items()}}
                self._parts.clear()
            super().log(logs, start_time)

    return DistillTrainer


def build_distill(config: FinetuneConfig, run_dir: Path, device: Device, callback_of: Any) -> Built:
    from playground.core.settings import Settings
    from playground.models.store import ModelStore

    store = ModelStore(Settings.from_env())
    tokenizer = store.hf_tokenizer(config.base_model)
    teacher = load_teacher(config, store)
    student = load_student(config, store, teacher.get_output_embeddings().weight.shape[0])
    train_set, eval_set = prepare(config, tokenizer)
    trainer = distill_trainer_class()(
        model=student, args=sft_arguments(run_dir, config, device), train_dataset=train_set,
        eval_dataset=eval_set, processing_class=tokenizer, callbacks=[callback_of(tokenizer)], teacher=teacher,
        alpha=config.distill_alpha, temperature=config.distill_temperature)
    info = parameter_info(student)
    info["teacher_params"] = sum(p.numel() for p in teacher.parameters())
    return Built(trainer, tokenizer, cut_rows(trainer, config), info)
