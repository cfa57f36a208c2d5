"""A small OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks of OpenAICritic.

It speaks ``POST /v1/chat/completions`` and answers like a critic: it marks words of the sample (the text after the
last ``Continuation:``, ``Text:`` or ``Summary:`` line) that are in small word lists. ``reply_format`` picks how it
writes them: ``lines`` (``positive: "word"``), the dense-reward paper's ``paper_sentiment`` (``Identified Positive
Text Span:`` / ``[Span 1]: word``), ``paper_toxicity`` (``Toxic Span 1: word``) and ``paper_summarization``
(``Span 1: word (Label: Factually Incorrect)``), or ``json`` (a fenced array of ``{label, quote}``); each says
``None identified`` where it has nothing. Behaviour can be changed while it runs: ``latency`` (seconds per
request), ``fail_statuses`` (a list of HTTP statuses to return first, one per request, e.g. [429, 500]),
``hang`` (sleep this long before answering, to trigger client timeouts), ``malformed`` (reply with prose the parser
cannot read), ``finish_reason`` (of every answer; ``"length"`` plays an answer the token limit cut) and ``reply``
(the function from the last user message to the answer; other roles' tests set their own). ``requests`` counts
the requests received, ``formats`` keeps the ``response_format`` type of the last 1000 (None where there was none)
and ``last_body`` the last request.

Two kinds of server and ``response_format``: ``structured_only`` (``--structured-only``) answers only requests with a
``json_schema`` response format, with JSON that fits the schema (spans under the schema's labels), and returns 400
to every other request; ``reject_response_format`` (``--reject-response-format``) returns 400 to every request that
carries a response format and answers the others as usual. By default the parameter is ignored (the answer is prose).

    python -m lit_critic_rl.testing.chat_server --port 8000 --latency 0.2 --reply-format paper_sentiment
    python -m lit_critic_rl.testing.chat_server --port 8000 --structured-only
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lit_critic_rl.critic.structured import INSTRUCTION_START

POSITIVE = {"good", "great", "love", "loved", "wonderful", "best", "brilliant", "beautiful", "enjoyed"}
NEGATIVE = {"bad", "awful", "boring", "dull", "worst", "hate", "terrible", "slow"}


TOXIC = {"idiot", "idiots", "stupid", "worthless", "moron", "pathetic", "shut", "damn"}
REPLY_FORMATS = ("lines", "paper_sentiment", "paper_toxicity", "paper_summarization", "json")


def sample_text(prompt: str) -> str:
    """The sample the critic is asked about: what follows the last sample line of the rendered template."""
    cut = max((prompt.rfind(m) + len(m), m) for m in ("Continuation:", "Text:", "Summary:"))
    text = prompt[cut[0] :] if cut[0] >= len(cut[1]) else prompt
    return text.split("\n" + INSTRUCTION_START, 1)[0].split("\nSummary Score:", 1)[0]


SCHEMA_WORDS = {"positive": POSITIVE, "negative": NEGATIVE, "toxic": TOXIC, "factually incorrect": NEGATIVE}
"""The words the structured reply marks under each schema label it knows."""


def structured_reply(prompt: str, schema: dict) -> str:
    """``{"spans": [{"quote", "label"}]}`` for the sample's listed words, in reading order, under the labels of
    ``schema`` (a critique schema of :func:`lit_critic_rl.critic.structured.response_schema`)."""
    enum = schema["properties"]["spans"]["items"]["properties"]["label"]["enum"]
    spans = []
    for word in re.findall(r"[A-Za-z']+", sample_text(prompt)):
        label = next((lab for lab in enum if word.lower() in SCHEMA_WORDS.get(lab, ())), None)
        if label is not None:
            spans.append({"quote": word, "label": label})
    return json.dumps({"spans": spans})


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
    def __init__(
        self,
        port: int = 0,
        latency: float = 0.0,
        reply_format: str = "lines",
        structured_only: bool = False,
        reject_response_format: bool = False,
    ) -> None:
        if reply_format not in REPLY_FORMATS:
            raise ValueError(f"reply_format must be one of {REPLY_FORMATS}, got '{reply_format}'")
        if structured_only and reject_response_format:
            raise ValueError("structured_only and reject_response_format exclude each other")
        self.latency, self.hang, self.malformed, self.reply_format = latency, 0.0, False, reply_format
        self.structured_only, self.reject_response_format = structured_only, reject_response_format
        self.formats: deque[str | None] = deque(maxlen=1000)
        self.last_body: dict = {}
        self.finish_reason = "stop"
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
                fmt = body.get("response_format")
                kind = fmt.get("type") if isinstance(fmt, dict) else None
                with server.lock:
                    server.requests += 1
                    server.formats.append(kind)
                    server.last_body = body
                    status = server.fail_statuses.pop(0) if server.fail_statuses else 200
                time.sleep(server.latency + server.hang)
                if status != 200:
                    self._send(status, {"error": {"message": "injected failure", "type": "server_error"}})
                    return
                rejection = self._rejection(fmt, kind)
                if rejection:
                    self._send(400, {"error": {"message": rejection, "type": "invalid_request_error"}})
                    return
                prompt = body["messages"][-1]["content"]
                if server.malformed:
                    content = "I think this text is quite nice overall."
                elif server.structured_only:
                    content = structured_reply(prompt, fmt["json_schema"]["schema"])
                else:
                    content = server.reply(prompt)
                n_prompt, n_completion = len(prompt.split()), len(content.split())
                self._send(
                    200,
                    {
                        "id": f"cmpl-{server.requests}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "loopback"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": server.finish_reason,
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": n_prompt,
                            "completion_tokens": n_completion,
                            "total_tokens": n_prompt + n_completion,
                        },
                    },
                )

            def _rejection(self, fmt, kind: str | None) -> str:
                """Why the request is refused ('' = it is not)."""
                if server.reject_response_format and fmt is not None:
                    return "response_format is not supported by this server"
                if not server.structured_only:
                    return ""
                if kind != "json_schema":
                    return "this server answers only requests with response_format of type json_schema"
                try:
                    fmt["json_schema"]["schema"]["properties"]["spans"]["items"]["properties"]["label"]["enum"]
                except (KeyError, TypeError):
                    return "response_format.json_schema.schema is not a critique schema"
                return ""

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
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--structured-only", action="store_true", help="answer only json_schema requests (else 400)")
    kind.add_argument("--reject-response-format", action="store_true", help="400 to any request with response_format")
    args = parser.parse_args()
    with ChatServer(
        args.port, args.latency, args.reply_format, args.structured_only, args.reject_response_format
    ) as server:
        print(f"serving on {server.base_url}", flush=True)
        server.thread.join()


if __name__ == "__main__":
    main()
