"""A small OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks of OpenAICritic.

It speaks ``POST /v1/chat/completions`` and answers like a critic: it marks words of the sample (the text after the
last ``Continuation:``, ``Text:`` or ``Summary:`` line) that are in small word lists. ``reply_format`` picks how it
writes them: ``lines`` (``positive: "word"``), the dense-reward paper's ``paper_sentiment`` (``Identified Positive
Text Span:`` / ``[Span 1]: word``), ``paper_toxicity`` (``Toxic Span 1: word``) and ``paper_summarization``
(``Span 1: word (Label: Factually Incorrect)``), or ``json`` (a fenced array of ``{label, quote}``); each says
``None identified`` where it has nothing. Behaviour can be changed while it runs: ``latency`` (seconds per
request), ``fail_statuses`` (a list of HTTP statuses to return first, one per request, e.g. [429, 500]),
``hang`` (sleep this long before answering, to trigger client timeouts), ``malformed`` (reply with prose the parser
cannot read) and ``reply`` (the function from the last user message to the answer; other roles' tests set their
own). ``requests`` counts the requests received.

    python -m lit_critic_rl.testing.chat_server --port 8000 --latency 0.2 --reply-format paper_sentiment
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


TOXIC = {"idiot", "idiots", "stupid", "worthless", "moron", "pathetic", "shut", "damn"}
REPLY_FORMATS = ("lines", "paper_sentiment", "paper_toxicity", "paper_summarization", "json")


def sample_text(prompt: str) -> str:
    """The sample the critic is asked about: what follows the last sample line of the rendered template."""
    cut = max((prompt.rfind(m) + len(m), m) for m in ("Continuation:", "Text:", "Summary:"))
    text = prompt[cut[0] :] if cut[0] >= len(cut[1]) else prompt
    return text.split("\nSummary Score:", 1)[0]


def sentiment_reply(prompt: str, reply_format: str = "lines") -> str:
    words = re.findall(r"[A-Za-z']+", sample_text(prompt))
    positive = [w for w in words if w.lower() in POSITIVE]
    negative = [w for w in words if w.lower() in NEGATIVE]
    toxic = [w for w in words if w.lower() in TOXIC]
    if reply_format == "paper_sentiment":
        lines = []
        for title, found in (("Positive", positive), ("Negative", negative)):
            lines.append(f"Identified {title} Text Span:")
            lines += [f"[Span {k}]: {w}" for k, w in enumerate(found, 1)] or ["None identified"]
        return "\n".join(lines)
    if reply_format == "paper_toxicity":
        return "\n".join(f"Toxic Span {k}: {w}" for k, w in enumerate(toxic, 1)) or "None identified"
    if reply_format == "paper_summarization":
        return "\n".join(f"Span {k}: {w} (Label: Factually Incorrect)" for k, w in enumerate(negative, 1)) or (
            "None identified"
        )
    marks = [("positive", w) for w in positive] + [("negative", w) for w in negative]
    if reply_format == "json":
        return "```json\n" + json.dumps([{"label": lab, "quote": w} for lab, w in marks]) + "\n```"
    ordered = [
        (("positive" if w.lower() in POSITIVE else "negative"), w) for w in words if w.lower() in POSITIVE | NEGATIVE
    ]
    return "\n".join(f'{lab}: "{w}"' for lab, w in ordered) or "None identified"


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 refuses connections under 16 concurrent clients
    daemon_threads = True


class ChatServer:
    def __init__(self, port: int = 0, latency: float = 0.0, reply_format: str = "lines") -> None:
        if reply_format not in REPLY_FORMATS:
            raise ValueError(f"reply_format must be one of {REPLY_FORMATS}, got '{reply_format}'")
        self.latency, self.hang, self.malformed, self.reply_format = latency, 0.0, False, reply_format
        self.reply = lambda prompt: sentiment_reply(prompt, self.reply_format)
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
                self._send(
                    200,
                    {
                        "id": f"cmpl-{server.requests}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "loopback"),
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                        ],
                        "usage": {
                            "prompt_tokens": n_prompt,
                            "completion_tokens": n_completion,
                            "total_tokens": n_prompt + n_completion,
                        },
                    },
                )

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
    parser.add_argument("--reply-format", default="lines", choices=REPLY_FORMATS)
    args = parser.parse_args()
    with ChatServer(args.port, args.latency, args.reply_format) as server:
        print(f"serving on {server.base_url}", flush=True)
        server.thread.join()


if __name__ == "__main__":
    main()
