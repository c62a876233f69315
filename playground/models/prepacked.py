"""Linear layers on weights prepacked once for oneDNN, for the shared models on a CPU.

Why: on a CPU ``torch.nn.functional.linear`` calls MKL's sgemm, which lays each weight out again for its
kernel on every call. A decode step of 16 rows is a chain of such small-batch products (the LM head alone
is 49152 x 576), and on the 2-core test machine that re-layout took about half of the step: oneDNN's
prepacked product gave the whole 16-row step 2x (146-194 ms to 74-80 ms), the LM head 3.6x. The packed
copy is made once per weight; a weight changed in place afterwards is packed again on its next use (torch
counts in-place changes; one made through ``.data`` goes unseen, and nothing here edits a shared model's
weights that way: adapters are merged into private copies). Anything that needs gradients, another dtype
or another device goes through ``F.linear`` as before.

The packed copy doubles the memory of the Linear weights, so a model whose Linear weights exceed
:data:`MAX_PACKED_BYTES` is left as it is (the 135M model's are 540 MB; a 1.7B model's 6.8 GB in fp32).

Results differ from MKL's in the last bits (about 1e-4 on a logit), as MKL's own differ between one row
and sixteen; the packed product gives each row the same bits whatever the number of rows beside it,
which is what batched generation wants.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name

BATCH_HINT = 16
"""The row count oneDNN lays the weights out for: the classroom's typical decode batch. Other row
counts use the same layout (and, measured, the same bits per row)."""


MAX_PACKED_BYTES = 2 * 2**30
"""The most Linear-weight bytes :func:`prepack_linears` copies for one model: a second copy of a 360M
model (1.4 GB in fp32) is worth 2x its batched decoding; one of a 1.7B model could cost a laptop its
memory."""


class _Packed:
    """One weight's packed copy and the weight version it was made from. Read-only, so a deep copy
    of the model (the Inside tab's hookable view) shares it rather than copying it."""

    __slots__ = ("tensor", "version")

    def __init__(self, weight: torch.Tensor) -> None:
        self.version = weight._version
        self.tensor = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), BATCH_HINT)

    def __deepcopy__(self, memo: dict) -> "_Packed":
        return self


class PrepackedLinear(torch.nn.Linear):
    """An ``nn.Linear`` (still one for ``isinstance``, PEFT and saving) whose inference on a CPU in
    float32 uses the packed copy. Made by :func:`prepack_linears` by switching a module's class."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - nn.Linear's own name
        weight = self.weight
        if (input.device.type != "cpu" or input.dtype != torch.float32 or weight.dtype != torch.float32
                or (torch.is_grad_enabled() and (weight.requires_grad or input.requires_grad))):
            return F.linear(input, weight, self.bias)
        packed: _Packed | None = self.__dict__.get("_prepacked")
        if packed is None or packed.version != weight._version:
            packed = _Packed(weight)
            self.__dict__["_prepacked"] = packed
        return torch.ops.mkldnn._linear_pointwise(input, packed.tensor, self.bias, "none", [], "")


def prepacking_available() -> bool:
    """Whether this torch build has oneDNN's packed linear product (the x86 and arm64 CPU wheels do)."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def prepack_linears(model: Any, max_bytes: int = MAX_PACKED_BYTES) -> int:
    """Switch every plain float32 CPU ``nn.Linear`` of ``model`` to :class:`PrepackedLinear` and pack
    its weight now (so the first user does not pay for it); returns how many were switched: none where
    oneDNN is missing or the packed copies would take more than ``max_bytes``."""
    if not prepacking_available():
        return 0
    linears = [module for module in model.modules()
               if type(module) is torch.nn.Linear and isinstance(module.weight, torch.Tensor)
               and module.weight.device.type == "cpu" and module.weight.dtype == torch.float32]
    if sum(module.weight.nbytes for module in linears) > max_bytes:
        return 0
    for module in linears:
        module.__class__ = PrepackedLinear
        module.__dict__["_prepacked"] = _Packed(module.weight)
    return len(linears)


def unpack_linears(model: Any) -> int:
    """Switch :class:`PrepackedLinear` layers back to plain ``nn.Linear`` (for a private copy to be
    compared with the packed one); returns how many were switched."""
    switched = 0
    for module in model.modules():
        if type(module) is PrepackedLinear:
            module.__dict__.pop("_prepacked", None)
            module.__class__ = torch.nn.Linear
            switched += 1
    return switched
