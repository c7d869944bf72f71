"""A tiny OpenAI-compatible chat-completions server on loopback, scripted per request.

Each request to ``POST /v1/chat/completions`` takes the next :class:`Reply` from the script:
an HTTP error, a raw (possibly malformed) body, a response with no ``choices``, a request the
server never answers (``hang``), or a tool call with the given arguments whose name is the first
tool the request offered (the agent's output tool) unless ``tool_name`` names another;
``UNGROUNDED_REPORT`` is such arguments for a report that cites what no step can show. Like many
self-hosted servers it offers only chat completions: any other path (the Responses API's
``/v1/responses``) gets a 404. Requests and their paths are recorded. The server runs in a
daemon thread and stops when the context manager exits, releasing any hung request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATH = "/v1/chat/completions"

# A well-formed report that names what no warehouse here has: a metric, a segment, a deployment.
UNGROUNDED_REPORT: dict[str, Any] = {
    "summary": "Revenue dropped 12% from 2026-01-28, driven by users on Mars.",
    "root_cause": "deploy_999 broke checkout on Mars.",
    "anomaly": {"metric": "revenue", "direction": "drop", "start": "2026-01-28"},
    "affected_segments": [
        {"filters": {"planet": "Mars"}, "confidence": 0.9, "description": "users on Mars"}
    ],
    "correlated_events": [
        {"kind": "deployment", "id": "deploy_999", "description": "checkout", "confidence": 0.8}
    ],
    "recommendations": ["Roll back deploy_999."],
    "confidence": 0.8,
}


@dataclass
class Reply:
    status: int = 200
    arguments: dict[str, Any] | str | None = None  # a str is sent verbatim (malformed JSON)
    raw_body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tool_name: str | None = None  # call this tool instead of the one offered
    empty_choices: bool = False  # a 200 response whose ``choices`` list is empty
    hang: bool = False  # never answer (until the server stops)


def completion(tool_name: str, arguments: str, n: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": 1_769_774_400,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": f"call_{n}",
                            "type": "function",
                            "function": {"name": tool_name, "arguments": arguments},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050},
    }


def _error(message: str, kind: str) -> str:
    return json.dumps({"error": {"message": message, "type": kind}})


@dataclass
class FakeOpenAI:
    script: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    base_url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)

    def next_reply(self, path: str, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        self.paths.append(path)
        if path != CHAT_PATH:
            return 404, {}, _error(f"Not found: {path}", "not_found").encode()
        self.requests.append(request)
        if not self.script:
            return 500, {}, _error("script exhausted", "server_error").encode()
        reply = self.script.pop(0)
        if reply.hang:
            self.stopping.wait()
            return 500, {}, _error("server stopped", "server_error").encode()
        if reply.raw_body is not None:
            body = reply.raw_body
        elif reply.status != 200:
            body = _error("scripted error", "rate_limit")
        elif reply.empty_choices:
            body = json.dumps({**completion("", "", len(self.requests)), "choices": []})
        else:
            tool = reply.tool_name or request["tools"][0]["function"]["name"]
            args = reply.arguments
            text = args if isinstance(args, str) else json.dumps(args)
            body = json.dumps(completion(tool, text, len(self.requests)))
        return reply.status, reply.headers, body.encode()


@contextmanager
def fake_openai_server(script: list[Reply]) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(script=list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            status, headers, body = fake.next_reply(self.path, request)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up on a hung request
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        fake.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
