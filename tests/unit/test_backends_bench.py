"""The batching-backends benchmark on a small workload: the measurement the GPU check relies on to choose
between the engine and transformers' manager must run, and its claims about the manager must hold."""

from __future__ import annotations

from bench.backends_bench import PENALTY, Workload, choice, equal_rows, markdown, measure

WORK = Workload(prompts=("Write two sentences about the sea.", "List three colours."), new_tokens=16)


def test_equal_rows_ignores_a_trailing_end_of_sequence() -> None:
    assert equal_rows([[5, 6, 2], [7]], [[5, 6], [8]], eos=2) == 1
    assert equal_rows([[5, 2, 6]], [[5, 6]], eos=2) == 0


def test_both_backends_on_the_same_prompts(workspace) -> None:
    figures = measure(workspace, repeat=1, work=WORK)
    assert figures["rows"] == 2 and figures["device"] == "cpu"
    assert figures["engine tokens/s (no alternatives)"] > 0 and figures["manager tokens/s"] > 0
    # greedy, no penalty: transformers' manager writes the engine's tokens
    assert figures["rows equal to the engine's"] == 2
    # the penalty changes the engine's answers but not the manager's: it drops the processor
    assert figures[f"engine rows changed by penalty {PENALTY}"] >= 1
    assert figures[f"manager rows changed by penalty {PENALTY}"] == 0
    text = markdown(figures, "test machine")
    assert "| transformers' `ContinuousBatchingManager` |" in text and "2/2" in text


def test_choice_follows_the_measured_ratio() -> None:
    assert "engine is also the faster backend (the manager at 0.24x)" in choice(0.24)
    assert "manager is 1.80x the engine's speed" in choice(1.8)
