"""What the app remembers of the What-causes-it tab, on the embedded model: a repeated patching sweep or
salience request (a class following the teacher's example) is answered without running the model, with the
same numbers; a measurement (``remember`` off, the default) always runs it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from playground.internals import patching, salience
from playground.internals.inspector import ModelInspector

MODEL = "smollm2-135m-instruct"


@contextmanager
def block_runs(inspector) -> Iterator[list[int]]:
    """Counts the passes through the model's first block while open (every forward of these views runs it)."""
    calls: list[int] = []
    handle = inspector.view(MODEL).parts.blocks[0].register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()


@pytest.fixture
def inside(workspace) -> ModelInspector:
    """An inspector of its own on the shared models: nothing remembered yet, whatever the app's served."""
    return ModelInspector(workspace.store, workspace.tokenizers)


def test_a_repeated_sweep_is_remembered_and_shared_with_attribution_patching(inside):
    clean, corrupted, answer, wrong = patching.EXAMPLE
    request = patching.PatchRequest(clean, corrupted, MODEL, answer, wrong, "heads")
    first = patching.patch(inside, request, remember=True)
    with block_runs(inside) as runs:
        again = patching.patch(inside, request, remember=True)
        assert not runs and again.effects == first.effects
        both = patching.attribution_patching(inside, request, remember=True)
        assert len(runs) == 1 and both.exact_effects == first.effects  # the estimate's one forward, no sweep
        assert patching.attribution_patching(inside, request, remember=True).effects == both.effects
        assert len(runs) == 1
        again.effects[0][0] = 99.0  # a caller's rows are its own
        assert patching.patch(inside, request, remember=True).effects == first.effects
        measured = patching.patch(inside, request)
        assert len(runs) > 1
        np.testing.assert_allclose(measured.effects, first.effects, atol=1e-6)


def test_a_repeated_salience_request_gets_the_finished_result_at_once(inside):
    request = salience.SalienceRequest("The capital of France is Paris. The capital of Germany is", MODEL, "", 8)
    streamed = list(salience.salience_progress(inside, request, remember=True))
    assert [result.ig_steps_done for result in streamed] == [4, 8]
    with block_runs(inside) as runs:
        assert list(salience.salience_progress(inside, request, remember=True)) == [streamed[-1]]
        assert not runs
        fewer = list(salience.salience_progress(inside, salience.SalienceRequest(request.text, MODEL, "", 4),
                                                remember=True))
        assert runs and [result.ig_steps_done for result in fewer] == [4]  # other steps: computed
        runs.clear()
        assert [r.ig_steps_done for r in salience.salience_progress(inside, request)] == [4, 8] and runs
