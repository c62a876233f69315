"""Activation patching: which layer, position, head or MLP carries what makes the clean prompt's answer.

Two prompts of the same length in tokens, a clean one and a corrupted one ("The Eiffel Tower is in the
city of" against "The Colosseum is in the city of"), and a metric: the logit of the answer token minus
the logit of a wrong one. Each cell copies one activation of the clean run into the corrupted run and
measures the metric, normalised so 0 is the corrupted run and 1 the clean one (TransformerLens's
convention): a cell near 1 alone restores the clean answer.

- ``residual``: the residual stream entering each block, one position at a time (layer x position);
- ``heads``: one head's output (every position) entering the block's output projection (layer x head);
- ``mlp``: one MLP's output at one position (layer x position).

The sweep resumes from the patched layer on the corrupted trace (the blocks below compute what the
trace already holds), one batched pass per layer with a row per cell. **Attribution patching** estimates
every cell at once from one forward and one backward pass on the corrupted run: the metric's gradient
with respect to each activation times (clean - corrupted) activation, a first-order Taylor step
(Nanda, "Attribution Patching", 2023). Their rank correlation says how far the estimate can be trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.core.progress import ProgressFn
from playground.internals.tracing import ModelView, Run, Trace

if TYPE_CHECKING:
    from playground.internals.inspector import ModelInspector

WHATS = ("residual", "heads", "mlp")
EXAMPLE = ("The Eiffel Tower is in the city of", "The Colosseum is in the city of", " Paris", " Rome")
"""The page's first example: one fact swapped, the same length in the embedded model's tokens."""


@dataclass(frozen=True)
class PatchRequest:
    """A patching experiment as the page and ``/patch`` describe it; validated here, once."""

    clean: str
    corrupted: str
    model: str
    answer: str
    wrong_answer: str
    what: str = "residual"

    def __post_init__(self) -> None:
        if not (self.clean or "").strip() or not (self.corrupted or "").strip():
            raise InvalidInputError("Type a clean prompt and a corrupted one: patching copies activations from "
                                    "the clean run into the corrupted run.")
        if not (self.answer or "").strip() or not (self.wrong_answer or "").strip():
            raise InvalidInputError("Name the answer token and a wrong one (for example ' Paris' and ' Rome'): "
                                    "the metric is the logit of the first minus the logit of the second.")
        if self.what not in WHATS:
            raise InvalidInputError(f"'{self.what}' cannot be patched here: choose one of {', '.join(WHATS)}.")


@dataclass(frozen=True)
class PatchResult:
    """The effect of each patched cell, normalised: 0 = the corrupted run's metric, 1 = the clean run's."""

    what: str
    metric_clean: float
    metric_corrupted: float
    layers: list[int]
    positions: list[int]
    tokens: list[str]
    effects: list[list[float]]
    columns: str
    """What the grid's columns are: "position" (residual, mlp) or "head" (heads)."""
    answer_tokens: tuple[str, str]
    corrupted_tokens: list[str]
    agreement: float | None = None
    """Attribution patching only: the Spearman rank correlation of its estimates with the real sweep."""
    exact_effects: list[list[float]] | None = None
    """Attribution patching only: the real sweep it is compared with."""

    def to_dict(self) -> dict[str, Any]:
        data = {"what": self.what, "metric_clean": self.metric_clean, "metric_corrupted": self.metric_corrupted,
                "layers": self.layers, "positions": self.positions, "tokens": self.tokens,
                "corrupted_tokens": self.corrupted_tokens, "effects": self.effects, "columns": self.columns,
                "answer_tokens": list(self.answer_tokens)}
        if self.agreement is None:
            return data
        agreement = None if np.isnan(self.agreement) else self.agreement  # JSON has no NaN
        return {**data, "agreement": agreement, "exact_effects": self.exact_effects}


@dataclass(frozen=True)
class Experiment:
    """The two traces and the metric's tokens: what every patching method reads."""

    view: ModelView
    clean: Trace
    corrupted: Trace
    answer: int
    wrong: int

    def metric(self, logits: torch.Tensor) -> torch.Tensor:
        """Answer minus wrong logit, per row of last-position logits."""
        return logits[..., self.answer] - logits[..., self.wrong]

    @property
    def clean_metric(self) -> float:
        return float(self.metric(self.clean.logits))

    @property
    def corrupted_metric(self) -> float:
        return float(self.metric(self.corrupted.logits))

    def normalised(self, metrics: list[list[float]]) -> list[list[float]]:
        """Raw metrics as 0 = the corrupted run, 1 = the clean one (:func:`check_experiment` makes sure the two
        differ)."""
        gap = self.clean_metric - self.corrupted_metric
        return ((torch.tensor(metrics, dtype=torch.float64) - self.corrupted_metric) / gap).tolist()


def answer_token(tokenizer: Any, text: str) -> int:
    """The first token of ``text`` as the model reads it (type the leading space: " Paris", not "Paris")."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if not ids:
        raise InvalidInputError(f"{text!r} is no token for this model's tokenizer.")
    return int(ids[0])


def check_experiment(experiment: Experiment) -> None:
    """Refuse what patching cannot measure, with the reason and what to change."""
    clean, corrupted = experiment.clean, experiment.corrupted
    if clean.truncated or corrupted.truncated:
        raise InvalidInputError("Patching compares whole prompts: keep each under 256 tokens.")
    if clean.num_tokens != corrupted.num_tokens:
        raise InvalidInputError(
            f"The clean prompt has {clean.num_tokens} tokens and the corrupted one {corrupted.num_tokens}: "
            "patching copies position i onto position i, so they must be the same length. Swap words for "
            "words of the same token count (the Tokenizer tab shows the counts).")
    if experiment.answer == experiment.wrong:
        raise InvalidInputError("The answer and the wrong answer start with the same token: pick two that differ.")
    if abs(experiment.clean_metric - experiment.corrupted_metric) < 1e-6:
        raise InvalidInputError("The clean and corrupted prompts give the same logit difference, so there is "
                                "nothing to restore: change one of them or the answer tokens.")


def patch_residual(experiment: Experiment, progress: ProgressFn | None = None) -> list[list[float]]:
    """Each layer's input stream, one position at a time: a batched pass per layer, a row per position.
    Like the other sweeps it returns the raw metric of each patched run (:func:`normalised_grid` scales it)."""
    view, clean, corrupted = experiment.view, experiment.clean, experiment.corrupted
    positions = corrupted.num_tokens
    rows = torch.arange(positions)
    effects = []
    for layer in range(view.parts.num_layers):
        _report(progress, layer, view, "Patching the residual stream entering layer")
        hidden = corrupted.residual[layer][None].repeat(positions, 1, 1)
        hidden[rows, rows] = clean.residual[layer][rows]
        effects.append(experiment.metric(view.resume(corrupted, layer, hidden, Run())).tolist())
    return effects


def patch_heads(experiment: Experiment, progress: ProgressFn | None = None) -> list[list[float]]:
    """Each head's output at every position, a row per head."""
    view, clean, corrupted = experiment.view, experiment.clean, experiment.corrupted
    heads = view.parts.num_heads
    effects = []
    for layer in range(view.parts.num_layers):
        _report(progress, layer, view, "Patching each head of layer")
        hidden = corrupted.residual[layer][None].repeat(heads, 1, 1)
        run = Run(head_patch={layer: (torch.eye(heads, dtype=torch.bool), clean.heads_in[layer])})
        effects.append(experiment.metric(view.resume(corrupted, layer, hidden, run)).tolist())
    return effects


def patch_mlps(experiment: Experiment, progress: ProgressFn | None = None) -> list[list[float]]:
    """Each MLP's output at one position, a row per position."""
    view, corrupted = experiment.view, experiment.corrupted
    clean_mlps = mlp_outputs(view, experiment.clean)
    positions = corrupted.num_tokens
    effects = []
    for layer in range(view.parts.num_layers):
        _report(progress, layer, view, "Patching the MLP of layer")
        hidden = corrupted.residual[layer][None].repeat(positions, 1, 1)
        run = Run(mlp_patch={layer: (torch.eye(positions, dtype=torch.bool), clean_mlps[layer])})
        effects.append(experiment.metric(view.resume(corrupted, layer, hidden, run)).tolist())
    return effects


def mlp_outputs(view: ModelView, trace: Trace) -> list[torch.Tensor]:
    """Each block's MLP output over ``trace``'s tokens (tokens x hidden), from a recording pass."""
    if any(mlp is None for mlp in view.mlps):
        raise PlaygroundError(f"{view.name}: a block without an MLP module under the usual names, so its MLPs "
                              "cannot be patched here; the residual stream and the heads can.")
    run = Run(record=True)
    view.resume(trace, 0, trace.residual[0][None], run)
    return [run.mlp_outputs[layer][0] for layer in range(view.parts.num_layers)]


def attribution_patch(experiment: Experiment, what: str) -> list[list[float]]:
    """Every cell's estimated metric from one forward and one backward pass on the corrupted run."""
    view, clean, corrupted = experiment.view, experiment.clean, experiment.corrupted
    layers = range(view.parts.num_layers)
    run = Run(record=True, live=True)
    start = corrupted.residual[0][None].clone().requires_grad_(True)
    metric = experiment.metric(view.resume(corrupted, 0, start, run, grad=True))[0]
    recorded = {"residual": [run.block_inputs[layer] for layer in layers],
                "heads": [run.heads_in[layer] for layer in layers],
                "mlp": [run.mlp_outputs.get(layer) for layer in layers]}[what]
    if any(tensor is None for tensor in recorded):
        mlp_outputs(view, corrupted)  # raises the message that names what is missing
    gradients = torch.autograd.grad(metric, recorded)
    clean_values = {"residual": list(clean.residual[:-1]), "heads": list(clean.heads_in),
                    "mlp": mlp_outputs(view, clean) if what == "mlp" else []}[what]
    effects = []
    for gradient, live, clean_value in zip(gradients, recorded, clean_values, strict=True):
        step = (clean_value.double() - live.detach()[0].double()) * gradient[0].double()  # tokens x width
        if what == "heads":
            step = step.reshape(step.shape[0], view.parts.num_heads, view.parts.head_dim).sum(dim=(0, 2))
        else:
            step = step.sum(dim=-1)
        effects.append((step + experiment.corrupted_metric).tolist())
    return effects


def rank_agreement(first: list[list[float]], second: list[list[float]]) -> float:
    """Spearman's rank correlation between two grids (ties share their mean rank); 1 = the same order."""
    a, b = _ranks(np.ravel(first)), _ranks(np.ravel(second))
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


SWEEPS: dict[str, Callable[[Experiment, ProgressFn | None], list[list[float]]]] = {
    "residual": patch_residual, "heads": patch_heads, "mlp": patch_mlps}


def _report(progress: ProgressFn | None, layer: int, view: ModelView, message: str) -> None:
    if progress:
        progress(layer / view.parts.num_layers, f"{message} {layer}")


def experiment_for(inspector: ModelInspector, request: PatchRequest,
                   progress: ProgressFn | None = None) -> Experiment:
    """Both prompts traced on the Inside tab's view of the model (cached), checked for patching."""
    view = inspector.view(request.model, progress)
    clean = inspector.trace(request.clean, request.model)
    corrupted = inspector.trace(request.corrupted, request.model)
    tokenizer = inspector.store.hf_tokenizer(request.model.strip())
    experiment = Experiment(view, clean, corrupted, answer_token(tokenizer, request.answer),
                            answer_token(tokenizer, request.wrong_answer))
    check_experiment(experiment)
    return experiment


def patch(inspector: ModelInspector, request: PatchRequest, progress: ProgressFn | None = None,
          remember: bool = False) -> PatchResult:
    """The real sweep: one patched forward per cell (batched per layer). ``remember``: see :func:`grid`."""
    experiment = experiment_for(inspector, request, progress)
    effects = grid(inspector, experiment, "sweep", request.what, remember,
                   lambda: SWEEPS[request.what](experiment, progress))
    return result_of(experiment, request.what, effects, inspector, request)


def attribution_patching(inspector: ModelInspector, request: PatchRequest, progress: ProgressFn | None = None,
                         remember: bool = False) -> PatchResult:
    """The gradient estimate of every cell, with the real sweep beside it and their rank agreement."""
    experiment = experiment_for(inspector, request, progress)
    estimated = grid(inspector, experiment, "estimate", request.what, remember,
                     lambda: attribution_patch(experiment, request.what))
    exact = grid(inspector, experiment, "sweep", request.what, remember,
                 lambda: SWEEPS[request.what](experiment, progress))
    return result_of(experiment, request.what, estimated, inspector, request,
                     agreement=rank_agreement(estimated, exact), exact=exact)


def grid(inspector: ModelInspector, experiment: Experiment, method: str, what: str, remember: bool,
         metrics: Callable[[], list[list[float]]]) -> list[list[float]]:
    """The normalised grid of ``metrics()``. With ``remember`` (the app) it is kept by the inspector per model,
    token ids, answers, method and what: a class repeating the teacher's example, or ``/attribution_patch``
    after ``/patch``, gets it without a forward. Off by default, so a measurement never times its own earlier
    answer."""
    if not remember:
        return experiment.normalised(metrics())
    key = ("patching", method, experiment.view.name, experiment.clean.ids, experiment.corrupted.ids,
           experiment.answer, experiment.wrong, what)
    kept = inspector.derived(key, lambda: experiment.normalised(metrics()))
    return [list(row) for row in kept]  # the caller's own rows: the kept ones serve the next request


def result_of(experiment: Experiment, what: str, effects: list[list[float]], inspector: ModelInspector,
              request: PatchRequest, agreement: float | None = None,
              exact: list[list[float]] | None = None) -> PatchResult:
    """The grid with its axes: positions (and their tokens) for the residual and MLPs, heads for heads."""
    parts, clean, corrupted = experiment.view.parts, experiment.clean, experiment.corrupted
    heads = what == "heads"
    columns = parts.num_heads if heads else corrupted.num_tokens
    answers = (inspector.decode(request.model, experiment.answer), inspector.decode(request.model, experiment.wrong))
    return PatchResult(what=what, metric_clean=experiment.clean_metric,
                       metric_corrupted=experiment.corrupted_metric, layers=list(range(parts.num_layers)),
                       positions=list(range(columns)),
                       tokens=[f"head {h}" for h in range(columns)] if heads else list(clean.tokens),
                       effects=effects, columns="head" if heads else "position", answer_tokens=answers,
                       corrupted_tokens=list(corrupted.tokens), agreement=agreement, exact_effects=exact)
