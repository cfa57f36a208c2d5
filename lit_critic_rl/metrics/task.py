"""Task metrics computed by ``validate``/``test`` on held-out prompts with k samples per prompt.

The module always logs mean reward, distinct-1/2/3 and perplexity; a task adds its own through one of these classes
(``model.metrics`` in YAML). ``update`` receives every sample of an evaluation with its extrinsic reward.
"""

from __future__ import annotations

from lit_critic_rl.metrics.toxicity import ToxicityAggregates
from lit_critic_rl.rewards.references import UsesReferences


class TaskMetrics:
    """Base class: no task-specific metric."""

    def reset(self) -> None:
        pass

    def update(self, prompts: list[str], responses: list[str], rewards: list[float]) -> None:
        pass

    def compute(self) -> dict[str, float]:
        return {}


class SentimentMetrics(TaskMetrics):
    """``percent_positive``: share of samples whose score exceeds ``threshold``; the score is the reward's, or a
    separate evaluation classifier's (the paper judges with an SST-2 classifier at p > 0.5)."""

    def __init__(self, threshold: float = 0.05, classifier=None) -> None:
        """
        Args:
            threshold: A sample is positive when its score is above this (0.05 for VADER compound, 0.5 for a prob).
            classifier: Optional callable ``(prompts, responses) -> scores`` used instead of the reward.
        """
        self.threshold, self.classifier = threshold, classifier
        self.reset()

    def reset(self) -> None:
        self.positive, self.total = 0, 0

    def update(self, prompts: list[str], responses: list[str], rewards: list[float]) -> None:
        scores = self.classifier(prompts, responses) if self.classifier is not None else rewards
        self.positive += sum(s > self.threshold for s in scores)
        self.total += len(scores)

    def compute(self) -> dict[str, float]:
        return {"percent_positive": 100.0 * self.positive / self.total if self.total else 0.0}


class ToxicityMetrics(TaskMetrics):
    """Expected max toxicity and toxicity probability over the k samples of each prompt, with toxicity = 1 - reward
    (the detoxification rewards are 1 - toxicity)."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.aggregates = ToxicityAggregates(threshold)

    def reset(self) -> None:
        self.aggregates.reset()

    def update(self, prompts: list[str], responses: list[str], rewards: list[float]) -> None:
        self.aggregates.update(prompts, [1.0 - r for r in rewards])

    def compute(self) -> dict[str, float]:
        return self.aggregates.compute()


class SummarizationMetrics(UsesReferences, TaskMetrics):
    """ROUGE-1/2/L F-measures (torchmetrics) against the reference summaries, which the datamodule hands over."""

    def __init__(self) -> None:
        from torchmetrics.text import ROUGEScore

        self.rouge = ROUGEScore(rouge_keys=("rouge1", "rouge2", "rougeL"))

    def reset(self) -> None:
        self.rouge.reset()

    def update(self, prompts: list[str], responses: list[str], rewards: list[float]) -> None:
        self.rouge.update(responses, self.references_for(prompts))

    def compute(self) -> dict[str, float]:
        scores = self.rouge.compute()
        return {k: float(scores[f"{k}_fmeasure"]) for k in ("rouge1", "rouge2", "rougeL")}


class MathMetrics(TaskMetrics):
    """``accuracy``: the mean exact-match reward."""

    def reset(self) -> None:
        self.correct, self.total = 0.0, 0

    def __init__(self) -> None:
        self.reset()

    def update(self, prompts: list[str], responses: list[str], rewards: list[float]) -> None:
        self.correct += sum(rewards)
        self.total += len(rewards)

    def compute(self) -> dict[str, float]:
        return {"accuracy": self.correct / self.total if self.total else 0.0}
