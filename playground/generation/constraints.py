"""Structured output: a JSON schema, a regex or a list of choices that limits one row's next tokens.

A grammar engine (llguidance: a JSON schema compiles in about a millisecond where outlines-core took 0.8-1.5
s, and a step's mask over SmolLM2's 49k-token vocabulary costs about what outlines-core's list of allowed
tokens does; ``python -m bench structured``, docs/benchmarks.md) says, before each step, which tokens keep the
text a prefix of something the grammar accepts. Those are the only ones the row may choose: the others' logits
become -inf, on that row alone, so free rows in the same batch compute exactly what they would without it.
What the mask took from the model (its own top choices the grammar forbade, with their probabilities) is
recorded with each step, because that is the lesson: a grammar does not make a model know JSON, it removes the
tokens that would break it and renormalizes what is left.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from playground.core.errors import InvalidInputError
from playground.generation.sampling import Alternative

ConstraintKind = Literal["json_schema", "regex", "choice"]
KINDS: tuple[str, ...] = ("json_schema", "regex", "choice")
MAX_SOURCE_CHARS = 20_000
MAX_CHOICES = 100
REMOVED_SHOWN = 5
"""The model's top choices checked against the mask each step (at least this many, or the request's
``alternatives`` where it asks for more)."""


@dataclass(frozen=True)
class Constraint:
    """What a request's output must match; validated here, compiled per tokenizer by :func:`compile_grammar`.

    ``source`` is the schema's JSON text or the regex; ``choices`` the allowed answers (for ``choice``).
    """

    kind: ConstraintKind
    source: str = ""
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInputError(f"Unknown constraint kind '{self.kind}': use one of {', '.join(KINDS)}.")
        if len(self.source) > MAX_SOURCE_CHARS:
            raise InvalidInputError(f"The {self.label} has {len(self.source):,} characters; at most "
                                    f"{MAX_SOURCE_CHARS:,} are taken.")
        if self.kind == "json_schema":
            self.schema  # noqa: B018 - parses, so a malformed schema fails here with its position
        elif self.kind == "regex" and not self.source:
            raise InvalidInputError("The regex is empty: write the pattern the output must match.")
        elif self.kind == "choice":
            choices = tuple(c for c in self.choices if c)
            if not choices:
                raise InvalidInputError("Give at least one choice (one non-empty answer per line).")
            if len(choices) > MAX_CHOICES:
                raise InvalidInputError(f"At most {MAX_CHOICES} choices; {len(choices)} were given.")
            object.__setattr__(self, "choices", tuple(dict.fromkeys(choices)))
        self.grammar_text()  # compiles without a tokenizer: a bad regex or schema fails before any model loads

    @property
    def label(self) -> str:
        return {"json_schema": "JSON schema", "regex": "regex", "choice": "list of choices"}[self.kind]

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON schema as an object (``json_schema`` only)."""
        try:
            schema = json.loads(self.source)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"The JSON schema is not valid JSON: {error.msg} at line {error.lineno}, "
                                    f"column {error.colno}.") from error
        if not isinstance(schema, dict):
            raise InvalidInputError("A JSON schema is a JSON object, such as {\"type\": \"object\", ...}.")
        return schema

    def grammar_text(self) -> str:
        """The llguidance grammar; a schema or regex it cannot use raises :class:`InvalidInputError`."""
        import llguidance

        if self.kind == "json_schema":
            # compact JSON: the default lets whitespace run on, and a small model fills it with newlines
            grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(self.schema),
                                                                    defaults={"whitespace_flexible": False})
        elif self.kind == "regex":
            grammar = llguidance.LLMatcher.grammar_from_regex(self.source)
        else:
            grammar = llguidance.grammar_from("choice", json.dumps(list(self.choices)))
        failed, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
        if failed:
            hint = (" (Rust regex syntax: no look-around or back-references)" if self.kind == "regex" else "")
            raise InvalidInputError(f"The {self.label} cannot be used{hint}: {messages[0].strip()}")
        return grammar

    def response_format(self) -> dict[str, Any] | None:
        """The OpenAI API's structured-output field; None where it has none (a regex, a choice list)."""
        if self.kind != "json_schema":
            return None
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": self.schema, "strict": True}}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "choices": list(self.choices)}


@dataclass(frozen=True)
class GrammarStep:
    """One step of a constrained row: how many tokens the grammar allowed, and which of the model's own
    top choices it removed (with their probabilities under the raw logits)."""

    allowed: int
    removed: tuple[Alternative, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed,
                "removed": [{"id": a.id, "text": a.text, "prob": a.prob} for a in self.removed]}


@dataclass(frozen=True)
class Grammar:
    """A constraint compiled for one model's tokenizer: each request starts its own matcher from it."""

    constraint: Constraint
    tokenizer: Any
    """llguidance's view of the tokenizer (about half a second to build: the engine keeps one per model)."""
    text: str
    width: int
    """The model's logit width (it may exceed the tokenizer's vocabulary)."""

    def start(self) -> RowGrammar:
        return RowGrammar(self)


def grammar_tokenizer(tokenizer: Any, width: int, stops: set[int]) -> Any:
    """llguidance's tokenizer over ``width`` logits, ending a turn at any of ``stops`` (or the EOS)."""
    import llguidance.hf

    eos = sorted(stops) or None
    try:
        return llguidance.hf.from_tokenizer(tokenizer, n_vocab=width, eos_token=eos)
    except ValueError as error:
        raise InvalidInputError(f"Structured output needs a fast (Rust) tokenizer: {error}") from error


def logit_width(lm: Any) -> int:
    embeddings = lm.get_output_embeddings() if hasattr(lm, "get_output_embeddings") else None
    if embeddings is not None and getattr(embeddings, "weight", None) is not None:
        return int(embeddings.weight.shape[0])
    return int(lm.config.vocab_size)


def compile_grammar(constraint: Constraint, tokenizer: Any, lm: Any, llg_tokenizer: Any = None) -> Grammar:
    """``constraint`` for this model; pass ``llg_tokenizer`` where one is kept, else it is built."""
    from playground.generation.rows import stop_token_ids

    width = logit_width(lm)
    llg = llg_tokenizer
    if llg is None:
        llg = grammar_tokenizer(tokenizer, width, stop_token_ids(lm, tokenizer))
    return Grammar(constraint, llg, constraint.grammar_text(), width)


class RowGrammar:
    """One request's matcher: the mask before each step, the chosen token after it."""

    def __init__(self, grammar: Grammar) -> None:
        import llguidance

        self.grammar = grammar
        self.matcher = llguidance.LLMatcher(grammar.tokenizer, grammar.text, log_level=0)  # errors: reported here
        if self.matcher.is_error():
            raise InvalidInputError(f"The {grammar.constraint.label} cannot be used: {self.matcher.get_error()}")
        self.seconds = 0.0
        """Time spent on this row's masks and matcher: the grammar's share of its steps."""

    def allowed(self, width: int) -> torch.Tensor:
        """``[width]`` booleans: the tokens that keep the output inside the grammar."""
        started = time.perf_counter()
        # ``count`` cuts the last word's spare bits, or pads with zeros (forbidden) past the tokenizer's ids
        bits = np.unpackbits(np.frombuffer(self.matcher.compute_bitmask(), dtype=np.uint8), count=width,
                             bitorder="little")
        self.seconds += time.perf_counter() - started
        return torch.from_numpy(bits.view(np.bool_))

    def advance(self, token: int) -> str | None:
        """Feed the chosen token; why the grammar refused it, if it did."""
        started = time.perf_counter()
        accepted = self.matcher.consume_token(token)
        self.seconds += time.perf_counter() - started
        return None if accepted else (self.matcher.get_error() or f"the grammar refused token {token}")

    @property
    def accepting(self) -> bool:
        """Whether the text so far is a whole match (the grammar would let it end here)."""
        return bool(self.matcher.is_accepting())


def masked_logits(logits: torch.Tensor, grammars: list[RowGrammar | None]
                  ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """``logits`` with each constrained row's forbidden tokens at -inf, and each such row's allowed mask.

    Free rows are the very same tensor rows (no copy when no row is constrained), so they choose as they
    would alone.
    """
    masks: dict[int, torch.Tensor] = {}
    for index, grammar in enumerate(grammars):
        if grammar is not None:
            masks[index] = grammar.allowed(logits.shape[-1]).to(logits.device)
    if not masks:
        return logits, masks
    started = time.perf_counter()
    masked = logits.clone()
    share = (time.perf_counter() - started) / len(masks)  # the copy is for the constrained rows: theirs to pay
    for index, allowed in masks.items():
        started = time.perf_counter()
        masked[index].masked_fill_(~allowed, float("-inf"))
        grammar = grammars[index]
        assert grammar is not None
        grammar.seconds += time.perf_counter() - started + share
    return masked, masks


def removed_choices(logits: torch.Tensor, allowed: torch.Tensor, k: int, tokenizer: Any) -> tuple[Alternative, ...]:
    """The model's own top-``k`` tokens (raw logits, one row) that the mask forbade, with their probabilities."""
    with torch.inference_mode():
        probs = torch.softmax(logits.float(), dim=-1)
        top = torch.topk(probs, min(k, probs.shape[-1]))
    return tuple(Alternative(int(i), tokenizer.decode([int(i)]), float(p))
                 for i, p in zip(top.indices.tolist(), top.values.tolist(), strict=True) if not bool(allowed[int(i)]))
