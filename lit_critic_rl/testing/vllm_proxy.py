"""A recording pass-through in front of a real vLLM server on 127.0.0.1, for tests of what the rollout engine
gives the server and in which order: every request is forwarded as it came and answered with the server's answer.

``events`` keeps ``(path, model or lora name)`` of each ``/v1/load_lora_adapter`` and ``/v1/completions`` request, in
arrival order; with ``keep_dir`` set, each adapter folder is copied there under its name before the server loads it
(the engine deletes its own copy once the next adapter replaces it). ``before_load(n)``, if set, is called with the
number of the adapter about to be loaded (1 for the first); when it returns True the request is dropped unanswered,
so a test can kill the trainer at a known point (after the first checkpoint: the second push).
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from lit_critic_rl.testing.local_http import LocalServer

RECORDED = ("/v1/load_lora_adapter", "/v1/completions")


class RecordingProxy(LocalServer):
    def __init__(self, upstream: str, keep_dir: Path | None = None, timeout: float = 600.0) -> None:
        self.upstream, self.keep_dir, self.timeout = upstream.rstrip("/"), keep_dir, timeout
        self.events: list[tuple[str, str]] = []
        self.before_load: Callable[[int], bool] | None = None
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def loads(self) -> list[str]:
        return [name for path, name in self.events if path == "/v1/load_lora_adapter"]

    def _record(self, path: str, body: dict) -> bool:
        """Note the request; False when it must be dropped (``before_load`` said so)."""
        if path not in RECORDED:
            return True
        name = body.get("lora_name") if path == RECORDED[0] else body.get("model")
        with self.lock:
            if path == RECORDED[0]:
                if self.before_load is not None and self.before_load(len(self.loads()) + 1):
                    return False
                if self.keep_dir is not None:
                    shutil.copytree(body["lora_path"], Path(self.keep_dir) / name)
            self.events.append((path, str(name)))
        return True

    def _forward(self, method: str, path: str, data: bytes | None) -> tuple[int, bytes, str]:
        request = urllib.request.Request(self.upstream + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.status, answer.read(), answer.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers.get("Content-Type", "application/json")

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(*proxy._forward("GET", self.path, None))

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not proxy._record(self.path, json.loads(data or b"{}")):
                    self.close_connection = True
                    return
                self._answer(*proxy._forward("POST", self.path, data))

            def _answer(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
