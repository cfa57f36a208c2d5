"""The sample-efficiency summary (the issue's headline metric), on metrics files written like Lightning's CSVLogger."""

import csv

import pytest

from benchmarks.sample_efficiency import curve, gain_points, mean_curves, samples_to_reach, summary_lines

COLUMNS = [
    "step",
    "train/reward_extrinsic",
    "train/reward_intrinsic",
    "train/samples_seen",
    "train/critic_spans",
    "train/critic_spans_dropped",
    "train/critic_precision",
    "train/critic_recall",
    "perf/generate_s",
    "perf/update_s",
    "perf/update_backward_s",
    "epoch",
]


def write_metrics(path, rewards, spans=None, intrinsic=0.0, precision=None, recall=None):
    """One row per iteration (8 samples each) plus an epoch-end row without train metrics, as CSVLogger writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, COLUMNS)
        out.writeheader()
        for i, r in enumerate(rewards):
            out.writerow(
                {
                    "step": i,
                    "train/reward_extrinsic": r,
                    "train/reward_intrinsic": intrinsic,
                    "train/samples_seen": 8 * (i + 1),
                    "train/critic_spans": "" if spans is None else spans,
                    "train/critic_spans_dropped": "" if spans is None else 1,
                    "train/critic_precision": "" if precision is None else precision[i],
                    "train/critic_recall": "" if recall is None else recall[i],
                    "perf/generate_s": 1.0,
                    "perf/update_s": 2.0,
                    "perf/update_backward_s": 1.5,
                }
            )
        out.writerow({"step": len(rewards), "epoch": 0})
    return path


def test_curve_smooths_over_five_iterations_and_skips_rows_without_train_metrics(tmp_path):
    # seconds: generate 1 + update 2; update_backward is part of update and must not be added again
    run = curve(write_metrics(tmp_path / "m.csv", [0.0, 0.5, 0.0, 0.75, 0.0, 0.0], spans=2, intrinsic=0.25))
    assert run.samples == [8, 16, 24, 32, 40, 48]
    # trailing means: 0, (0+.5)/2, .5/3, 1.25/4, 1.25/5, (.5+0+.75+0+0)/5
    assert run.smooth == pytest.approx([0.0, 0.25, 1 / 6, 0.3125, 0.25, 0.25])
    assert (run.seconds, run.intrinsic, run.spans, run.dropped) == (3.0, 0.25, 2.0, 1.0)


def test_a_run_logged_before_the_span_count_existed_counts_zero_spans(tmp_path):
    assert curve(write_metrics(tmp_path / "m.csv", [0.1, 0.2])).spans == 0.0


def test_samples_to_reach_is_the_first_crossing_or_none():
    assert samples_to_reach([8, 16, 24], [0.1, 0.3, 0.2], 0.2) == 16
    assert samples_to_reach([8, 16, 24], [0.1, 0.3, 0.2], 0.31) is None


def test_summary_against_the_sparse_arms_final_and_best_levels(tmp_path):
    curves = {
        # sparse mean curve 0, .25, 1/6, .3125, .25, .25: final .25 first reached at 16 samples, best .3125 at 32
        "sparse": [curve(write_metrics(tmp_path / "s0.csv", [0.0, 0.5, 0.0, 0.75, 0.0, 0.0]))],
        "lexicon": [
            curve(write_metrics(tmp_path / "l0.csv", [0.0, 0.5, 0.5, 0.5, 0.5, 0.5], spans=3)),  # 0 .25 1/3 .375 .4 .5
            curve(write_metrics(tmp_path / "l1.csv", [0.0, 0.0, 0.0, 0.0, 0.0, 0.5], spans=1)),  # 0 0 0 0 0 .1
        ],
    }
    bands = mean_curves(curves)
    assert bands["lexicon"].mean == pytest.approx([0.0, 0.125, 1 / 6, 0.1875, 0.2, 0.3])
    assert bands["lexicon"].low == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.0, 0.1])
    assert bands["lexicon"].high == pytest.approx([0.0, 0.25, 1 / 3, 0.375, 0.4, 0.5])
    lines = summary_lines(curves, bands)
    assert lines[0] == "sparse final +0.250, sparse best +0.312"
    rows = {line.split(" | ")[0].strip("| "): [c.strip() for c in line.strip("|").split("|")] for line in lines[4:]}
    assert rows["sparse"][3:7] == ["16", "1.00", "32", "1.00"]
    # lexicon mean reaches .25 only at 48 samples (3x sparse's 16) and never reaches .3125
    assert rows["lexicon"][1:7] == ["+0.300", "+0.500 / +0.100", "48", "3.00", "not reached", "n/a"]
    assert rows["lexicon"][8:10] == ["2.0", "1.0"]  # spans located (mean of 3 and 1), quotes dropped per iteration


def test_a_longer_finished_run_in_the_output_folder_is_never_deleted(tmp_path):
    from benchmarks.sample_efficiency import iterations, run_arm

    full = write_metrics(tmp_path / "sparse-seed0" / "csv" / "version_0" / "metrics.csv", [0.1] * iterations(False))
    with pytest.raises(RuntimeError, match="longer run"):
        run_arm("sparse", 0, tmp_path, quick=True)
    assert full.exists()
    assert run_arm("sparse", 0, tmp_path, quick=False) == full  # the same folder resumes a full invocation


def test_grpo_arms_sample_the_same_count_per_iteration_as_groups_of_a_quarter_of_the_prompts():
    from benchmarks.sample_efficiency import GROUP, shape_args

    def option(opts, name):
        return opts[opts.index(name) + 1] if name in opts else None

    ppo, grpo = shape_args("sparse", quick=False), shape_args("grpo_lexicon", quick=False)
    assert (option(ppo, "--data.init_args.batch_size"), option(ppo, "--model.generation.samples_per_prompt")) == (
        "8",
        None,
    )
    assert GROUP == 4
    assert (option(grpo, "--data.init_args.batch_size"), option(grpo, "--model.generation.samples_per_prompt")) == (
        "2",
        "4",
    )
    assert option(shape_args("grpo_sparse", quick=True), "--data.init_args.batch_size") == "1"


def test_each_family_is_measured_against_its_own_sparse_arm(tmp_path):
    curves = {
        "sparse": [curve(write_metrics(tmp_path / "s.csv", [0.0, 0.5, 0.0, 0.75, 0.0, 0.0]))],  # final .25, best .3125
        "grpo_sparse": [curve(write_metrics(tmp_path / "g.csv", [0.1, 0.1, 0.1, 0.1, 0.1, 0.1]))],  # final=best .1
        "grpo_lexicon": [curve(write_metrics(tmp_path / "gl.csv", [0.0, 0.0, 0.6, 0.6, 0.6, 0.6]))],
    }
    lines = summary_lines(curves, mean_curves(curves))
    assert lines[0] == "sparse final +0.250, sparse best +0.312; grpo_sparse final +0.100, grpo_sparse best +0.100"
    rows = {line.split(" | ")[0].strip("| "): [c.strip() for c in line.strip("|").split("|")] for line in lines[4:]}
    # grpo_lexicon smoothed: 0, 0, .2, .3, .36, .48 -> reaches grpo_sparse's .1 at 24 samples; grpo_sparse at 8
    assert rows["grpo_lexicon"][3:7] == ["24", "3.00", "24", "3.00"]
    assert rows["grpo_sparse"][3:7] == ["8", "1.00", "8", "1.00"]


def test_noisy_arms_report_the_whole_runs_precision_and_sit_on_the_gain_curve(tmp_path):
    # NoisyCritic logs run-so-far totals, so the last row is the run's: seed 0 .75 / .5, seed 1 .65 / .7
    noisy = [
        curve(write_metrics(tmp_path / "n0.csv", [0.0, 0.3], spans=1, precision=[1.0, 0.75], recall=[0.9, 0.5])),
        curve(write_metrics(tmp_path / "n1.csv", [0.0, 0.1], spans=1, precision=[0.5, 0.65], recall=[0.1, 0.7])),
    ]
    curves = {
        "sparse": [curve(write_metrics(tmp_path / "s.csv", [0.0, 0.2]))],  # smoothed final (0 + .2) / 2 = .1
        "lexicon": [curve(write_metrics(tmp_path / "l.csv", [0.2, 0.6], spans=2))],  # final .4
        "lexicon_noisy0.4": noisy,  # finals .15 and .05
    }
    bands = mean_curves(curves)
    rows = {
        line.split(" | ")[0].strip("| "): [c.strip() for c in line.strip("|").split("|")]
        for line in summary_lines(curves, bands)[4:]
    }
    assert rows["lexicon_noisy0.4"][10] == "0.700 / 0.600"  # means over seeds of .75/.65 and .5/.7
    assert rows["lexicon"][10] == "1.000 / 1.000" and rows["sparse"][10] == "n/a"
    points = gain_points(curves, bands)
    assert [(p.arm, p.precision) for p in points] == [("lexicon", 1.0), ("lexicon_noisy0.4", pytest.approx(0.7))]
    assert points[0].gains == pytest.approx([0.3]) and points[1].gains == pytest.approx([0.05, -0.05])
    assert gain_points({"lexicon": curves["lexicon"]}, mean_curves({"lexicon": curves["lexicon"]})) == []
