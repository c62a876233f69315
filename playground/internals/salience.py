"""Which input tokens one predicted token depends on: three salience methods side by side.

Each method explains f = the target token's **log-probability** at the last position, not its logit. A logit
also moves with shifts every token shares, which leave the prediction as it is: on SmolLM2 a pad-token baseline
left "Paris" with almost its full logit (a change of -0.41 on a 32-token text) yet a log-probability of -19.1
against -0.02 with the text. The logit's path integral was a tiny difference of swings up to +-97, and the
midpoint rule's 128 points left gaps over 5% of the change on 3 of 6 texts (``bench ig``); the log-probability,
what the prediction is, left them on 1 of the 6. Captum's LLM attribution measures the same quantity.

- **Gradient x input**: f differentiated with respect to each position's input embedding (the residual
  stream entering block 0), dotted with that embedding. One backward pass; a local, linear reading that can
  miss saturated effects.
- **Integrated gradients** (Sundararajan et al., 2017): the same product integrated along the straight path
  from a baseline to the real input, the path cut into ``steps`` pieces read in batches. Its scores should
  add up to f(input) - f(baseline) (*completeness*); the gap left says whether the steps were enough. One
  point costs a forward and a backward (80 ms for 32 tokens of the embedded model on a 2-core CPU), and this
  integrand is flat over most of the path and steep over short stretches, so the pieces are halved where
  they are read worst (:mod:`playground.internals.path_integral`): at 64 pieces 13 of the 14 texts of
  ``bench ig`` were within 5% (the last 5.3%), where the midpoint rule's 65 points left 5 over, up to 43%.
  No rule gets within 5% in the dozen points a second buys, so the page gets an estimate after the first
  few points, then a sharper one after each batch, its gap shown as it closes.
  The baseline keeps the text's first token and puts the vocabulary's mean embedding (no token in
  particular) at every other position, as the model embeds it (its scale, its positions). The first token
  stays: it is the model's attention sink (most heads park their weight there), and moving it moves the
  whole model off the inputs it knows, so the path's integral misses jumps (on SmolLM2 a 32-token text's
  logit left a gap of -17.6 on a change of 7.8 at 128 steps with it replaced, -0.01 on -0.41 with it kept).
  The first token's integrated gradient is therefore 0 by construction. The mean embedding replaced one
  pad token repeated, whose path started where the model's attention flips abruptly: on one of six texts
  the midpoint rule's 128 points left a gap of 230% of the change, against at most 6% with the mean
  (``bench ig``). All-zero embeddings, the textbook choice for images, are worse still: a pre-norm
  transformer's norms then divide by almost nothing.
- **Attention rollout** (Abnar & Zuidema, 2020): each layer's attention averaged over heads, mixed half and
  half with the identity (the residual connection), rows renormalised, multiplied through the layers; the
  last row is how much the last position reads each input. It ignores what values and MLPs do.

Scores are per token and summed per word (the tokens between whitespace). The methods' rank agreement is
Spearman's correlation per pair; strong disagreement gets a warning, since then no single map is the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from playground.core.errors import InvalidInputError, PlaygroundError
from playground.core.iterutil import last
from playground.internals.head_math import attention_weights, recorded_call
from playground.internals.patching import rank_agreement
from playground.internals.path_integral import PathPoint, PiecewisePath, even_alphas
from playground.internals.tracing import ModelView, Run, Trace
from playground.text.analysis import sanitize_text

if TYPE_CHECKING:
    from playground.internals.inspector import ModelInspector

MAX_STEPS = 256
ROUND = 8
"""Halvings per round of integrated gradients after its first batch, so path points per backward pass: few
enough that each round goes where the last one found the path read worst (halving every piece would be even
pieces again), and memory stays small (a 256-token text's 30 layers of activations per point); on a CPU a
point's time barely changes past a few rows."""
FIRST_PIECES = 4
"""Even pieces the path is cut into before the page's first map: the path's two ends and 3 points between, in one
batch (the gradient at the input end is gradient x input's), about 0.5 s for 32 tokens on the embedded model, so
the three maps appear within a second and integrated gradients' then sharpens (its gap shown as it closes)."""
DEFAULT_STEPS = 64
"""Pieces the path is cut into by default: on 13 of the 14 texts of ``bench ig`` the gap is then within 5% of
the change (the 14th 5.3%), where the midpoint rule's 128 points, twice the cost and the earlier default, left
3 over 5%, one at 180%."""
DISAGREEMENT = 0.3
"""A pair of methods whose rank correlation is below this gets the warning."""


@dataclass(frozen=True)
class SalienceRequest:
    """One text, the token whose score is explained (empty: the model's top prediction), the IG steps."""

    text: str
    model: str
    token: str = ""
    steps: int = DEFAULT_STEPS

    def __post_init__(self) -> None:
        if not (self.text or "").strip():
            raise InvalidInputError("Type some text: salience explains the token the model predicts after it.")
        steps = self.steps
        if isinstance(steps, bool) or not isinstance(steps, int | float) or not float(steps).is_integer() \
                or not 1 <= steps <= MAX_STEPS:
            raise InvalidInputError(f"Integrated gradients takes 1 to {MAX_STEPS} steps (got {steps!r}).")
        object.__setattr__(self, "steps", int(steps))


@dataclass(frozen=True)
class SalienceResult:
    target: str
    target_id: int
    tokens: list[str]
    words: list[dict[str, Any]]
    """Each word's text, its token positions and its score per method (the sum over its tokens)."""
    methods: dict[str, list[float]]
    agreement: dict[str, float | None]
    completeness_gap: float
    """Integrated gradients' scores summed, minus f(input) - f(baseline): near 0 when the steps suffice."""
    log_prob: float
    baseline_log_prob: float
    """f(input) and f(baseline): the target's log-probability after the text and after the baseline."""
    ig_steps_done: int
    ig_steps: int
    """Pieces the path is cut into so far, of the steps asked for (equal in a finished result)."""
    warning: str | None
    unavailable: dict[str, str]
    """Methods this model cannot give, with the reason (attention rollout where attention is unreadable)."""
    completeness_note: str | None = None
    """Why more steps will not close the gap, where that is so (a mixture-of-experts router)."""
    ig_path: list[dict[str, float]] | None = None
    """The points integrated gradients read, in path order: alpha (0 the baseline, 1 the input), the target's
    log-probability there and the integrand summed over tokens (the area under it is the change; under the line
    through these points, the scores' sum)."""

    @property
    def log_prob_change(self) -> float:
        """f(input) - f(baseline), what the integrated gradients should add up to."""
        return self.log_prob - self.baseline_log_prob

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "target_id": self.target_id, "tokens": self.tokens, "words": self.words,
                "methods": self.methods, "agreement": self.agreement, "completeness_gap": self.completeness_gap,
                "log_prob": self.log_prob, "baseline_log_prob": self.baseline_log_prob,
                "log_prob_change": self.log_prob_change, "ig_steps_done": self.ig_steps_done,
                "ig_steps": self.ig_steps, "warning": self.warning, "unavailable": self.unavailable,
                "completeness_note": self.completeness_note, "ig_path": self.ig_path}


Measure = Callable[[torch.Tensor, int], torch.Tensor]
"""What is explained, from the last position's logits (rows x vocab) and the target token: one value per row."""


def log_probability(logits: torch.Tensor, target: int) -> torch.Tensor:
    return torch.log_softmax(logits.float(), dim=-1)[:, target]


def explained(view: ModelView, trace: Trace, embeddings: torch.Tensor, target: int,
              measure: Measure = log_probability, grad: bool = True) -> torch.Tensor:
    """The measure (the target's log-probability unless told) for each row of input embeddings (rows x tokens x
    hidden), in the autograd graph: the blocks run from the first one with the traced forward's masks and
    positions."""
    return measure(view.resume(trace, 0, embeddings, Run(), grad=grad), target)


def times_input(gradient: torch.Tensor, embeddings: torch.Tensor) -> list[float]:
    """Gradient x input per position (tokens x hidden each), in float64."""
    return (gradient.double() * embeddings.detach().double()).sum(-1).tolist()


def gradient_x_input(view: ModelView, trace: Trace, target: int) -> list[float]:
    """Gradient x input alone (one forward and backward); the page reads it from integrated gradients'
    first batch instead (:class:`PathEstimate`'s ``local``)."""
    embeddings = trace.residual[0][None].clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(explained(view, trace, embeddings, target).sum(), embeddings)
    return times_input(gradient[0], embeddings[0])


@dataclass(frozen=True)
class PathEstimate:
    """Integrated gradients after ``pieces`` of the path's ``steps`` pieces: the scores, their completeness gap,
    f at the path's ends and the points read; and gradient x input, read at the path's end in the first batch."""

    pieces: int
    steps: int
    scores: list[float]
    gap: float
    ends: tuple[float, float]
    """f(baseline) and f(input)."""
    local: list[float]
    """Gradient x input."""
    path: list[tuple[float, float, float]]
    """Each point read, in path order: alpha, f there and the integrand summed over tokens."""

    @property
    def change(self) -> float:
        return self.ends[1] - self.ends[0]


def read_points(view: ModelView, trace: Trace, target: int, baseline: torch.Tensor, alphas: list[float],
                measure: Measure = log_probability) -> tuple[list[PathPoint], torch.Tensor]:
    """f and the per-token integrand at each alpha in one forward and backward (each row's f depends on that
    row alone), and the gradients themselves (alphas x tokens x hidden)."""
    embeddings = trace.residual[0].detach()
    delta = embeddings - baseline
    rows = torch.tensor(alphas, dtype=embeddings.dtype, device=embeddings.device)
    path = (baseline[None] + rows[:, None, None] * delta[None]).requires_grad_(True)
    values = explained(view, trace, path, target, measure)
    (gradients,) = torch.autograd.grad(values.sum(), path)
    integrands = (gradients.double() * delta.double()[None]).sum(-1).cpu().numpy()
    points = [PathPoint(alpha, float(value), integrand)
              for alpha, value, integrand in zip(alphas, values.detach().tolist(), integrands, strict=True)]
    return points, gradients


def integrated_gradients_progress(view: ModelView, trace: Trace, target: int, steps: int, baseline: torch.Tensor,
                                  measure: Measure = log_probability) -> Iterator[PathEstimate]:
    """Estimates as the path is read: first its ends and the points that cut it into ``FIRST_PIECES`` even
    pieces, then each round halves the piece read worst ``ROUND`` times over, a half competing with the rest
    (:meth:`PiecewisePath.next_alphas`), until the path is cut into ``steps``. ``baseline``: tokens x hidden. A
    page shows the map at once and watches the gap close instead of waiting for every point."""
    baseline = baseline.detach().clone().to(trace.residual.dtype)
    path = PiecewisePath()
    alphas = even_alphas(min(steps, FIRST_PIECES))
    points, gradients = read_points(view, trace, target, baseline, alphas, measure)
    local = times_input(gradients[-1], trace.residual[0])  # the gradient at the input itself
    while True:
        path.add(points)
        yield PathEstimate(path.pieces, steps, path.scores().tolist(), path.gap(),
                           (path.points[0].value, path.points[-1].value), local,
                           [(p.alpha, p.value, float(p.integrand.sum())) for p in path.points])
        if path.pieces >= steps:
            return
        points, _ = read_points(view, trace, target, baseline,
                                path.next_alphas(min(ROUND, steps - path.pieces)), measure)


def integrated_gradients(view: ModelView, trace: Trace, target: int, steps: int,
                         baseline: torch.Tensor) -> tuple[list[float], float, float]:
    """Scores, the completeness gap and f(input) - f(baseline) once the path is cut into ``steps`` pieces."""
    estimate = last(integrated_gradients_progress(view, trace, target, steps, baseline))
    assert estimate is not None  # the first batch is always read
    return estimate.scores, estimate.gap, estimate.change


def neutral_baseline(view: ModelView, traced: Trace) -> torch.Tensor:
    """The residual stream entering block 0 for ``traced``'s first token followed by the vocabulary's mean
    embedding at every other position, as the model embeds them (its scale, its positions). The first token
    stays: it is the attention sink (see the module's docstring)."""
    ids = list(traced.ids)
    with torch.inference_mode():
        first = view.model.get_input_embeddings()(torch.tensor(ids[:1], device=view.device))
    embeddings = torch.cat([first, view.mean_embedding.to(first.device)[None].expand(len(ids) - 1, -1)])
    return view.block_input(ids, embeddings)


def attention_rollout(view: ModelView, trace: Trace) -> list[float]:
    """The last position's row of the rolled-out attention (0.5 A + 0.5 I per layer, rows renormalised)."""
    rolled = torch.eye(trace.num_tokens, dtype=torch.float64)
    for layer in range(view.parts.num_layers):
        call = recorded_call(view.parts, trace, layer, view.unreadable_attention)
        mixed = 0.5 * attention_weights(call).double().mean(0).cpu() + 0.5 * torch.eye(trace.num_tokens,
                                                                                           dtype=torch.float64)
        rolled = (mixed / mixed.sum(-1, keepdim=True)) @ rolled
    return rolled[-1].tolist()


def word_groups(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, list[int]]]:
    """Tokens grouped into words: a token starts a new word when whitespace comes before it or it starts
    with whitespace; each word's text is the input's characters its tokens cover, stripped."""
    words: list[tuple[str, list[int]]] = []
    for position, (start, end) in enumerate(spans):
        piece = text[start:end]
        starts_word = (not words or not piece or piece[:1].isspace() or (start > 0 and text[start - 1].isspace()))
        if starts_word:
            words.append(("", []))
        first = words[-1][1][0] if words[-1][1] else position
        words[-1] = (text[spans[first][0]:end].strip(), [*words[-1][1], position])
    return words


def agreements(methods: dict[str, list[float]]) -> dict[str, float | None]:
    names = list(methods)
    pairs = {}
    for index, first in enumerate(names):
        for second in names[index + 1:]:
            value = rank_agreement([methods[first]], [methods[second]])
            pairs[f"{first} / {second}"] = None if np.isnan(value) else round(value, 4)
    return pairs


def disagreement_warning(pairs: dict[str, float | None]) -> str | None:
    """Names the pairs, not their values: ``agreement`` carries those, and the page shows them on the line above."""
    low = {pair: value for pair, value in pairs.items() if value is not None and value < DISAGREEMENT}
    if not low:
        return None
    return (f"The methods disagree (rank agreement under {DISAGREEMENT:+.2f}: {', '.join(low)}): they measure "
            "different things (a local slope, a path integral, where attention flows), so read them together rather "
            "than trusting one map.")


ROUTED = ("num_experts", "num_local_experts", "n_routed_experts")
ROUTER_NOTE = ("This model routes each token to its top experts: along the path the choice of experts switches, "
               "the log-probability jumps there and no gradient sees the jump, so more steps will not close the gap.")


def routes_experts(config: Any) -> bool:
    return any((getattr(config, name, None) or 0) > 1 for name in ROUTED)


def salience_progress(inspector: ModelInspector, request: SalienceRequest,
                      remember: bool = False) -> Iterator[SalienceResult]:
    """The three methods on the Inside tab's view of the model, for the text's last 256 tokens: a result as
    soon as integrated gradients has its first few path points, then one per chunk of points read, the last
    with all ``request.steps`` (gradient x input and the rollout are the same in every one).

    With ``remember`` (the app) the finished result is kept by the inspector, and a repeat of the request (a
    class following the teacher's example) is answered with it alone, at once. Off by default, so a measurement
    never times its own earlier answer."""
    name = request.model.strip()
    view = inspector.view(name)
    traced = inspector.trace(request.text, name)
    target = inspector.token_id(request.text, name, request.token or None)
    cleaned, _ = sanitize_text(request.text)
    key = ("salience", name, cleaned, target, request.steps)
    finished = inspector.recall(key) if remember else None
    if finished is not None:
        yield finished
        return
    unavailable, rollout = {}, None
    try:
        rollout = attention_rollout(view, traced)
    except PlaygroundError as error:
        unavailable["attention rollout"] = str(error)
    kept = inspector.tokenizers.get(name).encode(cleaned)[-traced.num_tokens:]
    groups = word_groups(cleaned, [(token.start, token.end) for token in kept])
    note = ROUTER_NOTE if routes_experts(view.model.config) else None
    for estimate in integrated_gradients_progress(view, traced, target, request.steps,
                                                  neutral_baseline(view, traced)):
        methods = {"gradient x input": estimate.local, "integrated gradients": estimate.scores,
                   **({"attention rollout": rollout} if rollout is not None else {})}
        words = [{"word": word, "positions": positions,
                  "scores": {method: float(sum(scores[p] for p in positions)) for method, scores in methods.items()}}
                 for word, positions in groups]
        pairs = agreements(methods)
        result = SalienceResult(target=inspector.decode(name, target), target_id=target,
                                tokens=list(traced.tokens), words=words, methods=methods, agreement=pairs,
                                completeness_gap=estimate.gap, log_prob=estimate.ends[1],
                                baseline_log_prob=estimate.ends[0], ig_steps_done=estimate.pieces,
                                ig_steps=estimate.steps, warning=disagreement_warning(pairs),
                                unavailable=unavailable, completeness_note=note,
                                ig_path=[{"alpha": alpha, "log_prob": value, "integrand": integrand}
                                         for alpha, value, integrand in estimate.path])
        if remember and estimate.pieces >= estimate.steps:
            inspector.remember(key, result)
        yield result


def salience(inspector: ModelInspector, request: SalienceRequest) -> SalienceResult:
    """The finished result of :func:`salience_progress` (every path point read)."""
    result = last(salience_progress(inspector, request))
    assert result is not None  # at least one chunk of path points
    return result
