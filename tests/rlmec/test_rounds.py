"""Iterated RLMEC data rounds: fresh samples every N iterations, the last round replayed in between."""

import json

import pytest
import torch

from lit_critic_rl.args import GenerationArgs, ModelArgs, PPOArgs
from lit_critic_rl.data.arithmetic import ArithmeticPrompts
from lit_critic_rl.module import DenseRewardPPO
from lit_critic_rl.objectives import RLMECObjective
from lit_critic_rl.rewards.arithmetic import ArithmeticReward
from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter, Rewrite
from lit_critic_rl.rlmec.rounds import SampleRounds
from lit_critic_rl.types import Rollout


def test_rounds_are_due_every_n_iterations_and_survive_a_checkpoint():
    rounds = SampleRounds(every=3)
    assert rounds.due(0) and rounds.due(5)  # nothing kept yet: sample
    empty = torch.zeros(2, 1)
    rollout = Rollout(["p1", "p2"], ["y1", "y2"], empty, empty, empty, empty)
    rounds.keep(rollout, [Rewrite(True, 1, "z1"), Rewrite(False, error="x")])
    assert [rounds.due(i) for i in range(7)] == [True, False, False, True, False, False, True]
    assert rounds.records[0] == {"prompt": "p1", "response": "y1", "ok": True, "first_error_step": 1, "rewrite": "z1"}
    restored = SampleRounds(every=3)
    restored.load_state_dict(rounds.state_dict())
    assert restored.records == rounds.records
    online = SampleRounds(every=1)
    online.keep(rollout, None)
    assert online.records == [] and online.due(1)


def test_regenerating_is_for_an_off_policy_objective_only():
    with pytest.raises(ValueError, match="regenerate_every must be 1 for the on-policy PPOObjective"):
        DenseRewardPPO(reward=ArithmeticReward(), ppo=PPOArgs(regenerate_every=2))
    with pytest.raises(ValueError, match="regenerate_every must be >= 1"):
        PPOArgs(regenerate_every=0)


def test_iterated_rlmec_samples_every_second_iteration(tiny_model_path, tmp_path, make_trainer):
    module = DenseRewardPPO(
        reward=ArithmeticReward(),
        model=ModelArgs(name_or_path=tiny_model_path),
        generation=GenerationArgs(max_new_tokens=6),
        ppo=PPOArgs(regenerate_every=2, epochs=1, minibatch_size=4, learning_rate=1e-2),
        objective=RLMECObjective(imitation_target="teacher"),
        rewriter=ArithmeticRewriter(),
    )
    module.configure_model()
    calls, generate = [], module.lm.generate
    module.lm.generate = lambda **kw: calls.append(1) or generate(**kw)  # count, then really sample
    make_trainer(tmp_path, limit_train_batches=4).fit(
        module, ArithmeticPrompts(train_size=16, val_size=4, test_size=4, batch_size=4)
    )
    assert len(calls) == 2 and module.iteration == 4
    samples = [json.loads(line) for line in (tmp_path / "csv" / "version_0" / "samples.jsonl").read_text().splitlines()]
    by_iteration = {i: [(r["prompt"], r["response"]) for r in samples if r["iteration"] == i] for i in (1, 2, 3, 4)}
    # a replayed iteration trains on the last round's prompts and responses, exactly; sampling would have taken
    # the iteration's own batch of 4 new problems (16 distinct ones in 4 batches), so the prompts would differ
    assert by_iteration[2] == by_iteration[1] and by_iteration[4] == by_iteration[3]
    assert {p for p, _ in by_iteration[1]}.isdisjoint(p for p, _ in by_iteration[3])  # iteration 3 sampled afresh
    assert all(len(rows) == 4 for rows in by_iteration.values())
