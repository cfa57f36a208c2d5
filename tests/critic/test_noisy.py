"""NoisyCritic and the agreement counts: identity at p=0, recall 0 when every mark is dropped, seeded streams that
survive a checkpoint, precision/recall by hand, and a fit from YAML around the lexicon critic on sentiment."""

import csv
import random
from pathlib import Path

import pytest

from lit_critic_rl.critic.agreement import agreement, value_marks
from lit_critic_rl.critic.base import Span, TokenValue
from lit_critic_rl.critic.lexicon import LexiconCritic
from lit_critic_rl.critic.noisy import NoisyCritic, corrupt
from lit_critic_rl.critic.step_oracle import StepOracle
from lit_critic_rl.data.arithmetic import ArithmeticProblem, format_prompt

TEXTS = [
    "A great cast, a dull plot, a wonderful score and an awful ending.",
    "The happy crowd loved the brilliant, terrible, lovely show.",
    "Nothing here is marked at all.",
]


def test_p0_is_the_wrapped_critic_unchanged_with_perfect_quality():
    lexicon = LexiconCritic()
    noisy = NoisyCritic(lexicon, p=0.0)
    assert noisy.critique([""] * 3, TEXTS) == lexicon.critique([""] * 3, TEXTS)
    stats = noisy.stats()
    assert (stats["critic_precision"], stats["critic_recall"]) == (1.0, 1.0)
    assert stats["critic_marks_total"] == stats["critic_reference_marks_total"] == 9.0


def test_p1_drop_only_removes_every_mark_recall_0():
    noisy = NoisyCritic(LexiconCritic(), p=1.0, flip_weight=0.0, move_weight=0.0)
    critiques = noisy.critique([""] * 3, TEXTS)
    assert all(c.ok and c.spans == [] for c in critiques)
    # 9 reference marks (great dull wonderful awful happy loved brilliant terrible lovely), none kept: recall 0/9;
    # no marks at all, so none wrong: precision 1.0 by convention
    assert noisy.counts.reference == 9
    assert noisy.stats() == {
        "critic_precision": 1.0,
        "critic_recall": 0.0,
        "critic_marks_total": 0.0,
        "critic_reference_marks_total": 9.0,
    }


def test_p1_flip_only_and_move_only_leave_no_mark_right():
    for weights in ({"drop_weight": 0.0, "move_weight": 0.0}, {"drop_weight": 0.0, "flip_weight": 0.0}):
        noisy = NoisyCritic(LexiconCritic(), p=1.0, **weights)
        for critique, reference in zip(
            noisy.critique([""] * 2, TEXTS[:2]), LexiconCritic().critique([""] * 2, TEXTS[:2])
        ):
            assert len(critique.spans) == len(reference.spans)  # flipped or moved, never lost (free words exist)
        assert (noisy.stats()["critic_precision"], noisy.stats()["critic_recall"]) == (0.0, 0.0)


def test_moved_marks_land_on_free_words_and_carry_their_text():
    text = TEXTS[0]
    (reference,) = LexiconCritic().critique([""], [text])
    moved = corrupt(reference.spans, text, random.Random(3), 1.0, (0.0, 0.0, 1.0))
    for span in moved:
        assert text[span.start : span.end] == span.text and span.text.isalnum()
        assert not any(r.start < span.end and span.start < r.end for r in reference.spans)


def test_same_seed_same_noise_other_seed_other_noise():
    def run(seed):
        return NoisyCritic(LexiconCritic(), p=0.5, seed=seed).critique([""] * 3, TEXTS * 1)

    assert run(0) == run(0)
    assert any(run(0) != run(s) for s in (1, 2, 3))


def test_the_noise_stream_and_counts_survive_a_checkpoint():
    uninterrupted = NoisyCritic(LexiconCritic(), p=0.5, seed=7)
    uninterrupted.critique([""] * 3, TEXTS)
    second = uninterrupted.critique([""] * 3, TEXTS)
    first = NoisyCritic(LexiconCritic(), p=0.5, seed=7)
    first.critique([""] * 3, TEXTS)
    resumed = NoisyCritic(LexiconCritic(), p=0.5, seed=0)
    resumed.load_state_dict(first.state_dict())
    assert resumed.critique([""] * 3, TEXTS) == second
    assert resumed.stats() == uninterrupted.stats()


def test_precision_and_recall_by_hand():
    """Reference A+ B- C+ D-; the noisy critic keeps A, flips B, moves C to free text, drops D, and adds nothing else.
    Right marks: A only (B+ has the wrong sign, C's new place overlaps nothing): precision 1/3.
    Found reference marks: A only: recall 1/4."""
    a, b, c, d = Span(0, 5, "", 1.0), Span(10, 15, "", -1.0), Span(20, 25, "", 1.0), Span(30, 35, "", -1.0)
    counts = agreement([a, b, c, d], [a, Span(10, 15, "", 1.0), Span(40, 44, "", 1.0)])
    assert (counts.right, counts.marks, counts.found, counts.reference) == (1, 3, 1, 4)
    assert counts.precision == pytest.approx(1 / 3) and counts.recall == pytest.approx(1 / 4)
    # overlapping by one character with the same sign counts; summed counts add up: (1+1)/(3+1), (1+1)/(4+1)
    total = counts + agreement([Span(0, 5, "", 1.0)], [Span(4, 9, "", 1.0)])
    assert total.precision == pytest.approx(2 / 4) and total.recall == pytest.approx(2 / 5)


def test_drop_rate_realises_recall_near_1_minus_p():
    """3000 marks dropped with p=0.4 each: recall is a Binomial(3000, 0.6)/3000, sd sqrt(.24/3000) = 0.009; the
    seeded draw is fixed, and the bound is 3 sd."""
    problem = ArithmeticProblem(7, (("+", 5), ("*", 3), ("-", 4)))
    noisy = NoisyCritic(StepOracle(), p=0.4, flip_weight=0.0, move_weight=0.0, seed=1)
    noisy.critique([format_prompt(problem)] * 750, [problem.solution()] * 750)  # 4 marks each
    assert noisy.counts.reference == 3000 and noisy.counts.precision == 1.0
    assert noisy.counts.recall == pytest.approx(0.6, abs=0.027)


def test_failed_critiques_pass_unchanged_and_are_not_counted():
    noisy = NoisyCritic(StepOracle(), p=1.0)
    (failed,) = noisy.critique(["no problem"], ["Step 1: 1 + 1 = 2"])
    assert failed.outcome == "failed" and noisy.counts.reference == 0


def test_value_marks_merge_runs_of_one_sign():
    values = [
        TokenValue(0, 2, 0.1),
        TokenValue(2, 4, 0.2),
        TokenValue(4, 5, 0.0),
        TokenValue(5, 7, -0.1),
        TokenValue(7, 9, -0.3),
        TokenValue(9, 10, 0.4),
        TokenValue(10, 10, -0.05),  # EOS: no characters, not a mark
    ]
    assert value_marks(values) == [Span(0, 4, "", 1.0), Span(5, 9, "", -1.0), Span(9, 10, "", 1.0)]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="critic.p"):
        NoisyCritic(LexiconCritic(), p=1.5)
    with pytest.raises(ValueError, match="drop/flip/move_weight"):
        NoisyCritic(LexiconCritic(), drop_weight=0.0, flip_weight=0.0, move_weight=0.0)


def test_noisy_lexicon_fits_from_yaml_and_logs_its_quality(tiny_model_path, tmp_path, monkeypatch):
    from lit_critic_rl.cli import main

    configs = Path(__file__).resolve().parents[2] / "configs"
    monkeypatch.chdir(tmp_path)
    cli = main(
        [
            "fit",
            "--config",
            str(configs / "quickstart.yaml"),
            "--config",
            str(configs / "debug" / "fast.yaml"),
            "--model.model.name_or_path",
            tiny_model_path,
            "--model.critic",
            str(configs / "critic" / "noisy_lexicon.yaml"),
            "--model.critic.init_args.p",
            "0.5",
        ]
    )
    assert type(cli.model.critic.critic).__name__ == "LexiconCritic" and cli.model.critic.p == 0.5
    metrics = tmp_path / "runs" / "quickstart" / "csv" / "version_0" / "metrics.csv"
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/iteration")]
    assert len(rows) == 2
    for row in rows:
        assert 0.0 <= float(row["train/critic_precision"]) <= 1.0 and 0.0 <= float(row["train/critic_recall"]) <= 1.0


def test_measured_critic_trains_on_its_critic_and_counts_against_the_reference():
    """Measured against itself the lexicon is perfect; the noisy lexicon measured against the lexicon agrees with its
    own count, and its critiques are what it returned, unchanged."""
    from lit_critic_rl.critic.measured import MeasuredCritic

    same = MeasuredCritic(LexiconCritic(), reference=LexiconCritic())
    assert same.critique([""] * 3, TEXTS) == LexiconCritic().critique([""] * 3, TEXTS)
    assert (same.counts.precision, same.counts.recall, same.counts.reference) == (1.0, 1.0, 9)
    noisy = NoisyCritic(LexiconCritic(), p=0.5, seed=4)
    expected = NoisyCritic(LexiconCritic(), p=0.5, seed=4).critique([""] * 3, TEXTS)
    measured = MeasuredCritic(noisy, reference=LexiconCritic())
    assert measured.critique([""] * 3, TEXTS) == expected
    assert measured.counts == noisy.counts and measured.counts.recall < 1.0


def test_measured_critic_reads_token_values_as_marks():
    """Reference: one -1 mark on characters 5-7. Token values: + on 0-4, - on 5-7: 2 marks, the negative one right
    and finding the reference mark: precision 1/2, recall 1/1."""
    from lit_critic_rl.critic.base import Critique
    from lit_critic_rl.critic.measured import MeasuredCritic

    class Fixed(LexiconCritic):  # a critic whose answer is given (inputs of the measurement, not our logic)
        def __init__(self, critique):
            self.answer = critique

        def critique(self, prompts, responses, scores=None):
            return [self.answer]

    values = Critique(True, token_values=[TokenValue(0, 4, 0.2), TokenValue(4, 5, 0.0), TokenValue(5, 7, -0.1)])
    measured = MeasuredCritic(Fixed(values), reference=Fixed(Critique(True, spans=[Span(5, 7, "", -1.0)])))
    measured.critique([""], ["abcdefg"])
    assert (measured.counts.precision, measured.counts.recall) == (0.5, 1.0)
