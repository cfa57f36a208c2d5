"""The exact arithmetic teacher on hand-made solutions: minimal edits, the fix carried forward, counted failures."""

import random
import re

import pytest

from lit_critic_rl.data.arithmetic import ArithmeticProblem, final_answer, format_prompt, random_problem
from lit_critic_rl.rlmec.alignment import edited_mask
from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter, Rewrite

# 7 + 5 = 12, 12 * 3 = 36, 36 - 4 = 32
PROMPT = format_prompt(ArithmeticProblem(7, (("+", 5), ("*", 3), ("-", 4))))
RIGHT = "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36\nStep 3: 36 - 4 = 32\nThe answer is 32"


def rewrite(solution: str) -> Rewrite:
    return ArithmeticRewriter().rewrite([PROMPT], [solution])[0]


def test_a_right_solution_is_its_own_rewrite():
    assert rewrite(RIGHT) == Rewrite(True, None, RIGHT)


def test_commuted_operands_of_plus_and_times_are_a_right_step():
    # 5 + 7 = 12 and 3 * 12 = 36 are the problem's steps with their operands swapped: right, so nothing changes
    commuted = "Step 1: 5 + 7 = 12\nStep 2: 3 * 12 = 36\nStep 3: 36 - 4 = 32\nThe answer is 32"
    assert rewrite(commuted) == Rewrite(True, None, commuted)


def test_commuted_operands_are_kept_while_a_wrong_result_is_fixed():
    # 3 * 12 = 35 is wrong: only 35 -> 36 in step 2, then 35 - 4 = 31 -> 36 - 4 = 32 and the answer 31 -> 32
    wrong = "Step 1: 5 + 7 = 12\nStep 2: 3 * 12 = 35\nStep 3: 35 - 4 = 31\nThe answer is 31"
    fixed = "Step 1: 5 + 7 = 12\nStep 2: 3 * 12 = 36\nStep 3: 36 - 4 = 32\nThe answer is 32"
    assert rewrite(wrong) == Rewrite(True, 2, fixed)


def test_swapped_operands_of_minus_are_an_error():
    # 4 - 36 is not 36 - 4: both operands are replaced (and the result 32 was right)
    swapped = RIGHT.replace("36 - 4 = 32", "4 - 36 = 32")
    assert rewrite(swapped) == Rewrite(True, 3, RIGHT)


def test_a_wrong_result_is_fixed_and_carried_forward():
    wrong = "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 35\nStep 3: 35 - 4 = 31\nThe answer is 31"
    assert rewrite(wrong) == Rewrite(True, 2, RIGHT)


def test_only_the_wrong_digits_change():
    wrong = "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 35\nStep 3: 35 - 4 = 31\nThe answer is 31"
    out = rewrite(wrong).text
    # as character tokens, the edits are the 6 of 36 (twice) and the 2 of 32 (twice)
    changed = [c for c, flag in zip(out, edited_mask([ord(c) for c in wrong], [ord(c) for c in out])) if flag]
    assert changed == ["6", "6", "2", "2"]


def test_spacing_and_the_multiplication_sign_are_kept():
    wrong = "Step 1:7+5=13\nStep  2 : 13 x 3 = 39\nStep 3: 39-4=35\nThe answer is 35"
    fixed = "Step 1:7+5=12\nStep  2 : 12 x 3 = 36\nStep 3: 36-4=32\nThe answer is 32"
    assert rewrite(wrong) == Rewrite(True, 1, fixed)


def test_a_wrong_operand_or_operator_is_replaced():
    wrong = "Step 1: 7 + 5 = 12\nStep 2: 12 + 4 = 16\nStep 3: 16 - 4 = 12\nThe answer is 12"
    assert rewrite(wrong) == Rewrite(True, 2, RIGHT)


def test_a_step_that_is_not_one_operation_gets_its_equation_replaced():
    wrong = "Step 1: 7 + 5 * 3 = 22\nStep 2: 22 * 3 = 66\nStep 3: 66 - 4 = 62\nThe answer is 62"
    assert rewrite(wrong) == Rewrite(True, 1, RIGHT)
    assert rewrite(RIGHT.replace("12 * 3 = 36", "12 * 3 - 0 = 36")) == Rewrite(True, 2, RIGHT)


def test_only_a_wrong_answer_line_is_step_n_plus_one():
    assert rewrite(RIGHT.replace("is 32", "is 30")) == Rewrite(True, 4, RIGHT)


def test_a_missing_answer_line_is_added():
    assert rewrite(RIGHT.rsplit("\n", 1)[0]) == Rewrite(True, 4, RIGHT)


def test_an_added_answer_line_keeps_the_following_text_on_its_own_line():
    # "The answer is" with the number on the next line is no answer line; the right one goes after the last step
    assert rewrite(RIGHT.replace("is 32", "is\n7")) == Rewrite(True, 4, RIGHT + "\nThe answer is\n7")
    assert rewrite(RIGHT.replace("The answer is 32", "So that is it.")) == Rewrite(True, 4, RIGHT + "\nSo that is it.")


def test_a_missing_step_is_inserted_before_the_answer():
    short = "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36\nThe answer is 36"
    assert rewrite(short) == Rewrite(True, 3, RIGHT)


def test_a_surplus_step_is_deleted():
    long = RIGHT.replace("\nThe answer", "\nStep 4: 32 + 1 = 33\nThe answer").replace("is 32", "is 33")
    assert rewrite(long) == Rewrite(True, 4, RIGHT)


def test_a_surplus_step_without_an_answer_line_leaves_no_blank_line():
    long = RIGHT.replace("\nThe answer is 32", "\nStep 4: 32 + 1 = 33\n")
    assert rewrite(long) == Rewrite(True, 4, RIGHT)  # the deleted step took the trailing newline with it


def test_other_lines_and_the_text_after_the_answer_are_kept():
    wrong = "Let me think.\nStep 1: 7 + 5 = 12\nStep 2: 12 * 3 = 34\nStep 3: 34 - 4 = 30\nThe answer is 30\n\nProblem:"
    fixed = "Let me think.\n" + RIGHT + "\n\nProblem:"
    assert rewrite(wrong) == Rewrite(True, 2, fixed)


@pytest.mark.parametrize(
    ("solution", "reason"),
    [
        ("", "empty solution"),
        ("  \n ", "empty solution"),
        ("I do not know.", "no step lines"),
        ("Step 1: 7 + 5 = 12\nStep 2: 12 * 3 =", "unparseable step line 2"),
        ("Step 1: 7 + 5 = 12\nStep 2: add them all = twelve", "unparseable step line 2"),
        ("The answer is 32\nStep 1: 7 + 5 = 12", "no step lines"),  # steps after the answer do not count
    ],
)
def test_unusable_solutions_are_skips_with_a_reason(solution, reason):
    out = rewrite(solution)
    assert not out.ok and reason in out.error


def test_a_prompt_without_a_problem_is_a_skip():
    out = ArithmeticRewriter().rewrite(["Tell me a story"], [RIGHT])[0]
    assert not out.ok and "no arithmetic problem" in out.error


def test_batch_keeps_order_and_refuses_mismatched_lengths():
    outs = ArithmeticRewriter().rewrite([PROMPT, PROMPT], ["", RIGHT])
    assert [o.ok for o in outs] == [False, True]
    with pytest.raises(ValueError, match="2 problems but 1 solutions"):
        ArithmeticRewriter().rewrite([PROMPT, PROMPT], [RIGHT])


def test_random_corruptions_are_always_fixed_and_keep_the_steps_before_the_error():
    rng = random.Random(0)
    for _ in range(300):
        problem = random_problem(rng)
        lines = problem.solution().split("\n")
        k = rng.randrange(len(lines) - 1)  # a step line
        corrupt = rng.choice(["result", "operand", "drop step", "drop answer", "tail"])
        if corrupt == "result":
            lines[k] = re.sub(r"-?\d+$", lambda m: str(int(m.group()) + rng.randint(1, 9)), lines[k])
        elif corrupt == "operand":
            lines[k] = re.sub(r"(\d+) =", lambda m: f"{int(m.group(1)) + 1} =", lines[k])
        elif corrupt == "drop step":
            del lines[k]
        elif corrupt == "drop answer":
            lines = lines[:-1]
        else:
            lines.append("Problem: Start with 2. Add 1.")
        out = ArithmeticRewriter().rewrite([format_prompt(problem)], ["\n".join(lines)])[0]
        assert out.ok and final_answer(out.text) == problem.answer, (lines, out)
        first = out.first_error_step or len(lines) + 1
        assert out.text.split("\n")[: first - 1] == lines[: first - 1]
