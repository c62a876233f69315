"""After a run: the base and the fine-tuned model side by side, and the adapter exported."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from playground.finetune.adapters import push_trained, side_by_side, what, zip_trained
from playground.finetune.config import FinetuneConfig
from playground.generation.sampling import SamplingSettings
from playground.generation.side_by_side import Variant, VariantRun
from playground.workspace import Workspace
from tabs.shared import generation_view
from tabs.shared.common import event_handler

TRY_TOKENS = 64
COLUMN_TITLES = ["Base model", "Fine-tuned"]


def adapter_of(ws: Workspace, run_id: str | None) -> tuple[FinetuneConfig, Path]:
    if not run_id:
        raise gr.Error("Choose a run first.")
    folder = ws.finetune.run_dir(run_id)
    return FinetuneConfig.load(folder / "config.json"), folder / "adapter"


def tuned_model(ws: Workspace, run_id: str | None) -> tuple[FinetuneConfig, object]:
    """The run's trained model: base + adapter (LoRA, QLoRA, DPO), or its whole saved weights (full, distill)."""
    config, adapter = adapter_of(ws, run_id)
    if config.training_method.saves == "adapter":
        return config, ws.adapters.model(config.base_model, adapter)
    whole = adapter.parent / "model"
    if not (whole / "config.json").is_file():
        raise gr.Error(f"Run {run_id} has no saved model yet: it is saved when the run finishes or is stopped.")
    return config, ws.generation.load(str(whole))[0]


def try_both(ws: Workspace, run_id: str | None, text: str, max_new_tokens: int = TRY_TOKENS) -> Iterator[str]:
    """Both columns as they grow; the pair waits in the base model's line like any generation."""
    config, tuned = tuned_model(ws, run_id)
    settings = SamplingSettings(max_new_tokens=max_new_tokens)
    runs = [VariantRun(Variant("base", config.base_model)), VariantRun(Variant("fine-tuned", config.base_model))]
    for pair in side_by_side(ws.generation, tuned, config.base_model, text, settings, label=str(run_id)):
        for run, generation in zip(runs, pair, strict=True):
            run.generation = generation
        yield generation_view.render_columns(runs, COLUMN_TITLES)


def merge_run(ws: Workspace, run_id: str | None) -> str:
    """Merge once per saved adapter, into ``merged/`` beside it (published whole, one merge at a time); a
    run that trained whole weights says there is nothing to merge and where its model is."""
    config, _ = adapter_of(ws, run_id)
    adapter = ws.finetune.adapter(str(run_id))
    destination = ws.adapters.merge(config.base_model, adapter, adapter.parent / "merged")
    return (f"Merged weights saved in `{destination}`: load them like any model (the Prompt lab takes the "
            "folder as a model name).")


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

    @event_handler
    def try_run(run_id: str | None, text: str) -> Iterator[str]:
        yield from try_both(ws, run_id, text)

    @event_handler
    def download(run_id: str | None) -> gr.File:
        if not run_id:
            raise gr.Error("Choose a run first.")
        folder = ws.finetune.trained_folder(run_id)
        name = "adapter" if what(folder) == "LoRA adapter" else "model"
        archive = zip_trained(folder, Path(tempfile.mkdtemp(prefix="trained-")) / f"{run_id}-{name}")
        return gr.File(str(archive), visible=True, label=what(folder).capitalize())

    @event_handler
    def merge(run_id: str | None) -> str:
        return merge_run(ws, run_id)

    @event_handler
    def push(run_id: str | None, repo: str, secret: str) -> str:
        if not run_id:
            raise gr.Error("Choose a run first.")
        folder = ws.finetune.trained_folder(run_id)
        return f"Pushed the {what(folder)}: {push_trained(folder, repo.strip(), secret)}"

    hidden = dict(api_visibility="undocumented")
    try_button.click(try_run, [run_choice, prompt], both, api_name="finetune_page_try", **hidden)
    download_button.click(download, run_choice, exported, **hidden)
    merge_button.click(merge, run_choice, merged, **hidden)
    push_button.click(push, [run_choice, repo_id, token], pushed, **hidden)

