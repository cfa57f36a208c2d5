"""One frozen base model serving three roles through LoRA adapters.

- policy: LoRA adapter ``"policy"``;
- value: LoRA adapter ``"value"`` plus a scalar head (``value_mode="separate_adapter"``), or the scalar head on the
  policy adapter's last hidden state (``value_mode="shared_trunk"``);
- reference: the same base with every adapter disabled (PEFT's ``disable_adapter``), i.e. the initial policy.

There is never a second copy of the base weights. PEFT's ``set_adapter`` freezes the adapters it does not activate;
:meth:`PolicyValueModel.adapter` switches roles and restores trainability on exit, so the optimizer always sees both
adapters as trainable and an exception cannot leave the wrong role active.

Values read the decoder's final hidden state through a forward hook rather than ``output_hidden_states=True``, which
would keep every layer's hidden states alive. With ``activation_checkpointing`` the decoder layers recompute their
activations in the backward pass (HF's checkpointing, non-reentrant); HF only checkpoints modules in training mode, so
during a grad-enabled forward just those layer modules are flagged as training and every dropout stays off.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from lit_critic_rl.args import AdapterArgs
from lit_critic_rl.library_messages import peft_wrapping

POLICY, VALUE = "policy", "value"
ValueMode = Literal["separate_adapter", "shared_trunk"]


def position_ids_from_mask(attention_mask: Tensor) -> Tensor:
    """Positions that skip left padding, as HF ``generate`` computes them: ``cumsum(mask) - 1``, 0 on padding."""
    return (attention_mask.long().cumsum(-1) - 1).clamp_min(0)


@dataclass
class ForwardOutput:
    logits: Tensor | None
    """``[B, T, V]`` logits predicting the last ``T`` tokens of the input (None when not requested)."""
    values: Tensor | None
    """``[B, T]`` value estimates of the states before each of those tokens (None when not requested)."""


class PolicyValueModel(nn.Module):
    def __init__(
        self,
        base: nn.Module,
        adapter: AdapterArgs,
        value_mode: ValueMode = "shared_trunk",
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        from peft import get_peft_model

        if value_mode not in ("separate_adapter", "shared_trunk"):
            raise ValueError(f"model.value_mode must be 'separate_adapter' or 'shared_trunk', got '{value_mode}'")
        base = prepare_quantized(base)
        config = lora_config(adapter)
        self.value_mode = value_mode
        self._checkpointed: list[nn.Module] = []
        if activation_checkpointing:
            self._checkpointed = enable_activation_checkpointing(base)
        self._last_hidden: Tensor | None = None
        self._want_hidden = False
        base.get_decoder().register_forward_hook(self._capture_hidden)
        with peft_wrapping():  # PEFT reads a property transformers deprecated (lit_critic_rl/library_messages.py)
            self.peft = get_peft_model(base, config, adapter_name=POLICY)
        if value_mode == "separate_adapter":
            self.peft.add_adapter(VALUE, config)
        self.peft.set_adapter(POLICY)
        hidden = base.config.get_text_config().hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)
        self._restore_trainable()

    # ----------------------------------------------------------------- roles
    def _restore_trainable(self) -> None:
        """Policy and value adapters trainable; any other adapter loaded on the base (a GRM critic's) frozen."""
        for name, param in self.peft.named_parameters():
            if "lora_" in name:
                param.requires_grad_(adapter_of(name) in (POLICY, VALUE))

    @contextmanager
    def adapter(self, name: str) -> Iterator[None]:
        """Activate adapter ``name`` for the duration of the block."""
        previous = self.peft.active_adapter
        self.peft.set_adapter(name)
        try:
            yield
        finally:
            self.peft.set_adapter(previous)
            self._restore_trainable()

    @contextmanager
    def reference(self) -> Iterator[None]:
        """The frozen initial model: every adapter disabled. On exit PEFT re-activates the previous adapter and freezes
        the others, so their trainability is restored here too."""
        try:
            with self.peft.disable_adapter():
                yield
        finally:
            self._restore_trainable()

    # --------------------------------------------------------------- forward
    def _capture_hidden(self, module: nn.Module, args, output) -> None:
        if self._want_hidden:
            self._last_hidden = output[0] if isinstance(output, tuple) else output.last_hidden_state

    @contextmanager
    def _checkpointing(self) -> Iterator[None]:
        """Flag the checkpointed layers as training (HF's condition) for a grad-enabled forward, then restore."""
        active = torch.is_grad_enabled() and self._checkpointed
        previous = [m.training for m in self._checkpointed]
        if active:
            for m in self._checkpointed:
                m.training = True
        try:
            yield
        finally:
            for m, flag in zip(self._checkpointed, previous):
                m.training = flag

    def _run(self, input_ids: Tensor, attention_mask: Tensor, keep: int, hidden: bool):
        """Forward with ``keep`` logit positions; with ``hidden``, the final hidden state is in ``_last_hidden``."""
        self._want_hidden, self._last_hidden = hidden, None
        try:
            with self._checkpointing():
                return self.peft(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    position_ids=position_ids_from_mask(attention_mask),
                    logits_to_keep=keep,
                    use_cache=False,
                )
        finally:
            self._want_hidden = False

    def _values(self, response_len: int) -> Tensor:
        last_hidden, self._last_hidden = self._last_hidden[:, -response_len - 1 : -1], None
        return self.value_head(last_hidden.to(self.value_head.weight.dtype)).squeeze(-1)

    def policy_forward(self, input_ids: Tensor, attention_mask: Tensor, response_len: int) -> ForwardOutput:
        """Policy logits for the last ``response_len`` tokens (plus values in shared-trunk mode)."""
        shared = self.value_mode == "shared_trunk"
        with self.adapter(POLICY):
            out = self._run(input_ids, attention_mask, response_len + 1, hidden=shared)
        values = self._values(response_len) if shared else None
        return ForwardOutput(out.logits[:, :-1], values)

    def chunked_logprobs_supported(self) -> bool:
        """The LM head is a plain bias-free linear map of the final hidden state (no logit scaling or soft-capping),
        which :meth:`policy_logprobs` reproduces chunk by chunk."""
        head, config = self.peft.get_output_embeddings(), self.peft.config
        plain = type(head) is nn.Linear and head.bias is None
        return plain and not any(getattr(config, k, None) for k in ("final_logit_softcapping", "logit_scale"))

    def policy_logprobs(
        self, input_ids: Tensor, attention_mask: Tensor, response_ids: Tensor, temperature: float, chunk: int
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Log-probs of ``response_ids`` ``[B, T]`` under the policy, their (detached) entropies ``[B, T]`` and, in
        shared-trunk mode, values ``[B, T]``, without full-vocabulary logits: the LM head runs ``chunk`` positions at
        a time on the final hidden state (:func:`lit_critic_rl.rl.chunked_logprobs.chunked_token_logprobs`)."""
        from lit_critic_rl.rl.chunked_logprobs import chunked_token_logprobs

        T = response_ids.shape[1]
        with self.adapter(POLICY):
            self._run(input_ids, attention_mask, 1, hidden=True)
        hidden, self._last_hidden = self._last_hidden[:, -T - 1 : -1], None
        values = None
        if self.value_mode == "shared_trunk":
            values = self.value_head(hidden.to(self.value_head.weight.dtype)).squeeze(-1)
        head = self.peft.get_output_embeddings().weight
        logp, entropy = chunked_token_logprobs(hidden, head, response_ids, temperature, chunk)
        return logp, entropy, values

    def value_forward(self, input_ids: Tensor, attention_mask: Tensor, response_len: int) -> Tensor:
        """Values ``[B, T]`` of the states before each of the last ``response_len`` tokens."""
        name = VALUE if self.value_mode == "separate_adapter" else POLICY
        with self.adapter(name):
            self._run(input_ids, attention_mask, 1, hidden=True)
        return self._values(response_len)

    def reference_logits(self, input_ids: Tensor, attention_mask: Tensor, response_len: int) -> Tensor:
        with self.reference():
            out = self._run(input_ids, attention_mask, response_len + 1, hidden=False)
        return out.logits[:, :-1]

    def adapter_logits(self, name: str, input_ids: Tensor, attention_mask: Tensor, keep: int) -> Tensor:
        """Logits of the last ``keep`` positions with adapter ``name`` active (e.g. a GRM loaded with
        ``peft.load_adapter``); no values, no checkpointing flags."""
        with self.adapter(name):
            return self._run(input_ids, attention_mask, keep, hidden=False).logits

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def base_parameter_count(self) -> int:
        """Elements of base (non-adapter, non-head) weights held in memory, each storage counted once."""
        seen, total = set(), 0
        for name, param in self.peft.named_parameters():
            if "lora_" in name or param.data_ptr() in seen:
                continue
            seen.add(param.data_ptr())
            total += param.numel()
        return total

    @torch.no_grad()
    def generate(self, merged: bool = False, **kwargs) -> Tensor:
        """HF ``generate`` with the policy adapter; with ``merged``, from merged weights (:func:`merged_adapter`)."""
        if not merged:
            with self.adapter(POLICY):
                return self.peft.generate(**kwargs)
        try:
            with merged_adapter(self.peft, POLICY):
                return self.peft.generate(**kwargs)
        finally:
            self._restore_trainable()


@contextmanager
def merged_adapter(peft_model: nn.Module, name: str) -> Iterator[int]:
    """Run the block with adapter ``name`` merged: each adapted ``nn.Linear`` computes with a temporary weight
    ``W + scale * B @ A`` and the adapter layers are switched off, so a layer costs one matmul instead of the
    adapter's extra five ops. ``W`` itself is never written (PEFT's ``merge`` adds and later subtracts in place,
    which leaves rounding drift in the shared base); it is put back on exit. Only fp32 ``nn.Linear`` bases are merged:
    a 4-bit base cannot be, and a bf16 one would round small adapter updates away (``|delta| < |W| / 512``), so
    those keep their unmerged adapter. Yields the number of merged layers.

    The merged sum is rounded once more than the unmerged path, so logits differ by float rounding only (bounded in
    tests/models/test_policy.py); the PPO ratios use teacher-forced log-probs of the unmerged adapter either way."""
    from peft.tuners.lora import LoraLayer

    swapped: list[tuple[nn.Module, nn.Module, nn.Parameter]] = []
    try:
        for module in peft_model.modules():
            base = module.get_base_layer() if isinstance(module, LoraLayer) else None
            if type(base) is not nn.Linear or base.weight.dtype != torch.float32 or name not in module.lora_A:
                continue
            weight = base.weight
            delta = module.get_delta_weight(name).to(weight.dtype)
            base._parameters["weight"] = nn.Parameter(weight.detach() + delta, requires_grad=False)
            swapped.append((module, base, weight))
        previous = peft_model.active_adapter
        peft_model.set_adapter(name)
        for module, _, _ in swapped:
            module._disable_adapters = True
        try:
            yield len(swapped)
        finally:
            for module, _, _ in swapped:
                module._disable_adapters = False
            peft_model.set_adapter(previous)
    finally:
        for _, base, weight in swapped:
            base._parameters["weight"] = weight


def lora_config(adapter: AdapterArgs):
    """PEFT's LoRA config for a causal LM from ``model.adapter`` (policy, value and GRM adapters alike)."""
    from peft import LoraConfig

    return LoraConfig(
        r=adapter.r,
        lora_alpha=adapter.alpha,
        lora_dropout=adapter.dropout,
        target_modules=adapter.target_modules,
        task_type="CAUSAL_LM",
    )


def prepare_quantized(base: nn.Module) -> nn.Module:
    """A 4/8-bit base made ready for adapter training (PEFT's k-bit preparation); other bases unchanged."""
    if getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False):
        from peft import prepare_model_for_kbit_training

        return prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
    return base


def adapter_of(parameter_name: str) -> str | None:
    """The adapter a PEFT LoRA parameter belongs to: ``...q_proj.lora_A.<adapter>.weight`` -> ``<adapter>``."""
    parts = parameter_name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.startswith("lora_"):
            return parts[i + 1]
    return None


def enable_activation_checkpointing(base: nn.Module) -> list[nn.Module]:
    """Turn on HF activation checkpointing (non-reentrant) in ``base``; returns the checkpointed layer modules."""
    kwargs = {"use_reentrant": False}
    if hasattr(base, "activation_checkpointing_enable"):
        base.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if hasattr(base, "disable_input_require_grads"):
        base.disable_input_require_grads()  # only reentrant checkpointing needs grad-requiring inputs
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in base.modules() if isinstance(m, GradientCheckpointingLayer) and m.gradient_checkpointing]
    if not layers:
        raise ValueError(f"model.activation_checkpointing: {type(base).__name__} has no checkpointable layers")
    return layers
