"""The arithmetic task: problem format, exact answers, seeded and disjoint splits, prompts."""

import random

import pytest

from lit_critic_rl.data.arithmetic import (
    EXAMPLE,
    ArithmeticProblem,
    ArithmeticPrompts,
    final_answer,
    format_prompt,
    generate_splits,
    parse_problem,
    random_problem,
)


def test_problem_question_answer_and_solution_by_hand():
    problem = ArithmeticProblem(7, (("+", 5), ("*", 3), ("-", 4)))
    assert problem.question == "Start with 7. Add 5. Multiply by 3. Subtract 4. What is the result?"
    # 7 + 5 = 12, 12 * 3 = 36, 36 - 4 = 32
    assert problem.values() == [12, 36, 32] and problem.answer == 32
    assert problem.solution() == "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36\nStep 3: 36 - 4 = 32\nThe answer is 32"


def test_prompt_shows_the_worked_example_and_parses_back_to_its_last_problem():
    problem = ArithmeticProblem(9, (("-", 2), ("*", 4)))
    prompt = format_prompt(problem)
    assert EXAMPLE.solution() in prompt and prompt.endswith(problem.question + "\n")
    assert parse_problem(prompt) == problem
    assert parse_problem("no problem here") is None


def test_final_answer_reads_the_first_answer_line():
    assert final_answer("Step 1: 1 + 1 = 2\nThe answer is 2\nThe answer is 5") == 2
    assert final_answer("the answer is: -3") == -3
    assert final_answer("Step 1: 1 + 1 = 2") is None
    assert final_answer("The answer is\n4") is None  # the number must be on the answer line


def test_random_problems_stay_small_and_non_negative():
    rng = random.Random(0)
    for _ in range(500):
        problem = random_problem(rng)
        assert 2 <= len(problem.operations) <= 4 and 2 <= problem.start <= 20
        assert all(v >= 0 for v in problem.values())


def test_splits_are_disjoint_seeded_and_follow_the_hash():
    splits = generate_splits({"train": 300, "val": 40, "test": 40}, seed=1)
    questions = {s: {p.question for p in ps} for s, ps in splits.items()}
    assert {s: len(q) for s, q in questions.items()} == {"train": 300, "val": 40, "test": 40}  # no duplicates
    assert not questions["train"] & questions["val"] and not questions["train"] & questions["test"]
    assert not questions["val"] & questions["test"]
    assert EXAMPLE.question not in set().union(*questions.values())
    assert all(p.split == s for s, ps in splits.items() for p in ps)
    assert generate_splits({"train": 300, "val": 40, "test": 40}, seed=1) == splits
    assert generate_splits({"train": 300, "val": 40, "test": 40}, seed=2) != splits


def test_test_split_does_not_depend_on_the_train_size():
    small = generate_splits({"train": 10, "val": 5, "test": 20})
    large = generate_splits({"train": 500, "val": 5, "test": 20})
    assert small["test"] == large["test"]


def test_datamodule_serves_each_split(tmp_path):
    dm = ArithmeticPrompts(train_size=40, val_size=8, test_size=12, batch_size=4, val_batch_size=5)
    dm.setup("fit")
    assert (len(dm.train_prompts), len(dm.val_prompts), len(dm.test_prompts)) == (40, 8, 12)
    assert not set(dm.train_prompts) & set(dm.test_prompts) and not set(dm.train_prompts) & set(dm.val_prompts)
    assert [len(b) for b in dm.test_dataloader()] == [5, 5, 2]
    assert next(iter(dm.val_dataloader())) == dm.val_prompts[:5]
    assert len(dm.all_prompts()) == 60
    assert all(parse_problem(p) is not None for p in dm.all_prompts())


def test_bad_step_range_is_named():
    with pytest.raises(ValueError, match="min_steps"):
        generate_splits({"train": 1}, min_steps=3, max_steps=2)
