"""The reward stage: extrinsic score on the last token, critic values on span tokens, failures masked, counters."""

import pytest
import torch

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.base import Critique, Span
from lit_critic_rl.ppo.token_rewards import assemble_rewards, critic_stats, response_token_ranges, score_on_last_token
from lit_critic_rl.types import Rollout


def test_score_sits_on_last_real_token():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    out = score_on_last_token(torch.tensor([0.5, -1.0]), mask)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 0.5, 0.0], [-1.0, 0.0, 0.0, 0.0]]))


def _rollout(tokenizer, texts: list[str]) -> Rollout:
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [tokenizer.pad_token_id] * (T - len(r)) for r in rows])
    mask = torch.tensor([[1.0] * len(r) + [0.0] * (T - len(r)) for r in rows])
    query = torch.zeros(len(rows), 1, dtype=torch.long)
    return Rollout(["p"] * len(rows), texts, query, torch.ones_like(query), ids, mask)


def test_failed_and_unasked_rows_get_no_intrinsic_reward_but_keep_their_score(tiny_tokenizer):
    texts = ["a good film", "a good film", "a good film"]
    rollout = _rollout(tiny_tokenizer, texts)
    ranges = response_token_ranges(rollout, tiny_tokenizer)
    good = texts[0].index("good")
    critiques = [
        Critique(ok=False, error="TimeoutError"),
        Critique(ok=True, spans=[Span(good, good + 4, "positive", 1.0)]),
        None,  # the gate did not ask
    ]
    shaping = ShapingArgs(unflagged_value=0.25, positive_value=0.5, intrinsic_weight=2.0, extrinsic_weight=0.5)
    rewards = assemble_rewards(torch.tensor([1.0, 1.0, 1.0]), critiques, rollout, ranges, shaping)
    n = int(rollout.response_mask[1].sum())
    assert rewards.intrinsic[0].abs().sum() == 0 and rewards.intrinsic[2].abs().sum() == 0
    # row 1: tokens overlapping "good" get 2 * 0.5 = 1.0, the others 2 * 0.25 = 0.5
    expected = [1.0 if s < good + 4 and good < e else 0.5 for s, e in ranges[1]]
    assert rewards.intrinsic[1, :n].tolist() == expected
    # extrinsic 0.5 * 1.0 on each row's last token only
    assert rewards.extrinsic.sum(1).tolist() == [0.5, 0.5, 0.5]
    assert rewards.extrinsic[1, n - 1] == 0.5
    torch.testing.assert_close(rewards.total, rewards.extrinsic + rewards.intrinsic)
    assert rewards.stats == {
        "critic_failures": 1.0,
        "critic_empty": 0.0,
        "critic_spans": 1.0,
        "critic_spans_dropped": 0.0,
        "critic_calls": 2.0,
    }


def test_no_critic_counts_nothing():
    assert critic_stats([None, None]) == {
        "critic_failures": 0.0,
        "critic_empty": 0.0,
        "critic_spans": 0.0,
        "critic_spans_dropped": 0.0,
        "critic_calls": 0.0,
    }


def test_explicit_empty_failure_and_drops_are_counted_apart():
    from lit_critic_rl.critic.base import DroppedQuote

    critiques = [
        Critique(ok=True),  # said "none": a real zero
        Critique(ok=False, error="UnparseableCritique"),
        Critique(ok=True, dropped=[DroppedQuote("loved the music", "positive", "few_shot_echo")]),
        Critique(ok=True, spans=[Span(0, 2, "negative", -1.0)]),
    ]
    assert critic_stats(critiques) == {
        "critic_failures": 1.0,
        "critic_empty": 1.0,
        "critic_spans": 1.0,
        "critic_spans_dropped": 1.0,
        "critic_calls": 4.0,
    }


def test_substring_placement_reaches_every_equal_token_through_the_reward_stage(tiny_tokenizer):
    text = "the plot, the cast and the end"
    rollout = _rollout(tiny_tokenizer, [text])
    ranges = response_token_ranges(rollout, tiny_tokenizer)
    span = Span(10, 18, "negative", -1.0, "the cast")
    critiques = [Critique(ok=True, spans=[span])]
    substring = assemble_rewards(
        torch.zeros(1), critiques, rollout, ranges, ShapingArgs(placement="substring"), tiny_tokenizer
    )
    spread = assemble_rewards(torch.zeros(1), critiques, rollout, ranges, ShapingArgs(), tiny_tokenizer)
    assert (substring.intrinsic != 0).sum() > (spread.intrinsic != 0).sum()  # every "the", not just the quoted one
    with pytest.raises(ValueError, match="substring"):
        assemble_rewards(torch.zeros(1), critiques, rollout, ranges, ShapingArgs(placement="substring"))
