"""The app as a classroom server runs it: password, demo limits, no server files, uploads that stay put."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, AuthenticationError

from app import build_app, launch_options
from playground.core.openmp import can_release_openmp_workers
from playground.core.queues import BATCH_KV_TOKENS, BATCH_ROWS, GENERATIONS_PER_MODEL
from playground.core.settings import DEMO_LIMITS
from playground.models.prepacked import prepacking_available
from playground.workspace import Workspace
from tests.conftest import free_port

LOGIN = ("teacher", "correct horse battery")


@pytest.fixture(scope="module")
def shared_url(workspace):
    """The full app in demo mode with a password, as ``PLAYGROUND_DEMO=1 PLAYGROUND_AUTH=...`` starts it."""
    settings = replace(workspace.settings, demo=True, local_paths=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYGROUND_AUTH", ":".join(LOGIN))
        options = launch_options(settings)
    app = build_app(Workspace.create(settings))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def student(shared_url):
    return Client(shared_url, auth=LOGIN, verbose=False)


def test_a_password_is_needed(shared_url, student):
    with pytest.raises(AuthenticationError):
        Client(shared_url, verbose=False)
    with pytest.raises(ValueError):
        Client(shared_url, auth=("teacher", "wrong"), verbose=False)
    response = httpx.post(f"{shared_url}gradio_api/call/tokenize", json={"data": ["hi", "cl100k_base"]})
    assert response.status_code == 401 and "ask your teacher" in response.text
    assert student.predict("hi", "cl100k_base", api_name="/tokenize")["num_tokens"] == 1


def test_demo_mode_caps_training_and_refuses_server_files(student, tmp_path):
    with pytest.raises(AppError, match=f"caps a job at {DEMO_LIMITS.train_steps} steps"):
        student.predict({"max_steps": DEMO_LIMITS.train_steps * 10}, None, api_name="/finetune_start")
    with pytest.raises(AppError, match="names a file on the server"):
        student.predict({"dataset": "/etc/passwd", "max_steps": 5}, None, api_name="/finetune_start")
    with pytest.raises(AppError, match="does not load models from its own folders"):
        student.predict("hello", str(tmp_path), api_name="/tokenize")


def test_uploads_over_the_cap_are_refused(shared_url, student, tmp_path):
    big = tmp_path / "notes.md"
    big.write_text("word " * (DEMO_LIMITS.upload_bytes // 5 + 10), encoding="utf-8")
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        student.predict([], [handle_file(str(big))], 64, 8, api_name="/rag_index")
    with httpx.Client(base_url=shared_url) as browser:  # a client that skips the check is refused by the server
        assert browser.post("login", data=dict(zip(("username", "password"), LOGIN, strict=True))).status_code == 200
        response = browser.post("gradio_api/upload", files={"files": ("notes.md", big.read_bytes())})
        assert response.status_code == 413 and "maximum allowed size" in response.text


def test_a_server_path_cannot_pose_as_an_upload(app_url):
    """An API caller naming /etc/passwd as an uploaded file gets an error, never the file."""
    with httpx.Client(base_url=app_url) as http:
        posted = http.post("gradio_api/call/rag_index", json={"data": [
            [], [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}], 64, 8]})
        assert posted.status_code == 200
        stream = http.get(f"gradio_api/call/rag_index/{posted.json()['event_id']}", timeout=60).text
    assert "event: error" in stream and "root:" not in stream


def test_server_info_says_how_this_server_decodes(student):
    info = student.predict(api_name="/server_info")
    assert info["demo"] is True and info["weights_dtype"] in (None, "float32", "bfloat16", "float16")
    assert info["releases_openmp_workers"] is can_release_openmp_workers()
    assert info["prepacked_weights"] is (info["device"].startswith("CPU") and prepacking_available())
    assert info["queue"]["batch"] == {"rows": BATCH_ROWS, "kv_tokens": BATCH_KV_TOKENS,
                                      "alone_per_model": GENERATIONS_PER_MODEL}
