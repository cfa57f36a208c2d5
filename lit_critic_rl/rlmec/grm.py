"""The generative reward model's two tasks, as text: where is the first error, and the minimum-edit rewrite.

One module owns both prompts, so SFT (:mod:`lit_critic_rl.rlmec.grm_module`), token rewards
(:class:`~lit_critic_rl.rlmec.grm_critic.MinEditGRM`) and the quality check (:mod:`lit_critic_rl.rlmec.grm_eval`)
show the GRM byte-identical text. (The released RLMEC code builds the sampling and training prompts with separate
strings that differ; here there is one function per prompt.)

- locate: ``(problem, solution) -> "Step k"`` (the first wrong step) or ``"None"`` (the solution is right);
- rewrite: ``(problem, solution) -> ŷ``, the solution with the fewest edits that make it right (itself if it is).

The problem is whatever the policy was prompted with; the GRM learns to read it. Prompt and answer are tokenized
separately and joined as ids (:func:`encode_pair`), both in SFT and when the GRM's probabilities of a solution are
read, so the solution's tokens are the same in both.
"""

from __future__ import annotations

import re

LOCATE = (
    "Below is a problem and a step-by-step solution. Name the first step that contains a mistake, as "
    '"Step k", or answer "None" if every step is right.\n\n### Problem\n{problem}\n### Solution\n{solution}\n'
    "### First wrong step\n"
)
REWRITE = (
    "Below is a problem and a step-by-step solution. Copy the solution, changing as little as possible so that "
    "every step and the final answer are right.\n\n### Problem\n{problem}\n### Solution\n{solution}\n"
    "### Corrected solution\n"
)
_LOCATED = re.compile(r"^\s*(?:Step\s*(\d+)|(None))\b", re.IGNORECASE)


def locate_prompt(problem: str, solution: str) -> str:
    return LOCATE.format(problem=problem.strip(), solution=solution.strip())


def rewrite_prompt(problem: str, solution: str) -> str:
    return REWRITE.format(problem=problem.strip(), solution=solution.strip())


def locate_target(first_error_step: int | None) -> str:
    return "None" if first_error_step is None else f"Step {first_error_step}"


def parse_located(text: str) -> int | None | str:
    """The step a locate answer names: an int, None for "None", or ``"unreadable"``."""
    match = _LOCATED.match(text)
    if match is None:
        return "unreadable"
    return None if match.group(2) else int(match.group(1))


def sft_examples(records: list[dict]) -> list[tuple[str, str]]:
    """Two ``(prompt, target)`` pairs per usable teacher record (:mod:`lit_critic_rl.rlmec.teacher_data`): the
    locate answer and the rewrite. Records without a usable rewrite are skipped."""
    pairs = []
    for row in records:
        if not row["ok"]:
            continue
        pairs.append((locate_prompt(row["prompt"], row["response"]), locate_target(row["first_error_step"])))
        pairs.append((rewrite_prompt(row["prompt"], row["response"]), row["rewrite"]))
    return pairs


def encode_pair(tokenizer, prompt: str, answer: str, eos: bool) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """Ids of ``prompt``, ids of ``answer`` (plus EOS when ``eos``), and each answer token's character range in
    ``answer`` (the EOS's range is empty, at the end)."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    enc = tokenizer(answer, add_special_tokens=False, return_offsets_mapping=True)
    answer_ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    if eos and tokenizer.eos_token_id is not None:
        answer_ids.append(tokenizer.eos_token_id)
        offsets.append((len(answer), len(answer)))
    return prompt_ids, answer_ids, offsets
