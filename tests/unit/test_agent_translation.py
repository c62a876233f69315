"""The Tools and ReAct page's translation: steps drawn as Thought / Action / Observation (escaped), a step
still running, the finish line, and the evaluation's scores."""

from __future__ import annotations

from playground.agents.evaluation import AgentEvalRun
from playground.agents.react import AgentState, AgentStep
from tabs.prompt_lab.agent import eval_rows, scores_markdown, steps_html


def test_steps_show_as_they_happen_and_escape_the_models_text():
    state = AgentState([AgentStep("<b>hmm</b>", "calculator", {"expression": "2*3"})], turns=1)
    running = steps_html(state)
    assert "&lt;b&gt;hmm&lt;/b&gt;" in running and "calculator({&quot;expression&quot;: &quot;2*3&quot;})" in running
    assert "running…" in running and "Finish" not in running
    state.steps[0].observation = "6"
    state.answer, state.finish_reason = "It is 6.", "answer"
    done = steps_html(state)
    assert "<b>Observation</b> 6" in done and "It is 6." in done and "the model answered" in done
    assert "1 tool call(s)" in done


def test_a_run_without_calls_and_an_error_say_so():
    assert "(the model called no tool)" in steps_html(AgentState(answer="42", finish_reason="answer", turns=1))
    failed = steps_html(AgentState(finish_reason="error", error="The endpoint is down.", turns=1))
    assert "stopped by an error: The endpoint is down." in failed


def test_the_scores_compare_the_tool_with_the_model_alone():
    result = {"answer": "7006652", "read": "7006652", "correct": True, "tool_calls": 1, "finish_reason": "answer"}
    alone = {**result, "read": "65924", "correct": False, "tool_calls": 0}
    run = AgentEvalRun(2, [{"question": "What is 1234 * 5678?", "expected": "7006652", "with_tools": result,
                            "alone": alone}])
    text = scores_markdown(run)
    assert "**1 of 2 questions** (running…)" in text
    assert "With the calculator: **1/1** (100%" in text and "The model alone: **0/1** (0%" in text
    assert eval_rows(run) == [["What is 1234 * 5678?", "7006652", "7006652", "✔", 1, "65924", "✘"]]
