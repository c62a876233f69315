"""One request's decoding state inside a batch: its ids, processors, random generator, text, KV cache.

Everything that makes a request's output its own lives here, so that sharing a forward pass with
other requests changes nothing about it: the repetition penalty reads only its ids, sampling draws
from its own generator, stop strings and the token view are its own.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from playground.core.errors import PlaygroundError
from playground.generation.choosing import Pick, choose_tokens
from playground.generation.constraints import REMOVED_SHOWN, GrammarStep, RowGrammar, masked_logits, removed_choices
from playground.generation.detokenize import IncrementalDetokenizer
from playground.generation.request import Generation
from playground.generation.sampling import Alternative, TokenChoice, View, distribution_views
from playground.generation.steer import steered
from playground.generation.stops import StopStrings
from playground.models.forward import last_position_only, without_router_logits


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends a turn: the generation config may list several (chat models do)."""
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return ids


def model_device(lm: Any) -> torch.device:
    return getattr(lm, "device", torch.device("cpu"))  # a GPU model decodes on its GPU


class Row:
    """A request being decoded; ``generation`` is private to the decoding thread until published."""

    def __init__(self, lm: Any, tokenizer: Any, generation: Generation) -> None:
        self.generation = generation
        self.settings = generation.settings
        self.tokenizer = tokenizer
        self.prompt_length = len(generation.prompt.ids)
        self.ids: list[int] = list(generation.prompt.ids)
        device = model_device(lm)
        self.rng = torch.Generator(device=device).manual_seed(self.settings.seed)
        self.detokenizer = IncrementalDetokenizer(tokenizer)
        self.stop_strings = StopStrings(tokenizer, self.settings.stop) if self.settings.stop else None
        self.stops = stop_token_ids(lm, tokenizer)
        self.special = set(tokenizer.all_special_ids)
        self.cache: Any = None
        """Its own KV cache while it is prefilled alone; the batch's once it joins one."""
        self.cached = 0
        """How many of ``ids`` the KV cache holds."""
        self.started: float | None = None
        self.steer = generation.steer
        self.grammar: RowGrammar | None = None
        """Its structured-output matcher; None for a free row."""
        if generation.grammar is not None:
            try:
                self.grammar = generation.grammar.start()
            except PlaygroundError as error:
                self.fail(str(error))

    @property
    def done(self) -> bool:
        return self.generation.done

    @property
    def cost(self) -> int:
        """KV positions it may come to hold: its prompt and every token it may write."""
        return self.prompt_length + self.generation.prompt.max_new_tokens

    @property
    def penalized(self) -> list[int]:
        """The ids its repetition penalty counts: the generated ones (and the prompt's, if asked)."""
        return self.ids if self.settings.penalize_prompt else self.ids[self.prompt_length:]

    def start_clock(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def accept(self, logits: torch.Tensor) -> None:
        """Choose the next token from this row's raw logits (shape ``[1, vocab]``) and record it."""
        accept_all([self], logits)

    def record(self, pick: Pick, view: View) -> None:
        """Append the picked token with its view of the distribution; update text and finish state."""
        token, sampled_prob, rank = pick
        prob, entropy, top, raw_rank = view
        self.ids.append(token)
        self._record(token, prob, sampled_prob, entropy, top, (raw_rank, rank))

    def fail(self, message: str) -> None:
        self.generation.error = message
        self.generation.finish_reason = "error"

    def fail_choosing(self, error: Exception) -> None:
        """Its own sampling failed: it alone stops, the rows sharing its forward pass go on."""
        self.fail(f"This request failed while choosing a token ({type(error).__name__}: {error}).")

    def _record(self, token: int, prob: float, sampled_prob: float, entropy: float,
                top: list[tuple[int, float]], ranks: tuple[int, int]) -> None:
        generation = self.generation
        before = generation.text
        finished = token in self.stops or len(self.ids) - self.prompt_length >= generation.prompt.max_new_tokens
        piece = self.detokenizer.add(token, final=finished)
        text = before + piece
        generation.tokens.append(TokenChoice(
            id=token, text=piece, piece=self.tokenizer.convert_ids_to_tokens(token), prob=prob,
            sampled_prob=sampled_prob, entropy_bits=entropy,
            alternatives=tuple(Alternative(i, self.tokenizer.decode([i]), p) for i, p in top),
            special=token in self.special, raw_rank=ranks[0], rank=ranks[1]))
        generation.text = text
        assert self.started is not None
        generation.compute_seconds = time.perf_counter() - self.started
        if generation.first_token_seconds is None:
            generation.first_token_seconds = generation.compute_seconds
        cut = self.stop_strings.cut(self.ids, text, before) if self.stop_strings and piece else None
        if cut is not None:
            generation.text = text[:cut]
            generation.finish_reason = "stop"
        elif token in self.stops:
            generation.finish_reason = "eos"
        elif finished:
            generation.finish_reason = "length"


def accept_all(rows: list[Row], logits: torch.Tensor) -> None:
    """Each row chooses its next token from its row of raw logits (``[rows, vocab]``) and records it,
    the choices and the views of the distribution computed for all rows at once.

    A constrained row chooses among the tokens its grammar allows (the others' logits at -inf, in its
    row only); its view still shows the model's own distribution. A row whose choice fails stops
    alone; the rows sharing its forward pass go on.
    """
    grammars = [row.grammar for row in rows]
    scores, masks = (masked_logits(logits, grammars) if any(g is not None for g in grammars) else (logits, {}))
    for index, allowed in masks.items():
        if not bool(allowed.any()):
            rows[index].fail("The grammar allows no token here (the output cannot be continued to match it).")
    live = [index for index, row in enumerate(rows) if not row.done]
    if len(live) < len(rows):
        rows, logits, scores = [rows[i] for i in live], logits[live], scores[live]
        masks = {live.index(i): mask for i, mask in masks.items() if i in live}
    if not rows:
        return
    chosen: list[tuple[int, Pick]] = []
    for index, (row, pick) in enumerate(zip(rows, choose_tokens(scores, rows), strict=True)):
        if isinstance(pick, Exception):
            row.fail_choosing(pick)
        else:
            chosen.append((index, pick))
    if not chosen:
        return
    indices = [index for index, _ in chosen]
    with torch.inference_mode():
        views = distribution_views(logits[indices], [pick[0] for _, pick in chosen],
                                   [rows[index].settings.alternatives for index in indices])
    for (index, pick), view in zip(chosen, views, strict=True):
        row = rows[index]
        if index in masks and row.grammar is not None:
            started = time.perf_counter()  # the view of what the mask removed is part of the grammar's cost
            removed = removed_choices(logits[index], masks[index], max(REMOVED_SHOWN, row.settings.alternatives),
                                      row.tokenizer)
            row.generation.grammar_steps.append(GrammarStep(int(masks[index].sum()), removed))
            row.grammar.seconds += time.perf_counter() - started
        row.record(pick, view)
        if row.grammar is not None:
            refused = row.grammar.advance(pick[0])
            row.generation.grammar_seconds = row.grammar.seconds
            row.generation.grammar_accepting = row.grammar.accepting
            if refused is not None and not row.done:
                row.fail(f"The grammar refused the chosen token: {refused}")


def prefill(lm: Any, row: Row, budget: int) -> int:
    """Read up to ``budget`` of the row's uncached prompt tokens into its own KV cache.

    When the last prompt token is read the row chooses its first token. Returns the tokens read.
    Chunking bounds how long a newcomer's prefill holds up the rows already decoding.
    """
    row.start_clock()
    chunk = row.ids[row.cached:row.cached + max(1, budget)]
    device = model_device(lm)
    extra = {**last_position_only(lm), **without_router_logits(lm)}
    with torch.inference_mode(), steered(lm, [row.steer]):
        output = lm(input_ids=torch.tensor([chunk], dtype=torch.long, device=device),
                    past_key_values=row.cache, use_cache=True, **extra)
    row.cache = output.past_key_values
    row.cached += len(chunk)
    if row.cached == len(row.ids):
        row.accept(output.logits[:, -1, :].float())
    return len(chunk)


def prefill_all(lm: Any, row: Row) -> None:
    """Read the rest of one row's prompt alone, in one pass, and choose its first token."""
    while row.cached < row.prompt_length:
        prefill(lm, row, row.prompt_length)


def prefill_together(lm: Any, rows: list[Row]) -> None:
    """Read the rest of several rows' prompts in one forward pass, and choose each row's first token.

    Rows may start from kept prefixes of different lengths (their own caches, or none) and have tails
    of different lengths: prefixes and tails are each left-padded, the mask hides every pad and each
    row's positions count only its own tokens, so each row reads what it would alone. Afterwards each
    row's cache is cut back to its own positions, contiguous, as if it had been prefilled alone.
    A decode step reads every weight once however many rows it serves; a short prefill is no
    different, so a wave of students costs one prefill instead of one each.
    """
    from transformers.cache_utils import DynamicCache

    from playground.generation.batch import stack_caches

    for row in rows:
        row.start_clock()
    device = model_device(lm)
    tails = [row.ids[row.cached:] for row in rows]
    width = max(len(tail) for tail in tails)
    ids = torch.tensor([[0] * (width - len(tail)) + tail for tail in tails], dtype=torch.long, device=device)
    tail_mask = torch.tensor([[0] * (width - len(tail)) + [1] * len(tail) for tail in tails], device=device)
    positions = torch.tensor([[max(0, row.cached + j - (width - len(tail))) for j in range(width)]
                              for row, tail in zip(rows, tails, strict=True)], device=device)
    kept = next((row.cache for row in rows if row.cache is not None), None)
    if kept is None:
        cache, prefix_mask = None, torch.zeros(len(rows), 0, dtype=torch.long, device=device)
    else:  # a row starting from nothing has an empty prefix, padded and masked like a short one
        nothing = DynamicCache(ddp_cache_data=[(layer.keys[:1, :, :0], layer.values[:1, :, :0])
                                               for layer in kept.layers])
        cache, prefix_mask = stack_caches([nothing if row.cache is None else row.cache for row in rows],
                                          [torch.ones(1, row.cached, dtype=torch.long, device=device)
                                           for row in rows], room=width)
    mask = torch.cat([prefix_mask, tail_mask], dim=1)
    extra = {**last_position_only(lm), **without_router_logits(lm)}
    with torch.inference_mode(), steered(lm, [row.steer for row in rows]):
        output = lm(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                    use_cache=True, **extra)
    layers = [(layer.keys, layer.values) for layer in output.past_key_values.layers]
    for index, row in enumerate(rows):
        keep = mask[index].nonzero()[:, 0]
        row.cache = DynamicCache(ddp_cache_data=[(k[index:index + 1, :, keep, :], v[index:index + 1, :, keep, :])
                                                 for k, v in layers])
        row.cached = len(row.ids)
    accept_all(rows, output.logits[:, -1, :].float())
