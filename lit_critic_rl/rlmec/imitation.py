"""The rewrite stage of an RLMEC iteration: whose rewrites the policy imitates, and the checks on them.

``imitation_target`` (``model.objective.init_args``) names the source:

- ``grm`` (default, the paper): the generative reward model's own minimum-edit rewrite of the policy's sample
  (:class:`~lit_critic_rl.rlmec.grm_rewriter.GRMRewriter` on the run's ``MinEditGRM`` critic). The teacher only
  made the GRM's training data. Rewrites saved in a ``RolloutReplay`` file are the teacher's, so they are not used;
  a kept round's (``regenerate_every``) are the GRM's own and are reused. Its failures are counted as
  ``train/grm_rewrite_failures``.
- ``teacher``: ``model.rewriter``'s rewrites (the exact arithmetic teacher, an LLM), or the teacher's rewrites
  saved in the replay file. A departure from the paper, named in the config.

The stage is declared like the critic's: it takes the references through
:class:`~lit_critic_rl.rewards.references.UsesReferences` (handed over at setup, only when its rewriter reads them:
``reads_references``, the LLM teacher, a GRM trained with them) and gives the rewriter each prompt's.

Every rewrite that claims a first wrong step k must keep the sample's lines before k: one whose earlier lines differ
(:func:`keeps_earlier_steps`) is a counted skip (``train/rewrite_prefix_mismatch``), never a silently used target.
"""

from __future__ import annotations

from dataclasses import replace

from lit_critic_rl.rewards.references import UsesReferences, references_read_by  # noqa: F401  (re-exported)
from lit_critic_rl.rlmec.grm_rewriter import GRMRewriter, ImitationTarget, first_changed_line
from lit_critic_rl.rlmec.rewriter import Rewrite, Rewriter
from lit_critic_rl.rlmec.rounds import Round
from lit_critic_rl.rlmec.targets import rewrite_targets
from lit_critic_rl.types import Rollout

PREFIX_MISMATCH = "rewrite changes lines before its first wrong step"


def keeps_earlier_steps(solution: str, rewrite: Rewrite) -> bool:
    """Whether ``rewrite`` keeps every non-empty line of ``solution`` before its ``first_error_step`` k: the first
    line where the two differ is line k or later (steps are numbered from 1 among the non-empty lines or, for the
    arithmetic teacher, among the step lines, which sit at line k or later). Failed and identity rewrites pass."""
    if not rewrite.ok or rewrite.first_error_step is None:
        return True
    changed = first_changed_line(solution, rewrite.text)
    return changed is None or changed >= rewrite.first_error_step


def checked_prefixes(solutions: list[str], rewrites: list[Rewrite]) -> tuple[list[Rewrite], int]:
    """``rewrites`` with each one that changes earlier lines (:func:`keeps_earlier_steps`) turned into a failure,
    and how many were."""
    out = [
        r if keeps_earlier_steps(y, r) else replace(r, ok=False, error=PREFIX_MISMATCH)
        for y, r in zip(solutions, rewrites)
    ]
    return out, sum(a.ok and not b.ok for a, b in zip(rewrites, out))


class Imitation(UsesReferences):
    def __init__(self, target: ImitationTarget, rewriter: Rewriter | None, critic, generation) -> None:
        """
        Args:
            target: ``grm`` or ``teacher`` (see the module docstring).
            rewriter: ``model.rewriter`` (the teacher), or None.
            critic: ``model.critic``: a ``MinEditGRM`` is the GRM whose rewrites ``grm`` imitates.
            generation: The policy's sampling settings (a GRM rewrite is as long as a sample, cut at its stop).
        """
        from lit_critic_rl.rlmec.grm_critic import MinEditGRM

        if target not in ("grm", "teacher"):
            raise ValueError(f"model.objective.init_args.imitation_target must be 'grm' or 'teacher', got {target!r}")
        grm = critic if isinstance(critic, MinEditGRM) else None
        if target == "grm" and rewriter is not None:
            raise ValueError(
                "model.rewriter is the teacher, but model.objective.init_args.imitation_target 'grm' imitates the "
                "GRM's own rewrites (the paper; model.critic: MinEditGRM); set imitation_target: teacher to imitate "
                "model.rewriter's, or drop model.rewriter"
            )
        self.target, self.has_grm = target, grm is not None
        if target == "grm" and grm is not None:
            stop = (generation.stop_strings or [None])[0]
            self.rewriter: Rewriter | None = GRMRewriter(grm, generation.max_new_tokens, stop)
        else:
            self.rewriter = rewriter if target == "teacher" else None

    @property
    def reads_references(self) -> bool:
        return bool(getattr(self.rewriter, "reads_references", False))

    def reader_name(self) -> str:
        return type(self.rewriter).__name__

    def check_replay(self) -> None:
        """An offline file's saved rewrites are the teacher's: ``grm`` needs the GRM to make its own."""
        if self.target == "grm" and not self.has_grm:
            raise ValueError(
                "model.objective.init_args.imitation_target 'grm' (the paper) needs model.critic: MinEditGRM to "
                "rewrite the replayed samples (the file's rewrites are the teacher's); set imitation_target: "
                "teacher to imitate those"
            )

    def rewrites(self, taken: Round) -> tuple[list[Rewrite] | None, bool]:
        """This round's rewrites: the saved ones where they are the chosen source's, else the chosen rewriter's
        (None without one: no imitation); and whether they were made now."""
        if taken.rewrites is not None and (self.target == "teacher" or not taken.from_file):
            return taken.rewrites, False
        if self.rewriter is None:
            return None, False
        rollout = taken.rollout
        refs = self.stage_references(self.rewriter, rollout.prompts, "model.rewriter")
        return self.rewriter.rewrite(rollout.prompts, rollout.responses, refs), True

    def targets(self, taken: Round, tokenizer) -> tuple[Rollout, dict, list | None]:
        """The rollout with its imitation targets, the stage's counters and the rewrites (kept with the round)."""
        rewrites, made_now = self.rewrites(taken)
        if rewrites is None:
            return taken.rollout, {}, None
        rewrites, mismatched = checked_prefixes(taken.rollout.responses, rewrites)
        rollout, stats = rewrite_targets(taken.rollout, rewrites, tokenizer)
        stats["rewrite_prefix_mismatch"] = float(mismatched)
        if isinstance(self.rewriter, GRMRewriter):  # the GRM's failures made this iteration (0 on a kept round)
            stats["grm_rewrite_failures"] = stats["rewrite_failures"] if made_now else 0.0
        return rollout, stats, rewrites
