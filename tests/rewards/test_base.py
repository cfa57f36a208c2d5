import math

import pytest
import torch

from lit_critic_rl.rewards import RewardError, VaderSentiment, score_samples, sparse_token_rewards


def test_sparse_reward_sits_on_last_real_token():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    out = sparse_token_rewards(torch.tensor([0.5, -1.0]), mask)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 0.5, 0.0], [-1.0, 0.0, 0.0, 0.0]]))


def test_score_samples_rejects_wrong_length():
    with pytest.raises(RewardError, match="returned 1 scores for 2 samples"):
        score_samples(lambda p, r: [1.0], ["a", "b"], ["x", "y"])


@pytest.mark.parametrize("bad", [math.nan, math.inf, "high", None])
def test_score_samples_rejects_non_finite(bad):
    def reward(prompts, responses):
        return [0.0, bad]

    with pytest.raises(RewardError, match="reward.*samples \\[1\\]"):
        score_samples(reward, ["a", "b"], ["x", "y"])


def test_vader_scores_sentiment():
    scores = VaderSentiment()(["", ""], ["a wonderful, great film", "a terrible, awful film"])
    assert scores[0] > 0.5 and scores[1] < -0.5
