"""Helpers for tests and benchmarks (a loopback chat-completions server, a stand-in vLLM server)."""
