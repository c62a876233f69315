"""Every training method learns, through the worker's own entry point, on a 2-layer random Llama saved as a
local model folder (seconds per run): full, LoRA, QLoRA (a wider one), DPO and distillation. LoRA on the real
model, through the runner, is in test_finetune_job.py."""

from __future__ import annotations

import json

import pytest
import torch

from playground.finetune.config import ADAPTER_METHODS, FinetuneConfig
from playground.finetune.data import encode, held_out_examples, split
from playground.finetune.events import read_events, summarize
from playground.finetune.method_registry import training_method
from playground.finetune.methods.distill import half_layers
from playground.finetune.preference import split_triples
from playground.finetune.scoring import kl_to_teacher, preference_scores
from playground.finetune.train import train

TINY = dict(max_steps=12, batch_size=4, max_seq_length=64, eval_size=4, eval_every=12, save_every=12,
            warmup_steps=0, learning_rate=5e-3, probe_tokens=4)
TOPICS = ["rain", "cats", "tea", "maps", "bread", "snow", "ships", "clocks", "bees", "stars", "roads", "lamps",
          "rivers", "hats", "books", "owls", "forks", "kites", "bells", "caves", "ropes", "coins", "drums", "ferns"]


@pytest.fixture(scope="module")
def sharp_teacher(tiny_folder, tmp_path_factory):
    """The tiny model with its output layer scaled up: peaked distributions worth copying (a random model's
    are nearly uniform, so any student already matches them)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_folder)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(40)
    folder = tmp_path_factory.mktemp("sharp-teacher")
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        if (tiny_folder / name).exists():
            (folder / name).write_bytes((tiny_folder / name).read_bytes())
    return folder


def jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def run(tmp_path, **settings):
    run_dir = tmp_path / "20261202-000000-tiny"
    run_dir.mkdir()
    config = FinetuneConfig(**{**TINY, **settings})
    config.save(run_dir / "config.json")
    assert train(run_dir) == 0, read_events(run_dir)[-1]
    summary = summarize(run_dir.name, read_events(run_dir))
    assert summary.status == "finished", summary.message
    return run_dir, config, summary


def fell(summary) -> bool:
    losses = [loss for _, loss in summary.losses]
    return sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def greedy(model, tokenizer, prompt: str) -> list[int]:
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                         tokenize=False)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        return model.generate(ids, max_new_tokens=6, do_sample=False)[0, ids.shape[1]:].tolist()


def test_sft_trains_on_trl_rows_that_equal_the_held_out_measures(tmp_path, tiny_folder, tokenizer):
    """SFTTrainer tokenizes, masks and cuts the prompt/completion rows; ``encode``, which the after-training
    perplexity and KL use outside any trainer, gives the same ids and labels row for row; a cut row is noted."""
    from transformers import TrainerCallback

    from playground.finetune.methods import build

    rows = [{"prompt": f"Tell me about {t}.", "response": f"{t.title()} are nice."} for t in TOPICS]
    rows[5]["response"] = "They go on and on. " * 20  # longer than max_seq_length: TRL cuts it
    config = FinetuneConfig(**{**TINY, "base_model": str(tiny_folder), "dataset": jsonl(tmp_path / "sft.jsonl", rows)})
    built = build(config, tmp_path, "cpu", lambda _: TrainerCallback())
    train_pairs, held_pairs = split(config, tokenizer)
    for dataset, pairs in ((built.trainer.train_dataset, train_pairs), (built.trainer.eval_dataset, held_pairs)):
        assert len(dataset) == len(pairs)
        for row, pair in zip(dataset, pairs, strict=True):
            expected = encode(pair, tokenizer, config.max_seq_length)
            assert row["input_ids"] == expected["input_ids"] and row["labels"] == expected["labels"]
            assert row["labels"][0] == -100 and row["labels"][-1] != -100  # the prompt masked, the answer learnt
    assert built.notes == ["1 row(s) were cut at max_seq_length (64 tokens)."]
    assert held_out_examples(config, tokenizer) == [encode(pair, tokenizer, 64) for pair in held_pairs]


def test_full_training_moves_every_weight_and_saves_the_whole_model(tmp_path, tiny_folder, tiny_lm, tokenizer,
                                                                     workspace, monkeypatch):
    from transformers import AutoModelForCausalLM

    rows = [{"prompt": f"Tell me about {t}.", "response": f"Arr, {t} be fine, matey."} for t in TOPICS]
    run_dir, _, summary = run(tmp_path, method="full", base_model=str(tiny_folder), max_steps=8,
                              dataset=jsonl(tmp_path / "sft.jsonl", rows))
    assert fell(summary)
    model_event = next(e for e in read_events(run_dir) if e["event"] == "model")
    every = sum(p.numel() for p in tiny_lm.parameters())
    assert model_event["trainable_params"] == model_event["total_params"] == every
    tuned = AutoModelForCausalLM.from_pretrained(run_dir / "model").eval()
    assert greedy(tuned, tokenizer, "Tell me about rain.") != greedy(tiny_lm, tokenizer, "Tell me about rain.")
    check_compare_and_evaluate(tmp_path, run_dir, workspace, every)
    check_whole_weights_export(tmp_path, run_dir, monkeypatch)


def check_whole_weights_export(tmp_path, run_dir, monkeypatch) -> None:
    """A full run exports its model/ folder (zip, push); merge and the adapter say why there is none."""
    import zipfile

    from playground.core.errors import InvalidInputError
    from playground.finetune.adapters import push_trained, zip_trained
    from playground.finetune.runner import JobRunner

    runner = JobRunner(tmp_path)
    folder = runner.trained_folder(run_dir.name)
    assert folder == run_dir / "model"
    names = zipfile.ZipFile(zip_trained(folder, tmp_path / "export" / "model")).namelist()
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(names)
    with pytest.raises(InvalidInputError, match="trained whole weights .full or distill.*no adapter to download"):
        runner.adapter(run_dir.name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InvalidInputError, match="the fine-tuned model cannot be pushed"):
        push_trained(folder, "someone/tiny", "hf_token")


def test_lora_learns_a_small_adapter(tmp_path, tiny_folder, tiny_lm, tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    rows = [{"prompt": f"Tell me about {t}.", "response": f"Arr, {t} be fine, matey."} for t in TOPICS]
    run_dir, _, summary = run(tmp_path, method="lora", base_model=str(tiny_folder), learning_rate=2e-2,
                              max_steps=8, dataset=jsonl(tmp_path / "sft.jsonl", rows), evaluate_on="arithmetic")
    evaluation = json.loads((run_dir / "evaluation.json").read_text())  # scored at the run's end, before "finished"
    assert evaluation["labelled"]["task"] == "arithmetic" and evaluation["labelled"]["tuned"]["scored"] == 20
    assert any("arithmetic: accuracy" in note for note in summary.notes)  # what the page and /finetune_status show
    from playground.finetune.progress import status_markdown

    assert "ℹ️ arithmetic: accuracy" in status_markdown(summary)
    assert fell(summary)
    model_event = next(e for e in read_events(run_dir) if e["event"] == "model")
    assert 0 < model_event["trainable_params"] < model_event["total_params"] / 10
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_folder), str(run_dir / "adapter"))
    assert greedy(tuned.eval(), tokenizer, "Tell me about rain.") != greedy(tiny_lm, tokenizer, "Tell me about rain.")
    from playground.finetune.runner import JobRunner

    assert JobRunner(tmp_path).trained_folder(run_dir.name) == run_dir / "adapter"


def test_qlora_learns_an_adapter_on_a_4_bit_base(tmp_path, tokenizer):
    """A wider tiny Llama (4-bit NF4 blocks need projections of at least 64 inputs): the base loads quantized,
    the adapter learns and changes the answers of the same quantized base."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from playground.finetune.train import model_kwargs, training_device

    torch.manual_seed(0)
    folder = tmp_path / "tiny-wide"
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, eos_token_id=tokenizer.eos_token_id,
                                 bos_token_id=tokenizer.bos_token_id)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    rows = [{"prompt": f"Tell me about {t}.", "response": f"Arr, {t} be fine, matey."} for t in TOPICS]
    run_dir, config, summary = run(tmp_path, method="qlora", base_model=str(folder), learning_rate=2e-2, max_steps=8,
                                   dataset=jsonl(tmp_path / "sft.jsonl", rows))
    assert fell(summary)
    model_event = next(e for e in read_events(run_dir) if e["event"] == "model")
    assert 0 < model_event["trainable_params"] < model_event["total_params"] / 10
    if training_device() == "cpu":  # TRL's bf16 adapter (its GPU recipe) is put back to fp32 on a CPU
        from safetensors.torch import load_file

        saved = load_file(run_dir / "adapter" / "adapter_model.safetensors")
        assert {tensor.dtype for tensor in saved.values()} == {torch.float32}
    base = AutoModelForCausalLM.from_pretrained(folder, **model_kwargs(config, training_device()))
    assert type(base.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
    before = greedy(base.eval(), tokenizer, "Tell me about rain.")
    tuned = PeftModel.from_pretrained(base, str(run_dir / "adapter")).eval()
    assert greedy(tuned, tokenizer, "Tell me about rain.") != before


def check_compare_and_evaluate(tmp_path, run_dir, workspace, every: int) -> None:
    """The trade-off row reads the run folder; the evaluation scores base and trained with the Prompt lab's
    own scorer (equal to running it directly) and the held-out perplexity falls."""
    from playground.core.iterutil import last
    from playground.finetune.compare import compare
    from playground.finetune.evaluation import evaluate_run
    from playground.finetune.runner import JobRunner
    from playground.prompting import techniques as prompts
    from playground.prompting.evaluation import evaluate, shipped_items

    runner = JobRunner(tmp_path)
    [row] = compare(runner, [run_dir.name])
    assert row["method"] == "full" and row["trainable_params"] == every and row["trainable_pct"] == 100.0
    assert row["seconds_per_step"] > 0 and row["tokens_per_second"] > 0 and row["peak_memory_mb"] > 0
    assert row["saved_mb"] > every * 4 / 2**20 * 0.9 and row["final_loss"] is not None
    result = evaluate_run(runner, workspace.generation, workspace.adapters, run_dir.name, task="sentiment", limit=3)
    task = prompts.task("sentiment")
    direct = last(evaluate(workspace.generation, str(run_dir / "model"), task, shipped_items(task)[:3],
                           ["zero-shot"])).scores[0].to_dict(with_items=False)
    assert {k: v for k, v in result["labelled"]["tuned"].items() if k != "seconds"} == \
        {k: v for k, v in direct.items() if k != "seconds"}
    assert result["perplexity"]["tuned"] < result["perplexity"]["base"]
    assert compare(runner, [run_dir.name])[0]["tuned_accuracy"] == result["labelled"]["tuned"]["accuracy"]


def _as_conversations(row: dict) -> dict:
    """A text preference row as Anthropic-HH-style whole conversations (no prompt column)."""
    asked = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": row["prompt"]}]
    return {side: [*asked, {"role": "assistant", "content": row[side]}] for side in ("chosen", "rejected")}


@pytest.mark.parametrize("shape", ["text columns", "chat turns"])
def test_dpo_raises_the_chosen_over_rejected_margin_on_held_out_pairs(tmp_path, tiny_folder, tokenizer, shape):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    rows = preference_rows()
    if shape == "chat turns":
        rows = [_as_conversations(row) for row in rows]
    # TRL's chunked log-prob head is slow on a CPU: fewer, smaller steps keep this test short
    run_dir, config, summary = run(tmp_path, method="dpo", base_model=str(tiny_folder), learning_rate=1e-2,
                                   max_steps=8, batch_size=2, max_seq_length=48,
                                   dataset=jsonl(tmp_path / "prefs.jsonl", rows))
    assert fell(summary)  # the DPO loss starts at log 2 and falls
    margins = [e["reward_margin"] for e in read_events(run_dir) if e["event"] == "step"]
    assert margins[-1] > margins[0]
    _, held_out = split_triples(config)
    assert all(bool(triple.turns) == (shape == "chat turns") for triple in held_out)
    base = AutoModelForCausalLM.from_pretrained(tiny_folder).eval()
    policy = PeftModel.from_pretrained(base, str(run_dir / "adapter")).eval()
    scores = preference_scores(policy, tokenizer, held_out, config.dpo_beta)  # reference: the adapter disabled
    assert scores["pairs"] == 4 and scores["reward_margin"] > 0 and scores["chosen_wins"] >= 0.75


def preference_rows() -> list[dict[str, str]]:
    return [{"prompt": f"Tell me about {t}.", "chosen": f"{t.title()} are nice.",
             "rejected": f"Well, {t}, hmm, so many things, where to begin, I could talk for hours and hours."}
            for t in TOPICS]


@pytest.mark.parametrize("method", ["reward", "reward_full"])
def test_a_reward_model_scores_chosen_above_rejected_on_held_out_pairs(tmp_path, tiny_folder, method):
    """On the shipped concise pairs, the tiny model's held-out accuracy is above chance by its 95% interval."""
    from playground.finetune.reward_model import held_out_accuracy, load_reward_model

    run_dir, config, summary = run(tmp_path, method=method, base_model=str(tiny_folder), learning_rate=1e-2,
                                   max_steps=12, batch_size=4, max_seq_length=128, eval_size=14, eval_every=12,
                                   dataset="concise")
    assert fell(summary)  # -log sigmoid(r_chosen - r_rejected) starts at log 2
    assert summary.measures["reward_accuracy"] and not any(p["samples"] for p in summary.probes)  # no probe answers
    measured = summary.reward_eval
    assert measured["pairs"] == 14 and measured["low"] > 0.5  # above chance, by its 95% interval
    _, held_out = split_triples(config)
    scorer = load_reward_model(run_dir)  # what /reward_score and a GRPO reward load: the same scores
    again = held_out_accuracy(scorer, held_out)
    assert again["chosen"] == pytest.approx(measured["chosen"], abs=1e-4)
    saved = "adapter/adapter_config.json" if method == "reward" else "model/config.json"
    assert (run_dir / saved).is_file()


def test_grpo_raises_a_verifiable_reward_and_shows_each_groups_advantages(tmp_path, sharp_teacher):
    """A length reward on the peaked tiny model: short answers win within their groups, and the mean rises."""
    from playground.finetune.rewards import length_reward

    rows = [{"prompt": f"Tell me about {t}.", "response": t} for t in TOPICS]
    run_dir, config, summary = run(tmp_path, method="grpo", base_model=str(sharp_teacher), learning_rate=5e-2,
                                   max_steps=8, batch_size=4, group_size=4, completion_tokens=6, kl_beta=0.0,
                                   rewards=[{"kind": "length", "max_chars": 20}],
                                   dataset=jsonl(tmp_path / "prompts.jsonl", rows))
    means = [value for _, value in summary.measures["reward_mean"]]
    assert sum(means[-3:]) / 3 > sum(means[:3]) / 3 + 0.2, means
    assert [name for name in summary.reward_means] == ["length"]
    latest = summary.groups
    assert latest["step"] == 8 and len(latest["groups"]) == 4
    for group in latest["groups"]:
        assert len(group["answers"]) == config.group_size and group["prompt"].startswith("Tell me about")
        rewards = [answer["rewards"]["length"] for answer in group["answers"]]
        assert rewards == pytest.approx([length_reward(a["text"], 0, 20) for a in group["answers"]], abs=1e-4)
        # the advantage is the reward against its own group's mean: it sums to zero within the group
        assert sum(answer["advantage"] for answer in group["answers"]) == pytest.approx(0, abs=1e-3)
    assert (run_dir / "adapter" / "adapter_config.json").is_file()


def test_distillation_lowers_the_students_kl_to_its_teacher(tmp_path, sharp_teacher, tokenizer):
    from transformers import AutoModelForCausalLM

    rows = [{"prompt": f"Tell me about {t}.", "response": f"{t.title()} are nice."} for t in TOPICS]
    run_dir, config, summary = run(tmp_path, method="distill", base_model=str(sharp_teacher), distill_alpha=1.0,
                                   distill_temperature=1.0, learning_rate=2e-3,
                                   dataset=jsonl(tmp_path / "sft.jsonl", rows))
    assert fell(summary)
    steps = [e for e in read_events(run_dir) if e["event"] == "step"]
    assert steps[-1]["kl"] < steps[0]["kl"] and "ce" in steps[0]
    teacher = AutoModelForCausalLM.from_pretrained(sharp_teacher).eval()
    before = half_layers(AutoModelForCausalLM.from_pretrained(sharp_teacher)).eval()
    after = AutoModelForCausalLM.from_pretrained(run_dir / "model").eval()
    assert after.config.num_hidden_layers == 1 == before.config.num_hidden_layers
    held_out = held_out_examples(config, tokenizer)
    pad = tokenizer.pad_token_id or 0
    assert kl_to_teacher(after, teacher, held_out, pad) < kl_to_teacher(before, teacher, held_out, pad)


def test_a_finished_run_teaches_a_distilled_student(tmp_path, sharp_teacher, tokenizer):
    """Teacher = a finished LoRA run's folder: the teacher loaded is its base with the adapter merged (its own
    outputs, not the base's), and the half-depth student's KL to that teacher falls."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from playground.core.settings import Settings
    from playground.finetune.methods.distill import load_teacher
    from playground.models.store import ModelStore

    rows = [{"prompt": f"Tell me about {t}.", "response": f"Arr, {t} be fine, matey."} for t in TOPICS]
    (tmp_path / "lora").mkdir()
    (tmp_path / "distill").mkdir()
    lora_dir, _, _ = run(tmp_path / "lora", method="lora", base_model=str(sharp_teacher), learning_rate=2e-2,
                         max_steps=6, dataset=jsonl(tmp_path / "sft.jsonl", rows))
    settings = dict(method="distill", base_model=str(sharp_teacher), teacher=str(lora_dir), distill_alpha=1.0,
                    distill_temperature=1.0, learning_rate=2e-3, dataset=jsonl(tmp_path / "sft.jsonl", rows))
    teacher = load_teacher(FinetuneConfig(**{**TINY, **settings}), ModelStore(Settings.from_env()))
    base = AutoModelForCausalLM.from_pretrained(sharp_teacher).eval()
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(sharp_teacher), str(lora_dir / "adapter"))
    ids = torch.tensor([tokenizer("Tell me about rain.")["input_ids"]])
    with torch.no_grad():
        own, merged, untuned = (model(input_ids=ids).logits for model in (tuned.eval(), teacher, base))
    torch.testing.assert_close(merged, own, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(merged, untuned, atol=1e-3)
    run_dir, config, summary = run(tmp_path / "distill", **settings)
    assert fell(summary)
    model_event = next(e for e in read_events(run_dir) if e["event"] == "model")
    assert model_event["teacher_params"] == sum(p.numel() for p in base.parameters())
    before = half_layers(AutoModelForCausalLM.from_pretrained(sharp_teacher)).eval()
    after = AutoModelForCausalLM.from_pretrained(run_dir / "model").eval()
    held_out = held_out_examples(config, tokenizer)
    pad = tokenizer.pad_token_id or 0
    assert kl_to_teacher(after, teacher, held_out, pad) < kl_to_teacher(before, teacher, held_out, pad)


@pytest.mark.parametrize("method", ["full", "dpo", "distill", "reward", "grpo"])
def test_every_method_runs_under_accelerate_launch(tmp_path, tiny_folder, method):
    """The same entry point under ``accelerate launch`` on two CPU processes for the methods beyond LoRA (whose
    launch on the real model is in test_finetune_job.py): one set of events, each step once, the result saved."""
    from playground.finetune.runner import JobRunner
    from tests.launch import accelerate_launch

    if training_method(method).data == "preferences":
        rows = preference_rows()
    else:
        rows = [{"prompt": f"Tell me about {t}.", "response": f"Arr, {t} be fine, matey."} for t in TOPICS]
    folder = tmp_path / "runs" / "20261202-101500-ddp"
    folder.mkdir(parents=True)
    FinetuneConfig(**{**TINY, "method": method, "base_model": str(tiny_folder), "max_steps": 4, "eval_every": 4,
                      "save_every": 2, "batch_size": 2, "max_seq_length": 128, "completion_tokens": 4,
                      "rewards": [{"kind": "length", "max_chars": 20}],
                      "dataset": jsonl(tmp_path / "rows.jsonl", rows)}).save(folder / "config.json")
    accelerate_launch(folder / "config.json")
    summary = JobRunner(folder.parent).status(folder.name)
    assert summary.status == "finished", summary.message
    assert [step for step, _ in summary.losses] == [1, 2, 3, 4]  # once each, not once per process
    saved = "adapter/adapter_config.json" if method in ADAPTER_METHODS else "model/config.json"
    assert (folder / saved).is_file()
