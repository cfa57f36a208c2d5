"""RLMEC's token rewards as a critic: a generative reward model's probability of each token of the solution.

:class:`MinEditGRM` teacher-forces the policy's own solution y after the GRM's rewrite prompt
(:func:`~lit_critic_rl.rlmec.grm.rewrite_prompt`) and reads p_t, the GRM's probability of each token of y and of the
EOS after it (the reference code scores the EOS too; its value has the empty range at the end of y, so it lands on
the policy's EOS token when the sample has one, :func:`~lit_critic_rl.critic.shaping.values_on_tokens`): a GRM
trained on minimum-edit rewrites copies the tokens it would keep and puts little mass on the ones it would change.
Then ``r_t = clip(p_t - 0.5, -0.1, 0)`` when y's answer is wrong and ``clip(p_t - 0.5, 0, 0.5)`` when it is right
(:func:`~lit_critic_rl.rlmec.losses.grm_token_rewards`); right or wrong is the extrinsic score the critic is handed,
``score > correct_above``.

The values travel as :class:`~lit_critic_rl.critic.base.TokenValue` (character ranges of the GRM's tokens), so the
same rewards feed PPO (``--model.critic configs/critic/grm.yaml``) and the ``rlmec`` objective, and a GRM with its
own tokenizer works too (values are moved onto the policy's tokens by characters).

Where the GRM lives:

- ``base: null`` (default): the adapter is loaded onto the policy's own base as a third, frozen adapter (``grm``);
  one base holds policy, reference and GRM. The adapter must have been trained on the same base model.
- ``base: <model>``: a separate model plus the adapter (e.g. a larger GRM for a small policy).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lit_critic_rl.critic.base import CriticBackend, CriticSetup, Critique, TokenValue
from lit_critic_rl.rlmec.grm import check_reference_use, encode_pair, rewrite_prompt
from lit_critic_rl.rlmec.grm_tokens import answer_logprobs
from lit_critic_rl.rlmec.losses import grm_token_rewards

GRM = "grm"


def check_adapter_dir(path: str) -> Path:
    """The adapter folder, checked to hold a PEFT adapter (one error naming the field otherwise)."""
    folder = Path(path)
    if not (folder / "adapter_config.json").is_file():
        nested = sorted(p.parent.name for p in folder.glob("*/adapter_config.json"))
        hint = f" (it has adapter folders {nested}: point at one of them)" if nested else ""
        raise FileNotFoundError(
            f"model.critic.init_args.adapter_path: '{path}' holds no PEFT adapter (adapter_config.json){hint}"
        )
    return folder


class MinEditGRM(CriticBackend):
    def __init__(
        self,
        adapter_path: str,
        base: str | None = None,
        correct_above: float = 0.5,
        offset: float = 0.5,
        wrong_clip: tuple[float, float] = (-0.1, 0.0),
        right_clip: tuple[float, float] = (0.0, 0.5),
        batch_size: int = 8,
        reference: bool = False,
    ) -> None:
        """
        Args:
            adapter_path: Folder of the GRM's LoRA adapter (PEFT ``save_pretrained``; ``cli.py grm fit`` writes
                ``<run dir>/adapters/grm``).
            base: None = load the adapter onto the policy's base (shared); else the base model of a separate GRM.
            correct_above: A solution is right when its extrinsic score is above this.
            offset: Subtracted from p_t before clipping (the paper: 0.5).
            wrong_clip: Reward band of wrong solutions (the paper: -0.1, 0).
            right_clip: Reward band of right solutions (the paper: 0, 0.5).
            batch_size: Solutions per GRM forward.
            reference: Show the GRM each problem's correct solution (the task's references, passed to
                :meth:`critique`), as the paper's GRM prompt does. Must match how the adapter was trained
                (``grm_prompt.json`` next to it); otherwise setup fails.
        """
        if wrong_clip[0] > wrong_clip[1] or right_clip[0] > right_clip[1]:
            raise ValueError(f"model.critic.init_args: clip bands must be (low, high), got {wrong_clip}, {right_clip}")
        if batch_size < 1:
            raise ValueError(f"model.critic.init_args.batch_size must be >= 1, got {batch_size}")
        self.adapter_path, self.base = adapter_path, base
        self.correct_above, self.offset = correct_above, offset
        self.wrong_clip, self.right_clip = tuple(wrong_clip), tuple(right_clip)
        self.batch_size, self.reference = batch_size, reference
        self.shared = None
        self.model = None
        self.tokenizer = None

    @property
    def reads_references(self) -> bool:
        return bool(self.reference)

    def setup(self, context: CriticSetup) -> None:
        if self.shared is not None or self.model is not None:
            return  # fit then test in one process: already attached
        folder = check_adapter_dir(self.adapter_path)
        check_reference_use(folder, self.reference, "model.critic.init_args.reference")
        if self.base is None:
            self._check_same_base(folder, context.model_name)
            context.model.peft.load_adapter(str(folder), adapter_name=GRM, is_trainable=False)
            context.model._restore_trainable()
            self.shared, self.tokenizer = context.model, context.tokenizer
            return
        from peft import PeftModel

        from lit_critic_rl.library_messages import peft_wrapping
        from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer

        self.tokenizer = load_tokenizer(self.base)
        with peft_wrapping():  # PEFT reads a property transformers deprecated
            model = PeftModel.from_pretrained(load_causal_lm(self.base), str(folder), adapter_name=GRM)
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @staticmethod
    def _check_same_base(folder: Path, policy_base: str) -> None:
        """Refuse an adapter trained on another base than the policy's (when its config says which)."""
        trained_on = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
        from lit_critic_rl.models.loading import resolve_model_path

        if not trained_on or not Path(trained_on).is_dir():
            return  # a hub id or a folder of another machine: nothing local to compare
        if Path(resolve_model_path(policy_base)).resolve() != Path(trained_on).resolve():
            raise ValueError(
                f"model.critic.init_args.adapter_path: the GRM adapter was trained on '{trained_on}', not on the "
                f"policy's base '{policy_base}'; set model.critic.init_args.base to its own base model"
            )

    @torch.no_grad()
    def probabilities(
        self, prompts: list[str], responses: list[str], references: list[str] | None = None
    ) -> list[tuple[torch.Tensor, list]]:
        """Per solution: the GRM's probability of each of its tokens (and the EOS) after the rewrite prompt, and
        their ranges."""
        refs = self._references(references, len(prompts))
        pairs = [(rewrite_prompt(p, y, r), y) for p, y, r in zip(prompts, responses, refs)]
        out = []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            if self.shared is not None:
                with self.shared.adapter(GRM):
                    logp, mask = answer_logprobs(self.shared.peft, self.tokenizer, chunk, eos=True)
            else:
                logp, mask = answer_logprobs(self.model, self.tokenizer, chunk, eos=True)
            for b, (prompt, answer) in enumerate(chunk):
                _, ids, offsets = encode_pair(self.tokenizer, prompt, answer, eos=True)
                n = len(ids)
                out.append((logp[b, logp.shape[1] - n :].exp().float().cpu(), offsets))
        return out

    def _references(self, references: list[str] | None, n: int) -> list[str | None]:
        """The references to show, one per sample: all None when the GRM takes none (references given anyway are
        not shown: its prompts hold none); refuses missing ones when it takes them."""
        if not self.reference:
            return [None] * n
        if references is None or len(references) != n:
            raise ValueError(
                "MinEditGRM(reference=true) needs one reference solution per sample (the task datamodule's "
                f"references), got {'none' if references is None else len(references)} for {n} samples"
            )
        return list(references)

    def critique(
        self,
        prompts: list[str],
        responses: list[str],
        scores: list[float] | None = None,
        references: list[str] | None = None,
    ) -> list[Critique]:
        if scores is None:
            raise ValueError("MinEditGRM needs the extrinsic scores to tell right from wrong solutions")
        if self.shared is None and self.model is None:
            raise RuntimeError("MinEditGRM.critique before setup(): the PPO module attaches it at setup")
        results: list[Critique | None] = [None] * len(prompts)
        usable = [i for i, y in enumerate(responses) if y.strip()]
        for i in set(range(len(prompts))) - set(usable):
            results[i] = Critique(False, error="empty solution")
        refs = self._references(references, len(prompts))
        chosen = ([prompts[i] for i in usable], [responses[i] for i in usable], [refs[i] for i in usable])
        probs = self.probabilities(*chosen[:2], chosen[2] if self.reference else None) if usable else []
        for i, (p, offsets) in zip(usable, probs):
            correct = torch.tensor([scores[i] > self.correct_above])
            rewards = grm_token_rewards(p[None], correct, None, self.wrong_clip, self.right_clip, self.offset)[0]
            values = [TokenValue(s, e, float(r)) for (s, e), r in zip(offsets, rewards)]
            results[i] = Critique(True, token_values=values, raw=f"mean p_t {float(p.mean()):.3f}")
        return results
