"""Evaluation metrics with the dense-reward paper's definitions (and the common alternatives, by ``mode``):
distinct-n, perplexity, toxicity aggregates over k samples per prompt."""

from lit_critic_rl.metrics.distinct import DistinctN, distinct_n
from lit_critic_rl.metrics.perplexity import Perplexity
from lit_critic_rl.metrics.toxicity import ToxicityAggregates

__all__ = ["DistinctN", "Perplexity", "ToxicityAggregates", "distinct_n"]
