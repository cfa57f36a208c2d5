import math

import pytest

from lit_critic_rl.rewards import RewardError, VaderSentiment, score_samples


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
