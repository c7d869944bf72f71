"""A tiny OpenAI-compatible chat-completions server on loopback, scripted per request.

Each request to ``POST /v1/chat/completions`` takes the next :class:`Reply` from the script:
an HTTP error, a raw (possibly malformed) body, or a tool call whose name is the first tool the
request offered (the agent's output tool) with the given arguments. Requests are recorded.
The server runs in a daemon thread and stops when the context manager exits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    arguments: dict[str, Any] | str | None = None  # a str is sent verbatim (malformed JSON)
    raw_body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


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


@dataclass
class FakeOpenAI:
    script: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def next_reply(self, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(request)
        if not self.script:
            return 500, {}, b'{"error": {"message": "script exhausted"}}'
        reply = self.script.pop(0)
        if reply.raw_body is not None:
            body = reply.raw_body
        elif reply.status != 200:
            body = json.dumps({"error": {"message": "scripted error", "type": "rate_limit"}})
        else:
            tool = request["tools"][0]["function"]["name"]
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
            status, headers, body = fake.next_reply(request)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
