"""A stand-in for a vLLM server on 127.0.0.1, for tests of the vLLM rollout engine's requests and error handling.

It speaks the endpoints the engine uses, with vLLM's JSON shapes: ``GET /health``, ``POST /v1/load_lora_adapter``
and ``/v1/unload_lora_adapter`` (a name loaded twice is a 400, as in vLLM without ``load_inplace``; the folder must
hold ``adapter_config.json``), and ``POST /v1/completions`` on token-id prompts with ``return_token_ids`` and
``logprobs``. It does not run a model: ``reply(prompt_ids, body)`` gives each response's ids (by default
``max_tokens`` ids counting up from the prompt's last id) and every token gets log-prob ``logprob``.

Behaviour can be changed while it runs: ``fail_statuses`` (HTTP statuses to answer first, one per request),
``hang`` (seconds to sleep before answering), ``short`` (the number of completions requests whose responses are cut
to half their length, with no EOS: a short answer). ``requests`` keeps ``(path, body)`` of every request and
``adapters`` the names loaded now; with ``keep_dir`` set, each loaded adapter folder is copied there under its name
(the engine deletes its own copy once the next adapter replaces it).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from lit_critic_rl.testing.local_http import LocalServer


def count_up(prompt_ids: list[int], body: dict) -> list[int]:
    """``max_tokens`` ids after the prompt's last one (mod 100, so they stay inside a tiny vocabulary)."""
    last = prompt_ids[-1] if prompt_ids else 0
    return [(last + 1 + j) % 100 + 3 for j in range(int(body.get("max_tokens", 16)))]


class FakeVLLM(LocalServer):
    def __init__(self, reply=count_up, logprob: float = -1.0) -> None:
        self.reply, self.logprob = reply, logprob
        self.fail_statuses: list[int] = []
        self.hang = 0.0
        self.short = 0
        self.requests: list[tuple[str, dict | None]] = []
        self.adapters: set[str] = set()
        self.loaded: list[str] = []
        self.keep_dir: Path | None = None
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def completions_requests(self) -> list[dict]:
        return [body for path, body in self.requests if path == "/v1/completions"]

    # ------------------------------------------------------------------ answers
    def answer(self, path: str, body: dict | None) -> tuple[int, str]:
        with self.lock:
            self.requests.append((path, body))
            if self.fail_statuses:
                return self.fail_statuses.pop(0), json.dumps({"error": {"message": "injected failure"}})
        if self.hang:
            time.sleep(self.hang)
        if path == "/health":
            return 200, ""
        if path == "/v1/load_lora_adapter":
            if body["lora_name"] in self.adapters:
                return 400, json.dumps({"error": {"message": f"The lora adapter '{body['lora_name']}' has already"}})
            if not (Path(body["lora_path"]) / "adapter_config.json").is_file():
                return 400, json.dumps({"error": {"message": f"no adapter_config.json in {body['lora_path']}"}})
            self.adapters.add(body["lora_name"])
            self.loaded.append(body["lora_name"])
            if self.keep_dir is not None:
                shutil.copytree(body["lora_path"], self.keep_dir / body["lora_name"])
            return 200, f"Success: LoRA adapter '{body['lora_name']}' added successfully."
        if path == "/v1/unload_lora_adapter":
            if body["lora_name"] not in self.adapters:
                return 404, json.dumps({"error": {"message": "adapter not found"}})
            self.adapters.discard(body["lora_name"])
            return 200, "Success"
        if path == "/v1/completions":
            return 200, json.dumps(self.completions(body))
        return 404, json.dumps({"error": {"message": f"no route {path}"}})

    def completions(self, body: dict) -> dict:
        if body["model"] not in self.adapters:
            return {"error": {"message": f"model {body['model']} does not exist"}}
        with self.lock:
            short, self.short = self.short > 0, max(self.short - 1, 0)
        choices, n = [], int(body.get("n", 1))
        for p, prompt in enumerate(body["prompt"]):
            for j in range(n):
                ids = self.reply(prompt, body)
                ids = ids[: len(ids) // 2] if short else ids
                finish = "length" if len(ids) >= body.get("max_tokens", 16) else "stop"
                logprobs = {"token_logprobs": [self.logprob] * len(ids), "tokens": [f"token_id:{t}" for t in ids]}
                choices.append(
                    {
                        "index": p * n + j,
                        "text": "",
                        "token_ids": ids,
                        "prompt_token_ids": prompt,
                        "logprobs": logprobs,
                        "finish_reason": finish,
                    }
                )
        return {"id": "cmpl-fake", "object": "text_completion", "model": body["model"], "choices": choices}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, body: dict | None) -> None:
                status, text = fake.answer(self.path, body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self._reply(json.loads(self.rfile.read(length) or b"null"))

            def log_message(self, *args) -> None:
                pass

        return Handler
