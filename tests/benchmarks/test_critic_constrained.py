from benchmarks.critic_constrained import SENTENCES, summarize
from lit_critic_rl.critic.base import Critique, DroppedQuote, Span


def test_summary_counts_located_quotes_and_vader_agreement_by_hand():
    critiques = [
        Critique(
            ok=True,
            spans=[Span(0, 5, "positive", 1.0, "loved"), Span(6, 10, "negative", -1.0, "dull")],
            dropped=[DroppedQuote("made up", "negative", "not_found")],
        ),
        Critique(ok=False, error="TruncatedCritique"),
        Critique(ok=True, spans=[Span(0, 5, "positive", 1.0, "table")]),
    ]
    vader = {"loved": 0.6, "dull": 0.4, "table": 0.0}  # "dull" scored positive here on purpose: a disagreement
    s = summarize(critiques, [1.0, 4.0, 2.0], vader.__getitem__)
    # named = 3 located + 1 dropped; scored = loved, dull (table is 0); agree = loved only; median(1, 2, 4) = 2
    assert (s.n, s.failed, s.named, s.located, s.scored, s.agree, s.median_seconds) == (3, 1, 4, 3, 2, 1, 2.0)
    assert (s.failed_rate, s.located_rate, s.agreement) == (1 / 3, 3 / 4, 1 / 2)


def test_the_benchmark_has_at_least_fifty_distinct_sentences():
    assert len(set(SENTENCES)) == len(SENTENCES) >= 50
