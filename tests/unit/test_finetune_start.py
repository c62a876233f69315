"""Starting a job: the data is checked without holding the start lock, and not tokenized whole twice."""

from __future__ import annotations

import threading
import time

import pytest

from playground.core.errors import InvalidInputError
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import prepare, validate
from playground.finetune.runner import JobRunner

MODEL = "smollm2-135m-instruct"
LONG_PROMPT = "word " * 400


class CountingTokenizer:
    """The real tokenizer, counting the texts it tokenizes."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self.texts = 0

    def __getattr__(self, name: str):
        return getattr(self._tokenizer, name)

    def __call__(self, text, **kwargs):
        self.texts += 1 if isinstance(text, str) else len(text)
        return self._tokenizer(text, **kwargs)


def dataset(tmp_path, rows: int, long_line: bool = True, name: str = "data.jsonl") -> str:
    text = "".join(f'{{"prompt": "question {i}", "response": "answer {i}"}}\n' for i in range(rows))
    if long_line:
        text += f'{{"prompt": "{LONG_PROMPT}", "response": "too late"}}\n'
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def refusal(call) -> str:
    with pytest.raises(InvalidInputError) as caught:
        call()
    return str(caught.value)


def test_validation_says_what_prepare_says_tokenizing_only_prompts_that_may_fill(tmp_path, workspace):
    real = workspace.store.hf_tokenizer(MODEL)
    config = FinetuneConfig(dataset=dataset(tmp_path, 40), max_seq_length=256)
    checking, preparing = CountingTokenizer(real), CountingTokenizer(real)
    assert refusal(lambda: validate(config, checking)) == refusal(lambda: prepare(config, preparing))
    assert "Line(s) 41: the prompt alone fills max_seq_length" in refusal(lambda: validate(config, checking))
    assert preparing.texts == 1 and checking.texts == 2  # only the long prompt, once per call
    fine = config.with_changes(dataset=dataset(tmp_path, 40, long_line=False, name="fine.jsonl"))
    assert len(validate(fine, real)) == 40 and len(prepare(fine, real)[0]) == 40 - fine.eval_size


def test_validating_a_large_dataset_does_not_hold_the_start_lock(tmp_path, workspace):
    """While one user's start checks a big upload, others still start, resume and list runs."""
    first_call, release = threading.Event(), threading.Event()

    def slow_tokenizer_of(name: str):
        if not first_call.is_set():
            first_call.set()
            release.wait(60)  # the first start is "still validating"
        return workspace.store.hf_tokenizer(name)

    runner = JobRunner(tmp_path / "runs", tokenizer_of=slow_tokenizer_of)
    big = FinetuneConfig(dataset=dataset(tmp_path, 4000, name="big.jsonl"), max_seq_length=64)
    outcome: dict[str, str] = {}
    first = threading.Thread(target=lambda: outcome.update(first=refusal(lambda: runner.start(big))))
    first.start()
    try:
        assert first_call.wait(30)
        started = time.monotonic()
        gaps = FinetuneConfig(dataset=dataset(tmp_path, 20, long_line=False, name="gaps.jsonl"), eval_size=30)
        assert "at least 31 are needed" in refusal(lambda: runner.start(gaps))  # not stuck behind the lock
        assert "No run" in refusal(lambda: runner.start(FinetuneConfig(), resume="20261123-101500-none"))
        assert runner.runs() == [] and runner.active() is None
        assert time.monotonic() - started < 10
    finally:
        release.set()
        first.join(timeout=120)
    assert "Line(s) 4001: the prompt alone fills max_seq_length" in outcome["first"]
