import pytest

from lit_critic_rl.critic.generative import score_to_scale
from lit_critic_rl.critic.templates import load_template


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("sentiment", {"positive": 1.0, "negative": -1.0}),
        ("toxicity", {"toxic": -1.0}),
        ("summarization", {"factually incorrect": -1.0, "irrelevant": -1.0, "incoherent": -1.0}),
    ],
)
def test_shipped_templates_load_with_their_labels(name, labels):
    template = load_template(name)
    assert template.labels == labels and template.version == "1"
    text = template.render("THE PROMPT", "THE RESPONSE", 7)
    assert text.rstrip().endswith(("THE RESPONSE", "7/10")) and "THE PROMPT" in text


def test_user_template_file(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("# version: 3\n# labels: funny=+1, boring=-1\nRate: {response}\n")
    template = load_template(str(f))
    assert template.labels == {"funny": 1.0, "boring": -1.0} and template.version == "3"
    assert template.render("p", "r") == "Rate: r\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Rate: {response}\n", "no '# labels"),
        ("# labels: funny\nRate: {response}\n", "needs a polarity"),
        ("# labels: funny=1\nRate this\n", "no {response} placeholder"),
    ],
)
def test_bad_template_files_are_named(tmp_path, content, message):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(ValueError, match=f"critic.template: .*bad.txt.*{message}|critic.template: .*{message}"):
        load_template(str(f))


def test_unknown_template_name():
    with pytest.raises(FileNotFoundError, match="critic.template: 'poetry'"):
        load_template("poetry")


def test_score_scale_by_hand():
    # ROUGE on [0, 1]: 0 -> 1/10, 0.5 -> 1 + round(4.5) = 5 (banker's rounding) , 1 -> 10; out of range clamps
    assert [score_to_scale(s, 0.0, 1.0) for s in (0.0, 0.5, 1.0, 1.7, -3.0)] == [1, 5, 10, 10, 1]
    assert score_to_scale(45.0, 0.0, 100.0) == 5  # a x100 scale needs score_range (0, 100), not saturation at 10


@pytest.mark.parametrize(
    ("name", "input_mode", "sections"),
    [
        ("sentiment_relc", "joined", ("positive", "negative")),
        ("toxicity_relc", "joined", ()),
        ("summarization_relc", "separate", ()),
    ],
)
def test_paper_format_templates(name, input_mode, sections):
    template = load_template(name)
    assert template.input == input_mode and template.sections == sections
    text = template.render("THE PROMPT\nON TWO LINES", " THE RESPONSE", 4)
    if input_mode == "joined":
        assert text.rstrip().endswith("Text: THE PROMPT ON TWO LINES THE RESPONSE")  # the paper: newlines removed
        assert "Opening:" not in text and "{" not in text
    assert "[joined]" not in text and "[separate]" not in text


def test_template_input_switches_the_few_shot_examples_too():
    joined, separate = load_template("sentiment_relc"), load_template("sentiment_relc", "separate")
    assert "Text: We went to the late showing" in joined.examples and "Opening:" not in joined.examples
    assert "Opening: We went to the late showing, and" in separate.examples and "Text:" not in separate.examples
    assert separate.render("A start", " an end").rstrip().endswith("Opening: A start\nContinuation:  an end")
    assert separate.stop_prefixes == ("opening:", "continuation:")


def test_joined_input_on_a_template_without_text_placeholder_is_a_config_error():
    with pytest.raises(ValueError, match=r"no \{text\} placeholder for joined input.*template_input: separate"):
        load_template("sentiment", "joined")
    with pytest.raises(ValueError, match="must be 'separate' or 'joined'"):
        load_template("sentiment", "both")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# labels: a=1\n# sections: a, b\nRate: {response}\n", r"sections \['b'\] are not among the labels"),
        ("# labels: a=1\n# input: joined\nRate: {response}\n", r"no \{text\} placeholder"),
        ("# labels: a=1\nRate: {response} {text}\n", r"uses \{text\} in separate input"),
    ],
)
def test_bad_headers_and_placeholders_are_named(tmp_path, content, message):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_template(str(f))
