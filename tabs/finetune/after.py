"""After a run: the base and the fine-tuned model side by side, and the adapter exported."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import gradio as gr

from playground.finetune.adapters import push_trained, what, zip_trained
from playground.finetune.trained import TryRequest, chosen_run, merge_run, try_both
from playground.generation.side_by_side import Variant, VariantRun
from playground.workspace import Workspace
from tabs.shared import generation_view
from tabs.shared.common import event_handler

COLUMN_TITLES = ["Base model", "Fine-tuned"]


def try_columns(ws: Workspace, run_id: str | None, text: str) -> Iterator[str]:
    """Both columns as they grow, rendered, the second named by its run (the base model's name, shown there before,
    said nothing of which run answered); the library runs the pair in the base model's line."""
    for base, tuned in try_both(ws.finetune, ws.generation, ws.adapters, TryRequest(chosen_run(run_id), text)):
        runs = [VariantRun(Variant("base", base.model), base), VariantRun(Variant("fine-tuned", tuned.model), tuned)]
        yield generation_view.render_columns(runs, COLUMN_TITLES)


def download(ws: Workspace, run_id: str | None) -> gr.File:
    """What the run trained, zipped into a fresh temporary folder for the browser to fetch."""
    folder = ws.finetune.trained_folder(chosen_run(run_id))
    name = "adapter" if what(folder) == "LoRA adapter" else "model"
    archive = zip_trained(folder, Path(tempfile.mkdtemp(prefix="trained-")) / f"{run_id}-{name}")
    return gr.File(str(archive), visible=True, label=what(folder).capitalize())


def push(ws: Workspace, run_id: str | None, repo: str, secret: str) -> str:
    folder = ws.finetune.trained_folder(chosen_run(run_id))
    return f"Pushed the {what(folder)}: {push_trained(folder, repo.strip(), secret)}"


def build_after(ws: Workspace, run_choice: gr.Dropdown) -> None:
    with gr.Accordion("Try it: the base model and the fine-tuned one on the same prompt", open=False):
        with gr.Row():
            prompt = gr.Textbox("What is the capital of France?", label="Prompt", scale=4, elem_id="ft-try-prompt")
            try_button = gr.Button("Generate with both", scale=1, elem_id="ft-try")
        both = gr.HTML(elem_id="ft-try-output")
    with gr.Accordion("Export: download, merge, push to the Hugging Face Hub", open=False):
        gr.Markdown("LoRA, QLoRA and DPO runs export their adapter (a few MB; merge it to get plain weights); "
                    "full and distillation runs export their whole model.")
        with gr.Row():
            download_button = gr.Button("Download what the run trained (.zip)")
            merge_button = gr.Button("Merge the adapter into the base model and save")
        exported = gr.File(label="Trained weights", visible=False)
        merged = gr.Markdown()
        with gr.Row():
            repo_id = gr.Textbox(label="Hub repository (you/name)", placeholder="your-name/smollm2-pirate-lora")
            token = gr.Textbox(label="Hugging Face token (not stored; or set HF_TOKEN)", type="password")
            push_button = gr.Button("Push to the Hub")
        pushed = gr.Markdown()

    hidden = dict(api_visibility="undocumented")
    try_button.click(event_handler(partial(try_columns, ws)), [run_choice, prompt], both,
                     api_name="finetune_page_try", **hidden)
    download_button.click(event_handler(partial(download, ws)), run_choice, exported, **hidden)
    merge_button.click(event_handler(partial(merge_run, ws.finetune, ws.adapters)), run_choice, merged, **hidden)
    push_button.click(event_handler(partial(push, ws)), [run_choice, repo_id, token], pushed, **hidden)

