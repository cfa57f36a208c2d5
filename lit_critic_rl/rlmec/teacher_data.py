"""RLMEC step 1, one data round: sample a policy on task problems, let a teacher rewrite each solution with minimal
edits, and save the pairs as jsonl. The file is the GRM's SFT data (:mod:`lit_critic_rl.rlmec.grm`) and, for a
held-out split, the yardstick of the GRM's quality (:mod:`lit_critic_rl.rlmec.grm_eval`).

    python -m lit_critic_rl.rlmec.teacher_data --split train --problems 512 --out runs/rlmec/teacher_train.jsonl

Sampling follows the reference by default: 5 samples per problem at temperature 0.7 and top-p 0.95, repeated
solutions of a problem dropped (:func:`unique_samples`).

One record per sampled solution::

    {"prompt", "response", "correct", "ok", "first_error_step", "rewrite", "error"}

``ok`` is False when the teacher could not make a usable rewrite (empty or unparseable solution, a rewrite still
wrong); such records are kept in the file, so nothing is lost, and counted, but :func:`balanced` leaves them out.
Correct solutions are identity rewrites (``first_error_step`` null); :func:`balanced` subsamples them to about as
many as the fixes, as the paper does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

from lit_critic_rl.rlmec.rewriter import Rewrite, Rewriter
from lit_critic_rl.rlmec.targets import references_for

STOP = "\n\n"
"""A solution ends at its first blank line (the arithmetic configs set the same ``generation.stop_strings``)."""


def records(
    prompts: list[str],
    responses: list[str],
    scores: list[float],
    rewrites: list[Rewrite],
    references: list[str] | None = None,
) -> list[dict]:
    """One JSON-ready record per sample (``correct`` is ``score > 0.5``), with its ``reference`` when given (what a
    GRM trained with ``reference_field: reference`` is shown)."""
    n_refs = len(prompts) if references is None else len(references)
    if not len(prompts) == len(responses) == len(scores) == len(rewrites) == n_refs:
        raise ValueError(
            f"records: {len(prompts)} prompts, {len(responses)} responses, {len(scores)} scores, "
            f"{len(rewrites)} rewrites, {n_refs} references"
        )
    rows = [
        {
            "prompt": p,
            "response": y,
            "correct": bool(s > 0.5),
            "ok": r.ok,
            "first_error_step": r.first_error_step,
            "rewrite": r.text if r.ok else "",
            "error": r.error,
        }
        for p, y, s, r in zip(prompts, responses, scores, rewrites)
    ]
    for row, ref in zip(rows, references or []):
        row["reference"] = ref
    return rows


def round_records(
    prompts: list[str], responses: list[str], reward, rewriter: Rewriter, references: dict[str, str]
) -> tuple[list[dict], int]:
    """The records of one sampled batch: repeated solutions of a problem dropped (:func:`unique_samples`), the rest
    scored by ``reward`` and rewritten by ``rewriter`` (any :class:`~lit_critic_rl.rlmec.rewriter.Rewriter`; the
    LLM teacher is shown each prompt's reference from ``references``). Returns the records and the duplicates."""
    keep = unique_samples(prompts, responses)
    duplicates = len(prompts) - len(keep)
    prompts, responses = [prompts[i] for i in keep], [responses[i] for i in keep]
    refs = references_for(prompts, references)
    rewrites = rewriter.rewrite(prompts, responses, refs)
    return records(prompts, responses, reward(prompts, responses), rewrites, refs), duplicates


def unique_samples(prompts: list[str], responses: list[str]) -> list[int]:
    """Indices of the first occurrence of each distinct ``(prompt, response)`` pair (responses compared after
    stripping), in order: the reference de-duplicates the n samples of a problem before rewriting them."""
    seen: set[tuple[str, str]] = set()
    keep = []
    for i, key in enumerate(zip(prompts, (y.strip() for y in responses))):
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return keep


def balanced(rows: Iterable[dict], seed: int = 0, identity_ratio: float = 1.0) -> list[dict]:
    """The usable records, with identity rewrites (``first_error_step`` None) subsampled to at most
    ``identity_ratio`` times the number of fixes (at least one identity is kept when there is any); order kept."""
    usable = [r for r in rows if r["ok"]]
    fixes = [i for i, r in enumerate(usable) if r["first_error_step"] is not None]
    identities = [i for i, r in enumerate(usable) if r["first_error_step"] is None]
    keep_n = min(len(identities), max(1 if identities else 0, round(identity_ratio * len(fixes))))
    kept = set(fixes) | set(random.Random(seed).sample(identities, keep_n))
    return [r for i, r in enumerate(usable) if i in kept]


def read_records(path: str | Path) -> list[dict]:
    """The records of a teacher-data jsonl file, checked for the fields the GRM needs."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"teacher data '{path}' does not exist")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"teacher data '{path}', line {n}: not JSON ({err.msg})") from None
        missing = {"prompt", "response", "ok", "first_error_step", "rewrite"} - set(row)
        if missing:
            raise KeyError(f"teacher data '{path}', line {n}: missing field(s) {sorted(missing)}")
        rows.append(row)
    if not rows:
        raise ValueError(f"teacher data '{path}' holds no records")
    return rows


def generate(
    model: str,
    split: str,
    problems: int,
    out: str | Path,
    max_new_tokens: int = 80,
    batch_size: int = 16,
    seed: int = 0,
    adapter: str | None = None,
    min_steps: int = 2,
    max_steps: int = 4,
    temperature: float = 0.7,
    top_p: float = 0.95,
    samples: int = 5,
    data=None,
    reward=None,
    rewriter: Rewriter | None = None,
) -> dict[str, int]:
    """Sample ``model`` (plus a saved policy adapter, for a later round) ``samples`` times on each of ``problems``
    problems of ``data``'s ``split`` at ``temperature`` and ``top_p`` (the reference: 0.7, 0.95, 5), drop repeated
    solutions of a problem, score with ``reward``, rewrite with ``rewriter`` (shown the task's references) and write
    ``out``; returns the counts. ``data``, ``reward`` and ``rewriter`` default to the arithmetic task, its reward
    and its exact teacher (``ArithmeticPrompts`` of ``min_steps``-``max_steps`` steps, whose references are the
    problems' own solutions); any task datamodule with references works with an
    :class:`~lit_critic_rl.rlmec.llm_rewriter.LLMRewriter` (GSM8K: ``GSM8KPrompts`` and ``ExactMatchReward``)."""
    import torch

    from lit_critic_rl.args import AdapterArgs, GenerationArgs
    from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
    from lit_critic_rl.models.policy import POLICY, PolicyValueModel
    from lit_critic_rl.ppo.rollout import sample

    data, reward, rewriter, prompts, references = _task(data, reward, rewriter, split, problems, min_steps, max_steps)
    tokenizer = load_tokenizer(model)
    lm = PolicyValueModel(load_causal_lm(model, "none", "float32"), AdapterArgs(), "shared_trunk")
    if adapter is not None:
        lm.peft.load_adapter(adapter, adapter_name=POLICY, is_trainable=False)
    lm.eval()
    torch.manual_seed(seed)
    gen = GenerationArgs(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop_strings=[STOP])
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {"samples": 0, "duplicates": 0, "correct": 0, "fixes": 0, "failures": 0}
    with path.open("w") as f:
        for start in range(0, len(prompts), batch_size):
            batch = [p for p in prompts[start : start + batch_size] for _ in range(samples)]
            rows, duplicates = round_records(
                batch, sample(lm, tokenizer, batch, gen).responses, reward, rewriter, references
            )
            counts["duplicates"] += duplicates
            for row in rows:
                f.write(json.dumps(row) + "\n")
                counts["samples"] += 1
                counts["correct"] += row["correct"]
                counts["fixes"] += row["ok"] and row["first_error_step"] is not None
                counts["failures"] += not row["ok"]
    return counts


def _task(data, reward, rewriter, split: str, problems: int, min_steps: int, max_steps: int):
    """The datamodule, reward, rewriter, the first ``problems`` prompts of ``split`` and the references (the
    arithmetic task's defaults where None)."""
    from lit_critic_rl.data.arithmetic import ArithmeticPrompts, parse_problem

    if data is None:
        sizes = {"train_size": 0, "val_size": 0, "test_size": 0, f"{split}_size": problems}
        data = ArithmeticPrompts(**sizes, min_steps=min_steps, max_steps=max_steps)
    if reward is None:
        from lit_critic_rl.rewards.arithmetic import ArithmeticReward

        reward = ArithmeticReward()
    if rewriter is None:
        from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter

        rewriter = ArithmeticRewriter()
    data.setup()
    prompts = {"train": data.train_prompts, "val": data.val_prompts, "test": getattr(data, "test_prompts", [])}[split]
    prompts = prompts[:problems]
    if not prompts:
        raise ValueError(f"teacher data: split '{split}' holds no prompts")
    references = data.references()
    if not references and isinstance(data, ArithmeticPrompts):  # its reference is each problem's own solution
        references = {p: parse_problem(p).solution() for p in prompts}
    if hasattr(reward, "set_references"):
        reward.set_references(references)
    return data, reward, rewriter, prompts, references


def parser():
    """The command line: the sampling flags, and the task as components (``--data``, ``--reward``, ``--rewriter``:
    a ``class_path``/``init_args`` spec as JSON, YAML or a file), e.g. GSM8K with the LLM teacher::

        --data '{"class_path": "lit_critic_rl.data.GSM8KPrompts"}' \\
        --reward lit_critic_rl.rewards.exact_match.ExactMatchReward --rewriter teacher.yaml

    where ``teacher.yaml`` is ``{class_path: lit_critic_rl.rlmec.LLMRewriter, init_args: {backend: ...}}`` with an
    ``OpenAICritic`` (or ``HFCritic``) spec as the backend.
    Without them: the arithmetic task, its reward and its exact teacher."""
    from jsonargparse import ActionConfigFile, ArgumentParser

    from lit_critic_rl.data.base import PromptDataModule
    from lit_critic_rl.rewards.base import Reward

    p = ArgumentParser(description=__doc__.split("\n\n")[0], exit_on_error=False)
    p.add_argument("--config", action=ActionConfigFile)
    p.add_argument("--model", default="asset:smollm2-135m-instruct", help="base model (hub id, folder, asset:)")
    p.add_argument("--adapter", type=str | None, default=None, help="a saved policy adapter to sample with")
    p.add_argument("--split", choices=["train", "val", "test"], default="train")
    p.add_argument("--problems", type=int, default=512)
    p.add_argument("--max-new-tokens", type=int, default=80)
    p.add_argument("--batch-size", type=int, default=16, help="problems per sampling batch")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (the reference: 0.7)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (the reference: 0.95)")
    p.add_argument("--samples", type=int, default=5, help="samples per problem, de-duplicated (reference: 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-steps", type=int, default=2, help="as data.init_args.min_steps of ArithmeticPrompts")
    p.add_argument("--max-steps", type=int, default=4, help="as data.init_args.max_steps of ArithmeticPrompts")
    p.add_argument("--data", type=PromptDataModule | None, default=None, help="task datamodule (its references)")
    p.add_argument("--reward", type=Reward | None, default=None, help="scores the samples (correct = > 0.5)")
    p.add_argument("--rewriter", type=Rewriter | None, default=None, help="the teacher (e.g. LLMRewriter)")
    p.add_argument("--out", required=True)
    return p


def main(argv: list[str] | None = None) -> None:
    p = parser()
    cfg = p.instantiate(p.parse_args(argv))
    for flag, value in (("problems", cfg.problems), ("samples", cfg.samples)):
        if value < 1:
            raise ValueError(f"--{flag} must be >= 1, got {value}")
    counts = generate(
        cfg.model, cfg.split, cfg.problems, cfg.out, cfg.max_new_tokens, cfg.batch_size, cfg.seed, cfg.adapter,
        cfg.min_steps, cfg.max_steps, cfg.temperature, cfg.top_p, cfg.samples, cfg.data, cfg.reward, cfg.rewriter,
    )  # fmt: skip
    print(json.dumps({"out": cfg.out, **counts}))


if __name__ == "__main__":
    main()
