"""Which modules LoRA adapts, read from the loaded model rather than from Llama's names.

Families name their projections differently (Llama's ``q_proj``, GPT-2's ``c_attn`` and ``c_proj``,
GPT-NeoX's and Falcon's ``query_key_value`` and ``dense``, Phi-3's fused ``qkv_proj``), so the presets are
resolved on the model itself: "attention" is every linear layer inside each block's attention module (a
fused projection is one module, adapted as one), "all-linear" is peft's own (every linear layer but the
output head). Any other value is a list of module names, checked against the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from playground.core.errors import InvalidInputError
from playground.finetune.config import TARGET_PRESETS

ALL_LINEAR = "all-linear"


@dataclass(frozen=True)
class Targets:
    """What peft is given (``target_modules``) and the module names a person reads."""

    peft: list[str] | str
    names: tuple[str, ...]


def is_linear(module: nn.Module) -> bool:
    """A layer peft's LoRA can adapt as a matrix: ``nn.Linear`` (4- and 8-bit ones too) or GPT-2's Conv1D."""
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def attention_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Each block's attention module (its class name ends in "Attention"), outermost ones only."""
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if type(module).__name__.endswith("Attention") and not any(name.startswith(f"{outer}.") for outer, _ in found):
            found.append((name, module))
    return found


def linear_names(model: nn.Module) -> list[str]:
    """The leaf names of every linear layer, once each, in model order (for messages)."""
    return list(dict.fromkeys(name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                              if name and is_linear(module)))


def resolve_targets(model: nn.Module, requested: tuple[str, ...]) -> Targets:
    """peft's ``target_modules`` for ``requested`` (a preset's name or module names) on this model."""
    if tuple(requested) == TARGET_PRESETS["attention"]:
        suffixes: dict[str, str] = {}
        for name, attention in attention_modules(model):
            own = name.rsplit(".", 1)[-1]
            for path, module in attention.named_modules():
                if path and is_linear(module):
                    # "attn.c_proj", not "c_proj": GPT-2's MLP has a c_proj too, which peft would match as well
                    suffixes.setdefault(f"{own}.{path}", path.rsplit(".", 1)[-1])
        if not suffixes:
            raise InvalidInputError(f"{type(model).__name__} has no linear layer inside an attention module, so the "
                                    f"'attention' preset adapts nothing; name its layers instead "
                                    f"({', '.join(linear_names(model)[:12])}) or choose 'all-linear'.")
        return Targets(sorted(suffixes), tuple(dict.fromkeys(suffixes.values())))
    if tuple(requested) == TARGET_PRESETS[ALL_LINEAR]:
        return Targets(ALL_LINEAR, (ALL_LINEAR,))
    present = set(linear_names(model)) | {name for name, _ in model.named_modules()}
    missing = [name for name in requested if not any(known == name or known.endswith(f".{name}")
                                                     for known in present)]
    if missing:
        raise InvalidInputError(f"{type(model).__name__} has no module named {', '.join(missing)}; its linear layers "
                                f"are {', '.join(linear_names(model)[:16])} (or choose 'attention' or 'all-linear').")
    return Targets(list(requested), tuple(requested))


def adapted_modules(model: Any) -> list[str]:
    """The leaf names of the modules a peft model adapts (its LoRA layers), once each, in model order."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return list(dict.fromkeys(name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                              if isinstance(module, BaseTunerLayer) and not name.endswith("base_layer")))
