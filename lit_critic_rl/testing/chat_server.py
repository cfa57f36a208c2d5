"""A small OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks of OpenAICritic.

It speaks ``POST /v1/chat/completions`` and answers like a sentiment critic: it marks words of the text after the last
``Continuation:`` line that are in a small word list. Behaviour can be changed while it runs: ``latency`` (seconds per
request), ``fail_statuses`` (a list of HTTP statuses to return first, one per request, e.g. [429, 500]),
``hang`` (sleep this long before answering, to trigger client timeouts), ``malformed`` (reply with prose the parser
cannot read) and ``reply`` (the function from the last user message to the answer; other roles' tests set their
own). ``requests`` counts the requests received.

    python -m lit_critic_rl.testing.chat_server --port 8000 --latency 0.2
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POSITIVE = {"good", "great", "love", "loved", "wonderful", "best", "brilliant", "beautiful", "enjoyed"}
NEGATIVE = {"bad", "awful", "boring", "dull", "worst", "hate", "terrible", "slow"}


def sentiment_reply(prompt: str) -> str:
    text = prompt.rsplit("Continuation:", 1)[-1]
    lines = []
    for word in re.findall(r"[A-Za-z']+", text):
        if word.lower() in POSITIVE:
            lines.append(f'positive: "{word}"')
        elif word.lower() in NEGATIVE:
            lines.append(f'negative: "{word}"')
    return "\n".join(lines) or "None identified"


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 refuses connections under 16 concurrent clients
    daemon_threads = True


class ChatServer:
    def __init__(self, port: int = 0, latency: float = 0.0) -> None:
        self.latency, self.hang, self.malformed = latency, 0.0, False
        self.reply = sentiment_reply
        self.fail_statuses: list[int] = []
        self.requests = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real API servers do (HTTP/1.0 reconnects per request)
            disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add ~40 ms

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server.lock:
                    server.requests += 1
                    status = server.fail_statuses.pop(0) if server.fail_statuses else 200
                time.sleep(server.latency + server.hang)
                if status != 200:
                    self._send(status, {"error": {"message": "injected failure", "type": "server_error"}})
                    return
                prompt = body["messages"][-1]["content"]
                content = "I think this text is quite nice overall." if server.malformed else server.reply(prompt)
                n_prompt, n_completion = len(prompt.split()), len(content.split())
                self._send(200, {
                    "id": f"cmpl-{server.requests}", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "loopback"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_completion,
                              "total_tokens": n_prompt + n_completion},
                })

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with ChatServer(args.port, args.latency) as server:
        print(f"serving on {server.base_url}", flush=True)
        server.thread.join()


if __name__ == "__main__":
    main()
