"""Base against fine-tuned internals on a tiny random Llama loaded from a folder (as any local base model):
an untrained adapter changes nothing; a changed one is read as base + adapter (checked against the merged
model's own forward and attribution); a shallower model compares only what is defined."""

from __future__ import annotations

import copy

import pytest
import torch

from playground.core.errors import InvalidInputError
from playground.finetune.adapters import AdapterModels
from playground.finetune.runner import JobRunner
from playground.internals import attribution, base_vs_tuned
from playground.internals.tracing import ModelView, trace
from tests.tuned_runs import save_run

TEXT = "The capital of France is Paris. The capital of Germany is"
UNTRAINED, NUDGED = "20261206-010000-untrained", "20261206-020000-nudged"


@pytest.fixture(scope="module")
def compare(tmp_path_factory, workspace, tiny_lm, tiny_folder):
    runs = tmp_path_factory.mktemp("runs")
    for run_id, nudge in ((UNTRAINED, False), (NUDGED, True)):
        save_run(runs, run_id, str(tiny_folder), tiny_lm, nudge)
    runner, adapters = JobRunner(runs), AdapterModels(workspace.store)

    def run(run_id: str, token: str = "", chat: bool = False) -> dict:
        request = base_vs_tuned.InternalsRequest(run_id, TEXT, token, chat)
        return base_vs_tuned.compare_run(workspace.inside, runner, workspace.generation, adapters, request).to_dict()
    run.adapters = adapters
    run.runner = runner
    return run


def test_an_untrained_adapter_shows_zero_difference(compare):
    result = compare(UNTRAINED)
    assert result["distribution"]["kl_bits"] == pytest.approx(0, abs=1e-6)
    assert not result["distribution"]["top_changed"]
    assert max(max(row) for row in result["lens_kl_bits"]) == pytest.approx(0, abs=1e-6)
    assert max(abs(v) for row in result["heads_difference"] for v in row) == pytest.approx(0, abs=1e-5)
    assert result["note"] is None and len(result["lens_kl_bits"]) == 3  # embeddings + 2 layers


def test_chat_reads_the_text_as_a_user_turn_and_predicts_the_answer(compare):
    raw, chat = compare(NUDGED), compare(NUDGED, chat=True)
    assert raw["tokens"][0] == "The" and "<|im_start|>" not in raw["tokens"]
    shown = "".join(chat["tokens"])  # token labels mark spaces · and newlines ↵
    assert chat["tokens"][0] == "<|im_start|>" and shown.endswith("<|im_start|>user↵" + TEXT.replace(" ", "·")
                                                                 + "<|im_end|>↵<|im_start|>assistant↵")
    assert chat["distribution"]["kl_bits"] != raw["distribution"]["kl_bits"]


def test_a_changed_adapter_is_read_as_base_plus_adapter(compare, tiny_folder, workspace):
    result = compare(NUDGED)
    assert result["distribution"]["kl_bits"] > 0
    assert result["lens_kl_bits"][0] == pytest.approx([0] * len(result["lens_positions"]), abs=1e-6)  # embeddings
    assert max(result["lens_kl_bits"][-1]) > 0  # the adapter on q_proj / o_proj moves the layers' output
    peft_model = compare.adapters.model(str(tiny_folder), compare.runner.run_dir(NUDGED) / "adapter")
    merged = copy.deepcopy(peft_model).merge_and_unload()
    ids = workspace.inside.trace(TEXT, str(tiny_folder)).ids
    plain = trace(ModelView(merged, "merged"), list(ids), [""] * len(ids), len(ids))
    with torch.inference_mode():
        own = merged(input_ids=torch.tensor([ids])).logits[0, -1]
    torch.testing.assert_close(plain.logits, own, rtol=1e-4, atol=1e-4)
    expected = attribution.direct_attribution(ModelView(merged, "merged").parts, plain, result["token_id"])["heads"]
    torch.testing.assert_close(torch.tensor(result["heads_tuned"]), torch.tensor(expected), rtol=1e-4, atol=1e-4)
    difference = torch.tensor(result["heads_tuned"]) - torch.tensor(result["heads_base"])
    torch.testing.assert_close(torch.tensor(result["heads_difference"]), difference)
    assert {t["text"] for t in result["distribution"]["tokens"]} >= {result["distribution"]["top_base"],
                                                                     result["distribution"]["top_tuned"]}


def test_a_shallower_model_compares_its_distribution_and_says_why_not_the_layers(workspace, tiny_lm, tiny_folder):
    student = copy.deepcopy(tiny_lm)
    del student.model.layers[1]
    student.config.num_hidden_layers = 1
    request = base_vs_tuned.InternalsRequest("student", TEXT)
    result = base_vs_tuned.compare_internals(workspace.inside, str(tiny_folder), student, "student", request)
    assert result.lens_kl_bits is None and result.heads_difference is None and "1 layers x 4 heads" in result.note
    assert result.distribution["kl_bits"] > 0 and len(result.heads_tuned) == 1


def test_bad_requests_get_clear_messages(compare):
    with pytest.raises(InvalidInputError, match="Choose a run"):
        base_vs_tuned.InternalsRequest("", TEXT)
    with pytest.raises(InvalidInputError, match="Type some text"):
        base_vs_tuned.InternalsRequest(UNTRAINED, "  ")


def test_a_base_without_a_chat_template_is_told_to_read_the_raw_text(workspace, tiny_lm, tokenizer, tmp_path):
    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    tiny_lm.save_pretrained(tmp_path)
    plain.save_pretrained(tmp_path)
    with pytest.raises(InvalidInputError, match="no chat template.*raw text instead"):
        workspace.inside.as_user_turn(str(tmp_path), TEXT)
