"""A finished run shared by many users: its model loaded once, merged once, chatted with in line."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest

from playground.finetune.adapters import AdapterModels, side_by_side
from playground.finetune.config import FinetuneConfig
from playground.finetune.runner import JobRunner
from playground.models.store import ModelStore

pytestmark = pytest.mark.slow
MODEL = "smollm2-135m-instruct"
RUN = "20261123-101500-shared"


class CountingStore:
    """The real store (its loaded models and tokenizers), counting the private model copies it
    loads: each adapter load or merge takes one."""

    def __init__(self, store: ModelStore) -> None:
        self._store = store
        self.private_loads = 0
        self._count = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def private_causal_lm(self, name: str, **kwargs):
        with self._count:
            self.private_loads += 1
        return self._store.private_causal_lm(name, **kwargs)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, workspace) -> Path:
    """A run folder with a real (untrained) LoRA adapter on the embedded model, as a worker leaves it."""
    from peft import LoraConfig, get_peft_model

    runs = tmp_path_factory.mktemp("runs")
    folder = runs / RUN
    folder.mkdir()
    FinetuneConfig(base_model=MODEL, run_name="shared").save(folder / "config.json")
    model = get_peft_model(workspace.store.private_causal_lm(MODEL),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(str(folder / "adapter"))
    return runs


@pytest.fixture
def ws(workspace, runs):
    """The session's workspace (its models, engine and queues) with this module's runs and a counting store."""
    store = CountingStore(workspace.store)
    return dataclasses.replace(workspace, finetune=JobRunner(runs), adapters=AdapterModels(store))


def in_threads(count: int, target) -> list:
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = target()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    return results


def columns(*pair) -> str:
    """What each column says when the pair is yielded (the stream grows the same objects): waiting in line for
    a model, or its tokens in and out."""
    return " | ".join(f"Waiting for {g.model}" if g.queue_position else f"{g.tokens_in} tokens in, {g.tokens_out} out"
                      for g in pair)


def test_two_users_asking_for_a_runs_model_load_it_once(ws, runs):
    adapter = runs / RUN / "adapter"
    models = in_threads(2, lambda: ws.adapters.model(MODEL, adapter))
    assert models[0] is models[1] and ws.adapters.store.private_loads == 1
    assert ws.adapters.model(MODEL, adapter) is models[0] and ws.adapters.store.private_loads == 1


def test_concurrent_merges_of_one_run_make_one_complete_folder(ws, runs):
    from transformers import AutoModelForCausalLM

    from playground.finetune.trained import merge_run

    messages = in_threads(2, lambda: merge_run(ws.finetune, ws.adapters, RUN))
    merged = runs / RUN / "merged"
    assert all(str(merged) in message for message in messages)
    assert ws.adapters.store.private_loads == 1  # the second merge found the first one's folder
    assert (merged / "config.json").is_file() and (merged / "model.safetensors").is_file()
    assert (merged / "tokenizer_config.json").is_file()
    assert [path.name for path in (runs / RUN).iterdir() if path.name.startswith(".")] == []  # no temp leftovers
    loaded = AutoModelForCausalLM.from_pretrained(str(merged))
    assert loaded.config.num_hidden_layers == ws.store.config(MODEL).num_hidden_layers


def test_base_and_fine_tuned_chat_waits_in_the_models_line(ws):
    from playground.finetune.trained import TryRequest, try_both

    gate = ws.generation.gate(MODEL)
    ws.adapters.model(MODEL, ws.finetune.run_dir(RUN) / "adapter")  # loaded before the line fills
    held = [gate.join() for _ in range(gate.limit)]  # every place taken: the fine-tuned column must wait
    seen: list[str] = []
    request = TryRequest(RUN, "What is the capital of France?", max_new_tokens=6)
    worker = threading.Thread(target=lambda: seen.extend(
        columns(*pair) for pair in try_both(ws.finetune, ws.generation, ws.adapters, request)))
    try:
        worker.start()
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen and f"Waiting for {RUN}" in seen[0] and gate.busy[1] == 1  # in line
    finally:
        for ticket in held:
            gate.leave(ticket)
    worker.join(timeout=300)
    assert seen[-1].count("tokens in") == 2 and "Waiting for" not in seen[-1]  # both columns answered
    assert gate.busy == (0, 0)  # and the place was given back


def test_the_fine_tuned_column_decodes_only_holding_a_place(ws):
    from playground.generation.sampling import SamplingSettings

    gate = ws.generation.gate(MODEL)
    tuned = ws.adapters.model(MODEL, ws.finetune.run_dir(RUN) / "adapter")
    steps, pair = [], None
    for pair in side_by_side(ws.generation, tuned, MODEL, "Name a colour.", SamplingSettings(max_new_tokens=6)):
        steps.append((len(pair[1].tokens), pair[1].done, gate.busy[0]))
    assert pair is not None and pair[0].done and pair[1].done and steps[-1][0] >= 1
    decoding = [running for tokens, done, running in steps if tokens and not done]
    assert decoding and all(running >= 1 for running in decoding)
    assert gate.busy == (0, 0)
