from benchmarks.critic_vllm import outcome_counts
from lit_critic_rl.critic.base import Critique, DroppedQuote, Span


def test_outcome_counts_name_each_failure_and_each_dropped_quote():
    critiques = [
        Critique(ok=False, error="TruncatedCritique"),
        Critique(
            ok=False,
            error="AllQuotesDropped",
            dropped=[DroppedQuote("brilliant scene", "positive", "few_shot_echo"), DroppedQuote("x", "y", "not_found")],
        ),
        Critique(ok=True, spans=[Span(0, 4, "positive", 1.0, "good")], dropped=[DroppedQuote("z", "neg", "not_found")]),
        Critique(ok=False, error="TruncatedCritique"),
    ]
    assert outcome_counts(critiques) == {
        "failed:TruncatedCritique": 2,
        "failed:AllQuotesDropped": 1,
        "dropped:few_shot_echo": 1,
        "dropped:not_found": 2,
    }
