"""Typed argument groups of the module. Each field's docstring is its ``--help`` text.

Defaults follow the dense-reward paper's released code (Cao et al. 2024) where it sets them: adaptive KL from 0.2
towards 6 nats over a horizon of 10,000 samples, 4 epochs per batch. The loss's own settings (clip ranges, GAE,
value coefficient...) belong to the objective component (``model.objective``, ``lit_critic_rl.objectives``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


def check(condition: bool, field: str, message: str, value: object) -> None:
    """Raise one ``ValueError`` naming the field and the value a user gave when ``condition`` is False."""
    if not condition:
        raise ValueError(f"{field} {message}, got {value!r}")


@dataclass
class ModelArgs:
    name_or_path: str = "asset:smollm2-135m-instruct"
    """Hub id, local folder, or an offline asset alias (``asset:smollm2-135m-instruct``)."""
    quantization: Literal["none", "nf4"] = "none"
    """'nf4' loads the base in bitsandbytes 4-bit NF4 (QLoRA); 'none' keeps it in ``dtype``."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Weights dtype of the base (compute dtype under NF4)."""
    value_mode: Literal["separate_adapter", "shared_trunk"] = "shared_trunk"
    """'shared_trunk' (default, as TRL's PPO and the dense-reward paper's code): the scalar head reads the policy
    adapter's last hidden state, so one forward gives logits and values. 'separate_adapter': the value function has
    its own LoRA adapter plus a scalar head (one extra forward/backward per minibatch). Measured on SmolLM2 over 3
    seeds (``benchmarks.sample_efficiency``, alone, docs/benchmarks.md): the same learning, and the separate adapter
    costs up to 1.5x the iteration."""
    malloc_mmap_threshold: int | None = None
    """Linux/glibc: blocks of at least this many bytes (e.g. 65536) get their own mapping and go back to the OS when
    freed, so peak RSS follows live tensors instead of glibc's heap high-water mark (``lit_critic_rl.memory``).
    Measured on SmolLM2 in TRL 0.11 PPO's shape (docs/benchmarks.md): peak RSS -26% (2191 -> 1621 MiB) but +42% time
    per iteration (a page fault and an unmap per large tensor), hence off (None) by default."""
    malloc_trim: bool = False
    """Linux/glibc: hand the heap's free pages back to the OS at the end of each phase of an iteration (generate,
    teacher-forced pass, update...), so one phase's freed temporaries do not add to the next phase's RSS. Measured
    on SmolLM2: RSS after sampling 1850 -> 1128 MiB, but the update's own peak barely moves (-3%), so off by default."""
    activation_checkpointing: bool = False
    """Recompute decoder-layer activations in the backward pass instead of storing them: less peak memory in the
    PPO epochs for about one extra forward per minibatch."""
    check_memory: bool = True
    """Before loading, print the memory plan of one iteration (``lit-critic-rl plan-memory``) and stop the fit when
    its peak exceeds the device's free memory (CUDA) or the machine's available RAM per local process (CPU)."""

    def __post_init__(self) -> None:
        check(bool(self.name_or_path.strip()), "model.name_or_path", "must not be empty", self.name_or_path)
        check(self.quantization in ("none", "nf4"), "model.quantization", "must be 'none' or 'nf4'", self.quantization)
        check(
            self.dtype in ("float32", "bfloat16", "float16"),
            "model.dtype",
            "must be float32, bfloat16 or float16",
            self.dtype,
        )
        check(
            self.value_mode in ("separate_adapter", "shared_trunk"),
            "model.value_mode",
            "must be 'separate_adapter' or 'shared_trunk'",
            self.value_mode,
        )
        threshold = self.malloc_mmap_threshold
        check(threshold is None or threshold > 0, "model.malloc_mmap_threshold", "must be > 0 or null", threshold)


@dataclass
class AdapterArgs:
    r: int = 16
    """LoRA rank, for both the policy and the value adapter."""
    alpha: int = 32
    """LoRA alpha (scale = alpha / r)."""
    dropout: float = 0.0
    """LoRA dropout, active only during PPO epochs; rollout and teacher-forced passes always run without dropout."""
    target_modules: list[str] | str = "all-linear"
    """Modules that get LoRA ('all-linear' or a list of module names such as ['q_proj', 'v_proj'])."""

    def __post_init__(self) -> None:
        check(self.r >= 1, "model.adapter.r", "must be >= 1", self.r)
        check(self.alpha > 0, "model.adapter.alpha", "must be > 0", self.alpha)
        check(0.0 <= self.dropout < 1.0, "model.adapter.dropout", "must be in [0, 1)", self.dropout)
        check(
            bool(self.target_modules),
            "model.adapter.target_modules",
            "must name at least one module",
            self.target_modules,
        )


@dataclass
class GenerationArgs:
    max_new_tokens: int = 16
    """Maximum number of sampled response tokens."""
    min_new_tokens: int = 0
    """EOS is suppressed before this many tokens."""
    temperature: float = 1.0
    """Sampling temperature; the PPO log-probs use the same temperature."""
    top_k: int = 0
    """Top-k filter (0 = off, as in the paper's code)."""
    top_p: float = 1.0
    """Nucleus filter (1.0 = off)."""
    samples_per_prompt: int = 1
    """Responses sampled for each prompt in a batch."""
    stop_strings: list[str] | None = None
    """A response ends with the first token that completes one of these strings (kept in the response, like EOS),
    e.g. ``["\\n\\n"]`` for one-paragraph answers; decoding of that row stops there."""
    merge_adapter: bool = False
    """Sample from temporary merged weights ``W + scale * B @ A`` (the shared base is never written) instead of
    running the adapter's extra ops at every decoding step (``lit_critic_rl.models.policy.merged_adapter``). Same
    distribution up to float rounding; costs one temporary copy of each adapted weight while sampling. Only fp32
    bases are merged (a bf16 sum would round small adapter updates away; 4-bit cannot be merged). Off by default
    until a quiet-machine run shows it pays (docs/benchmarks.md)."""
    engine: Literal["hf", "vllm"] = "hf"
    """Where training rollouts are sampled: 'hf' = HF ``generate`` on the policy; 'vllm' = a vLLM server at
    ``engine_url`` given the current policy adapter every iteration (``lit_critic_rl.rollout_engines``, started by
    ``lit-critic-rl serve-rollouts``). Validation and test always sample with HF."""
    engine_url: str = "http://127.0.0.1:8000"
    """Root URL of the vLLM server (``engine: vllm``)."""
    engine_timeout: float = 300.0
    """Seconds one request to the vLLM server may take (a whole batch is one request) before it is retried."""
    engine_retries: int = 2
    """Retries of a failed or timed-out request, and of responses that came back short (no EOS, no stop string,
    fewer than ``max_new_tokens`` tokens), before the run stops with an error."""

    def __post_init__(self) -> None:
        check(self.engine in ("hf", "vllm"), "model.generation.engine", "must be 'hf' or 'vllm'", self.engine)
        check(
            self.engine_url.startswith(("http://", "https://")),
            "model.generation.engine_url",
            "must be an http(s) URL",
            self.engine_url,
        )
        check(self.engine_timeout > 0, "model.generation.engine_timeout", "must be > 0 seconds", self.engine_timeout)
        check(self.engine_retries >= 0, "model.generation.engine_retries", "must be >= 0", self.engine_retries)
        check(self.max_new_tokens >= 1, "model.generation.max_new_tokens", "must be >= 1", self.max_new_tokens)
        check(
            0 <= self.min_new_tokens <= self.max_new_tokens,
            "model.generation.min_new_tokens",
            f"must be between 0 and max_new_tokens ({self.max_new_tokens})",
            self.min_new_tokens,
        )
        check(self.temperature > 0, "model.generation.temperature", "must be > 0", self.temperature)
        check(self.top_k >= 0, "model.generation.top_k", "must be >= 0 (0 = off)", self.top_k)
        check(0.0 < self.top_p <= 1.0, "model.generation.top_p", "must be in (0, 1]", self.top_p)
        check(
            self.samples_per_prompt >= 1, "model.generation.samples_per_prompt", "must be >= 1", self.samples_per_prompt
        )
        check(
            all(isinstance(s, str) and s for s in self.stop_strings or []),
            "model.generation.stop_strings",
            "must be non-empty strings",
            self.stop_strings,
        )


@dataclass
class PPOArgs:
    """The update loop every objective shares (epochs, minibatches, accumulation, optimizer), the teacher-forced
    passes, and the KL control of the reward."""

    learning_rate: float = 1e-4
    """AdamW learning rate for the adapters and the value head."""
    epochs: int = 4
    """PPO epochs over each rollout batch."""
    minibatch_size: int = 8
    """Samples per minibatch (forward/backward unit)."""
    grad_accumulation: int = 1
    """Minibatches whose gradients are summed before one optimizer step."""
    teacher_force_chunk_size: int = 8
    """Samples per teacher-forced (no-grad) pass; smaller chunks hold fewer full-vocabulary logits at once."""
    logprob_chunk_size: int = 0
    """Positions per chunk of the LM head in the PPO epochs: > 0 computes the log-probs (and the logged entropy)
    from the final hidden state a chunk at a time and recomputes each chunk's logits in the backward, so no
    ``[B, T, vocabulary]`` logits or gradient exist (``lit_critic_rl.rl.chunked_logprobs``); 0 keeps the full
    logits. Not used when the loss needs the logits (an entropy bonus) or with LM heads with logit scaling."""
    fuse_first_forward: bool = True
    """When one minibatch holds the whole rollout and LoRA dropout is 0, take the rollout's log-probs (and
    shared-trunk values) from the first PPO forward instead of a separate teacher-forced pass (identical values, one
    forward fewer per iteration)."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (0 = off)."""
    kl_coef: float = 0.2
    """Initial KL penalty coefficient beta."""
    adaptive_kl: bool = True
    """Adapt beta towards ``target_kl`` (Ziegler et al.); False keeps it fixed at ``kl_coef``."""
    target_kl: float = 6.0
    """Target sequence KL (nats) of the adaptive controller."""
    kl_horizon: int = 10000
    """Horizon (samples) of the adaptive controller."""
    kl_estimator: Literal["k1", "k3"] = "k1"
    """Per-token KL estimator in the reward penalty: k1 = log-ratio, k3 = (r - 1) - log r (non-negative)."""
    log_kl: bool = False
    """Run the reference pass (adapters off, no grad) and log ``train/kl`` even when nothing reads the KL: a
    GRPO-family loss with ``kl_coef`` 0 and RLMEC (their reward has no KL), or PPO / REINFORCE++ with ``kl_coef``
    0 and ``adaptive_kl`` false. False skips that pass then and logs no ``train/kl``."""
    regenerate_every: int = 1
    """Iterated data rounds, for an objective that trains off-policy (RLMEC): sample (and rewrite) fresh solutions
    every N iterations and train on the last round's samples in between; 1 = every iteration (online). One offline
    round: ``data: RolloutReplay``."""
    score_scaling: bool = False
    """Divide the token rewards (before the KL penalty) by the running standard deviation of all token rewards seen
    so far, as TRL's ``use_score_scaling`` (the dense-reward paper's summarization runs)."""

    def __post_init__(self) -> None:
        f = "model.ppo."
        check(self.learning_rate > 0, f + "learning_rate", "must be > 0", self.learning_rate)
        for name in ("epochs", "minibatch_size", "grad_accumulation", "teacher_force_chunk_size", "kl_horizon"):
            check(getattr(self, name) >= 1, f + name, "must be >= 1", getattr(self, name))
        check(self.logprob_chunk_size >= 0, f + "logprob_chunk_size", "must be >= 0 (0 = off)", self.logprob_chunk_size)
        check(self.target_kl > 0, f + "target_kl", "must be > 0", self.target_kl)
        for name in ("max_grad_norm", "kl_coef"):
            check(getattr(self, name) >= 0, f + name, "must be >= 0", getattr(self, name))
        check(self.kl_estimator in ("k1", "k3"), f + "kl_estimator", "must be 'k1' or 'k3'", self.kl_estimator)
        check(self.regenerate_every >= 1, f + "regenerate_every", "must be >= 1", self.regenerate_every)


@dataclass
class ShapingArgs:
    """How the critic's spans become token rewards (used when a critic is configured)."""

    positive_value: float = 0.5
    """Reward for tokens inside spans of positive polarity (paper: +0.5 sentiment)."""
    negative_value: float = -0.5
    """Reward for tokens inside spans of negative polarity (paper: -0.5 sentiment and toxicity)."""
    unflagged_value: float = 0.0
    """Reward for response tokens outside every span (paper: +0.5 summarization with ROUGE)."""
    placement: Literal["spread", "last_token", "substring"] = "spread"
    """'spread' puts the value on every token of a span (RELC); 'last_token' on its last token (FG-RLHF);
    'substring' is the paper code's matching, kept as an ablation: every response token whose decoded text (without
    surrounding whitespace) is a substring of a span's text gets the value, wherever it sits, so a "the" in a span
    rewards every "the" of the response."""
    overlap: Literal["sum", "max", "first"] = "sum"
    """A token inside several spans: 'sum' adds their values (the paper's code), 'max' keeps the value of largest
    magnitude, 'first' keeps the first span's in the critic's order. The same span listed twice counts once."""
    intrinsic_weight: float = 1.0
    """Multiplier of the intrinsic (critic) token rewards."""
    extrinsic_weight: float = 1.0
    """Multiplier (alpha) of the extrinsic score on the last token."""
    gate_threshold: float | None = None
    """Call the critic only for samples with extrinsic score <= this value (None = always)."""

    def __post_init__(self) -> None:
        check(
            self.placement in ("spread", "last_token", "substring"),
            "model.shaping.placement",
            "must be 'spread', 'last_token' or 'substring'",
            self.placement,
        )
        check(
            self.overlap in ("sum", "max", "first"),
            "model.shaping.overlap",
            "must be 'sum', 'max' or 'first'",
            self.overlap,
        )
        for name in ("intrinsic_weight", "extrinsic_weight"):
            check(getattr(self, name) >= 0, f"model.shaping.{name}", "must be >= 0", getattr(self, name))


@dataclass
class EvalArgs:
    """How ``validate``/``test`` sample and measure (presets with the paper's settings: ``configs/eval/``)."""

    samples_per_prompt: int = 1
    """k: responses sampled per held-out prompt in validate/test (the paper uses 25 for sentiment and toxicity)."""
    generation: GenerationArgs | None = None
    """Decoding of validate/test, apart from training's (the paper evaluates detox with top-p 0.9 and 20 new tokens);
    None = the training decoding ``model.generation``. Its fields not given take GenerationArgs' defaults, not the
    training values; k is ``samples_per_prompt`` above, so leave ``generation.samples_per_prompt`` at 1."""
    distinct_mode: Literal["per_prompt", "corpus"] = "per_prompt"
    """'per_prompt' (the paper's): distinct n-grams among each prompt's k samples / their word count, averaged over
    prompts; 'corpus': distinct / all n-grams over every sample (``lit_critic_rl.metrics.distinct``)."""
    perplexity_mode: Literal["per_sample_mean", "token_weighted"] = "per_sample_mean"
    """'per_sample_mean' (the paper's): mean of per-sample perplexities, leaving out those above ``max_perplexity``;
    'token_weighted': exp of the mean NLL over all response tokens (``lit_critic_rl.metrics.perplexity``)."""
    max_perplexity: float | None = 1e4
    """Samples with a perplexity above this are left out of 'per_sample_mean' (the paper: 1e4; None keeps all)."""
    scoring_model: str | None = None
    """LM that scores perplexity of the responses; None = the reference model (adapters off, no extra memory)."""
    write_samples: bool = True
    """Write every evaluation sample to ``<run dir>/<val|test>_samples.jsonl``."""

    def __post_init__(self) -> None:
        check(
            self.samples_per_prompt >= 1, "model.evaluation.samples_per_prompt", "must be >= 1", self.samples_per_prompt
        )
        if self.generation is not None:
            check(
                self.generation.samples_per_prompt == 1,
                "model.evaluation.generation.samples_per_prompt",
                "must stay 1: k of validate/test is model.evaluation.samples_per_prompt",
                self.generation.samples_per_prompt,
            )
