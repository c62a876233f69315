"""The Prompt lab's "Generate": one rendered prompt run as its technique asks (one stream, or
self-consistency's paths and vote). The page and the ``/generate`` endpoints both call :func:`run_prompt`,
so what a learner sees on the page is what the API returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from playground.core.errors import InvalidInputError
from playground.core.progress import ProgressFn
from playground.generation.engine import EMPTY_PROMPT, GenerationEngine
from playground.generation.request import Generation
from playground.generation.sampling import DEFAULT_REPETITION_PENALTY, SamplingSettings
from playground.prompting import techniques as prompts
from playground.prompting.self_consistency import PathsState, self_consistency
from playground.prompting.techniques import RenderedPrompt, Task, Technique

CUSTOM_TASK = "custom"
CUSTOM = Task(name=CUSTOM_TASK, title="Custom", description="Your own instruction and input",
              instruction="Answer the question.", input_label="Input", output_label="Answer",
              answer="text", file="", sample="Why is the sky blue?",
              repetition_penalty=DEFAULT_REPETITION_PENALTY)
"""Open-ended text: the penalty stays on, since SmolLM2-135M loops under greedy decoding."""
AS_WRITTEN = Technique(name="", title="As written", description="The prompt exactly as typed", template="{{input}}")
"""What ``/generate`` runs without a technique: the prompt itself, one path."""


def task_or_custom(name: str | None) -> Task:
    """A shipped task by name; empty or ``custom`` is the user's own open-ended task."""
    return CUSTOM if not name or name == CUSTOM_TASK else prompts.task(name)


@dataclass(frozen=True)
class PromptRequest:
    """One prompt to run: what is sent, how it is sampled, and the technique that decides how many paths."""

    model: str
    rendered: RenderedPrompt
    settings: SamplingSettings
    technique: Technique = AS_WRITTEN
    task: Task = CUSTOM
    chat: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError("Choose a model.")
        if not self.rendered.prompt.strip():
            raise InvalidInputError(EMPTY_PROMPT)


def api_request(prompt: str, model: str, settings: SamplingSettings, technique: str = "",
                stop: Sequence[str] | None = None) -> PromptRequest:
    """An endpoint's request: ``prompt`` is the input of ``technique``'s template (as the page's custom task
    fills it; empty: the prompt as written); ``stop`` (None: the technique's own) ends the answer."""
    chosen = prompts.technique(technique) if technique else AS_WRITTEN
    rendered = (prompts.render(chosen, CUSTOM.variables(prompt or "")) if technique
                else RenderedPrompt(prompt or ""))  # as typed: not even stripped
    stops = rendered.stop if stop is None else tuple(stop)
    return PromptRequest(model, rendered, replace(settings, stop=stops), chosen, CUSTOM)


def run_prompt(engine: GenerationEngine, request: PromptRequest,
               progress: ProgressFn | None = None) -> Iterator[Generation | PathsState]:
    """Stream the growing generation, or for a technique with several samples the paths, then the vote."""
    if request.technique.samples > 1:
        yield from self_consistency(engine, request.model, request.rendered, request.settings, request.technique,
                                    request.task, request.chat)
        return
    yield from engine.stream(request.model, request.rendered.prompt, request.settings,
                             system=request.rendered.system or None, chat=request.chat, progress=progress)


def final_text(state: Generation | PathsState) -> str:
    """What an endpoint returns as text: the completion, or self-consistency's majority answer."""
    if isinstance(state, PathsState):
        return "" if state.vote is None or state.vote.answer is None else str(state.vote.answer)
    return state.text
