"""The generative reward model's two tasks, as text: where is the first error, and the minimum-edit rewrite.

One module owns both prompts, so SFT (:mod:`lit_critic_rl.rlmec.grm_module`), token rewards
(:class:`~lit_critic_rl.rlmec.grm_critic.MinEditGRM`) and the quality check (:mod:`lit_critic_rl.rlmec.grm_eval`)
show the GRM byte-identical text. (The released RLMEC code builds the sampling and training prompts with separate
strings that differ; here there is one function per prompt.)

- locate: ``(problem, solution) -> "Step k"`` (the first wrong step) or ``"None"`` (the solution is right);
- rewrite: ``(problem, solution) -> ŷ``, the solution with the fewest edits that make it right (itself if it is).

The problem is whatever the policy was prompted with; the GRM learns to read it. With a reference (a correct
solution; the SFT records' ``reference_field``, the task's references when scoring) both prompts show it between
the problem and the solution, as the paper's GRM prompt does ("Correct solution", then the prediction). A GRM is
trained either with references or without, and :func:`write_prompt_config` stores which next to its adapter, so
:func:`check_reference_use` can refuse the other use. Prompt and answer are tokenized
separately and joined as ids (:func:`encode_pair`), both in SFT and when the GRM's probabilities of a solution are
read, so the solution's tokens are the same in both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

LOCATE = (
    "Below is a problem and a step-by-step solution. Name the first step that contains a mistake, as "
    '"Step k", or answer "None" if every step is right.\n\n### Problem\n{problem}\n{reference}'
    "### Solution\n{solution}\n### First wrong step\n"
)
REWRITE = (
    "Below is a problem and a step-by-step solution. Copy the solution, changing as little as possible so that "
    "every step and the final answer are right.\n\n### Problem\n{problem}\n{reference}### Solution\n{solution}\n"
    "### Corrected solution\n"
)
REFERENCE = "### Correct solution\n{reference}\n"
"""The section a reference adds, between the problem and the solution (nothing without one)."""
PROMPT_CONFIG = "grm_prompt.json"
"""The file next to a GRM adapter that says how its prompts were built (``{"reference_field": ...}``)."""
_LOCATED = re.compile(r"^\s*(?:Step\s*(\d+)|(None))\b", re.IGNORECASE)


def _reference(reference: str | None) -> str:
    return "" if reference is None else REFERENCE.format(reference=reference.strip())


def locate_prompt(problem: str, solution: str, reference: str | None = None) -> str:
    return LOCATE.format(problem=problem.strip(), reference=_reference(reference), solution=solution.strip())


def rewrite_prompt(problem: str, solution: str, reference: str | None = None) -> str:
    return REWRITE.format(problem=problem.strip(), reference=_reference(reference), solution=solution.strip())


def record_reference(row: dict, reference_field: str | None, source: str = "teacher data") -> str | None:
    """The reference of a record (None without ``reference_field``); a missing or empty one is an error."""
    if reference_field is None:
        return None
    value = row.get(reference_field)
    if value is None or not str(value).strip():
        raise KeyError(f"{source}: reference_field '{reference_field}' is missing or empty in a record")
    return str(value)


def write_prompt_config(folder: str | Path, reference_field: str | None) -> None:
    """Store, next to a GRM adapter, whether its prompts held a reference (:data:`PROMPT_CONFIG`)."""
    Path(folder, PROMPT_CONFIG).write_text(json.dumps({"reference_field": reference_field}) + "\n")


def trained_reference_field(folder: str | Path) -> str | None:
    """The ``reference_field`` a GRM adapter was trained with; None (no reference) for adapters saved before the
    prompt config existed, which had none."""
    path = Path(folder, PROMPT_CONFIG)
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("reference_field")


def check_reference_use(folder: str | Path, with_reference: bool, field: str) -> None:
    """Refuse to use a GRM adapter with references when it was trained without, or the reverse (``field``
    names the setting to change)."""
    trained = trained_reference_field(folder)
    if (trained is not None) != with_reference:
        how = f"with references (reference_field '{trained}')" if trained is not None else "without references"
        use = "with" if with_reference else "without"
        raise ValueError(
            f"{field}: the GRM adapter '{folder}' was trained {how}, but is used {use} them; its prompts would "
            f"not be the ones it learned (see {PROMPT_CONFIG} in the adapter folder)"
        )


def locate_target(first_error_step: int | None) -> str:
    return "None" if first_error_step is None else f"Step {first_error_step}"


def parse_located(text: str) -> int | None | str:
    """The step a locate answer names: an int, None for "None", or ``"unreadable"``."""
    match = _LOCATED.match(text)
    if match is None:
        return "unreadable"
    return None if match.group(2) else int(match.group(1))


def sft_examples(records: list[dict], reference_field: str | None = None) -> list[tuple[str, str]]:
    """Two ``(prompt, target)`` pairs per usable teacher record (:mod:`lit_critic_rl.rlmec.teacher_data`): the
    locate answer and the rewrite, with the record's ``reference_field`` shown as the correct solution when given.
    Records without a usable rewrite are skipped."""
    pairs = []
    for row in records:
        if not row["ok"]:
            continue
        ref = record_reference(row, reference_field)
        pairs.append((locate_prompt(row["prompt"], row["response"], ref), locate_target(row["first_error_step"])))
        pairs.append((rewrite_prompt(row["prompt"], row["response"], ref), row["rewrite"]))
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
