"""Training methods are registered once each; nothing else decides by a method's name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import ADAPTER_METHODS, METHODS, FinetuneConfig
from playground.finetune.method_registry import REGISTRY, TrainingMethod, register, training_method

ROOT = Path(__file__).resolve().parents[2]
NAME_TESTS = re.compile(r"\bmethod\s*(==|!=|in\s*\(|not in\s*\()")


def test_every_registered_method_has_a_builder_and_the_config_lists_them_all():
    assert METHODS == tuple(REGISTRY) == ("full", "lora", "qlora", "dpo", "distill", "reward", "reward_full", "grpo")
    assert ADAPTER_METHODS == ("lora", "qlora", "dpo", "reward", "grpo")
    for method in REGISTRY.values():
        assert callable(method.load()), method.builder
        rewards = [{"kind": "length", "max_chars": 80}] if method.data == "prompts" else []
        assert FinetuneConfig(method=method.name, rewards=rewards).training_method is method


def test_an_unknown_method_is_refused_with_the_known_ones_and_a_name_registers_once():
    with pytest.raises(InvalidInputError, match="Unknown method 'ppo': choose one of full, lora, qlora, dpo"):
        training_method("ppo")
    with pytest.raises(ValueError, match="registered twice"):
        register(TrainingMethod("lora", "again", "x:y", saves="adapter", trains="adapter"))


def test_no_code_outside_the_registry_tests_a_method_by_name():
    sources = [path for folder in ("playground/finetune", "tabs/finetune") for path in (ROOT / folder).rglob("*.py")
               if path.name != "method_registry.py"]
    found = [f"{path.relative_to(ROOT)}:{number}" for path in sources
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if NAME_TESTS.search(line)]
    assert found == []
