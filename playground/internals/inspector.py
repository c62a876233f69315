"""The entry point: names and texts in, the views' plain data out; shared by every user of an app.

Models come from the shared :class:`ModelStore` (the same sdpa copy generation uses); hooks go on a
private weight-sharing view of each (see :mod:`playground.internals.tracing`). A text's traced forward is
cached, so moving a slider re-reads tensors instead of running the model again.
"""

from __future__ import annotations

from typing import Any

import torch

from playground.attention import labels_for
from playground.core.errors import InvalidInputError
from playground.core.keyed_cache import KeyedCache, LRUCache
from playground.core.progress import ProgressFn
from playground.internals import architecture, attribution, distribution, head_math, logit_lens
from playground.internals.layout import check_index
from playground.internals.tracing import ModelView, Trace, trace
from playground.models.registry import EMBEDDED_MODELS, model_kind
from playground.models.store import ModelStore
from playground.text.analysis import TokenizerRegistry, sanitize_text

MAX_TOKENS = 256
"""Longer texts keep their last 256 tokens: the next token follows the end of the text, not the start."""
SHOWN = 10
REMEMBERED = 32
"""Results kept by :meth:`ModelInspector.remember` and :meth:`ModelInspector.derived`, all kinds together: each
is small (a grid of floats, a salience result, a direction), and a class uses a handful of examples at a time."""


class ModelInspector:
    """Every "Inside the model" computation, on any causal model the store can load."""

    def __init__(self, store: ModelStore, tokenizers: TokenizerRegistry, cache_size: int = 4) -> None:
        self.store = store
        self.tokenizers = tokenizers
        self._views: KeyedCache[ModelView] = KeyedCache()
        self._traces: LRUCache[Trace] = LRUCache(cache_size)
        self._cards: KeyedCache[dict[str, Any]] = KeyedCache()
        self._derived: LRUCache[Any] = LRUCache(REMEMBERED)
        """Small results that cost many forwards, kept so a repeat is a lookup: a steering direction (it reads
        8 traces, which would push the page's own out of the trace cache), and what the app serves from the What
        causes it tab (a patching sweep, a finished salience), which a class asks for again and again as it
        follows the teacher's example."""
        self._other_views: KeyedCache[tuple[Any, ModelView]] = KeyedCache(maxsize=1)
        """Views of models the store did not load (a fine-tuned run's), kept with the model itself so its
        id cannot be reused while cached; one at a time, since each holds a private copy of the weights."""

    # loading -------------------------------------------------------------------------------------------
    def view(self, model: str, progress: ProgressFn | None = None) -> ModelView:
        """The hookable view of a causal model; an encoder (or anything without a next token) is refused."""
        name = (model or "").strip()
        if not self.store.is_causal(name):
            raise InvalidInputError(f"'{name}' is a bidirectional encoder: it reads the whole text at once and "
                                    "predicts no next token, so this view needs a causal (decoder) model such "
                                    "as smollm2-135m-instruct. Its architecture is in the model card.")
        return self._views.get_or_load(name, lambda: ModelView(self.store.causal_lm(name, progress=progress), name))

    def derived(self, key: tuple, compute: Any) -> Any:
        """``compute()``, remembered under ``key`` (which must name the model and every input)."""
        return self._derived.get_or_compute(key, compute)

    def recall(self, key: tuple) -> Any | None:
        """What :meth:`remember` (or :meth:`derived`) kept under ``key``, or None."""
        return self._derived.peek(key)

    def remember(self, key: tuple, value: Any) -> None:
        """Keep ``value`` under ``key`` (which must name the model and every input) for :meth:`recall`."""
        self._derived.put(key, value)

    def view_of_model(self, model: Any, name: str) -> ModelView:
        """The hookable view of a model object the store did not load (a PEFT model is unwrapped: its LoRA
        layers stay in place, so every view reads base + adapter)."""
        unwrapped = model.get_base_model() if hasattr(model, "get_base_model") else model
        cached = self._other_views.get_or_load((name, id(unwrapped)),
                                               lambda: (unwrapped, ModelView(unwrapped.eval(), name)))
        return cached[1]

    def as_user_turn(self, model: str, text: str) -> str:
        """``text`` as a user's message in ``model``'s chat template, the assistant's turn opened: where an
        instruct model's answer, and what a chat fine-tune was trained on, begins."""
        tokenizer = self.tokenizers.get((model or "").strip())
        if not tokenizer.chat_template:
            raise InvalidInputError(f"'{model}' has no chat template, so there is no user's turn to read the text "
                                    "as: read it as raw text instead (chat off).")
        return tokenizer.render_chat([{"role": "user", "content": text}], True)

    def decode(self, model: str, token_id: int) -> str:
        return self.store.hf_tokenizer(model.strip()).decode([int(token_id)])

    def trace(self, text: str | None, model: str, progress: ProgressFn | None = None) -> Trace:
        """The traced forward of ``text`` (its last 256 tokens) through ``model``, cached."""
        cleaned, _ = sanitize_text(text)
        if not cleaned.strip():
            raise InvalidInputError("Type some text: the model predicts the token that comes after it.")
        name = (model or "").strip()
        view = self.view(name, progress)

        def compute() -> Trace:
            tokens = self.tokenizers.get(name, progress).encode(cleaned)
            kept = tokens[-MAX_TOKENS:]
            return trace(view, [token.id for token in kept], labels_for(kept, cleaned), len(tokens))

        return self._traces.get_or_compute((name, cleaned), compute)

    # views ---------------------------------------------------------------------------------------------
    def model_card(self, model: str, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Architecture and parameter counts of any model the store loads: decoder, encoder or T5-style."""
        name = (model or "").strip()

        def load() -> dict[str, Any]:
            spec = EMBEDDED_MODELS.get(name)
            if spec is not None:
                kind = spec.kind
            else:
                kind = model_kind(self.store.config(name))
            loader = {"causal-lm": self.store.causal_lm, "encoder": self.store.encoder,
                      "seq2seq-lm": self.store.seq2seq_lm}[kind]
            return architecture.model_card(loader(name, progress=progress), name)

        return self._cards.get_or_load(name, load)

    def next_token(self, text: str | None, model: str, temperature: float = 1.0, top_k: int = 0,
                   top_p: float = 1.0, shown: int = distribution.SHOWN) -> dict[str, Any]:
        settings = distribution.settings_for(temperature, top_k, top_p)
        traced = self.trace(text, model)
        result = distribution.distribution(traced.logits, settings, lambda i: self.decode(model, i), shown)
        return {"model": traced.model, "num_tokens": traced.num_tokens, "truncated": traced.truncated,
                "last_token": traced.tokens[-1], **result.to_dict()}

    def sample(self, text: str | None, model: str, temperature: float, top_k: int, top_p: float,
               seed: int) -> dict[str, Any]:
        """One token drawn under the settings, and the text with it appended."""
        settings = distribution.settings_for(temperature, top_k, top_p)
        token_id = distribution.sample(self.trace(text, model).logits, settings, seed)
        return {"id": token_id, "text": self.decode(model, token_id), "seed": int(seed),
                "new_text": self.append(text or "", model, token_id)}

    def append(self, text: str, model: str, token_id: int) -> str:
        """``text`` followed by the token, decoded in context (a byte piece of a character joins the rest)."""
        cleaned, _ = sanitize_text(text)
        tokenizer = self.store.hf_tokenizer(model.strip())
        ids = tokenizer.encode(cleaned, add_special_tokens=False)
        before, after = tokenizer.decode(ids), tokenizer.decode([*ids, int(token_id)])
        return cleaned + (after[len(before):] if after.startswith(before) else tokenizer.decode([int(token_id)]))

    def attention_math(self, text: str | None, model: str, layer: int, head: int,
                       query: int | None = None) -> dict[str, Any]:
        """One head step by step for one query token (the last one when ``query`` is None)."""
        view = self.view(model)
        traced = self.trace(text, model)
        return head_math.head_math(view.parts, traced, layer, head, traced.num_tokens - 1 if query is None else query,
                                   view.unreadable_attention)

    def logit_lens(self, text: str | None, model: str,
                   positions: int = logit_lens.DEFAULT_POSITIONS) -> dict[str, Any]:
        view = self.view(model)
        return logit_lens.logit_lens(view.parts, self.trace(text, model), lambda i: self.decode(model, i), positions)

    def token_id(self, text: str | None, model: str, token: str | int | None) -> int:
        """The token to attribute: the model's top prediction when ``token`` is empty, else the one token
        the string is (a listed prediction's text, or a string the tokenizer makes one token of)."""
        traced = self.trace(text, model)
        if token is None or token == "":
            return int(torch.argmax(traced.logits))
        if isinstance(token, int) and not isinstance(token, bool):
            return check_index("token id", token, traced.logits.numel(), model)
        top = torch.topk(traced.logits, 50).indices.tolist()
        for token_id in top:
            if self.decode(model, token_id) == token:
                return token_id
        ids = self.store.hf_tokenizer(model.strip()).encode(str(token), add_special_tokens=False)
        if len(ids) != 1:
            pieces = " | ".join(self.decode(model, i) for i in ids) or "nothing"
            raise InvalidInputError(f"{token!r} is {len(ids)} tokens for {model} ({pieces}): pick one token, such "
                                    "as one of the listed predictions (often with its leading space), or leave "
                                    "it empty for the top prediction.")
        return ids[0]

    def head_attribution(self, text: str | None, model: str, token: str | int | None = None) -> dict[str, Any]:
        view = self.view(model)
        traced = self.trace(text, model)
        token_id = self.token_id(text, model, token)
        result = attribution.direct_attribution(view.parts, traced, token_id)
        ranked = sorted(((value, layer, head) for layer, row in enumerate(result["heads"])
                         for head, value in enumerate(row)), key=lambda item: -abs(item[0]))
        return {"model": traced.model, "token_id": token_id, "token": self.decode(model, token_id),
                "prob": float(torch.softmax(traced.logits, -1)[token_id]),
                "num_layers": view.parts.num_layers, "num_heads": view.parts.num_heads, **result,
                "top_heads": [{"layer": layer, "head": head, "logit": value} for value, layer, head in ranked[:10]]}

    def ablate(self, text: str | None, model: str, layer: int | None = None,
               head: int | None = None) -> dict[str, Any]:
        """The next-token distribution with a head zeroed, a whole layer skipped, or (no layer) nothing changed."""
        view = self.view(model)
        traced = self.trace(text, model)
        parts = view.parts
        if layer is None and head is not None:
            raise InvalidInputError("Pick the layer of the head to knock out.")
        if layer is not None:
            layer = check_index("layer", layer, parts.num_layers, traced.model)
        if head is not None:
            head = check_index("head", head, parts.num_heads, traced.model)
        logits = attribution.ablation_logits(view, traced, layer, head)
        what = ("nothing" if layer is None else f"layer {layer} (attention and MLP)" if head is None
                else f"head {head} of layer {layer}")
        return {"model": traced.model, "layer": layer, "head": head, "ablated": what,
                **compare(traced.logits, logits, lambda i: self.decode(model, i))}

    def sweep(self, text: str | None, model: str, token: str | int | None = None,
              progress: ProgressFn | None = None) -> dict[str, Any]:
        """Every head zeroed in turn and every layer skipped in turn: the token's log-probability change."""
        view = self.view(model)
        traced = self.trace(text, model)
        token_id = self.token_id(text, model, token)
        result = attribution.sweep(view, traced, token_id, progress)
        return {"model": traced.model, "token_id": token_id, "token": self.decode(model, token_id), **result}


def compare(before: torch.Tensor, after: torch.Tensor, decode: Any, shown: int = SHOWN) -> dict[str, Any]:
    """Two last-position distributions side by side: the union of their top tokens, KL(before || after)."""
    old, new = torch.softmax(before.float(), -1), torch.softmax(after.float(), -1)
    ids = list(dict.fromkeys(torch.topk(old, shown).indices.tolist() + torch.topk(new, shown).indices.tolist()))
    ids.sort(key=lambda i: -float(old[i]))
    kl = float((old * (torch.log(old.clamp_min(1e-30)) - torch.log(new.clamp_min(1e-30)))).sum())
    return {"tokens": [{"id": i, "text": decode(i), "prob": round(float(old[i]), 6),
                        "ablated_prob": round(float(new[i]), 6)} for i in ids],
            "top_before": decode(int(torch.argmax(old))), "top_after": decode(int(torch.argmax(new))),
            "top_changed": int(torch.argmax(old)) != int(torch.argmax(new)),
            "kl_bits": max(0.0, kl) / float(torch.log(torch.tensor(2.0))),
            "max_abs_change": float((old - new).abs().max())}
