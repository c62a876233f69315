"""A small HTTP server of the tests' own, for the replies a real server will not give on demand.

``transformers serve`` covers the working path; this one answers 401, 404, 429 (with retry-after) and
500, streams a chat completion with ``logprobs`` (which ``transformers serve`` ignores), calls a tool the
way a function-calling model does (``tool-caller``: the 135M model never calls one), follows a structured-output
``response_format`` (``json-follower``) or refuses it with a 400 (``json-refuser``), counts how
many requests are in flight at once, and, run as its own process (``python tests/openai_replies.py
PORT``), streams slowly so a test can kill it mid-stream.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = ["Hello", " there", ",", " friend", "!", " How", " are", " you", "?"]


class Replies(BaseHTTPRequestHandler):
    """The model id picks the reply: ``status-401``, ``status-429``, ``slow``, ``silent``, ``logprobs``, ``hold``..."""

    protocol_version = "HTTP/1.1"
    in_flight = 0
    peak_in_flight = 0
    lock = threading.Lock()
    chunk_delay = 0.0

    def log_message(self, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "logprobs", "object": "model"},
                                                         {"id": "slow", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "no such route"}})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        model = str(body.get("model", ""))
        if model.startswith("status-"):
            status = int(model.split("-")[1])
            headers = {"retry-after": "17"} if status == 429 else {}
            self._json(status, {"error": {"message": f"reply {status} as asked", "type": "test"}}, headers)
            return
        if model == "silent":  # says nothing for longer than the test's timeout
            time.sleep(3)
        if model == "tool-caller":
            self._tool_turn(body)
            return
        if model == "json-refuser" and body.get("response_format"):
            self._json(400, {"error": {"message": "response_format is not supported", "type": "test"}})
            return
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.peak_in_flight = max(cls.peak_in_flight, cls.in_flight)
        try:
            self._stream(model, body)
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def _stream(self, model: str, body: dict) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        delay = 0.3 if model == "slow" else 0.05 if model == "hold" else 0.0
        words = WORDS
        if model == "json-follower" and body.get("response_format"):
            words = ['{"answer', '": "', 'yes', '"}']
        for index, word in enumerate(words):
            choice: dict = {"index": 0, "delta": {"content": word}}
            if model == "logprobs" and body.get("logprobs"):
                top = [{"token": word, "logprob": -0.1}, {"token": " other", "logprob": -2.5}]
                choice["logprobs"] = {"content": [{"token": word, "logprob": -0.1, "top_logprobs": top}]}
            self._event({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": [choice]})
            if delay:
                time.sleep(delay)
            if index == len(words) - 1:
                self._event({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _tool_turn(self, body: dict) -> None:
        """Not streamed: the calculator on the user's expression first; once a tool message answers the call
        (by its id, as the OpenAI API requires), that result as the answer. 400 for a broken conversation."""
        messages = body.get("messages", [])
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            called = [call["id"] for message in messages for call in message.get("tool_calls") or []]
            if last.get("tool_call_id") not in called:
                self._json(400, {"error": {"message": "a tool message must answer a tool call by its id"}})
                return
            message: dict = {"role": "assistant", "content": f"The result is {last['content']}."}
        elif not body.get("tools"):
            message = {"role": "assistant", "content": "I have no tool to call."}
        else:
            expression = str(last.get("content", "")).removeprefix("What is ").rstrip("?")
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": f"call_{len(messages)}", "type": "function",
                "function": {"name": "calculator", "arguments": json.dumps({"expression": expression})}}]}
        self._json(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "tool-caller",
                         "choices": [{"index": 0, "message": message,
                                      "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

    def _event(self, data: dict) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: int, data: dict, headers: dict | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (a timeout test) is expected, not news


@contextmanager
def replies_server():
    """The server on 127.0.0.1 and a free port, in a thread; yields its base URL (…/v1)."""
    handler = type("TestReplies", (Replies,), {"in_flight": 0, "peak_in_flight": 0, "lock": threading.Lock()})
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        server.handler = handler  # type: ignore[attr-defined] - the tests read peak_in_flight from it
        yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    QuietServer(("127.0.0.1", int(sys.argv[1])), Replies).serve_forever()
