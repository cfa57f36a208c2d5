"""The GRM's own quality on held-out teacher data: does it find the first wrong step, and do its rewrites reach the
right answer?

    python -m lit_critic_rl.rlmec.grm_eval --adapter runs/arith_grm/csv/version_0/adapters/grm \\
        --data runs/rlmec/teacher_test.jsonl

For every usable record (the teacher could rewrite it) the GRM answers both prompts greedily:

- ``locate_match``: share of records where the GRM names the teacher's first changed step (``None`` for a right
  solution counts as a match when the teacher changed nothing);
- ``rewrite_accuracy``: share of rewrites whose final answer is right, over all usable records and over the ones
  that needed a fix (``fix_accuracy``);
- ``rewrite_exact``: share of rewrites equal to the teacher's, character for character (after stripping).
"""

from __future__ import annotations

import argparse
import json

import torch

from lit_critic_rl.rlmec.grm import check_reference_use, locate_prompt, parse_located, record_reference, rewrite_prompt
from lit_critic_rl.rlmec.grm_tokens import left_padded


@torch.no_grad()
def greedy(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 8) -> list[str]:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out = []
    for start in range(0, len(prompts), batch_size):
        rows = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts[start : start + batch_size]]
        ids, mask = left_padded(rows, pad)
        generated = model.generate(
            input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=pad
        )
        out += tokenizer.batch_decode(generated[:, ids.shape[1] :], skip_special_tokens=True)
    return out


def score(records: list[dict], located: list[str], rewrites: list[str]) -> dict[str, float]:
    """The quality figures of the module docstring from the GRM's answers to each usable record, in order."""
    from lit_critic_rl.data.arithmetic import final_answer, parse_problem

    usable = [r for r in records if r["ok"]]
    if not usable or not len(usable) == len(located) == len(rewrites):
        raise ValueError(f"{len(usable)} usable records, {len(located)} locate and {len(rewrites)} rewrite answers")
    match = [parse_located(text) == r["first_error_step"] for r, text in zip(usable, located)]
    right = [final_answer(y) == parse_problem(r["prompt"]).answer for r, y in zip(usable, rewrites)]
    exact = [y.strip() == r["rewrite"].strip() for r, y in zip(usable, rewrites)]
    fixes = [i for i, r in enumerate(usable) if r["first_error_step"] is not None]
    return {
        "records": float(len(usable)),
        "fixes": float(len(fixes)),
        "locate_match": sum(match) / len(usable),
        "rewrite_accuracy": sum(right) / len(usable),
        "fix_accuracy": sum(right[i] for i in fixes) / len(fixes) if fixes else float("nan"),
        "rewrite_exact": sum(exact) / len(usable),
    }


def evaluate(
    adapter: str,
    data: str,
    base: str = "asset:smollm2-135m-instruct",
    max_new_tokens: int = 64,
    limit: int = 0,
    reference_field: str | None = None,
) -> dict[str, float]:
    """The quality figures of ``adapter`` on the usable records of ``data``; with ``reference_field`` the prompts
    show each record's correct solution, which must match how the adapter was trained."""
    from peft import PeftModel

    from lit_critic_rl.library_messages import peft_wrapping
    from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
    from lit_critic_rl.rlmec.grm_critic import check_adapter_dir
    from lit_critic_rl.rlmec.teacher_data import read_records

    folder = check_adapter_dir(adapter)
    check_reference_use(folder, reference_field is not None, "--reference-field")
    records = [r for r in read_records(data) if r["ok"]]
    records = records[:limit] if limit else records
    refs = [record_reference(r, reference_field, f"teacher data '{data}'") for r in records]
    tokenizer = load_tokenizer(base)
    with peft_wrapping():  # PEFT reads a property transformers deprecated
        model = PeftModel.from_pretrained(load_causal_lm(base), str(folder)).eval()
    located = greedy(model, tokenizer, [locate_prompt(r["prompt"], r["response"], x) for r, x in zip(records, refs)], 6)
    prompts = [rewrite_prompt(r["prompt"], r["response"], x) for r, x in zip(records, refs)]
    rewrites = greedy(model, tokenizer, prompts, max_new_tokens)
    return score(records, located, rewrites)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", required=True, help="the GRM adapter folder (adapters/grm of a grm fit run)")
    parser.add_argument("--data", required=True, help="held-out teacher data (rlmec.teacher_data --split test)")
    parser.add_argument("--base", default="asset:smollm2-135m-instruct")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--limit", type=int, default=0, help="first N usable records only (0 = all)")
    parser.add_argument(
        "--reference-field", default=None, help="record field of the correct solution, if the GRM was trained on one"
    )
    args = parser.parse_args(argv)
    scores = evaluate(args.adapter, args.data, args.base, args.max_new_tokens, args.limit, args.reference_field)
    print(json.dumps(scores))


if __name__ == "__main__":
    main()
