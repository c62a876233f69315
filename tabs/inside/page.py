"""Inside the model: how one next token is computed, with the loaded model's real numbers.

Endpoints: ``/model_card``, ``/next_token``, ``/attention_math``, ``/logit_lens``, ``/head_attribution``
and ``/ablate``; each returns plain data from :mod:`playground.internals`.
"""

from __future__ import annotations

import random
from typing import Any

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.core.settings import DEFAULT_CAUSAL_MODEL
from playground.models.registry import EMBEDDED_MODELS
from playground.workspace import Workspace
from tabs.inside import diagram, plots
from tabs.shared.common import event_handler, progress_callback, read_asset
from tabs.shared.queues import INSIDE_CONCURRENCY, INSIDE_QUEUE
from tabs.shared.sliders import bounded_slider, clip

DEFAULT_TEXT = "The capital of France is Paris. The capital of Germany is"
QUEUE = dict(concurrency_id=INSIDE_QUEUE, concurrency_limit=INSIDE_CONCURRENCY)
LATEX = [{"left": "$$", "right": "$$", "display": True}]
SWEEP_NOTE = ("Zeroes each head in turn and skips each layer in turn. Each knock-out in layer L re-runs only the "
              "layers from L up (the ones below are unchanged), a row per head: about as long as 150 forward passes.")


def note(name: str) -> None:
    with gr.Accordion("How it works", open=False):
        gr.Markdown(read_asset("notes", "inside", f"{name}.md"), latex_delimiters=LATEX)


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


def panel(draw: Any, *args: Any, count: int = 1) -> Any:
    """One panel of the refresh: a model this panel cannot show (say, an attention it cannot recompute)
    gets the reason in the panel instead of failing the others."""
    try:
        return draw(*args)
    except gr.Error as error:
        figure = plots.message_figure(str(error.message))
        return figure if count == 1 else (figure, *[gr.skip()] * (count - 2), f"⚠️ {error.message}")


def build(ws: Workspace, app: gr.Blocks) -> None:
    inside = ws.inside

    @event_handler
    def show_card(model: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any]:
        card = inside.model_card(model, progress_callback(progress))
        return diagram.architecture_figure(card), card_markdown(card)

    @event_handler
    def show_distribution(text: str, model: str, temperature: float, top_k: float, top_p: float) -> Any:
        if not (text or "").strip():
            return gr.skip()
        return plots.distribution_figure(inside.next_token(text, model, temperature, int(top_k), top_p))

    @event_handler
    def show_head(text: str, model: str, layer: float, head: float, query: Any) -> tuple[Any, Any, Any]:
        if not (text or "").strip():
            return gr.skip(), gr.skip(), gr.skip()
        traced = inside.trace(text, model)
        view = inside.view(model)
        query = clip(query, traced.num_tokens - 1) if isinstance(query, int) else traced.num_tokens - 1
        math = inside.attention_math(text, model, clip(layer, view.parts.num_layers - 1),
                                     clip(head, view.parts.num_heads - 1), query)
        return plots.head_figure(math), plots.head_vectors_figure(math), head_markdown(math)

    @event_handler
    def show_attribution(text: str, model: str, token: str) -> Any:
        if not (text or "").strip():
            return gr.skip()
        return plots.attribution_figure(inside.head_attribution(text, model, (token or "").strip("\n") or None))

    @event_handler
    def show_lens(text: str, model: str) -> Any:
        return plots.lens_figure(inside.logit_lens(text, model))

    @event_handler
    def refresh(text: str, model: str, temperature: float, top_k: float, top_p: float, layer: float, head: float,
                token: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        if not (text or "").strip():
            return ("Type some text: the model predicts the token that comes after it.", *[gr.skip()] * 11)
        try:
            traced = inside.trace(text, model, progress_callback(progress))
        except InvalidInputError as error:  # an encoder: the architecture tab still shows it
            return (f"⚠️ {error}", *[gr.skip()] * 11)
        parts = inside.view(model).parts
        notice = (f"**{traced.model}** · {parts.num_layers} layers x {parts.num_heads} heads "
                  f"({parts.num_kv_heads} key/value heads) · {traced.num_tokens} tokens")
        if traced.truncated:
            notice += f" · ⚠️ the text has {traced.total_tokens:,} tokens: only the last {traced.num_tokens} are read."
        choices = [(f"{index} {plots.shown(label)}", index) for index, label in enumerate(traced.tokens)]
        query = traced.num_tokens - 1  # a new text (or model) starts again from the token that predicts next
        query_box = gr.Dropdown(choices=choices, value=query)
        return (notice, bounded_slider(layer, parts.num_layers - 1), bounded_slider(head, parts.num_heads - 1),
                query_box, show_distribution(text, model, temperature, top_k, top_p),
                *panel(show_head, text, model, layer, head, query, count=3),
                panel(show_lens, text, model), panel(show_attribution, text, model, token),
                bounded_slider(layer, parts.num_layers - 1),
                gr.Dropdown(choices=["the whole layer", *(f"head {h}" for h in range(parts.num_heads))]))

    @event_handler
    def grow(text: str, model: str, temperature: float, top_k: float, top_p: float, greedy: bool) -> tuple[str, str]:
        seed = random.randrange(2**31)
        picked = inside.sample(text, model, 0.0 if greedy else temperature, int(top_k), top_p, seed)
        how = "the top token" if greedy else f"a draw (seed {seed})"
        return picked["new_text"], f"Appended {plots.shown(picked['text'])!r}: {how}."

    @event_handler
    def show_ablation(text: str, model: str, layer: float, what: str) -> Any:
        if not (text or "").strip():
            return gr.skip()
        head = None if what == "the whole layer" else int(what.removeprefix("head "))
        return plots.ablation_figure(inside.ablate(text, model, int(layer), head))

    @event_handler
    def run_sweep(text: str, model: str, token: str, progress: gr.Progress = gr.Progress()) -> Any:
        result = inside.sweep(text, model, (token or "").strip("\n") or None, progress_callback(progress))
        return plots.sweep_figure(result)

    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text (the model predicts what comes next; every view follows as you type)",
                              value=DEFAULT_TEXT, lines=2, max_lines=6, elem_id="inside-text")
            model = gr.Dropdown(list(EMBEDDED_MODELS), value=DEFAULT_CAUSAL_MODEL, allow_custom_value=True,
                                label="Model (a causal one for the step-by-step views; any for the architecture)",
                                elem_id="inside-model")
        with gr.Column(scale=2):
            gr.Markdown("How **one next token** is computed, with the loaded model's own tensors: the "
                        "architecture, the distribution sampling draws from, one attention head step by step, "
                        "what each layer would predict, and which heads write the answer.")
    notice = gr.Markdown(elem_id="inside-notice")
    with gr.Tabs():
        with gr.Tab("Architecture"):
            note("architecture")
            diagram_plot = gr.Plot(show_label=False, elem_id="inside-diagram")
            card_text = gr.Markdown(elem_id="inside-card")
        with gr.Tab("Next token"):
            note("next_token")
            with gr.Row():
                temperature = gr.Slider(0, 2, value=1.0, step=0.05, label="Temperature (0 = greedy)")
                top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k (0 = off)")
                top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="Top-p (1 = off)")
            with gr.Row():
                sample_button = gr.Button("Sample one", elem_id="inside-sample")
                top_button = gr.Button("Append the top token", elem_id="inside-append")
                grown = gr.Markdown()
            distribution_plot = gr.Plot(show_label=False, elem_id="inside-dist-plot")
        with gr.Tab("One head, step by step"):
            note("head")
            with gr.Row():
                layer = gr.Slider(0, 29, value=0, step=1, label="Layer", elem_id="inside-layer")
                head = gr.Slider(0, 8, value=0, step=1, label="Head", elem_id="inside-head")
                query = gr.Dropdown([], value=None, label="Query token (defaults to the last)", elem_id="inside-query")
            head_text = gr.Markdown(elem_id="inside-head-text")
            head_plot = gr.Plot(show_label=False, elem_id="inside-head-plot")
            vectors_plot = gr.Plot(show_label=False)
        with gr.Tab("Logit lens"):
            note("logit_lens")
            lens_plot = gr.Plot(show_label=False, elem_id="inside-lens-plot")
        with gr.Tab("Attribution and ablation"):
            note("attribution")
            token = gr.Textbox(label="Token to explain (empty = the top prediction; one token, e.g. ' Berlin')",
                               elem_id="inside-token")
            attribution_plot = gr.Plot(show_label=False, elem_id="inside-attr-plot")
            with gr.Row():
                ablate_layer = gr.Slider(0, 29, value=0, step=1, label="Knock out in layer")
                ablate_what = gr.Dropdown(["the whole layer", *(f"head {h}" for h in range(9))],
                                          value="head 0", label="Knock out")
                ablate_button = gr.Button("Knock it out", elem_id="inside-ablate")
            ablation_plot = gr.Plot(show_label=False, elem_id="inside-ablation-plot")
            sweep_button = gr.Button("Sweep: knock out every head and every layer in turn (slow)",
                                     elem_id="inside-sweep")
            gr.Markdown(SWEEP_NOTE)
            sweep_plot = gr.Plot(show_label=False, elem_id="inside-sweep-plot")

    sampling = [temperature, top_k, top_p]
    everything = dict(fn=refresh, inputs=[text, model, *sampling, layer, head, token],
                      outputs=[notice, layer, head, query, distribution_plot, head_plot, vectors_plot, head_text,
                               lens_plot, attribution_plot, ablate_layer, ablate_what],
                      api_visibility="undocumented", show_progress="minimal", **QUEUE)
    # one listener for every trigger, so "always_last" orders them: a refresh for the text typed just before a
    # model switch, or the page load's own, can no longer finish after the new model's and overwrite it (with
    # separate listeners, the load's SmolLM2 notice replaced a model chosen in the first seconds)
    gr.on([app.load, text.change, model.change], trigger_mode="always_last", **everything)
    gr.on([app.load, model.change], fn=show_card, inputs=model, outputs=[diagram_plot, card_text],
          trigger_mode="always_last", api_visibility="undocumented", **QUEUE)
    for control in sampling:
        control.change(show_distribution, [text, model, *sampling], distribution_plot, trigger_mode="always_last",
                       api_visibility="undocumented", show_progress="hidden", **QUEUE)
    for control in (layer, head, query):
        control.change(show_head, [text, model, layer, head, query], [head_plot, vectors_plot, head_text],
                       trigger_mode="always_last", api_visibility="undocumented", show_progress="hidden", **QUEUE)
    token.submit(show_attribution, [text, model, token], attribution_plot, api_visibility="undocumented", **QUEUE)
    sample_button.click(lambda *a: grow(*a, False), [text, model, *sampling], [text, grown],
                        api_visibility="undocumented", **QUEUE)
    top_button.click(lambda *a: grow(*a, True), [text, model, *sampling], [text, grown],
                     api_visibility="undocumented", **QUEUE)
    ablate_button.click(show_ablation, [text, model, ablate_layer, ablate_what], ablation_plot,
                        api_visibility="undocumented", **QUEUE)
    sweep_button.click(run_sweep, [text, model, token], sweep_plot, api_visibility="undocumented", **QUEUE)

    @event_handler
    def model_card(model: str) -> dict:
        """Architecture and parameter counts (per component, bytes too) of any model: causal, encoder or
        encoder-decoder."""
        return inside.model_card(model)

    @event_handler
    def next_token(text: str, model: str, temperature: float, top_k: int, top_p: float) -> dict:
        """The 20 most likely next tokens, before and after temperature, top-k and top-p, with the cut-off."""
        return inside.next_token(text, model, temperature, top_k, top_p)

    @event_handler
    def attention_math(text: str, model: str, layer: int, head: int, query: int) -> dict:
        """One head for one query token (-1: the last): q, keys, values, scores, mask, weights, output."""
        return inside.attention_math(text, model, layer, head, None if query == -1 else query)

    @event_handler
    def logit_lens(text: str, model: str) -> dict:
        """What every layer would predict at the last 24 positions, and the probability of the final answer."""
        return inside.logit_lens(text, model)

    @event_handler
    def head_attribution(text: str, model: str, token: str) -> dict:
        """Each head's direct contribution to ``token``'s logit (empty: the top prediction), plus the rest."""
        return inside.head_attribution(text, model, token or None)

    @event_handler
    def ablate(text: str, model: str, layer: int | None, head: int | None) -> dict:
        """The next-token distribution with one head zeroed, a whole layer skipped (head None) or nothing."""
        return inside.ablate(text, model, layer, head)

    for fn in (model_card, next_token, attention_math, logit_lens, head_attribution, ablate):
        gr.api(fn, api_name=fn.__name__, **QUEUE)
