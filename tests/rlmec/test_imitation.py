"""The rewrite stage: whose rewrites are imitated, references handed to those that read them, and rewrites that
change steps before their first wrong step skipped and counted."""

import pytest
import torch

from lit_critic_rl.args import GenerationArgs
from lit_critic_rl.critic.base import CriticBackend, Critique
from lit_critic_rl.critic.runner import CriticRunner
from lit_critic_rl.perf import PhaseTimer
from lit_critic_rl.rlmec.imitation import Imitation, checked_prefixes, keeps_earlier_steps, references_read_by
from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter, Rewrite

SAMPLE = "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 35\nThe answer is 35"
FIX_AT_2 = "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36\nThe answer is 36"
CHANGED_STEP_1 = "Step 1: 7 + 5 = 13\nStep 2: 13 * 3 = 36\nThe answer is 36"


def test_a_rewrite_must_keep_the_lines_before_its_first_wrong_step():
    assert keeps_earlier_steps(SAMPLE, Rewrite(True, 2, FIX_AT_2))  # first changed line 2 >= k = 2
    assert not keeps_earlier_steps(SAMPLE, Rewrite(True, 2, CHANGED_STEP_1))  # changed line 1 < k = 2
    assert keeps_earlier_steps(SAMPLE, Rewrite(True, 1, CHANGED_STEP_1))  # it said step 1: honest
    assert keeps_earlier_steps(SAMPLE, Rewrite(True, None, SAMPLE))  # identity
    assert keeps_earlier_steps(SAMPLE, Rewrite(False, error="teacher failed"))
    rewrites = [Rewrite(True, 2, FIX_AT_2), Rewrite(True, 2, CHANGED_STEP_1), Rewrite(False, error="x")]
    out, skipped = checked_prefixes([SAMPLE] * 3, rewrites)
    assert skipped == 1  # the failure was one already: not counted again
    assert [r.ok for r in out] == [True, False, False] and out[1].error.startswith("rewrite changes lines")
    # the exact teacher numbers steps among step lines, which sit at line k or later: never a mismatch
    prompt = "Problem: Start with 7. Add 5. Multiply by 3. What is the result?\n"
    fix = ArithmeticRewriter().rewrite_one(prompt, "Let me see.\n" + SAMPLE)
    assert fix.first_error_step == 2 and keeps_earlier_steps("Let me see.\n" + SAMPLE, fix)


class ReferenceReader(CriticBackend):
    """A critic that needs each sample's reference (the interface, implemented for the test)."""

    reads_references = True

    def __init__(self):
        self.seen = []

    def critique(self, prompts, responses, scores=None, references=None):
        self.seen.append(references)
        return [Critique(True) for _ in prompts]


def test_references_reach_the_critics_and_rewriters_that_read_them():
    refs = {"p1": "#### 1", "p2": "#### 2"}
    assert references_read_by(ArithmeticRewriter(), ["p1"], refs, "model.rewriter") is None  # it does not read
    reader = ReferenceReader()
    assert references_read_by(reader, ["p2", "p1"], refs, "model.critic") == ["#### 2", "#### 1"]
    with pytest.raises(ValueError, match=r"model.critic \(ReferenceReader\) reads reference solutions"):
        references_read_by(reader, ["p1"], {}, "model.critic")
    runner = CriticRunner(reader, PhaseTimer(), gate_threshold=0.5)
    runner.start(["p1", "p2"], ["a", "b"], torch.tensor([0.0, 1.0]), ["#### 1", "#### 2"]).wait()
    assert reader.seen == [["#### 1"]]  # only the gated-in sample's reference, in order


def test_imitation_target_names_its_source_or_fails_naming_the_setting():
    gen = GenerationArgs()
    with pytest.raises(ValueError, match="imitation_target 'grm' imitates the GRM's own rewrites"):
        Imitation("grm", ArithmeticRewriter(), None, gen)
    with pytest.raises(ValueError, match="needs model.critic: MinEditGRM to rewrite the replayed samples"):
        Imitation("grm", None, None, gen).check_replay()
    assert Imitation("grm", None, None, gen).rewriter is None  # nothing to imitate: L_IR is skipped
    teacher = ArithmeticRewriter()
    assert Imitation("teacher", teacher, None, gen).rewriter is teacher
    Imitation("teacher", None, None, gen).check_replay()  # the file's saved rewrites are the teacher's
    with pytest.raises(ValueError, match="must be 'grm' or 'teacher'"):
        Imitation("policy", None, None, gen)


class ReferenceRewriter(ArithmeticRewriter):
    """The exact teacher, declared as reading references (as the LLM teacher does), recording what it is given."""

    reads_references = True

    def __init__(self):
        self.seen = []

    def rewrite(self, problems, solutions, references=None):
        self.seen.append(references)
        return super().rewrite(problems, solutions, references)


def test_stages_receive_references_at_setup_only_when_their_component_reads_them():
    from lit_critic_rl.rewards.references import hand_over_references
    from lit_critic_rl.rlmec.rounds import Round
    from lit_critic_rl.types import Rollout

    class NoReader(ReferenceReader):
        reads_references = False

    reader, plain = CriticRunner(ReferenceReader(), PhaseTimer()), CriticRunner(NoReader(), PhaseTimer())
    teacher, exact = Imitation("teacher", ReferenceRewriter(), None, GenerationArgs()), ArithmeticRewriter()
    hand_over_references(
        {}, {"model.critic": plain, "model.rewriter": Imitation("teacher", exact, None, GenerationArgs())}
    )
    with pytest.raises(ValueError, match=r"model.critic \(ReferenceReader\) compares responses with references"):
        hand_over_references({}, {"model.critic": reader})
    with pytest.raises(ValueError, match=r"model.rewriter \(ReferenceRewriter\) compares responses with references"):
        hand_over_references({}, {"model.rewriter": teacher})
    prompt = "Problem: Start with 7. Add 5. Multiply by 3. What is the result?\n"
    hand_over_references({prompt: "#### 36", "p": "#### 1"}, {"model.critic": reader, "model.rewriter": teacher})
    reader.start([prompt], ["a"], torch.tensor([0.0])).wait()
    assert reader.critic.seen == [["#### 36"]]  # looked up from the handed-over table
    empty = torch.zeros(1, 1)
    teacher.rewrites(Round(Rollout([prompt], [SAMPLE], empty, empty, empty, empty)))
    assert teacher.rewriter.seen == [["#### 36"]]
