"""Helpers every tab uses: turning library errors into page messages, progress, asset files."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import tempfile
from collections.abc import Callable, Collection
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from playground.core.errors import PlaygroundError, first_line, is_out_of_memory
from playground.core.openmp import release_openmp_workers
from playground.core.paths import ASSETS
from playground.core.progress import ProgressFn

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def as_user_error(error: BaseException) -> gr.Error:
    """A ``gr.Error`` with a message a user can act on; never a stack trace."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, PlaygroundError):
        return gr.Error(str(error))
    if is_out_of_memory(error):
        return gr.Error("Out of memory: try a shorter input or a smaller model. The app is still running.")
    log.exception("unexpected error in a handler")
    return gr.Error(f"Unexpected error ({first_line(error, with_type=True)}). The app is still running.")


def friendly_errors(fn: F) -> F:
    """Wrap a handler (function or generator) so every failure reaches the page or the API as ``gr.Error``.

    ``functools.wraps`` keeps the signature and type hints that ``gr.api`` reads.
    """
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every error becomes a message
                raise as_user_error(error) from error

        return generator_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            raise as_user_error(error) from error

    return wrapper  # type: ignore[return-value]


def frees_openmp_workers(fn: F) -> F:
    """Free the calling thread's OpenMP workers when ``fn`` returns, fails or its stream ends: Gradio keeps
    idle handler threads for a while, and their pools would slow the model threads' decoding
    (:mod:`playground.core.openmp`)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            finally:
                release_openmp_workers()

        return generator_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            release_openmp_workers()

    return wrapper  # type: ignore[return-value]


def event_handler(fn: F) -> F:
    """What every page and API handler is wrapped in: its failures become messages (:func:`friendly_errors`)
    and its thread's OpenMP workers are freed when it is done (:func:`frees_openmp_workers`)."""
    return frees_openmp_workers(friendly_errors(fn))


def widgets_for(form: Any, settings: Collection[str]) -> dict[str, Any]:
    """A form's widgets (a dataclass of components) by the setting each edits, in the form's order: the form
    names each widget after its config field, so a run's settings map onto the page and back."""
    return {field.name: getattr(form, field.name) for field in fields(form) if field.name in settings}


def uploaded_path(item: Any) -> str | None:
    """The server-side path of an uploaded file, whether Gradio hands over a path or a FileData dict."""
    if item is None:
        return None
    path = item.get("path") if isinstance(item, dict) else getattr(item, "path", item)
    return str(path) if path else None


def uploaded_name(item: Any) -> str:
    """The name the user's file had on their machine (Gradio stores uploads under other names)."""
    original = item.get("orig_name") if isinstance(item, dict) else getattr(item, "orig_name", None)
    return original or Path(str(uploaded_path(item))).name


def progress_callback(progress: gr.Progress | None) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda fraction, message: progress(fraction, desc=message)


def read_asset(*parts: str) -> str:
    return ASSETS.joinpath(*parts).read_text(encoding="utf-8")


LATEX = [{"left": "$$", "right": "$$", "display": True}]


def teaching_note(tab: str, name: str) -> None:
    """A closed "How it works" accordion with ``assets/notes/<tab>/<name>.md`` (formulas between $$)."""
    with gr.Accordion("How it works", open=False):
        gr.Markdown(read_asset("notes", tab, f"{name}.md"), latex_delimiters=LATEX)


def split_names(text: str | None) -> list[str]:
    """'gpt2, bert-base-uncased' -> ['gpt2', 'bert-base-uncased'] (blanks and repeats dropped)."""
    names: list[str] = []
    for part in (text or "").replace("\n", ",").split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return names


def export_file(data: dict[str, Any] | None, stem: str) -> str:
    """A JSON file for the user to download (Gradio serves it from its own cache)."""
    if not data:
        raise gr.Error("Nothing to export yet: run something first.")
    folder = Path(tempfile.mkdtemp(prefix="playground-export-"))
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return str(path)


def wire_export(button: gr.Button, state: gr.State, target: gr.File, stem: str) -> None:
    """A button that turns the JSON in ``state`` into a downloadable ``<stem>.json`` in ``target``."""
    button.click(event_handler(lambda data: gr.File(export_file(data, stem), visible=True)), state, target,
                 api_visibility="undocumented")


def owner_of(request: gr.Request | None) -> str:
    """Whose per-session state (a RAG index, the tools' search): the browser session, or the API client's."""
    return getattr(request, "session_hash", None) or "anonymous"
