"""Quantization backends by name, each with an availability check, and loading a model in one.

A method that cannot run here (no GPU, a library missing) says why instead of failing later;
the comparison shows that reason in its row and goes on with the others.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch

from playground.core.device import Device, detect_device, device_kind
from playground.core.errors import InvalidInputError
from playground.models.store import ModelStore
from playground.quantization.metrics import weight_bytes

LLAMA_CPP = "llama.cpp-q4_1"


class _CastNotice(logging.Filter):
    """bitsandbytes logs "inputs will be cast ... to float16" on every 8-bit matmul on CPU: one
    line per layer per token. Only that message is dropped; real warnings still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "inputs will be cast" not in record.getMessage()


logging.getLogger("bitsandbytes.autograd._functions").addFilter(_CastNotice())


def current_device() -> Device:
    """Where methods run when no device is given: the app's one decision (``PLAYGROUND_DEVICE``,
    else CUDA when present), never torch asked on its own. The lab passes its store's device."""
    return device_kind(detect_device())


@dataclass(frozen=True)
class QuantMethod:
    """One way to hold the weights: its name, bit width, where it runs and what it needs."""

    name: str
    title: str
    bits: int
    devices: tuple[Device, ...]
    needs: str | None
    description: str

    def unavailable_reason(self, device: Device) -> str | None:
        """None when the method runs here; otherwise a sentence saying why not."""
        if device not in self.devices:
            where = " or ".join(d.upper() for d in self.devices)
            return f"{self.title} runs on {where} only; this machine has {device.upper()}."
        if self.needs and importlib.util.find_spec(self.needs) is None:
            return f"{self.title} needs the '{self.needs}' package, which is not installed."
        return None


METHODS: MappingProxyType[str, QuantMethod] = MappingProxyType({m.name: m for m in (
    QuantMethod("fp32", "fp32 (reference)", 32, ("cpu", "cuda"), None,
                "32-bit floats: the reference every other row is compared with."),
    QuantMethod("bf16", "bf16", 16, ("cpu", "cuda"), None,
                "16-bit brain float: fp32's range with 8 bits of mantissa; halves the bytes."),
    QuantMethod("fp16", "fp16", 16, ("cuda",), None,
                "16-bit IEEE float: more mantissa than bf16, less range. GPUs only (slow on CPU)."),
    QuantMethod("bnb-int8", "bitsandbytes int8 (LLM.int8)", 8, ("cpu", "cuda"), "bitsandbytes",
                "8-bit weights with one scale per row; outlier features kept in 16-bit."),
    QuantMethod("torchao-int8", "torchao int8 weight-only", 8, ("cpu", "cuda"), "torchao",
                "8-bit weights with per-channel scales, dequantized inside the matmul."),
    QuantMethod("bnb-nf4", "bitsandbytes 4-bit NF4", 4, ("cpu", "cuda"), "bitsandbytes",
                "4-bit NormalFloat: 16 levels placed for normally distributed weights, one "
                "scale per block of 64."),
    QuantMethod("bnb-nf4-dq", "bitsandbytes 4-bit NF4 + double quantization", 4, ("cpu", "cuda"),
                "bitsandbytes", "NF4 with the block scales themselves quantized to 8 bits (QLoRA)."),
    QuantMethod("bnb-fp4", "bitsandbytes 4-bit FP4", 4, ("cpu", "cuda"), "bitsandbytes",
                "4-bit floating point (1 sign, 2 exponent, 1 mantissa bits), one scale per block."),
    QuantMethod(LLAMA_CPP, "llama.cpp Q4_1 (the original GGUF)", 4, ("cpu", "cuda"), "llama_cpp",
                "The embedded model's own file: 4-bit blocks of 32 weights, each with a scale and a "
                "minimum, run by llama.cpp's CPU kernels (optional: pip install llama-cpp-python)."),
)})


def method(name: str) -> QuantMethod:
    if name not in METHODS:
        raise InvalidInputError(f"Unknown quantization method '{name}'. Known: {', '.join(METHODS)}.")
    return METHODS[name]


def available_methods(device: str | None = None) -> list[dict[str, Any]]:
    """Every method with whether it runs here and, if not, why (the /quant_methods endpoint)."""
    device = device_kind(device) if device else current_device()
    rows = []
    for item in METHODS.values():
        reason = item.unavailable_reason(device)
        rows.append({"method": item.name, "title": item.title, "bits": item.bits, "available": reason is None,
                     "reason": reason, "description": item.description, "device": device})
    return rows


def _bnb_config(name: str, device: Device) -> Any:
    from transformers import BitsAndBytesConfig

    if name == "bnb-int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="fp4" if name == "bnb-fp4" else "nf4",
        bnb_4bit_use_double_quant=name == "bnb-nf4-dq",
        bnb_4bit_compute_dtype=torch.bfloat16 if device == "cuda" else torch.float32)


CPU_4BIT_BLOCK = 64
"""bitsandbytes' CPU kernel repacks a 4-bit weight in blocks of 64 inputs before inference."""


def _check_cpu_4bit_widths(model: torch.nn.Module) -> None:
    """A clear refusal where bitsandbytes would fail at the first token: on a CPU its 4-bit kernel needs each
    layer's input width to be a multiple of 64 (every real model's is; a tiny test model's may not be)."""
    narrow = sorted({module.in_features for module in model.modules()
                     if type(module).__name__ == "Linear4bit" and module.in_features % CPU_4BIT_BLOCK})
    if narrow:
        raise InvalidInputError(f"bitsandbytes' 4-bit CPU kernel packs weights in blocks of {CPU_4BIT_BLOCK} inputs, "
                                f"and this model has layers {', '.join(map(str, narrow))} wide: 4-bit is not "
                                "available for it on a CPU (8-bit and torchao int8 are).")


SAME_AS_LINEAR = {"FalconLinear"}
"""nn.Linear subclasses whose forward is nn.Linear's product written out (Falcon's ``input @ weight.T + bias``):
torchao's int8 weight has no ``.T``, so they are quantized as the nn.Linear they are."""


def _torchao_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Quantize every linear layer but the output layer, which SmolLM2 ties to its embedding:
    quantizing it would untie them and add a copy instead of saving bytes."""
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    for module in model.modules():
        if type(module).__name__ in SAME_AS_LINEAR:
            module.__class__ = torch.nn.Linear  # this private copy only; the same product through F.linear

    def computes_with_f_linear(module: torch.nn.Module, fqn: str) -> bool:
        # torchao's int8 tensor implements F.linear, not every op on a weight (a subclass's own weight.T)
        return isinstance(module, torch.nn.Linear) and type(module).forward is torch.nn.Linear.forward \
            and fqn != "lm_head"

    quantize_(model, Int8WeightOnlyConfig(), filter_fn=computes_with_f_linear)
    return model


@dataclass
class LoadedVariant:
    """A private copy of the model held in one method, with what loading it cost."""

    method: QuantMethod
    model: Any
    load_seconds: float
    weight_bytes: int

    def logits(self, ids: list[int]) -> torch.Tensor:
        """Next-token logits at every position of ``ids`` (float32, on the CPU)."""
        if hasattr(self.model, "all_logits"):  # llama.cpp
            return self.model.all_logits(ids)
        tensor = torch.tensor([ids], device=self.model.device)
        with torch.inference_mode():
            return self.model(input_ids=tensor).logits[0].float().cpu()

    def release(self) -> None:
        """Drop the weights now rather than at the next garbage collection (memory is tight)."""
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def load_variant(store: ModelStore, model: str, name: str, device: str | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> LoadedVariant:
    """Load ``model`` afresh in method ``name`` on ``device`` (default: :func:`current_device`);
    the load-and-quantize time is measured."""
    chosen = method(name)
    place = device or current_device()  # "cuda:1" stays "cuda:1"; its kind picks methods and dtypes
    kind = device_kind(place)
    reason = chosen.unavailable_reason(kind)
    if reason:
        raise InvalidInputError(reason)
    started = clock()
    if name == LLAMA_CPP:
        return _load_llama_cpp(store, model, chosen, started, clock)
    if name.startswith("bnb-"):
        # on the CPU it is said too: bitsandbytes would otherwise place the weights on a GPU it sees
        kwargs: dict[str, Any] = {"quantization_config": _bnb_config(name, kind), "device_map": place}
        loaded = store.private_causal_lm(model, **kwargs)
        if kind == "cpu" and name != "bnb-int8":
            _check_cpu_4bit_widths(loaded)
    else:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(name, torch.float32)
        loaded = store.private_causal_lm(model, dtype=dtype).to(place)
        if name == "torchao-int8":
            loaded = _torchao_int8(loaded)
    return LoadedVariant(chosen, loaded, clock() - started, weight_bytes(loaded))


def _load_llama_cpp(store: ModelStore, model: str, chosen: QuantMethod, started: float,
                    clock: Callable[[], float]) -> LoadedVariant:
    from playground.models.llamacpp import LlamaCppLM, gguf_weight_bytes
    from playground.models.registry import EMBEDDED_MODELS

    spec = EMBEDDED_MODELS.get(model.strip())
    gguf = spec.gguf() if spec is not None else None
    if gguf is None:
        with_gguf = [name for name, entry in EMBEDDED_MODELS.items() if entry.gguf() is not None]
        raise InvalidInputError(f"llama.cpp runs an embedded model's own GGUF ({', '.join(with_gguf) or 'none here'}); "
                                f"'{model.strip()}' has no GGUF here.")
    tokenizer = store.hf_tokenizer(model)
    lm = LlamaCppLM(gguf, tokenizer.eos_token_id)
    return LoadedVariant(chosen, lm, clock() - started, gguf_weight_bytes(gguf))
