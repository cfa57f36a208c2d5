"""Evaluation metrics that torchmetrics does not have: distinct-n and toxicity aggregates over k samples per prompt."""

from lit_critic_rl.metrics.distinct import DistinctN, distinct_n
from lit_critic_rl.metrics.toxicity import ToxicityAggregates

__all__ = ["DistinctN", "ToxicityAggregates", "distinct_n"]
