"""Prompt lab endpoints: plain data for ``gradio_client``, notebooks and tests."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from playground.core.errors import InvalidInputError
from playground.core.iterutil import last
from playground.generation.sampling import DEFAULT_REPETITION_PENALTY, SamplingSettings
from playground.generation.side_by_side import Variant, compare
from playground.prompting import techniques as prompts
from playground.prompting.evaluation import EvalRequest, run_evaluation
from playground.prompting.lab import PromptRequest, api_request, final_text, run_prompt
from playground.workspace import Workspace
from tabs.shared.common import event_handler
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE


def request_of(prompt: str, model: str, max_new_tokens: int, temperature: float, top_p: float, seed: int,
               technique: str, stop: list | None, repetition_penalty: float) -> PromptRequest:
    """An endpoint's plain arguments as the lab's request (validated there, as the page's are)."""
    settings = SamplingSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                seed=seed, repetition_penalty=repetition_penalty)
    return api_request(prompt, model, settings, technique or "", stop)


def register_generation_api(ws: Workspace) -> None:
    """``/generate`` and ``/generate_tokens``: the page's "Generate" (playground.prompting.lab) as plain data."""
    engine = ws.generation

    @event_handler
    def generate(prompt: str, model: str, max_new_tokens: int, temperature: float, top_p: float, seed: int,
                 technique: str = "", stop: list | None = None,
                 repetition_penalty: float = DEFAULT_REPETITION_PENALTY) -> Iterator[str]:
        """Stream the completion of `prompt` (the model's chat template applied); the last value is the
        whole completion. temperature 0 = greedy. Optional, as on the page: `technique` (a name from
        /prompt_techniques: `prompt` becomes its input; self-consistency streams, then returns the
        majority answer), `stop` strings (None: the technique's own) and `repetition_penalty` (1 = off)."""
        request = request_of(prompt, model, max_new_tokens, temperature, top_p, seed, technique, stop,
                             repetition_penalty)
        for state in run_prompt(engine, request):
            yield final_text(state)

    @event_handler
    def generate_tokens(prompt: str, model: str, max_new_tokens: int, temperature: float, top_p: float, seed: int,
                        technique: str = "", stop: list | None = None,
                        repetition_penalty: float = DEFAULT_REPETITION_PENALTY) -> dict:
        """Like /generate, but the finished result with every token's probability, entropy (bits)
        and top-5 alternatives, plus timings; for self-consistency {answer, answers, temperature, paths}."""
        request = request_of(prompt, model, max_new_tokens, temperature, top_p, seed, technique, stop,
                             repetition_penalty)
        final = last(run_prompt(engine, request))
        return final.to_dict() if final is not None else {}

    queue = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
    gr.api(generate, api_name="generate", **queue)
    gr.api(generate_tokens, api_name="generate_tokens", **queue)


def register_api(ws: Workspace) -> None:
    engine = ws.generation
    register_generation_api(ws)

    @event_handler
    def compare_prompts(prompts_list: list, model: str, max_new_tokens: int) -> list:
        """Run 1-4 prompts together (greedy): a list of {prompt, output, tokens_in, tokens_out,
        seconds, first_token_seconds, tokens_per_second, finish_reason, error}."""
        if not isinstance(prompts_list, list) or not all(isinstance(p, str) for p in prompts_list):
            raise InvalidInputError("prompts must be a list of strings.")
        settings = SamplingSettings(max_new_tokens=max_new_tokens)
        final = last(compare(engine, [Variant(p, model) for p in prompts_list], settings))
        return [run.to_dict() for run in final.runs] if final else []

    @event_handler
    def prompt_techniques() -> list:
        """The template library: name, title, description, template, system, samples."""
        return [{"name": t.name, "title": t.title, "description": t.description, "template": t.template,
                 "system": t.system, "samples": t.samples} for t in prompts.techniques().values()]

    @event_handler
    def render_prompt(technique: str, task: str, input: str) -> dict:  # noqa: A002 - the API's word
        """A technique's prompt for one input of a shipped task (sentiment, arithmetic, extraction)."""
        rendered = prompts.prompt_for(technique, task, input)
        return {"prompt": rendered.prompt, "system": rendered.system, "stop": list(rendered.stop)}

    @event_handler
    def evaluate_prompts(task: str, techniques: list, model: str, limit: int) -> dict:
        """Score techniques on the first `limit` items of a shipped task: accuracy, 95% interval,
        tokens, seconds, and every answer."""
        final = last(run_evaluation(engine, EvalRequest(model, task, list(techniques), max(1, int(limit)))))
        return final.run.to_dict() if final else {}

    queue = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
    gr.api(compare_prompts, api_name="compare_prompts", **queue)
    gr.api(evaluate_prompts, api_name="evaluate_prompts", **queue)
    gr.api(prompt_techniques, api_name="prompt_techniques")
    gr.api(render_prompt, api_name="render_prompt")
