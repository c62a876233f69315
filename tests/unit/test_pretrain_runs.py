"""Issue 36: pre-training runs through the fine-tuning runner (config validation, the worker entry point, Stop,
Resume, the saved model loaded by other tabs) and the scaling fit read back from run folders."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from playground.core.errors import InvalidInputError
from playground.core.settings import Settings
from playground.finetune.events import append_event
from playground.finetune.progress import probe_rows
from playground.finetune.runner import JobRunner
from playground.pretrain.config import PretrainConfig
from playground.pretrain.lab import PretrainLab
from playground.pretrain.scaling import ScalingLaw
from playground.pretrain.sweep import SweepConfig

TINY = dict(layers=1, width=32, heads=2, context=32, vocab_size=512, steps=30, batch_size=8, eval_every=15,
            eval_sequences=8, sample_tokens=6, learning_rate=1e-2)


@pytest.mark.parametrize("settings, message", [
    ({"family": "encoder", "objective": "clm"}, "encoder family trains with 'mlm'"),
    ({"family": "gpt"}, "Model family must be one of"),
    ({"width": 65}, "does not split into 2 heads"),
    ({"layers": 0}, "Layers must be a whole number"),
    ({"steps": 0}, "Steps must be a whole number"),
    ({"learning_rate": 0}, "Learning rate must be above 0"),
    ({"corpus": "text"}, "corpus is 'text' but text is empty"),
    ({"corpus": "wiki"}, "corpus must be 'shakespeare'"),
    ({"text": "hello"}, "set corpus to 'text'"),
    ({"vocab_size": 100}, "vocab_size must be from 512"),
    ({"tokenizer": ""}, "tokenizer must be 'bpe'"),
    ({"epochs": 3}, "Unknown setting"),
    ({"run_name": "a b"}, "run_name may use"),
    ({"kind": "finetune"}, "has kind 'pretrain'"),
])
def test_bad_configs_are_refused_with_a_clear_message(settings, message):
    with pytest.raises(InvalidInputError, match=message):
        PretrainConfig.from_dict(settings)


def test_the_objective_defaults_to_the_family_and_the_text_is_kept_beside_the_config(tmp_path):
    assert PretrainConfig(family="encoder-decoder").objective == "span"
    config = PretrainConfig(corpus="text", text="some words\n" * 100)
    config.save(tmp_path / "config.json")
    assert "some words" not in (tmp_path / "config.json").read_text() and config.to_dict()["text_chars"] == 1100
    assert PretrainConfig.load(tmp_path / "config.json") == config


@pytest.mark.parametrize("settings, message", [
    ({"sizes": []}, "sizes must be a non-empty list"),
    ({"sizes": [{"layers": 2, "width": 30, "heads": 4}]}, r"sizes\[0\]: Width 30"),
    ({"sizes": [{"depth": 2}]}, r"sizes\[0\] must be an object"),
    ({"budgets": [0]}, r"budgets\[0\] must be above 0"),
    ({"budgets": [1e16]}, "steps in all; at most"),
])
def test_bad_sweeps_are_refused(settings, message):
    with pytest.raises(InvalidInputError, match=message):
        SweepConfig.from_dict(settings)


def test_a_sweep_plans_iso_flop_groups():
    plan = SweepConfig().plan()
    assert len(plan) == 12 and {p.budget for p in plan} == {1e11, 3e11, 1e12}
    for point in plan:
        assert point.steps >= 5 and math.isclose(point.flops, point.budget, rel_tol=0.15)
    assert plan[0].steps > plan[3].steps  # the smallest model trains longest on the same budget


@pytest.fixture
def lab(tmp_path) -> PretrainLab:
    return PretrainLab(JobRunner(tmp_path / "runs"), Settings(cache_dir=tmp_path / "cache"))


def test_a_tiny_run_trains_in_its_own_process_and_saves_a_loadable_model(lab, tmp_path):
    run_id = lab.start(dict(TINY, run_name="tiny"))
    summary = lab.runner.wait(run_id, 120)
    assert summary.status == "finished", summary.message
    assert summary.step == summary.max_steps == 30 and [s for s, _ in summary.eval_losses] == [0, 15, 30]
    assert summary.eval_losses[-1][1] < summary.eval_losses[0][1] - 0.5  # ln(512) = 6.2 at random
    assert probe_rows(summary)[0][1] == "ROMEO:↵"  # the sample table the pages share: newlines drawn
    assert lab.runs()[0].run_id == run_id and lab.runner.config(run_id)["objective"] == "clm"
    folder = lab.runner.trained_folder(run_id)
    assert folder.name == "model" and (folder / "tokenizer.json").is_file()

    from playground.attention import AttentionExplorer
    from playground.generation.engine import GenerationEngine
    from playground.generation.sampling import SamplingSettings
    from playground.internals.inspector import ModelInspector
    from playground.models.store import ModelStore
    from playground.text.analysis import TokenizerRegistry

    store = ModelStore(Settings(cache_dir=tmp_path / "cache"))
    tokenizers = TokenizerRegistry(store)
    tokens = tokenizers.tokenize("ROMEO: What light", str(folder))
    assert tokens.num_tokens > 0
    following = ModelInspector(store, tokenizers).next_token("ROMEO:", str(folder))
    assert following["num_tokens"] > 0 and following["tokens"][0]["prob"] > 0
    maps = AttentionExplorer(store, tokenizers).compute("ROMEO: What light", str(folder))
    assert maps.num_layers == 1 and maps.num_tokens == tokens.num_tokens
    np.testing.assert_allclose(maps.head(0, 0).sum(-1), 1.0, atol=1e-5)  # each row a distribution
    written = GenerationEngine(store).generate(str(folder), "ROMEO:", SamplingSettings(max_new_tokens=4),
                                               chat=False)  # the Prompt lab's path; no chat template here
    assert written.error is None and written.tokens_out == 4
    assert [point["params"] for point in lab.points([run_id])] == [summary_params(lab, run_id)]


def summary_params(lab: PretrainLab, run_id: str) -> int:
    from playground.finetune.events import read_events

    return next(e["non_embedding"] for e in read_events(lab.runner.run_dir(run_id)) if e["event"] == "model")


def test_stop_saves_the_model_and_a_checkpoint_and_resume_continues(lab):
    run_id = lab.start(dict(TINY, steps=400, eval_every=400))
    deadline = time.monotonic() + 90
    while not lab.runner.status(run_id).losses and time.monotonic() < deadline:
        time.sleep(0.2)
    lab.runner.cancel(run_id)
    stopped = lab.runner.wait(run_id, 60)
    assert stopped.status == "cancelled" and f"Resume continues from step {stopped.step}." in stopped.message
    assert (lab.runner.run_dir(run_id) / "model" / "config.json").is_file()
    lab.runner.resume(run_id)
    assert lab.runner.status(run_id).status == "queued"  # the old "cancelled" is not what the page reads now
    with pytest.raises(InvalidInputError, match="already running"):
        lab.start(TINY)
    lab.runner.cancel(run_id)
    again = lab.runner.wait(run_id, 60)
    assert again.status == "cancelled" and again.step >= stopped.step
    assert [step for step, _ in again.losses] == list(range(1, again.step + 1))  # continued from the checkpoint


def write_points(folder: Path, law: ScalingLaw) -> None:
    """A finished sweep's folder whose points follow ``law`` exactly."""
    folder.mkdir(parents=True)
    SweepConfig().save(folder / "config.json")
    for index, (params, tokens) in enumerate((n, d) for n in (2e4, 5e4, 1e5, 3e5) for d in (1e4, 1e5, 1e6)):
        append_event(folder, "point", index=index, params=params, tokens=tokens, flops=6 * params * tokens,
                     eval_loss=law.loss(params, tokens), budget=None)
    append_event(folder, "finished", message="done")


def test_the_scaling_fit_reads_run_folders_and_recovers_a_known_law(lab):
    truth = ScalingLaw(E=2.0, A=50.0, B=80.0, alpha=0.4, beta=0.35)
    run_id = "20261206-120000-sweep"
    write_points(lab.runner.runs_dir / run_id, truth)
    fit = lab.fit([run_id], 1e13)
    assert fit["alpha"] == pytest.approx(0.4, abs=0.05) and fit["E"] == pytest.approx(2.0, abs=0.1)
    assert len(fit["points"]) == 12 and fit["chinchilla"]["alpha"] == 0.34 and fit["frontier"]
    best = fit["recommended"]
    assert best["budget_flops"] == 1e13 and best["params"] * best["tokens"] * 6 == pytest.approx(1e13)
    assert "orders of magnitude" in fit["scale_gap"]
    with pytest.raises(InvalidInputError, match="not a run id"):
        lab.fit(["../etc"])
    with pytest.raises(InvalidInputError, match="Name the runs"):
        lab.fit([])


def test_objective_views_and_sizes_for_the_page(lab):
    views = lab.objectives("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer")
    assert [view["objective"] for view in views] == ["clm", "mlm", "span"]
    assert views[2]["counts"]["spans"] >= 1
    assert lab.objectives("", "mlm")[0]["objective"] == "mlm"
    with pytest.raises(InvalidInputError, match="Objective must be"):
        lab.objectives("some text here", "gan")
    with pytest.raises(InvalidInputError, match="at least 8"):
        lab.objectives("hi")
    counted = lab.size_info("decoder", 2, 64, 2, 64, 2048)
    assert counted["non_embedding"] == 100_096 and counted["flops_per_token"] == 6 * 100_096


def test_a_tiny_sweep_trains_every_point_in_one_worker(lab):
    sizes = [{"layers": 1, "width": 16, "heads": 2}, {"layers": 1, "width": 32, "heads": 2}]
    run_id = lab.start_sweep({"sizes": sizes, "budgets": [3e7, 1e8, 3e8], "context": 32, "batch_size": 4,
                              "vocab_size": 512, "eval_sequences": 4})
    summary = lab.runner.wait(run_id, 120)
    assert summary.status == "finished", summary.message
    assert summary.step == summary.max_steps == sum(p.steps for p in lab.sweep({"sizes": sizes, "budgets": [
        3e7, 1e8, 3e8], "context": 32, "batch_size": 4, "vocab_size": 512}).plan())
    points = lab.points([run_id])
    assert len(points) == 6 and all(point["loss"] > 0 for point in points)
    assert lab.is_sweep(run_id) and "6 of 6 points" in summary.message


MEASURED = [  # the default sweep as measured here (params, tokens, held-out loss): the smallest size wins each budget
    (25472, 65536, 6.03), (56640, 29184, 6.131), (100096, 16896, 6.19), (233680, 7168, 6.64),
    (25472, 196096, 5.406), (56640, 88064, 5.729), (100096, 50176, 6.01), (233680, 21504, 6.13),
    (25472, 654336, 4.8), (56640, 294400, 5.026), (100096, 166400, 5.307), (233680, 71168, 5.782)]


def test_a_fit_whose_best_size_sits_at_the_edge_says_so():
    from playground.pretrain.results import scaling_fit

    points = [{"params": n, "tokens": d, "flops": 6 * n * d, "loss": loss} for n, d, loss in MEASURED]
    fit = scaling_fit(points)
    assert {p["params"] for p in fit["frontier"]} == {25472} and len(fit["frontier"]) == 3
    assert any("smallest size is the best for every budget" in warning for warning in fit["warnings"])
    assert fit["recommended"]["budget_flops"] == pytest.approx(10 * max(6 * n * d for n, d, _ in MEASURED))


def test_a_stopped_sweep_resumes_from_its_next_unfinished_point(lab):
    from playground.finetune.events import read_events

    sizes = [{"layers": 1, "width": 16, "heads": 2}, {"layers": 1, "width": 32, "heads": 2}]
    settings = {"sizes": sizes, "budgets": [3e7, 3e8], "context": 32, "batch_size": 4, "vocab_size": 512,
                "eval_sequences": 4}
    run_id = lab.start_sweep(settings)
    folder = lab.runner.run_dir(run_id)
    deadline = time.monotonic() + 90
    while not any(e["event"] == "point" for e in read_events(folder)) and time.monotonic() < deadline:
        time.sleep(0.1)
    lab.runner.cancel(run_id)
    stopped = lab.runner.wait(run_id, 60)
    if stopped.status == "cancelled":  # else it finished before the STOP file was seen: nothing to resume
        assert "Resume continues" in stopped.message
        lab.runner.resume(run_id)
        assert lab.runner.wait(run_id, 90).status == "finished"
    indexes = [e["index"] for e in read_events(folder) if e["event"] == "point"]
    assert sorted(indexes) == [0, 1, 2, 3]  # each point trained once


def test_each_tab_lists_its_own_kind_of_run_and_a_broken_config_fails_no_list(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    configs = {"20260101-000003-sweep": '{"kind": "pretrain_sweep"}', "20260101-000002-pre": '{"kind": "pretrain"}',
               "20260101-000001-tuned": '{"method": "lora"}', "20260101-000000-broken": '{"kind": '}
    for run_id, text in configs.items():
        (runner.runs_dir / run_id).mkdir(parents=True)
        (runner.runs_dir / run_id / "config.json").write_text(text, encoding="utf-8")
    assert [r.run_id for r in runner.runs_where(pretraining=True)] == ["20260101-000003-sweep", "20260101-000002-pre"]
    assert [r.run_id for r in runner.runs_where(pretraining=False)] == ["20260101-000001-tuned",
                                                                         "20260101-000000-broken"]
    broken = runner.status("20260101-000000-broken")  # listed, saying what is wrong, instead of failing the list
    assert broken.status == "failed" and "Could not read the config" in broken.message
    lab = PretrainLab(runner, Settings(cache_dir=tmp_path / "cache"))
    assert [r.run_id for r in lab.runs()] == ["20260101-000003-sweep", "20260101-000002-pre"]
