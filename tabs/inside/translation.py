"""Inside the model's translation: widget values (one dict keyed by component) -> the library's request
(:mod:`playground.internals.actions`) -> ``{component: value}``. Module-level, so each is tested with a dict."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.core.progress import ProgressFn
from playground.internals import actions
from playground.internals.actions import (
    EMPTY_TEXT,
    AblationRequest,
    HeadRequest,
    NextTokenRequest,
    Overview,
    SampleRequest,
    TextRequest,
    TokenRequest,
)
from playground.internals.inspector import ModelInspector
from tabs.inside import diagram, plots
from tabs.inside.layout import WHOLE_LAYER, InsideView, knock_out_choices
from tabs.shared.common import as_user_error
from tabs.shared.figures import PROBLEM, message_figure
from tabs.shared.sliders import bounded_slider

Values = dict[Any, Any]
Outputs = dict[Any, Any]


def card_markdown(card: dict[str, Any]) -> str:
    rows = "\n".join(f"| {part['component'].replace('_', ' ')} | {part['parameters']:,} | "
                     f"{part['bytes'] / 2**20:,.1f} |" for part in card["components"])
    head = ("no LM head (an encoder outputs one vector per token)" if card["kind"] == "bidirectional"
            else f"LM head tied to the embedding: {'yes' if card['tied_embeddings'] else 'no'}")
    layers = (f"{card['num_layers']} encoder + {card['num_decoder_layers']} decoder blocks"
              if card["kind"] == "encoder-decoder" else f"{card['num_layers']} blocks")
    return (f"**{card['model']}** ({card['architecture']}): {card['attention']} · {layers} · hidden size "
            f"{card['hidden_size']} · {card['num_heads']} heads of {card['head_dim']} · MLP "
            f"{card['intermediate_size']} ({card['activation']})\n\n"
            f"- Grouped-query attention: {card['grouped_query']}\n- Positions: {card['positions']}\n"
            f"- Norms: {card['norms']}, {card['norm_placement']}-norm · {head}\n{experts_line(card)}\n"
            f"| component | parameters | MiB |\n|---|---:|---:|\n{rows}\n"
            f"| **total** | **{card['parameters']:,}** | **{card['bytes'] / 2**20:,.1f}** |")


def experts_line(card: dict[str, Any]) -> str:
    """A mixture-of-experts model's routing, and the parameters one token really goes through."""
    if not card.get("experts"):
        return ""
    return (f"- Mixture of experts: {card['experts']} experts per MLP, each token routed to "
            f"{card['experts_per_token']} · {card['active_parameters']:,} parameters active per token of "
            f"{card['parameters']:,} ({card['active_parameters'] / card['parameters']:.0%})\n")


def head_markdown(math: dict[str, Any]) -> str:
    order = sorted(range(len(math["weights"])), key=lambda i: -math["weights"][i])[:5]
    lines = [f"| {i} {plots.shown(math['tokens'][i])!r} | {math['dots'][i]:.3f} | "
             f"{math['scores'][i]:.3f} | {math['weights'][i]:.4f} |" for i in order]
    textbook = math["head_dim"] ** -0.5
    scale = (f"scale 1/√d = {math['scale']:.4f}" if abs(math["scale"] - textbook) < 1e-6 * textbook
             else f"scale {math['scale']:.4f} (this model's own; 1/√d would be {textbook:.4f})")
    extras = "".join([f" Scores are soft-capped: {math['softcap']:g}·tanh(score/{math['softcap']:g})."
                      if math.get("softcap") else "",
                      f" A sliding window lets this query see only its last {math['window']} tokens."
                      if math.get("window") else "",
                      f" An attention sink (logit {math['sink_logit']:.3f}) takes {math['sink_weight']:.1%} of the "
                      "weight, so the weights over the tokens add up to less than 1." if math.get("sink_logit")
                      is not None else ""])
    return (f"Query {math['query']} {plots.shown(math['query_token'])!r}, head dimension d = {math['head_dim']}, "
            f"{scale}.{extras} The keys it weighs most:\n\n| key | q·k | score | weight |\n"
            "|---|---:|---:|---:|\n" + "\n".join(lines) +
            f"\n\nRecomputed output equals the model's own within {math['max_difference']:.1e}.")


def notice_markdown(overview: Overview) -> str:
    """The line above the panels: the model's size and how much of the text it reads."""
    notice = (f"**{overview.model}** · {overview.num_layers} layers x {overview.num_heads} heads "
              f"({overview.num_kv_heads} key/value heads) · {overview.num_tokens} tokens")
    if overview.truncated:
        notice += (f" · ⚠️ the text has {overview.total_tokens:,} tokens: only the last {overview.num_tokens} "
                   "are read.")
    return notice


def token_of(view: InsideView, values: Values) -> str | None:
    """The token box's text (a pasted newline dropped); empty means the top prediction."""
    return (values[view.attribution.token] or "").strip("\n") or None


def card_outputs(inside: ModelInspector, view: InsideView, values: Values,
                 progress: ProgressFn | None = None) -> Outputs:
    card = inside.model_card(values[view.model], progress)
    return {view.architecture.diagram: diagram.architecture_figure(card),
            view.architecture.card: card_markdown(card)}


def distribution_outputs(inside: ModelInspector, view: InsideView, values: Values) -> Outputs:
    panel = view.next_token
    request = NextTokenRequest(values[view.text], values[view.model], values[panel.temperature],
                               values[panel.top_k], values[panel.top_p])
    return {panel.plot: plots.distribution_figure(actions.next_token(inside, request))}


def head_outputs(inside: ModelInspector, view: InsideView, values: Values) -> Outputs:
    """The head the sliders pick, fitted to the model and text (a slider may lag behind a model switch)."""
    panel = view.head
    text = TextRequest(values[view.text], values[view.model])
    query = values[panel.query] if isinstance(values[panel.query], int) else None
    request = actions.overview(inside, text).fit(
        HeadRequest(text.text, text.model, values[panel.layer], values[panel.head], query))
    math = actions.attention_math(inside, request)
    return {panel.plot: plots.head_figure(math), panel.vectors: plots.head_vectors_figure(math),
            panel.text: head_markdown(math)}


def lens_outputs(inside: ModelInspector, view: InsideView, values: Values) -> Outputs:
    lens = actions.logit_lens(inside, TextRequest(values[view.text], values[view.model]))
    return {view.lens: plots.lens_figure(lens)}


def attribution_outputs(inside: ModelInspector, view: InsideView, values: Values) -> Outputs:
    request = TokenRequest(values[view.text], values[view.model], token_of(view, values))
    return {view.attribution.plot: plots.attribution_figure(actions.head_attribution(inside, request))}


def ablation_outputs(inside: ModelInspector, view: InsideView, values: Values) -> Outputs:
    panel = view.attribution
    what = values[panel.ablate_what]
    head = None if what == WHOLE_LAYER else int(what.removeprefix("head "))
    request = AblationRequest(values[view.text], values[view.model], values[panel.ablate_layer], head)
    return {panel.ablation_plot: plots.ablation_figure(actions.ablate(inside, request))}


def sweep_outputs(inside: ModelInspector, view: InsideView, values: Values,
                  progress: ProgressFn | None = None) -> Outputs:
    request = TokenRequest(values[view.text], values[view.model], token_of(view, values))
    return {view.attribution.sweep_plot: plots.sweep_figure(actions.sweep(inside, request, progress))}


def grow_outputs(inside: ModelInspector, view: InsideView, greedy: bool, values: Values,
                 seed: int | None = None) -> Outputs:
    """"Sample one" (a fresh seed each click) or "Append the top token": the text grows by the token."""
    seed = random.randrange(2**31) if seed is None else seed
    panel = view.next_token
    request = SampleRequest(values[view.text], values[view.model], 0.0 if greedy else values[panel.temperature],
                            values[panel.top_k], values[panel.top_p], seed)
    picked = actions.sample(inside, request)
    how = "the top token" if greedy else f"a draw (seed {seed})"
    return {view.text: picked["new_text"], panel.grown: f"Appended {plots.shown(picked['text'])!r}: {how}."}


def guarded(draw: Callable[[], Outputs], plot: gr.Plot, text: gr.Markdown | None = None) -> Outputs:
    """One panel of the refresh: a model this panel cannot show (say, an attention it cannot recompute)
    gets the reason in the panel instead of failing the others."""
    try:
        return draw()
    except Exception as error:  # noqa: BLE001 - shown in the panel, as a handler's message would be
        message = str(as_user_error(error).message)
        shown = {plot: message_figure(message, height=160, colour=PROBLEM)}
        return shown if text is None else {**shown, text: f"⚠️ {message}"}


def range_outputs(view: InsideView, values: Values, overview: Overview) -> Outputs:
    """Sliders and choices that follow the model and text; a new text starts again from the last token."""
    layer, head = values[view.head.layer], values[view.head.head]
    choices = [(f"{index} {plots.shown(label)}", index) for index, label in enumerate(overview.tokens)]
    return {view.head.layer: bounded_slider(layer, overview.num_layers - 1),
            view.head.head: bounded_slider(head, overview.num_heads - 1),
            view.head.query: gr.Dropdown(choices=choices, value=overview.num_tokens - 1),
            view.attribution.ablate_layer: bounded_slider(layer, overview.num_layers - 1),
            view.attribution.ablate_what: gr.Dropdown(choices=knock_out_choices(overview.num_heads))}


def refresh_outputs(inside: ModelInspector, view: InsideView, values: Values,
                    progress: ProgressFn | None = None) -> Outputs:
    """A new text or model: trace it once, then every panel reads the cached trace."""
    if not (values[view.text] or "").strip():
        return {view.notice: EMPTY_TEXT}
    try:
        overview = actions.overview(inside, TextRequest(values[view.text], values[view.model]), progress)
    except InvalidInputError as error:  # an encoder: the architecture tab still shows it
        return {view.notice: f"⚠️ {error}"}
    last = {**values, view.head.query: overview.num_tokens - 1}
    return {view.notice: notice_markdown(overview), **range_outputs(view, values, overview),
            **distribution_outputs(inside, view, values),
            **guarded(lambda: head_outputs(inside, view, last), view.head.plot, view.head.text),
            **guarded(lambda: lens_outputs(inside, view, values), view.lens),
            **guarded(lambda: attribution_outputs(inside, view, values), view.attribution.plot)}
