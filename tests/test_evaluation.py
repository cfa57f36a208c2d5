import math

import pytest
import torch
from torchmetrics.text import Perplexity

from lit_critic_rl.evaluation import perplexity_targets


def test_perplexity_ignores_padding_by_hand():
    # two real tokens with probabilities 1/2 and 1/4, then padding whose logits would be terrible
    logits = torch.log(torch.tensor([[[0.5, 0.5, 1e-9], [0.25, 0.75, 1e-9], [1e-9, 1e-9, 1.0]]]))
    ids = torch.tensor([[0, 0, 1]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    metric = Perplexity(ignore_index=-100)
    metric.update(logits, perplexity_targets(ids, mask))
    # exp(mean NLL) = exp((ln 2 + ln 4) / 2) = sqrt(8)
    assert float(metric.compute()) == pytest.approx(math.sqrt(8), rel=1e-4)
