import json

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from lit_critic_rl.data import PromptDataModule, SentimentPrompts
from lit_critic_rl.data.base import PromptStreamSampler, read_prompts


def test_read_prompts_txt_skips_blank_lines(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("first prompt\n\n  second prompt  \n")
    assert read_prompts(f) == ["first prompt", "second prompt"]


def test_read_prompts_jsonl_with_named_field(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text("\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(["a b", "c d"])))
    assert read_prompts(f, field="text") == ["a b", "c d"]


def test_read_prompts_missing_field_names_field_and_file(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("question,answer\nq,a\n")
    with pytest.raises(KeyError, match="data: field .prompt. is not a column of .*p.csv"):
        read_prompts(f)


@pytest.mark.parametrize("content", ["", "\n \n"])
def test_empty_prompt_file_is_rejected(tmp_path, content):
    f = tmp_path / "empty.txt"
    f.write_text(content)
    with pytest.raises(ValueError, match="data.prompt_file: .*empty.txt' holds no non-empty prompts"):
        read_prompts(f)


def test_missing_prompt_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.prompt_file: .*nope.txt"):
        read_prompts(tmp_path / "nope.txt")


def test_stream_sampler_resumes_at_offset_and_crosses_passes():
    full = list(PromptStreamSampler(10, 3, seed=1, offset=lambda: 0))
    assert len(full) == 3 and all(len(b) == 3 for b in full)
    assert len({i for b in full for i in b}) == 9  # one pass: no repeats
    resumed = list(PromptStreamSampler(10, 3, seed=1, offset=lambda: 6))
    assert resumed[0] == full[2]  # batch 3 of pass 0
    nxt = PromptStreamSampler(10, 3, seed=1, offset=lambda: 9)
    assert list(nxt)[0] == nxt.batch_at(9) == list(PromptStreamSampler(10, 3, seed=2, offset=lambda: 0))[0]


def test_held_out_prompts_are_disjoint_from_training():
    dm = SentimentPrompts(val_size=32)
    dm.setup()
    assert len(dm.val_prompts) == 32
    assert not set(dm.val_prompts) & set(dm.train_prompts)


def test_val_size_too_large_is_named(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("a\nb\n")
    with pytest.raises(ValueError, match="data.val_size"):
        PromptDataModule(str(f), val_size=5).setup()


def test_shipped_sentiment_prompts_are_many_distinct_and_neutral():
    prompts = read_prompts(SentimentPrompts().prompt_file)
    assert len(prompts) >= 200 and len(set(prompts)) == len(prompts)
    vader = SentimentIntensityAnalyzer()
    scores = [vader.polarity_scores(p)["compound"] for p in prompts]
    assert sum(abs(s) for s in scores) / len(scores) < 0.1


def test_first_words_cut_and_min_chars(tmp_path):
    f = tmp_path / "reviews.jsonl"
    long_review = "one two three four five six seven eight nine ten eleven twelve " * 20
    f.write_text(json.dumps({"text": long_review}) + "\n" + json.dumps({"text": "too short"}) + "\n")
    dm = SentimentPrompts(prompt_file=str(f), prompt_field="text", first_words=(4, 9), min_chars=200)
    (prompt,) = dm.read(str(f))
    assert 4 <= len(prompt.split()) <= 9 and long_review.startswith(prompt)
    with pytest.raises(ValueError, match="data.min_chars"):
        SentimentPrompts(prompt_file=str(f), prompt_field="text", min_chars=10_000).read(str(f))


def test_hub_dataset_without_a_hub_gives_one_named_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(ValueError, match="data.prompt_file: could not load 'hub:no-such/dataset@train'"):
        read_prompts("hub:no-such/dataset@train", "text")


def test_detox_nested_fields_and_challenging_subset(tmp_path):
    from lit_critic_rl.data import DetoxPrompts

    f = tmp_path / "rtp.jsonl"
    rows = [{"prompt": {"text": f"prompt {i}", "toxicity": tox}} for i, tox in enumerate([0.9, 0.2, 0.61, None])]
    f.write_text("\n".join(json.dumps(r) for r in rows))
    dm = DetoxPrompts(
        prompt_file=str(f), prompt_field="prompt.text", toxicity_field="prompt.toxicity", min_prompt_toxicity=0.6
    )
    assert dm.read(str(f)) == ["prompt 0", "prompt 2"]
    with pytest.raises(ValueError, match="must be given together"):
        DetoxPrompts(min_prompt_toxicity=0.6)
