"""Peak device memory of one PPO iteration, estimated from the model's config alone (no weights are loaded).

Every term is a pure function of shapes, in bytes, and is counted per process (per rank):

- base weights: the decoder's linear layers at the chosen quantization (NF4: half a byte per weight plus the
  double-quantized absmax, ~0.516 bytes), embeddings, norms and an untied LM head in ``dtype`` (fp32 under NF4, where
  ``prepare_model_for_kbit_training`` upcasts every non-quantized weight);
- adapters: LoRA ``r * (in + out)`` per targeted linear, per adapter (two with a separate value adapter), kept in fp32
  with an fp32 gradient and AdamW's two fp32 moments (16 bytes per parameter); the value head likewise;
- rollout: the KV cache of ``B`` sequences of ``prompt + new`` tokens (keys and values of every layer);
- teacher-forced passes: ``chunk`` rows of full-vocabulary fp32 logits for the response, twice (the logits and their
  log-softmax);
- update: the activations autograd keeps for one minibatch. Per token and layer a Llama-style decoder layer with LoRA
  on every linear keeps 8 hidden-sized tensors (both norm inputs and outputs, the rotated queries, the repeated keys
  and values, the attention output) and 4 intermediate-sized ones (gate, its SiLU, up, their product); with
  activation checkpointing only the layer inputs are kept, plus one layer's activations while it is recomputed.
  The response logits add four full-vocabulary fp32 copies (logits, scaled logits, log-softmax, their gradient);
- a critic sharing the device: its weights and the KV cache of its critiques.

The peak is the persistent part (weights, adapters and their optimizer state, critic weights) plus the largest of
the transient phases (rollout, teacher-forced, update, critic), which run one after the other. Validated against
measured peak RSS on CPU in docs/scaling.md (``benchmarks/plan_memory.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
NF4_BYTES_PER_WEIGHT = 0.5 + 1 / 64 + 4 / (64 * 256)
"""4 bits per weight, one 8-bit absmax per block of 64, and one fp32 scale per 256 blocks (double quantization)."""
ADAM_BYTES_PER_PARAM = 16
"""fp32 weight, fp32 gradient and AdamW's two fp32 moments."""


@dataclass(frozen=True)
class ModelShape:
    """What the plan needs from a decoder-only transformer's config."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    tied_embeddings: bool = True

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def linear_shapes(self) -> list[tuple[int, int]]:
        """``(in, out)`` of every linear layer of one decoder layer (q, k, v, o, gate, up, down)."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        return [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]

    def linear_params(self) -> int:
        return self.layers * sum(a * b for a, b in self.linear_shapes())

    def other_params(self) -> int:
        """Embeddings, norms and (untied) LM head: the weights that stay unquantized."""
        head = 0 if self.tied_embeddings else self.vocab * self.hidden
        return self.vocab * self.hidden + head + (2 * self.layers + 1) * self.hidden


@dataclass(frozen=True)
class RunShape:
    """One rank's share of an iteration and how the run is configured."""

    samples: int
    """Samples this rank rolls out per iteration (prompts x samples_per_prompt / ranks)."""
    prompt_tokens: int
    """Longest prompt, in tokens (batches are padded to it)."""
    new_tokens: int
    minibatch: int
    teacher_force_chunk: int
    quantization: str = "none"
    dtype: str = "float32"
    lora_r: int = 16
    adapters: int = 1
    """1 with ``value_mode: shared_trunk``, 2 with a separate value adapter."""
    activation_checkpointing: bool = False


@dataclass(frozen=True)
class CriticShape:
    """A local critic model on the same device: its config, how it is stored and how much it generates."""

    model: ModelShape
    quantization: str = "none"
    dtype: str = "float32"
    batch: int = 8
    prompt_tokens: int = 256
    new_tokens: int = 64


def base_weight_bytes(m: ModelShape, quantization: str, dtype: str) -> float:
    if quantization == "nf4":
        return m.linear_params() * NF4_BYTES_PER_WEIGHT + m.other_params() * 4
    return (m.linear_params() + m.other_params()) * DTYPE_BYTES[dtype]


def lora_params(m: ModelShape, r: int) -> int:
    return m.layers * sum(r * (a + b) for a, b in m.linear_shapes())


def adapter_state_bytes(m: ModelShape, r: int, adapters: int) -> float:
    """Trainable LoRA adapters plus the value head, with gradients and AdamW state."""
    return (adapters * lora_params(m, r) + m.hidden + 1) * ADAM_BYTES_PER_PARAM


def kv_cache_bytes(m: ModelShape, batch: int, tokens: int, dtype: str) -> float:
    return 2 * m.layers * batch * tokens * m.kv_dim * DTYPE_BYTES[dtype]


def logits_bytes(rows: int, positions: int, vocab: int, copies: int) -> float:
    return rows * positions * vocab * 4 * copies


def layer_activation_elements(m: ModelShape) -> int:
    """Elements autograd keeps per token for one decoder layer (see the module docstring)."""
    return 8 * m.hidden + 4 * m.intermediate


def update_activation_bytes(m: ModelShape, run: RunShape) -> float:
    tokens = run.minibatch * (run.prompt_tokens + run.new_tokens)
    dtype = DTYPE_BYTES[run.dtype]
    one_layer = tokens * layer_activation_elements(m) * dtype
    if run.activation_checkpointing:
        kept = tokens * m.hidden * dtype * m.layers + one_layer
    else:
        kept = one_layer * m.layers
    return kept + logits_bytes(run.minibatch, run.new_tokens + 1, m.vocab, copies=4)


@dataclass
class MemoryPlan:
    terms: dict[str, float]
    """Bytes of every term (see the module docstring)."""
    persistent: tuple[str, ...]
    """Terms that live for the whole run; the others are phases, of which only the largest counts at the peak."""

    @property
    def peak(self) -> float:
        phases = [v for k, v in self.terms.items() if k not in self.persistent]
        return sum(self.terms[k] for k in self.persistent) + max(phases, default=0.0)

    def over_base(self) -> float:
        """The peak minus the base weights: what a run adds to a loaded base model."""
        return self.peak - self.terms["base weights"]

    def table(self, budget: float | None = None) -> str:
        lines = [f"  {name:<34} {value / GIB:8.2f} GiB" for name, value in self.terms.items()]
        lines.append(f"  {'peak (persistent + largest phase)':<34} {self.peak / GIB:8.2f} GiB")
        if budget is not None:
            lines.append(f"  {'device memory available':<34} {budget / GIB:8.2f} GiB")
        return "\n".join(lines)


def plan(m: ModelShape, run: RunShape, critic: CriticShape | None = None) -> MemoryPlan:
    """The memory plan of one iteration on one rank."""
    terms = {
        "base weights": base_weight_bytes(m, run.quantization, run.dtype),
        "adapters + value head + AdamW": adapter_state_bytes(m, run.lora_r, run.adapters),
        "rollout KV cache": kv_cache_bytes(m, run.samples, run.prompt_tokens + run.new_tokens, run.dtype),
        "teacher-forced logits (chunked)": logits_bytes(
            min(run.teacher_force_chunk, run.samples), run.new_tokens + 1, m.vocab, copies=2
        ),
        "update activations + logits": update_activation_bytes(m, run),
    }
    persistent = ["base weights", "adapters + value head + AdamW"]
    if critic is not None:
        terms["critic weights"] = base_weight_bytes(critic.model, critic.quantization, critic.dtype)
        terms["critic KV cache"] = kv_cache_bytes(
            critic.model, critic.batch, critic.prompt_tokens + critic.new_tokens, critic.dtype
        )
        persistent.append("critic weights")
    return MemoryPlan(terms, tuple(persistent))


def knobs(m: ModelShape, run: RunShape) -> list[str]:
    """The settings that would shrink the plan, largest saving first (for the does-not-fit error)."""
    advice = []
    if run.quantization == "none":
        advice.append("model.model.quantization: nf4")
    if not run.activation_checkpointing:
        advice.append("model.model.activation_checkpointing: true")
    if run.minibatch > 1:
        advice.append(f"a smaller model.ppo.minibatch_size (now {run.minibatch}) with model.ppo.grad_accumulation")
    if run.adapters == 2:
        advice.append("model.model.value_mode: shared_trunk")
    if run.samples > 1:
        advice.append(f"a smaller data batch_size (now {run.samples} samples on this rank) or more devices")
    if run.new_tokens > 16:
        advice.append(f"fewer model.generation.max_new_tokens (now {run.new_tokens})")
    if run.dtype == "float32":
        advice.append("model.model.dtype: bfloat16")
    return advice
