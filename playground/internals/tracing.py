"""One forward pass that keeps what the other views need, and forwards with heads or layers knocked out.

The hooks live on a *private view* of the shared model: a deep copy of its modules whose parameters
and buffers are the shared ones (no weights are copied). Other tabs' forwards on the shared model never
see a hook, and the view's hooks act only inside :meth:`ModelView.run`, through a context variable,
so two users' requests on the same view (two threads) never see each other's recording or ablation.
"""

from __future__ import annotations

import copy
import functools
import itertools
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch

from playground.internals.layout import MLPS, Parts, find_parts, first_attribute, read_logits
from playground.internals.own_attention import reader_for
from playground.internals.recording import RECORDER, RECORDING, AttentionCall, Recorder, register
from playground.models.forward import last_position_only, without_router_logits


@dataclass
class Run:
    """What one forward records and changes. ``head_keep[layer]`` is (rows, heads) of 1/0 multiplying
    each head's output before the output projection; ``skip[layer]`` (rows,) replaces the block's
    output with its input (the whole layer, attention and MLP, knocked out) for the rows marked True.

    Activation patching writes another run's values in: ``head_patch[layer]`` is (rows x heads mask,
    tokens x heads*head_dim values) for the output projection's input, ``mlp_patch[layer]`` (rows x tokens
    mask, tokens x hidden values) for the MLP's output. ``live`` keeps the recorded tensors in the autograd
    graph (attribution patching takes gradients with respect to them) instead of detached copies."""

    record: bool = False
    head_keep: dict[int, torch.Tensor] = field(default_factory=dict)
    skip: dict[int, torch.Tensor] = field(default_factory=dict)
    block_inputs: dict[int, torch.Tensor] = field(default_factory=dict)
    block_outputs: dict[int, torch.Tensor] = field(default_factory=dict)
    block_calls: dict[int, tuple[tuple, dict[str, Any]]] = field(default_factory=dict)
    attention_calls: dict[int, AttentionCall] = field(default_factory=dict)
    heads_in: dict[int, torch.Tensor] = field(default_factory=dict)
    head_patch: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    mlp_patch: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    mlp_outputs: dict[int, torch.Tensor] = field(default_factory=dict)
    live: bool = False
    embed_only: bool = False
    """Stop the forward where block 0 starts, its input recorded as ``block_inputs[0]``."""

    def keep(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if self.live else tensor.detach()


VOCAB_SLICE = 8192
"""Vocabulary rows embedded at once when averaging them."""


class _ReachedFirstBlock(Exception):
    """Raised by block 0's pre-hook in an ``embed_only`` run: the rest of the forward is not needed."""


def _first(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value


class ModelView:
    """A hookable view of one shared causal LM; build once per model and keep it."""

    def __init__(self, model: Any, name: str) -> None:
        shared = {id(tensor): tensor for tensor in itertools.chain(model.parameters(), model.buffers())}
        self.model = copy.deepcopy(model, memo=shared)
        self.name = name
        self.parts: Parts = find_parts(self.model, name)
        self._run: ContextVar[Run | None] = ContextVar("inside-run", default=None)
        """Per view, not per module: each view's hooks read only their own variable."""
        self.parts.blocks[0].register_forward_pre_hook(self._first_block_pre_hook, with_kwargs=True)
        for layer, (block, projection) in enumerate(zip(self.parts.blocks, self.parts.out_projections, strict=True)):
            block.register_forward_hook(self._block_hook(layer), with_kwargs=True)
            projection.register_forward_pre_hook(self._projection_hook(layer))
        self.mlps = tuple(first_attribute(block, MLPS) for block in self.parts.blocks)
        """Each block's MLP (None where a family names it otherwise): MLP patching hooks its output."""
        for layer, mlp in enumerate(self.mlps):
            if mlp is not None:
                mlp.register_forward_hook(self._mlp_hook(layer))
        self.unreadable_attention: str | None = None
        """Which part of the attention cannot be read step by step, where a family's can't."""
        self.records_attention = self._record_attention_calls() or self._read_own_attention()

    def _record_attention_calls(self) -> bool:
        """Switch the view (its own config copy) to the recording attention, which delegates to the model's
        implementation; False for a model whose attention does not go through transformers' interface."""
        implementation = self.model.config._attn_implementation or "eager"
        if not getattr(self.model, "_can_set_attn_implementation", lambda: False)():
            return False
        register()
        for layer, attention in enumerate(self.parts.attentions):
            setattr(attention, RECORDER, Recorder(implementation, self._attention_sink(layer)))
        self.model.set_attn_implementation(RECORDING)
        return self.model.config._attn_implementation == RECORDING

    def _read_own_attention(self) -> bool:
        """For a family that computes attention in its own code (Falcon), a hook on each attention module
        that reads its q, k and v with the module's own methods; False where no reader knows the family."""
        kinds = {type(attention).__name__ for attention in self.parts.attentions}
        readers = [reader_for(attention) for attention in self.parts.attentions]
        if any(reader is None for reader in readers):
            self.unreadable_attention = (f"attention computed in {', '.join(sorted(kinds))}'s own code rather "
                                         "than through transformers' attention interface")
            return False
        reasons = {reader.unreadable(attention) for attention, reader in zip(self.parts.attentions, readers,
                                                                               strict=True)} - {None}
        if reasons:
            self.unreadable_attention = "; ".join(sorted(reasons))
            return False
        for layer, (attention, reader) in enumerate(zip(self.parts.attentions, readers, strict=True)):
            attention.register_forward_pre_hook(self._own_attention_hook(layer, reader.read), with_kwargs=True)
        return True

    def _own_attention_hook(self, layer: int, read: Any) -> Any:
        sink = self._attention_sink(layer)

        def hook(module: Any, args: tuple, kwargs: dict) -> None:
            keep = sink()
            if keep is not None:
                keep(read(module, args, kwargs))
        return hook

    @property
    def device(self) -> torch.device:
        return self.model.device

    def _first_block_pre_hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        run = self._run.get()
        if run is not None and run.embed_only:
            run.block_inputs[0] = (args[0] if args else kwargs["hidden_states"]).detach()
            raise _ReachedFirstBlock

    @functools.cached_property
    def mean_embedding(self) -> torch.Tensor:
        """The embedding layer's output averaged over the whole vocabulary ("no token in particular"), once
        per view: it is the same for every request. Read in slices, so a 256k-token vocabulary never sits
        whole in memory twice."""
        layer = self.model.get_input_embeddings()
        size = layer.num_embeddings
        with torch.inference_mode():
            total = sum(layer(torch.arange(start, min(start + VOCAB_SLICE, size), device=self.device)).double()
                        .sum(0) for start in range(0, size, VOCAB_SLICE))
        return (total / size).to(layer.weight.dtype)

    def block_input(self, ids: list[int], embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """The residual stream entering block 0 (tokens x hidden) for ``ids``, or for ``embeddings`` (tokens x
        hidden) standing for the embedding layer's output: what the model's family does before its first
        block (Gemma's scale, GPT-2's positions), without running any block."""
        run = Run(embed_only=True)
        try:
            self.run(torch.tensor([ids]), run, embeddings=None if embeddings is None else embeddings[None])
        except _ReachedFirstBlock:
            return run.block_inputs[0][0]
        raise RuntimeError(f"{self.name}: block 0 never ran")

    def _block_hook(self, layer: int) -> Any:
        def hook(module: Any, args: tuple, kwargs: dict, output: Any) -> Any:
            run = self._run.get()
            if run is None:
                return None
            hidden_in = args[0] if args else kwargs["hidden_states"]
            hidden_out = _first(output)
            if layer in run.skip:
                rows = run.skip[layer].to(hidden_out.device)[:, None, None]
                hidden_out = torch.where(rows, hidden_in, hidden_out)
            if run.record:
                if layer == 0 or run.live:
                    run.block_inputs[layer] = run.keep(hidden_in)
                run.block_outputs[layer] = run.keep(hidden_out)
                run.block_calls[layer] = (args[1:], {key: value for key, value in kwargs.items()
                                                     if key != "hidden_states"})
            if layer not in run.skip:
                return None
            return (hidden_out, *output[1:]) if isinstance(output, tuple) else hidden_out
        return hook

    def _attention_sink(self, layer: int) -> Any:
        def sink() -> Any:
            run = self._run.get()
            if run is None or not run.record:
                return None
            return lambda call: run.attention_calls.__setitem__(layer, call)
        return sink

    def _projection_hook(self, layer: int) -> Any:
        parts = self.parts

        def hook(module: Any, args: tuple) -> Any:
            run = self._run.get()
            if run is None:
                return None
            heads_in = args[0]
            if layer in run.head_keep:
                keep = run.head_keep[layer].to(heads_in.dtype).to(heads_in.device)
                keep = keep.repeat_interleave(parts.head_dim, dim=-1)[:, None, :]
                heads_in = heads_in * keep
            if layer in run.head_patch:
                heads, values = run.head_patch[layer]
                rows = heads.to(heads_in.device).repeat_interleave(parts.head_dim, dim=-1)[:, None, :]
                heads_in = torch.where(rows, values.to(heads_in.dtype).to(heads_in.device), heads_in)
            if run.record:
                run.heads_in[layer] = run.keep(heads_in)
            return (heads_in, *args[1:]) if layer in run.head_keep or layer in run.head_patch else None
        return hook

    def _mlp_hook(self, layer: int) -> Any:
        def hook(module: Any, args: tuple, output: Any) -> Any:
            run = self._run.get()
            if run is None:
                return None
            written = _first(output)
            if layer in run.mlp_patch:
                cells, values = run.mlp_patch[layer]
                cells = cells.to(written.device)[:, :, None]
                written = torch.where(cells, values.to(written.dtype).to(written.device), written)
            if run.record:
                run.mlp_outputs[layer] = run.keep(written)
            elif layer not in run.mlp_patch:
                return None
            # the block gets a copy: Falcon adds the attention output to its MLP's output in place
            # (``mlp_output += attention_output``), which would change the kept tensor (and a live one's value)
            onward = written.clone()
            return (onward, *output[1:]) if isinstance(output, tuple) else onward
        return hook

    def run(self, ids: torch.Tensor, run: Run, last_only: bool = True,
            embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of a forward over ``ids`` (rows x tokens) with ``run``'s recording and ablations:
        the last position's (rows x vocab) when ``last_only``, else every position's. ``embeddings`` (rows x
        tokens x hidden), where given, stand for the embedding layer's output (the model still applies what
        its family does after it: Gemma's scale, GPT-2's positions)."""
        extra = {**(last_position_only(self.model) if last_only else {}), **without_router_logits(self.model)}
        token = self._run.set(run)
        try:
            with torch.inference_mode():
                ids = ids.to(self.device)
                inputs = {"input_ids": ids} if embeddings is None else {"inputs_embeds": embeddings.to(self.device)}
                output = self.model(**inputs, attention_mask=torch.ones_like(ids), use_cache=False, **extra)
        finally:
            self._run.reset(token)
        logits = output.logits.float().cpu()  # on the CPU: sampling draws with a CPU generator
        return logits[:, -1] if last_only else logits

    def resume(self, trace: Trace, start: int, hidden: torch.Tensor, run: Run, grad: bool = False) -> torch.Tensor:
        """Last-position logits (rows x vocab) from block ``start`` on, given the residual stream entering it
        (rows x tokens x hidden): the blocks before an ablation compute what the trace already holds, so an
        ablation in layer L costs the forward of the layers from L up. Each block gets the arguments the
        model gave it in the traced forward (mask, positions). With ``grad`` the pass is recorded for
        autograd (the trace's tensors, made in inference mode, are copied first, as autograd requires)."""
        token = self._run.set(run)
        try:
            with torch.enable_grad() if grad else torch.inference_mode():
                for layer in range(start, self.parts.num_layers):
                    args, kwargs = trace.block_calls[layer]
                    if grad:
                        args, kwargs = _copied(args), _copied(kwargs)
                    hidden = _first(self.parts.blocks[layer](hidden, *args, **kwargs))
                return read_logits(self.parts, hidden[:, -1:])[:, -1].float().cpu()
        finally:
            self._run.reset(token)


def _copied(value: Any) -> Any:
    """``value`` with every tensor in it cloned (tuples, lists and dicts walked), outside inference mode."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple | list):
        return type(value)(_copied(item) for item in value)
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class Trace:
    """One text's forward pass through one model: everything the step-by-step views read.

    ``residual[0]`` is the embeddings (block 0's input), ``residual[i + 1]`` the residual stream after
    block ``i``; ``heads_in[i]`` the heads' outputs side by side as they enter block ``i``'s output
    projection; ``attention_calls[i]`` block ``i``'s q, k, v, mask and scale as its attention function got
    them (None where the model's attention does not go through transformers' attention interface).
    """

    model: str
    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    total_tokens: int
    logits: torch.Tensor
    residual: torch.Tensor
    attention_calls: tuple[AttentionCall | None, ...]
    heads_in: torch.Tensor
    block_calls: tuple[tuple[tuple, dict[str, Any]], ...] = ()

    @property
    def num_tokens(self) -> int:
        return len(self.ids)

    @property
    def truncated(self) -> bool:
        return self.total_tokens > self.num_tokens


def trace(view: ModelView, ids: list[int], tokens: list[str], total_tokens: int) -> Trace:
    """Run ``ids`` once through ``view``, recording the residual stream, attention inputs and heads."""
    run = Run(record=True)
    logits = view.run(torch.tensor([ids]), run)
    layers = range(view.parts.num_layers)
    residual = torch.stack([run.block_inputs[0][0], *(run.block_outputs[layer][0] for layer in layers)])
    return Trace(model=view.name, ids=tuple(ids), tokens=tuple(tokens), total_tokens=total_tokens,
                 logits=logits[0], residual=residual,
                 attention_calls=tuple(run.attention_calls.get(layer) for layer in layers),
                 heads_in=torch.stack([run.heads_in[layer][0] for layer in layers]),
                 block_calls=tuple(run.block_calls[layer] for layer in layers))
