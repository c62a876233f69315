"""Endpoint models: configuration, names, and every failure a server can send, each with its own line.

The working path runs against a real ``transformers serve`` in tests/api/test_endpoints_api.py; here a
small server of the tests' own (tests/openai_replies.py) gives the replies a real one will not on demand.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playground.core.errors import InvalidInputError, PlaygroundError, UnknownModelError
from playground.core.model_names import split_endpoint_model
from playground.core.settings import Settings
from playground.generation.endpoints import Endpoint, Endpoints, list_models
from playground.generation.engine import Ask, GenerationEngine
from playground.generation.queueing import FairGate
from playground.generation.sampling import SamplingSettings
from playground.models.registry import resolve
from playground.models.store import ModelStore
from tests.conftest import free_port
from tests.openai_replies import WORDS, replies_server

PLAIN = SamplingSettings(max_new_tokens=16, repetition_penalty=1.0)


def engine_for(endpoints: Endpoints) -> GenerationEngine:
    return GenerationEngine(ModelStore(Settings.from_env()), endpoints=endpoints)


def test_names_split_at_the_first_colon_so_ids_may_hold_colons_and_slashes():
    assert split_endpoint_model("ollama:llama3:8b") == ("ollama", "llama3:8b")
    assert split_endpoint_model("vllm:/models/meta/Llama-3") == ("vllm", "/models/meta/Llama-3")
    assert split_endpoint_model("HuggingFaceTB/SmolLM2-135M") is None
    assert split_endpoint_model("smollm2-135m-instruct") is None


def test_configuration_reads_each_key_from_its_own_variable_and_never_shows_it():
    env = {"PLAYGROUND_ENDPOINTS": "vllm=http://gpu-box:8000/v1/, my-tgi=https://tgi.example/v1",
           "VLLM_API_KEY": "sk-secret-vllm", "OPENAI_API_KEY": "sk-secret-openai"}
    endpoints = Endpoints.from_env(env)
    vllm, tgi = endpoints.by_name["vllm"], endpoints.by_name["my-tgi"]
    assert (vllm.base_url, vllm.api_key) == ("http://gpu-box:8000/v1", "sk-secret-vllm")
    assert tgi.api_key == "sk-secret-openai"  # MY_TGI_API_KEY is unset: the shared key
    for shown in (repr(endpoints), repr(vllm), str(vllm.describe()), str(tgi.describe())):
        assert "sk-secret" not in shown
    assert vllm.describe()["key"] == "set"


@pytest.mark.parametrize("spec, words", [("vllm", "name=http"), ("vllm=ftp://x", "not an http"),
                                         ("9lives=http://x:1/v1", "use a letter"),
                                         ("a=http://x:1/v1,a=http://y:1/v1", "twice")])
def test_malformed_configuration_says_which_entry(spec, words):
    with pytest.raises(InvalidInputError, match=words):
        Endpoints.parse(spec, {})


def test_unknown_endpoint_and_missing_model_id_are_clear_errors():
    endpoints = Endpoints.parse("vllm=http://127.0.0.1:9/v1", {})
    with pytest.raises(UnknownModelError, match="endpoint 'tgi', which this server does not know. Endpoints: vllm"):
        endpoints.locate("tgi:some-model")
    with pytest.raises(InvalidInputError, match="no model"):
        endpoints.locate("vllm:")


def test_tabs_that_need_weights_refuse_an_endpoint_model_by_name():
    with pytest.raises(UnknownModelError, match="needs the model's weights in this process"):
        resolve("vllm:meta-llama/Llama-3.1-8B", Settings.from_env())


def test_unreachable_host_fails_that_request_alone_with_its_reason():
    port = free_port()  # nothing listens there
    engine = engine_for(Endpoints.parse(f"down=http://127.0.0.1:{port}/v1", {}))
    [failed] = engine.generate_many([Ask("down:any", "Hello", PLAIN)])
    assert failed.finish_reason == "error"
    assert "could not be reached" in failed.error and f"127.0.0.1:{port}" in failed.error
    with pytest.raises(PlaygroundError, match="could not be reached"):
        engine.generate("down:any", "Hello", PLAIN)
    listing = list_models(engine.endpoints.by_name["down"])
    assert listing["models"] == [] and "could not be reached" in listing["error"]


@pytest.mark.parametrize("status, words", [
    (401, "refused the API key (401"), (404, "no such model or route (404"),
    (429, "rate limiting these requests (429"),
    (500, "failed on its side while generating for the model 'status-500' (500"), (503, "(503: reply 503")])
def test_each_status_gets_a_message_saying_which_side_to_fix(status, words):
    with replies_server() as (_, url):
        engine = engine_for(Endpoints.parse(f"test={url}", {}))
        with pytest.raises(PlaygroundError) as caught:
            engine.generate(f"test:status-{status}", "Hello", PLAIN)
    message = str(caught.value)
    assert words in message and "'test'" in message
    assert f"reply {status} as asked" in message  # the server's own reason is passed on
    if status == 429:
        assert "wait 17 s" in message
    if status == 401:
        assert "TEST_API_KEY" in message


def test_a_server_that_says_nothing_times_out_with_the_limit_named():
    with replies_server() as (_, url):
        engine = engine_for(Endpoints().with_endpoint(Endpoint("test", url, timeout_seconds=1.0)))
        [failed] = engine.generate_many([Ask("test:silent", "Hello", PLAIN)])
    assert failed.finish_reason == "error"
    assert "did not answer within 1 s" in failed.error and "PLAYGROUND_ENDPOINT_TIMEOUT" in failed.error


def test_a_key_entered_for_a_session_is_sent_but_never_appears_in_errors():
    with replies_server() as (_, url):
        mine = Endpoints().with_endpoint(Endpoint("mine", url, "sk-very-secret", session_only=True))
        engine = engine_for(Endpoints()).with_endpoints(mine)
        [failed] = engine.generate_many([Ask("mine:status-401", "Hello", PLAIN)])
    assert "sk-very-secret" not in failed.error and "sk-very-secret" not in str(failed.to_dict())
    assert engine_for(Endpoints()).endpoints.by_name == {}  # other sessions never see it


def test_logprobs_become_per_token_probabilities_and_unsupported_settings_are_named():
    settings = SamplingSettings(max_new_tokens=16, top_k=40, repetition_penalty=1.2, alternatives=2)
    with replies_server() as (_, url):
        generation = engine_for(Endpoints.parse(f"test={url}", {})).generate("test:logprobs", "Hello", settings)
    assert generation.text == "".join(WORDS) and generation.finish_reason == "eos"
    assert [token.text for token in generation.tokens] == WORDS
    assert generation.tokens[0].prob == pytest.approx(0.9048, abs=1e-4)
    assert [alt.text for alt in generation.tokens[0].alternatives] == ["Hello", " other"]
    notices = " ".join(generation.all_notices)
    assert "top-k (40)" in notices and "repetition penalty (1.2)" in notices
    assert generation.to_dict()["probabilities"] is True


def test_text_only_servers_are_marked_and_stop_strings_past_the_fourth_apply_here():
    settings = SamplingSettings(max_new_tokens=16, repetition_penalty=1.0, stop=("@1", "@2", "@3", "@4", " are"))
    with replies_server() as (_, url):
        generation = engine_for(Endpoints.parse(f"test={url}", {})).generate("test:plain", "Hello", settings)
    assert generation.text == "Hello there, friend! How"  # cut before " are", the fifth stop string
    assert generation.finish_reason == "stop"
    notices = " ".join(generation.all_notices)
    assert "4 stop strings" in notices


def test_no_probabilities_notice_when_the_server_sends_none():
    with replies_server() as (_, url):
        generation = engine_for(Endpoints.parse(f"test={url}", {})).generate("test:plain", "Hello", PLAIN)
    assert generation.tokens == [] and not generation.has_probabilities
    assert any("no per-token probabilities" in notice for notice in generation.notices)


def test_requests_in_flight_to_one_endpoint_are_bounded_and_the_rest_wait_in_line():
    with replies_server() as (server, url):
        engine = engine_for(Endpoints.parse(f"test={url}", {}))
        endpoint = engine.endpoints.by_name["test"]
        engine._endpoint_lines.get_or_load(f"{endpoint.name}@{endpoint.base_url}", lambda: FairGate(2, 100))
        seen_waiting = False
        for generations in engine.stream_many([Ask("test:hold", f"Question {i}", PLAIN) for i in range(6)]):
            seen_waiting = seen_waiting or any(g.queue_position for g in generations)
        assert all(g.text == "".join(WORDS) for g in generations)
        assert server.handler.peak_in_flight == 2
        assert seen_waiting


def test_a_server_killed_mid_stream_keeps_the_text_so_far_marked_as_cut():
    port = free_port()
    script = Path(__file__).resolve().parents[1] / "openai_replies.py"
    process = subprocess.Popen([sys.executable, str(script), str(port)], env={**os.environ, "PYTHONPATH": ""})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        engine = engine_for(Endpoints.parse(f"test=http://127.0.0.1:{port}/v1", {}))
        for generation in engine.stream("test:slow", "Hello", PLAIN):
            if len(generation.text) >= len("Hello there") and process.poll() is None:
                process.send_signal(signal.SIGKILL)
        assert generation.finish_reason == "cut"
        assert generation.text.startswith("Hello there") and generation.text != "".join(WORDS)
        assert "cut after" in generation.error and "text so far is kept" in generation.error
        assert generation.to_dict()["finish_reason"] == "cut"
    finally:
        process.kill()
        process.wait()


def test_quantization_refuses_an_endpoint_model_before_preparing_anything():
    from playground.quantization.lab import QuantLab

    engine = engine_for(Endpoints.parse("vllm=http://127.0.0.1:9/v1", {}))
    with pytest.raises(UnknownModelError, match="Quantization needs the model's weights"):
        next(QuantLab(engine).compare("vllm:meta/llama", ["bnb-int8"], "Hello"))


def test_show_code_for_an_endpoint_model_runs_and_prints_what_the_playground_got(capsys, monkeypatch):
    from playground.generation.snippets import endpoint_code

    with replies_server() as (_, url):
        endpoint = Endpoint("mine", url, "sk-not-in-the-code")
        code = endpoint_code(endpoint, "plain", "Hello", SamplingSettings(max_new_tokens=8, top_k=5), "Be brief.")
        monkeypatch.setenv("MINE_API_KEY", "sk-not-in-the-code")
        exec(compile(code, "snippet", "exec"), {})  # noqa: S102 - the page's own snippet, run as a user would
    assert capsys.readouterr().out.strip() == "".join(WORDS)
    assert "sk-not-in-the-code" not in code and "MINE_API_KEY" in code
    assert "'max_tokens': 8" in code and "top-k (5) has no OpenAI API field" in code


def test_a_malformed_endpoints_setting_stops_the_app_with_one_line(monkeypatch):
    from app import main

    monkeypatch.setenv("PLAYGROUND_ENDPOINTS", "vllm")
    with pytest.raises(SystemExit, match="PLAYGROUND_ENDPOINTS entry 'vllm' must look like name=http"):
        main(["--port", str(free_port())])
