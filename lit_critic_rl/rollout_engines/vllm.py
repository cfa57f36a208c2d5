"""Rollouts sampled by a vLLM server with the current policy adapter (``model.generation.engine: vllm``).

Each iteration the policy's LoRA adapter is saved with PEFT's ``save_pretrained`` under
``<run dir>/rollout_adapters/<name>`` and loaded into the server under that new name (the previous one is unloaded
and its folder removed), so the server always samples from the weights the trainer holds now, including right after
a resume. The prompts go to ``/v1/completions`` as token ids (the exact ids the trainer teacher-forces) and come back
as sampled token ids with their log-probs; stop strings, EOS and the sampling settings are those of
``model.generation``. The responses are cut at the first EOS or stop string exactly as the HF path cuts them
(:mod:`lit_critic_rl.ppo.rollout`), so the rest of the iteration cannot tell the engines apart, except that the
rollout carries ``engine_logprobs``: the update still uses the teacher-forced log-probs, and the gap between the two is
logged as ``train/engine_logprob_gap_mean``/``_max`` (the off-policy diagnostic of asynchronous RL frameworks).

A response shorter than ``max_new_tokens`` that ends with neither EOS nor a stop string (a server whose
``--max-model-len`` is too small, or one that cut the answer) is sampled again, ``engine_retries`` times, and then
raises :class:`~lit_critic_rl.rollout_engines.vllm_client.EngineError`.

Under DDP every rank talks to the same server; rank 0 pushes the adapter and the others wait for its name (an
all-gather) before they sample.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import torch

from lit_critic_rl.args import GenerationArgs
from lit_critic_rl.distributed import gather_objects, rank
from lit_critic_rl.models.policy import POLICY, PolicyValueModel
from lit_critic_rl.ppo.rollout import eos_ids, stop_length
from lit_critic_rl.rl.groups import repeat_prompts
from lit_critic_rl.rollout_engines.vllm_client import Completion, EngineError, VLLMClient
from lit_critic_rl.types import Rollout

ADAPTER_DIR = "rollout_adapters"


def sampling_settings(gen: GenerationArgs, eos: list[int]) -> dict:
    """The ``/v1/completions`` sampling fields that match ``gen`` (HF ``generate``'s settings of the same names)."""
    settings = {
        "max_tokens": gen.max_new_tokens,
        "min_tokens": gen.min_new_tokens,
        "temperature": gen.temperature,
        "top_p": gen.top_p,
        "top_k": gen.top_k if gen.top_k > 0 else -1,
        "stop_token_ids": eos,
        "skip_special_tokens": True,
    }
    if gen.stop_strings:
        settings.update(stop=list(gen.stop_strings), include_stop_str_in_output=True)
    return settings


def response_length(tokenizer, ids: list[int], eos: list[int], stops: list[str] | None) -> int:
    """Tokens kept of a sampled response: up to and including the first EOS, then cut by the first stop string
    (the HF path's ``response_mask_from_ids`` and ``cut_at_stops``)."""
    n = next((i + 1 for i, t in enumerate(ids) if t in eos), len(ids))
    return stop_length(tokenizer, ids[:n], stops) if stops else n


def is_short(tokenizer, completion: Completion, gen: GenerationArgs, eos: list[int]) -> bool:
    """Fewer tokens than ``max_new_tokens`` with neither an EOS nor a stop string to end them."""
    ids = completion.token_ids
    if len(ids) >= gen.max_new_tokens or any(t in eos for t in ids):
        return False
    if gen.stop_strings:
        text = tokenizer.decode(ids, skip_special_tokens=True)
        return not any(stop in text for stop in gen.stop_strings)
    return True


def rollout_from_completions(
    prompts: list[str], tokenizer, completions: list[Completion], eos: list[int], stops: list[str] | None, device
) -> Rollout:
    """A ``Rollout`` (left-padded prompts, right-padded responses) with ``engine_logprobs`` from the server."""
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    lengths = [response_length(tokenizer, c.token_ids, eos, stops) for c in completions]
    T = max(max(lengths), 1)
    response_ids = torch.full((len(prompts), T), tokenizer.pad_token_id, dtype=torch.long)
    engine_logprobs = torch.zeros(len(prompts), T)
    for b, (c, n) in enumerate(zip(completions, lengths)):
        response_ids[b, :n] = torch.tensor(c.token_ids[:n], dtype=torch.long)
        engine_logprobs[b, :n] = torch.tensor(c.logprobs[:n])
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()
    responses = [tokenizer.decode(c.token_ids[:n], skip_special_tokens=True) for c, n in zip(completions, lengths)]
    return Rollout(
        list(prompts),
        responses,
        enc["input_ids"].to(device),
        enc["attention_mask"].to(device),
        response_ids.to(device),
        mask.to(device),
        engine_logprobs=engine_logprobs.to(device),
    )


class VLLMEngine:
    """Samples rollouts through a vLLM server at ``gen.engine_url`` (see the module docstring)."""

    def __init__(self, gen: GenerationArgs, client: VLLMClient | None = None) -> None:
        self.gen = gen
        self.client = client or VLLMClient(gen.engine_url, gen.engine_timeout, gen.engine_retries)
        self.retries = gen.engine_retries
        self.loaded: tuple[str, Path] | None = None
        """The adapter the server holds now (its name and folder), pushed by this process."""

    def push_adapter(self, lm: PolicyValueModel, workdir: Path) -> str:
        """Save the policy adapter under a fresh name, load it into the server, drop the previous one."""
        name = f"policy-{uuid.uuid4().hex[:12]}"
        folder = Path(workdir) / ADAPTER_DIR / name
        lm.peft.save_pretrained(str(folder), selected_adapters=[POLICY])
        path = folder / POLICY if (folder / POLICY / "adapter_config.json").is_file() else folder
        self.client.load_adapter(name, str(path.resolve()))
        self.drop_loaded()
        self.loaded = (name, folder)
        return name

    def drop_loaded(self) -> None:
        """Unload the adapter this process pushed last (if any) and remove its folder."""
        if self.loaded is None:
            return
        name, folder = self.loaded
        self.loaded = None
        try:
            self.client.unload_adapter(name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def sample(self, lm: PolicyValueModel, tokenizer, prompts: list[str], gen: GenerationArgs, workdir: Path):
        """``gen.samples_per_prompt`` responses to each prompt (each prompt's in a row, like ``repeat_prompts``),
        with the current policy adapter, seeded from torch's generator (so a seeded or resumed run asks for the same
        samples)."""
        name = self.push_adapter(lm, workdir) if rank() == 0 else None
        name = gather_objects(name)[0]  # every rank samples with rank 0's adapter, after it is loaded
        eos = eos_ids(tokenizer, lm.peft)
        prompt_ids = [list(ids) for ids in tokenizer(prompts, padding=False)["input_ids"]]
        seed = int(torch.randint(0, 2**31 - 1, ()))
        completions = self.complete_all(name, prompt_ids, tokenizer, gen, eos, seed)
        repeated, _ = repeat_prompts(prompts, gen.samples_per_prompt)
        device = next(lm.parameters()).device
        return rollout_from_completions(repeated, tokenizer, completions, eos, gen.stop_strings, device)

    def complete_all(self, name, prompt_ids, tokenizer, gen, eos, seed: int) -> list[Completion]:
        """Completions of every prompt; the short ones are asked again, ``self.retries`` times, in one request of
        one response per short row and without a seed (the same seed would give the same short answer)."""
        settings, k = sampling_settings(gen, eos), gen.samples_per_prompt
        out = self.client.complete(name, prompt_ids, {**settings, "seed": seed}, n=k)
        todo = [i for i in range(len(out)) if is_short(tokenizer, out[i], gen, eos)]
        for _ in range(self.retries):
            if not todo:
                break
            answers = self.client.complete(name, [prompt_ids[i // k] for i in todo], settings)
            for i, answer in zip(todo, answers):
                out[i] = answer
            todo = [i for i in todo if is_short(tokenizer, out[i], gen, eos)]
        if todo:
            raise EngineError(
                f"rollout server returned {len(todo)} of {len(out)} responses shorter than "
                f"model.generation.max_new_tokens ({gen.max_new_tokens}) with neither EOS nor a stop string, "
                f"{self.retries + 1} times; is its --max-model-len at least the longest prompt plus max_new_tokens?"
            )
        return out

    def sample_groups(self, lm: PolicyValueModel, tokenizer, prompts: list[str], workdir: Path) -> Rollout:
        """``gen.samples_per_prompt`` responses to each prompt, one group per prompt (``Rollout.group``), with the
        policy adapter saved under ``workdir`` (the run dir)."""
        rollout = self.sample(lm, tokenizer, prompts, self.gen, workdir)
        _, group = repeat_prompts(prompts, self.gen.samples_per_prompt)
        return replace(rollout, group=group.to(rollout.response_ids.device))

    def close(self) -> None:
        """Unload this process's last adapter (the end of fit); a server already gone is not an error here."""
        try:
            self.drop_loaded()
        except EngineError:
            pass
