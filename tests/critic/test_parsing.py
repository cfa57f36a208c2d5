from hypothesis import given, settings
from hypothesis import strategies as st

from lit_critic_rl.critic.parsing import locate, parse_critique, parse_marks
from lit_critic_rl.critic.templates import load_template

SENTIMENT = load_template("sentiment")
LABELS = SENTIMENT.labels


def test_plain_format():
    marks, ok = parse_marks('positive: "loved the music"\nnegative: "felt slow"', LABELS)
    assert ok and marks == [("positive", "loved the music"), ("negative", "felt slow")]


def test_numbering_bullets_quotes_casing_and_prose():
    text = (
        "Sure! Here is my annotation.\n"
        "1. Positive text spans: “a wonderful cast”, 'x'\n"
        "  - NEGATIVE:   «the dull ending»\n"
        "* negative span: `awful pacing`\n"
    )
    marks, ok = parse_marks(text, LABELS)
    assert ok
    assert marks == [("positive", "a wonderful cast"), ("negative", "the dull ending"), ("negative", "awful pacing")]


def test_heading_style_lists():
    text = 'Positive text spans:\n- "great acting"\n- "fun"\nNegative text spans: None identified'
    marks, ok = parse_marks(text, LABELS)
    assert ok and marks == [("positive", "great acting"), ("positive", "fun")]


def test_none_identified_is_a_judgement_not_a_failure():
    critique = parse_critique("None identified.", "a table in a room", SENTIMENT)
    assert critique.ok and critique.spans == [] and critique.n_dropped == 0


def test_output_stops_at_first_blank_line():
    marks, _ = parse_marks('positive: "good"\n\nReview start: x\npositive: "made up"', LABELS)
    assert marks == [("positive", "good")]


def test_unparseable_output_fails_the_critique():
    critique = parse_critique("I think this continuation is rather nice overall.", "nice film", SENTIMENT)
    assert not critique.ok and critique.error == "UnparseableCritique"


def test_locate_exact_normalised_and_fuzzy():
    response = "The  Cast was GREAT, and the plot… well, “fine”."
    assert locate("Cast was", response) == (5, 13)
    start, end = locate("the cast was great", response)  # case + double space
    assert response[start:end] == "The  Cast was GREAT"
    start, end = locate("plot... well, fine!", response)  # longest common block covers >= 80% of the quote
    assert response[start:end].startswith("plot")
    assert locate("an entirely different sentence", response) is None


def test_repeated_quote_takes_the_occurrence_after_the_previous_span():
    response = "bad start, good middle, bad end"
    critique = parse_critique('negative: "bad start"\npositive: "good"\nnegative: "bad"', response, SENTIMENT)
    assert [(response[s.start : s.end], s.start) for s in critique.spans] == [
        ("bad start", 0), ("good", 11), ("bad", 24)
    ]


def test_hallucinated_and_prompt_only_spans_are_dropped_and_counted():
    critique = parse_critique('positive: "a masterpiece"\nnegative: "dull"', "it was dull", SENTIMENT)
    assert critique.ok and critique.n_dropped == 1
    assert [s.label for s in critique.spans] == ["negative"]


def test_duplicate_spans_are_kept_once():
    critique = parse_critique('positive: "good"\npositive: "good"', "good", SENTIMENT)
    assert len(critique.spans) == 1


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=300), response=st.text(max_size=80))
def test_no_critic_output_crashes_the_parser(raw, response):
    critique = parse_critique(raw, response, SENTIMENT)
    for span in critique.spans:
        assert 0 <= span.start < span.end <= len(response)


@settings(max_examples=200, deadline=None)
@given(
    response=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60),
    data=st.data(),
    style=st.sampled_from(['positive: "{}"', "- Positive: “{}”", "1. POSITIVE TEXT SPANS: «{}»"]),
)
def test_exactly_quoted_spans_are_found(response, data, style):
    start = data.draw(st.integers(0, len(response) - 1))
    end = data.draw(st.integers(start + 1, len(response)))
    quote = response[start:end]
    quote_chars, line_breaks = '"“”«»‘’`–—', "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    if not quote.strip() or any(c in quote for c in quote_chars + line_breaks):
        return
    critique = parse_critique(style.format(quote), response, SENTIMENT)
    assert critique.ok and critique.n_dropped == 0 and len(critique.spans) == 1
    span = critique.spans[0]
    assert response[span.start : span.end] == quote.strip()
