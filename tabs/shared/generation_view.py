"""HTML for generated text: each token coloured by how likely the model found it.

Hover (or click, which keeps it open) shows the token's probability, the distribution's
entropy and the runner-ups: what the model almost said.
"""

from __future__ import annotations

import html

from playground.generation.engine import Generation
from playground.generation.sampling import Alternative, TokenChoice, penalty_moves
from playground.generation.side_by_side import VariantRun
from tabs.shared.token_view import token_tile

LEGEND = ('<div class="gen-legend">probability of each token: '
          '<span style="background:hsl(0,80%,85%)">&nbsp;&lt;10%&nbsp;</span>'
          '<span style="background:hsl(36,80%,85%)">&nbsp;30%&nbsp;</span>'
          '<span style="background:hsl(72,80%,85%)">&nbsp;60%&nbsp;</span>'
          '<span style="background:hsl(120,80%,85%)">&nbsp;&gt;99%&nbsp;</span>'
          ' · <span class="gen-moved">&nbsp;dashed&nbsp;</span> = the repetition penalty changed the pick'
          " · hover or click a token for the alternatives</div>")


def colour(prob: float) -> str:
    """Red for a surprising token, green for a near-certain one."""
    return f"hsl({120 * max(0.0, min(prob, 1.0)):.0f}, 80%, 85%)"


def token_tip(index: int, token: TokenChoice) -> str:
    if token.id < 0:  # from an endpoint: it names tokens by text, and sends only the top alternatives
        lines = [f"#{index + 1} {token.piece!r} · from the endpoint",
                 f"p = {token.prob:.1%} · entropy ≥ {token.entropy_bits:.2f} bits (over the alternatives sent)"]
    else:
        lines = [f"#{index + 1} {token.piece!r} · id {token.id}",
                 f"p = {token.prob:.1%} (as sampled: {token.sampled_prob:.1%}) · entropy {token.entropy_bits:.2f} bits"]
    if token.penalty_moved:
        lines.append(f"⚠ the repetition penalty moved it: the model ranked it #{token.raw_rank}, "
                     f"the penalized scores #{token.rank}")
    lines += [f"{'→' if same_token(alt, token) else '  '} {alt.text!r}  {alt.prob:.1%}" for alt in token.alternatives]
    return "\n".join(lines)


def same_token(alternative: Alternative, token: TokenChoice) -> bool:
    return alternative.text == token.text if token.id < 0 else alternative.id == token.id


def render_tokens(generation: Generation) -> str:
    if not generation.has_probabilities:  # an endpoint that sent text only
        return f'<div class="gen-text gen-plain">{html.escape(generation.text)}</div>{cut_note(generation)}'
    parts = []
    for index, token in enumerate(generation.tokens):
        shown, breaks = token_tile(token.text) if token.text else (
            f"<small>{html.escape(token.piece)}</small>" if token.special else "", "")
        if not shown:
            continue  # half a character: its other half's token carries the text
        moved = " gen-moved" if token.penalty_moved else ""
        parts.append(f'<span class="tok gen-tok{moved}" tabindex="0" style="background:{colour(token.prob)}" '
                     f'data-tip="{html.escape(token_tip(index, token))}">{shown}</span>{breaks}')
    return f'<div class="tok-spans gen-text">{"".join(parts)}</div>{cut_note(generation)}'


def cut_note(generation: Generation) -> str:
    """An endpoint's stream that broke off: its text stays, with why it ends there."""
    if generation.finish_reason != "cut":
        return ""
    return f'<div class="gen-notice gen-cut">✂️ {html.escape(generation.error or "The stream was cut.")}</div>'


FINISH = {"eos": "the model ended its turn", "length": "reached max new tokens",
          "stop": "hit a stop string", "cancelled": "stopped", "cut": "the endpoint's stream was cut",
          "error": "failed"}


def stats_line(generation: Generation) -> str:
    if generation.queue_position:
        return (f"⏳ Waiting for {html.escape(generation.model)}: "
                f"{generation.queue_position} request(s) ahead of you.")
    unreported = generation.endpoint is not None and generation.reported_tokens_in is None
    parts = ["tokens in: not reported by the endpoint" if unreported else f"{generation.tokens_in:,} tokens in",
             f"{generation.tokens_out:,} out"]
    if generation.first_token_seconds is not None:
        parts.append(f"first token {generation.first_token_seconds * 1000:,.0f} ms")
    if generation.decode_tokens_per_second:
        parts.append(f"{generation.decode_tokens_per_second:.1f} tokens/s")
    moved = penalty_moves(generation.tokens)
    if moved:
        parts.append(f'<span class="gen-moved-count">⚠️ the repetition penalty changed {moved} '
                     f'pick{"s" if moved > 1 else ""} (dashed)</span>')
    if generation.done:
        parts.append(FINISH[generation.finish_reason or "cancelled"])
    return " · ".join(parts)


def notices_html(generation: Generation) -> str:
    return "".join(f'<div class="gen-notice">⚠️ {html.escape(n)}</div>' for n in generation.all_notices)


def render_generation(generation: Generation) -> str:
    legend = LEGEND if generation.has_probabilities else ""
    return (f'<div class="gen-stats">{stats_line(generation)}</div>{notices_html(generation)}'
            f"{legend}{render_tokens(generation)}")


def render_run(index: int, run: VariantRun, title: str | None = None) -> str:
    """One column of the side-by-side view."""
    head = (f'<div class="tok-head"><b>{html.escape(title or f"Variant {index + 1}")}</b> · '
            f'<span class="muted">{html.escape(run.variant.model)}</span></div>')
    if run.error:
        return f'<div class="tok-col tok-error">{head}<div class="error-text">{html.escape(run.error)}</div></div>'
    if run.generation is None:
        return f'<div class="tok-col">{head}<div class="muted">waiting…</div></div>'
    generation = run.generation
    return (f'<div class="tok-col">{head}<div class="gen-stats">{stats_line(generation)}</div>'
            f"{notices_html(generation)}{render_tokens(generation)}</div>")


def render_columns(runs: list[VariantRun], titles: list[str] | None = None) -> str:
    columns = "".join(render_run(index, run, titles[index] if titles else None) for index, run in enumerate(runs))
    return f'{LEGEND}<div class="tok-grid">{columns}</div>'
