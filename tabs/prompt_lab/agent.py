"""Tools and ReAct: a question answered by a loop of Thought / Action / Observation over the shipped tools
(playground.agents), each step drawn as it happens; and the calculator set scored with and without tools.
Layout, translation (keyed by component) and wiring.

Endpoints: ``/run_agent``, ``/evaluate_agent``.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.agents.evaluation import AgentEvalRequest, AgentEvalRun, evaluate_agent
from playground.agents.react import MAX_STEPS, AgentRequest, AgentState, arguments_text, run_agent
from playground.agents.session import session_context
from playground.agents.tools import TOOL_NAMES
from playground.core.iterutil import last
from playground.generation.engine import GenerationEngine
from playground.workspace import Workspace
from tabs.shared.common import event_handler, owner_of, read_asset
from tabs.shared.queues import GENERATION_CONCURRENCY, GENERATION_QUEUE

QUEUE = dict(concurrency_id=GENERATION_QUEUE, concurrency_limit=GENERATION_CONCURRENCY)
START = "What is 1234 * 5678?"
FINISH_WORDS = {"answer": "the model answered", "max_steps": "stopped at the step limit",
                "error": "stopped by an error"}


@dataclass(frozen=True)
class AgentView:
    lab_model: gr.Dropdown
    endpoints: gr.State
    question: gr.Textbox
    tools: gr.CheckboxGroup
    max_steps: gr.Slider
    run: gr.Button
    stop: gr.Button
    steps: gr.HTML
    prompt: gr.Textbox
    eval_limit: gr.Slider
    evaluate: gr.Button
    scores: gr.Markdown
    eval_items: gr.Dataframe


def request_from(view: AgentView, values: dict[Any, Any]) -> AgentRequest:
    return AgentRequest(values[view.question], values[view.lab_model], tuple(values[view.tools] or ()),
                        values[view.max_steps])


def steps_html(state: AgentState) -> str:
    """Each step as Thought / Action / Observation; the answer and why the loop stopped below them."""
    blocks = []
    for number, step in enumerate(state.steps, start=1):
        thought = (f'<div class="agent-thought"><b>Thought</b> {html.escape(step.thought)}</div>'
                   if step.thought else "")
        action = (f"<b>Action</b> <code>{html.escape(step.tool or 'unreadable call')}"
                  f"({html.escape(arguments_text(step.arguments))})</code>")
        observation = ("<i>running…</i>" if step.observation is None else html.escape(step.observation))
        blocks.append(f'<div class="agent-step"><b>Step {number}</b>{thought}<div>{action}</div>'
                      f"<div><b>Observation</b> {observation}</div></div>")
    if state.finish_reason is None:
        blocks.append(f"<div><i>the model is writing turn {state.turns}…</i></div>")
    else:
        if state.answer:
            blocks.append(f'<div class="agent-answer"><b>Answer</b> {html.escape(state.answer)}</div>')
        why = FINISH_WORDS.get(state.finish_reason, state.finish_reason)
        error = f": {html.escape(state.error)}" if state.error else ""
        calls = sum(step.tool is not None for step in state.steps)
        blocks.append(f"<div><b>Finish:</b> {why}{error} · {state.turns} model turn(s), {calls} tool call(s)"
                      f"{'' if calls else ' (the model called no tool)'}</div>")
    return "".join(blocks)


def run_outputs(ws: Workspace, view: AgentView, values: dict[Any, Any], owner: str) -> Iterator[dict[Any, Any]]:
    """The page's "Run": the request the widgets describe, run by the library, redrawn at every step."""
    engine = ws.generation.with_endpoints(values[view.endpoints])
    for state in run_agent(engine, request_from(view, values), session_context(ws.rag, owner)):
        yield {view.steps: steps_html(state), view.prompt: state.prompt}


def scores_markdown(run: AgentEvalRun) -> str:
    data = run.to_dict()
    lines = [f"**{len(run.items)} of {run.total} questions**" + ("" if data["done"] else " (running…)")]
    for key, title in (("with_tools", "With the calculator"), ("alone", "The model alone")):
        score = data[key]
        lines.append(f"- {title}: **{score['correct']}/{score['scored']}** ({score['accuracy']:.0%}, 95% interval "
                     f"{score['ci_low']:.0%}–{score['ci_high']:.0%}); a tool was called on {score['used_a_tool']}")
    return "\n".join(lines)


def eval_rows(run: AgentEvalRun) -> list[list[Any]]:
    mark = lambda result: "✔" if result["correct"] else "✘"  # noqa: E731 - short, local
    return [[item["question"], item["expected"], item["with_tools"]["read"], mark(item["with_tools"]),
             item["with_tools"]["tool_calls"], item["alone"]["read"], mark(item["alone"])] for item in run.items]


def evaluate_outputs(engine: GenerationEngine, view: AgentView, values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    engine = engine.with_endpoints(values[view.endpoints])
    request = AgentEvalRequest(values[view.lab_model], values[view.eval_limit], values[view.max_steps])
    for run in evaluate_agent(engine, request):
        yield {view.scores: scores_markdown(run), view.eval_items: eval_rows(run)}


def layout(lab_model: gr.Dropdown, endpoints: gr.State) -> AgentView:
    gr.Markdown(read_asset("notes", "agents.md"))
    question = gr.Textbox(START, label="Question", lines=2, elem_id="agent-question")
    with gr.Row():
        tools = gr.CheckboxGroup(list(TOOL_NAMES), value=list(TOOL_NAMES), label="Tools the model may call",
                                 elem_id="agent-tools", scale=3)
        max_steps = gr.Slider(1, MAX_STEPS, value=4, step=1, label="Step limit (model turns)",
                              elem_id="agent-steps", scale=1)
    with gr.Row():
        run = gr.Button("Run the agent", variant="primary", elem_id="agent-run")
        stop = gr.Button("Stop", elem_id="agent-stop")
    steps = gr.HTML(elem_id="agent-output")
    with gr.Accordion("What the model read at its last turn (chat template, tools included)", open=False):
        prompt = gr.Textbox(show_label=False, lines=10, max_lines=30, interactive=False, elem_id="agent-prompt")
    gr.Markdown("**Does the tool help?** The shipped calculator questions (4-digit multiplications), asked "
                "through the loop with the calculator and to the same model alone (the same loop, no tools).")
    with gr.Row():
        eval_limit = gr.Slider(1, 20, value=5, step=1, label="Questions", elem_id="agent-eval-limit")
        evaluate = gr.Button("Evaluate", elem_id="agent-evaluate")
    scores = gr.Markdown(elem_id="agent-scores")
    eval_items = gr.Dataframe(headers=["Question", "Expected", "With tools", "✔", "Tool calls", "Alone", "✔"],
                              interactive=False, wrap=True, elem_id="agent-eval-items")
    return AgentView(lab_model, endpoints, question, tools, max_steps, run, stop, steps, prompt, eval_limit,
                     evaluate, scores, eval_items)


def register_api(ws: Workspace) -> None:
    @event_handler
    def run_agent_api(question: str, model: str, tools: list[str] | None = None, max_steps: int = 4,
                      request: gr.Request = None) -> dict:  # type: ignore[assignment] - Gradio fills it
        """The ReAct loop over the named tools (all by default): `{steps: [{thought, tool, arguments,
        observation}], answer, finish_reason}`; finish_reason is answer, max_steps or error (with `error`)."""
        chosen = TOOL_NAMES if tools is None else tuple(tools)
        state = last(run_agent(ws.generation, AgentRequest(question, model, chosen, max_steps),
                               session_context(ws.rag, owner_of(request))))
        return state.to_dict() if state else {}

    @event_handler
    def evaluate_agent_api(model: str, limit: int = 20, max_steps: int = 3) -> dict:
        """The first `limit` shipped calculator questions through the loop with the calculator and alone:
        `{with_tools: {accuracy, correct, scored, ci_low, ci_high, used_a_tool}, alone: {...}, items}`."""
        run = last(evaluate_agent(ws.generation, AgentEvalRequest(model, limit, max_steps)))
        return run.to_dict() if run else {}

    gr.api(run_agent_api, api_name="run_agent", **QUEUE)
    gr.api(evaluate_agent_api, api_name="evaluate_agent", **QUEUE)


def build(ws: Workspace, lab_model: gr.Dropdown, endpoints: gr.State) -> None:
    view = layout(lab_model, endpoints)

    @event_handler
    def run_in_page(values: dict[Any, Any], request: gr.Request) -> Iterator[dict[Any, Any]]:
        yield from run_outputs(ws, view, values, owner_of(request))

    @event_handler
    def evaluate_in_page(values: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
        yield from evaluate_outputs(ws.generation, view, values)

    event = view.run.click(run_in_page, {view.lab_model, view.endpoints, view.question, view.tools, view.max_steps},
                           [view.steps, view.prompt], api_name="agent_page_run", api_visibility="undocumented",
                           show_progress="minimal", **QUEUE)
    evaluation = view.evaluate.click(evaluate_in_page, {view.lab_model, view.endpoints, view.eval_limit,
                                                        view.max_steps}, [view.scores, view.eval_items],
                                     api_name="agent_page_evaluate", api_visibility="undocumented",
                                     show_progress="minimal", **QUEUE)
    view.stop.click(None, cancels=[event, evaluation], api_visibility="undocumented")
    register_api(ws)
