"""After a run: the base and the fine-tuned model side by side, and the adapter exported."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from playground.finetune.adapters import merge, push_adapter, zip_adapter
from playground.finetune.config import FinetuneConfig
from playground.generation.engine import Generation, decode_with
from playground.generation.sampling import SamplingSettings
from playground.generation.side_by_side import Variant, VariantRun
from playground.workspace import Workspace
from tabs.shared import generation_view
from tabs.shared.common import friendly_errors


def build_after(ws: Workspace, run_choice: gr.Dropdown) -> None:
    with gr.Accordion("Try it: the base model and the fine-tuned one on the same prompt", open=False):
        with gr.Row():
            prompt = gr.Textbox("What is the capital of France?", label="Prompt", scale=4, elem_id="ft-try-prompt")
            try_button = gr.Button("Generate with both", scale=1, elem_id="ft-try")
        both = gr.HTML(elem_id="ft-try-output")
    with gr.Accordion("Export: download, merge, push to the Hugging Face Hub", open=False):
        with gr.Row():
            download_button = gr.Button("Download the adapter (.zip)")
            merge_button = gr.Button("Merge into the base model and save")
        exported = gr.File(label="Adapter", visible=False)
        merged = gr.Markdown()
        with gr.Row():
            repo_id = gr.Textbox(label="Hub repository (you/name)", placeholder="your-name/smollm2-pirate-lora")
            token = gr.Textbox(label="Hugging Face token (not stored; or set HF_TOKEN)", type="password")
            push_button = gr.Button("Push the adapter")
        pushed = gr.Markdown()

    def adapter_of(run_id: str | None) -> tuple[FinetuneConfig, Path]:
        if not run_id:
            raise gr.Error("Choose a run first.")
        folder = ws.finetune.run_dir(run_id)
        return FinetuneConfig.load(folder / "config.json"), folder / "adapter"

    @friendly_errors
    def try_both(run_id: str | None, text: str) -> Iterator[str]:
        config, adapter = adapter_of(run_id)
        tuned = ws.adapters.model(config.base_model, adapter)
        prepared = ws.generation.prepare(config.base_model, text, 64)
        settings = SamplingSettings(max_new_tokens=64)
        runs = []
        for label, stream in (("base", ws.generation.stream(config.base_model, text, settings)),
                              ("fine-tuned", decode_with(tuned, ws.generation.load(config.base_model)[1],
                                                         Generation(f"{run_id}", prepared, settings)))):
            run = VariantRun(Variant(label, config.base_model))
            runs.append(run)
            for generation in stream:
                run.generation = generation
                yield generation_view.render_columns(runs, ["Base model", "Fine-tuned"][:len(runs)])

    @friendly_errors
    def download(run_id: str | None) -> gr.File:
        _, adapter = adapter_of(run_id)
        archive = zip_adapter(adapter, Path(tempfile.mkdtemp(prefix="adapter-")) / f"{run_id}-adapter")
        return gr.File(str(archive), visible=True)

    @friendly_errors
    def merge_run(run_id: str | None) -> str:
        config, adapter = adapter_of(run_id)
        destination = merge(ws.store, config.base_model, adapter, adapter.parent / "merged")
        return (f"Merged weights saved in `{destination}`: load them like any model (the Prompt lab takes the "
                "folder as a model name).")

    @friendly_errors
    def push(run_id: str | None, repo: str, secret: str) -> str:
        if not run_id:
            raise gr.Error("Choose a run first.")
        return f"Pushed: {push_adapter(ws.finetune.adapter(run_id), repo.strip(), secret)}"

    hidden = dict(api_visibility="undocumented")
    try_button.click(try_both, [run_choice, prompt], both, api_name="finetune_page_try", **hidden)
    download_button.click(download, run_choice, exported, **hidden)
    merge_button.click(merge_run, run_choice, merged, **hidden)
    push_button.click(push, [run_choice, repo_id, token], pushed, **hidden)

