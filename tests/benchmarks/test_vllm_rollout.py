import argparse

import pytest

from benchmarks.vllm_rollout import parse_shape, prompts_for, table


def test_a_shape_is_prompts_by_tokens_and_bad_ones_name_the_form():
    assert parse_shape("8x32") == (8, 32) and parse_shape("32X64") == (32, 64)
    for bad in ("8", "8x", "ax3", "0x4"):
        with pytest.raises(argparse.ArgumentTypeError, match="PROMPTSxTOKENS|at least 1"):
            parse_shape(bad)


def test_prompts_cycle_through_the_list():
    prompts = prompts_for(10)
    assert len(prompts) == 10 and prompts[8] == prompts[0] and prompts[9] == prompts[1]


def test_the_table_gives_medians_and_speed_relative_to_hf_of_the_same_shape():
    times = {
        ("8x32", "hf", ""): [2.0, 4.0, 3.0],  # median 3
        ("8x32", "vllm", "default"): [6.0, 5.0, 7.0],  # median 6: half HF's speed
        ("8x32", "vllm_push", "default"): [0.1, 0.2, 0.3],
        ("8x32", "vllm_base", "default"): [1.5, 1.0, 2.0],  # median 1.5: twice HF's speed
    }
    rows = table(times, ["8x32"], ["default", "bind01"], threads=2)
    assert rows[2] == "| 8x32 | hf | torch 2 | 3.00 | 1.00x |"
    assert rows[3] == "| 8x32 | vllm | default | 6.00 | 0.50x |"
    assert rows[4] == "| 8x32 | vllm_push | default | 0.20 |  |"
    assert rows[5] == "| 8x32 | vllm_base | default | 1.50 | 2.00x |"
    assert len(rows) == 6  # bind01 was not measured: no rows for it
