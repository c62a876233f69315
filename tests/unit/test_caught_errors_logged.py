"""Every exception the engine catches reaches the server log at the place it is caught.

A failure in the decode path becomes a message in one student's browser; without a log line an operator
never learns of a real bug (a shape mismatch, a client handed the wrong type). This reads the code of
playground/generation: each handler that catches Exception (or anything broader) logs or re-raises.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

GENERATION = Path(__file__).resolve().parents[2] / "playground" / "generation"
LOG_CALLS = {"exception", "error", "warning", "info", "debug"}


def broad(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return handler.type is None or any(isinstance(name, ast.Name) and name.id in ("Exception", "BaseException")
                                       for name in names)


def logs_or_raises(handler: ast.ExceptHandler) -> bool:
    for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_CALLS:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "log_failure":
            return True
    return False


def test_no_broad_handler_in_the_engine_swallows_an_exception_without_a_log_line():
    silent = [f"{path.name}:{handler.lineno}" for path in sorted(GENERATION.glob("*.py"))
              for handler in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
              if isinstance(handler, ast.ExceptHandler) and broad(handler) and not logs_or_raises(handler)]
    assert silent == []


def test_the_check_sees_a_silent_handler():
    code = "try:\n    pass\nexcept Exception as error:\n    failed = error\n"
    handler = next(node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.ExceptHandler))
    assert broad(handler) and not logs_or_raises(handler)


def test_a_failing_draw_is_logged_with_its_traceback_and_fails_only_its_row(caplog):
    import torch

    from playground.generation.choosing import choose_tokens
    from playground.generation.sampling import SamplingSettings

    class Row:
        def __init__(self, rng) -> None:
            self.settings, self.rng, self.penalized = SamplingSettings(temperature=1.0), rng, [1]

    rows = [Row(torch.Generator().manual_seed(0)), Row("not a generator")]  # the second row's draw raises
    with caplog.at_level(logging.INFO, logger="playground.generation.choosing"):
        picks = choose_tokens(torch.randn(2, 50), rows)
    assert isinstance(picks[0], tuple) and isinstance(picks[1], Exception)
    failures = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info is not None


@pytest.mark.parametrize("doing", ["listing its models"])
def test_an_unreachable_endpoint_is_one_warning_line_in_the_log(caplog, doing):
    from playground.generation.endpoints import Endpoint, list_models

    endpoint = Endpoint("local", "http://127.0.0.1:9/v1")
    with caplog.at_level(logging.WARNING, logger="playground.generation.endpoints"):
        listing = list_models(endpoint)
    assert listing["error"] and "could not be reached" in listing["error"]
    record = next(record for record in caplog.records if doing in record.getMessage())
    assert record.levelno == logging.WARNING and record.exc_info is None  # the server's side: one line
