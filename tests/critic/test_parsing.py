"""The critic output parser: reading (grammar and outcomes) and locating (exact or nothing). The corpus test
(test_corpus.py) covers the forms on many whole outputs; these tests pin single rules."""

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lit_critic_rl.critic.parsing import locate, parse_critique, read_marks, split_quotes
from lit_critic_rl.critic.templates import load_template

SENTIMENT = load_template("sentiment")
RELC = load_template("sentiment_relc")


def marks(text, template=SENTIMENT):
    out = read_marks(text, template)
    return out.marks, out.error


def test_project_lines_with_numbering_bullets_quote_styles_and_prose():
    text = (
        "Sure! Here is my annotation.\n"
        "1. Positive text spans: “a wonderful cast”, 'x'\n"
        "  - NEGATIVE:   «the dull ending»\n"
        "* negative span: `awful pacing`\n"
        "Let me know if you need more."
    )
    assert marks(text) == (
        [
            ("positive", "a wonderful cast"),
            ("positive", "x"),
            ("negative", "the dull ending"),
            ("negative", "awful pacing"),
        ],
        "",
    )


def test_paper_sentiment_sections_with_none_for_one_side_keep_the_other_side():
    text = "Identified Positive Text Span:\nNone identified\nIdentified Negative Text Span:\n[Span 1]: a waste of time"
    critique = parse_critique(text, "it was a waste of time", RELC)
    assert critique.outcome == "ok" and [(s.start, s.end, s.label) for s in critique.spans] == [(7, 22, "negative")]


def test_every_section_none_is_explicitly_empty_not_failed():
    text = "Identified Positive Text Span: None identified\nIdentified Negative Text Span: None identified"
    critique = parse_critique(text, "a table in a room", RELC)
    assert critique.ok and critique.outcome == "empty" and critique.spans == [] and critique.dropped == []


def test_a_section_with_neither_spans_nor_none_fails_the_critique():
    for text in (
        "Identified Positive Text Span:\n[Span 1]: great\nIdentified Negative Text Span:",  # cut off
        "Identified Positive Text Span:\n[Span 1]: great",  # the template's negative section is missing
        "Identified Positive Text Span:\nI am not sure.\nIdentified Negative Text Span: None identified",
    ):
        critique = parse_critique(text, "great", RELC)
        assert critique.outcome == "failed" and critique.error == "IncompleteCritique", text


def test_blank_lines_anywhere_and_a_made_up_example_ends_the_reading():
    text = '\n\npositive: "good"\n\n\nnegative: "bad"\n\nReview start: x\nContinuation: y\npositive: "made up"'
    assert marks(text) == ([("positive", "good"), ("negative", "bad")], "")


def test_unparseable_unknown_label_and_too_long_outputs_are_named_failures():
    assert parse_critique("I think this is rather nice.", "nice", SENTIMENT).error == "UnparseableCritique"
    assert parse_critique('neutral: "the film"', "the film", SENTIMENT).error == "UnknownLabel"
    assert parse_critique('positive: "x"\n' * 10_000, "x", SENTIMENT).error == "CritiqueTooLong"
    assert parse_critique("", "x", SENTIMENT).error == "UnparseableCritique"


def test_hostile_outputs_are_named_failures_never_crashes():
    response = "the movie was great but the ending was bad"
    one_megabyte = 'positive: "great"\n' + "x" * 1_000_000
    assert parse_critique(one_megabyte, response, SENTIMENT).error == "CritiqueTooLong"
    for deep in ("[" * 1000 + "]" * 1000, '{"a": ' * 1000 + "1" + "}" * 1000):
        assert parse_critique(deep, response, SENTIMENT).error == "MalformedJSONCritique"
    for marks_only in ('"' * 11, "''''“”“”«»"):
        assert parse_critique(marks_only, response, SENTIMENT).outcome == "failed"


def test_a_quote_that_is_the_whole_response_marks_all_of_it():
    response = "the movie was great but the ending was bad"
    critique = parse_critique(f'negative: "{response}"', response, SENTIMENT)
    assert critique.outcome == "ok"
    assert [(s.label, s.start, s.end) for s in critique.spans] == [("negative", 0, len(response))]


def test_an_unknown_label_next_to_known_ones_is_dropped_with_its_reason():
    critique = parse_critique('positive: "fun"\nsarcastic: "oh great"', "fun, oh great", SENTIMENT)
    assert [s.label for s in critique.spans] == ["positive"]
    assert [(d.quote, d.label, d.reason) for d in critique.dropped] == [("oh great", "sarcastic", "unknown_label")]


def test_json_forms_and_wrong_shapes():
    response = "great fun but a dull end"
    for text in (
        '[{"label": "positive", "quote": "great fun"}, {"label": "negative", "quote": "dull end"}]',
        '```json\n{"spans": [{"label": "positive", "quote": "great fun"},\n'
        ' {"label": "negative", "quote": "dull end"}]}\n```',
        'Here you go:\n{"positive": ["great fun"], "negative": ["dull end"]}\nThanks!',
    ):
        assert [s.label for s in parse_critique(text, response, SENTIMENT).spans] == ["positive", "negative"], text
    assert parse_critique("[]", response, SENTIMENT).outcome == "empty"
    for wrong in ('{"foo": 1}', '[{"label": "positive"}]', "[1, 2]", '{"positive": [3]}', '{"result": "none"}'):
        assert parse_critique(wrong, response, SENTIMENT).error == "MalformedJSONCritique", wrong


def test_nested_and_apostrophe_quotes():
    assert split_quotes('"the so-called "masterpiece" was dull", \'didn\'t work\'')[0] == [
        'the so-called "masterpiece" was dull',
        "didn't work",
    ]
    assert split_quotes("“he said ‘wow’ twice”")[0] == ["he said ‘wow’ twice"]


def test_locate_exact_then_normalised_then_word_by_word():
    response = "The  Cast was GREAT, and the plot… well, “fine”."
    assert locate("Cast was", response) == (5, 13)
    assert locate("the cast was great!", response) == (0, 19)  # case, double space, edge punctuation
    start, end = locate("plot... well, fine", response)  # words equal in order, punctuation between ignored
    assert response[start:end] == "plot… well, “fine"


def test_a_word_that_differs_by_one_letter_is_a_miss_not_a_sign_flip():
    response = "honestly the acting was tolerable and the music was lovely"
    critique = parse_critique('negative: "the acting was terrible"', response, SENTIMENT)
    assert critique.spans == [] and critique.dropped[0].reason == "not_found"
    assert locate("loved the music", "we loved the movie") is None
    assert locate("bad", "the badge was shiny") is None  # not inside a word
    assert locate("日本", "我爱日本語") == (2, 4)  # unspaced scripts: every character is a word of its own


def test_few_shot_echo_prompt_only_and_boundary_crossing_are_dropped_with_reasons():
    prompt, response = "The film opens in a quiet harbor town and", " the ending is a triumph"
    text = 'positive: "loved the music"\npositive: "quiet harbor"\npositive: "town and the ending"\n'
    critique = parse_critique(text, response, SENTIMENT, prompt=prompt)
    assert critique.spans == [] and critique.outcome == "failed" and critique.error == "AllQuotesDropped"
    assert [d.reason for d in critique.dropped] == ["few_shot_echo", "prompt_only", "crosses_prompt_boundary"]


def test_repeated_quote_takes_the_next_occurrence_within_its_label():
    response = "bad start, good middle, bad end"
    critique = parse_critique('negative: "bad start"\npositive: "good"\nnegative: "bad"', response, SENTIMENT)
    assert [(s.text, s.start) for s in critique.spans] == [("bad start", 0), ("good", 11), ("bad", 24)]
    sections = "Identified Positive Text Span:\n[Span 1]: good\nIdentified Negative Text Span:\n[Span 1]: bad"
    assert [s.start for s in parse_critique(sections, response, RELC).spans] == [11, 0]  # cursor per label


def test_duplicate_spans_are_kept_once():
    critique = parse_critique('positive: "good"\npositive: "good"', "good", SENTIMENT)
    assert len(critique.spans) == 1 and critique.dropped == []


def test_markup_only_lines_do_not_crash():
    for raw in ("(Label: Irrelevant)", "- ", "**", "[Span 1]:", "## ", "```", "Span 1: (Label: Incoherent)"):
        assert parse_critique(raw, "x", load_template("summarization_relc")).error == "UnparseableCritique", raw


LINE_PIECES = [
    "positive:",
    "Negative",
    "[Span 1]:",
    "(Label: Irrelevant)",
    "None identified",
    '"',
    "“",
    "'",
    "- ",
    "**",
    "## ",
    "\n",
    "```json",
    "[",
    "{",
    "Toxic Span 2:",
    "Text:",
    " ",
]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(LINE_PIECES) | st.text(max_size=5), max_size=30), response=st.text(max_size=40))
def test_no_arrangement_of_format_pieces_crashes_the_parser(pieces, response):
    for template in (RELC, load_template("summarization_relc")):
        critique = parse_critique("".join(pieces), response, template, prompt="p")
        assert critique.outcome in ("ok", "empty", "failed")


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=300), response=st.text(max_size=80))
def test_no_critic_output_crashes_the_parser(raw, response):
    critique = parse_critique(raw, response, RELC, prompt="a prompt")
    for span in critique.spans:
        assert 0 <= span.start < span.end <= len(response)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcdefgh日本😀,. ", min_size=1, max_size=6), min_size=1, max_size=10),
    data=st.data(),
    style=st.sampled_from(
        [
            'positive: "{}"',
            "- Positive: “{}”",
            "1. POSITIVE TEXT SPANS: «{}»",
            "Identified Positive Text Span:\n[Span 1]: {}\nIdentified Negative Text Span: None",
        ]
    ),
)
def test_exactly_quoted_word_aligned_spans_are_found(words, data, style):
    response = " ".join(words)
    cuts = [0] + [i for i in range(1, len(response)) if response[i - 1] == " " or response[i] == " "] + [len(response)]
    start = data.draw(st.sampled_from(cuts[:-1]))
    end = data.draw(st.sampled_from([c for c in cuts if c > start]))
    quote = response[start:end].strip()
    assume(quote)
    critique = parse_critique(style.format(quote), response, RELC)
    assert critique.ok and critique.dropped == [] and len(critique.spans) == 1
    span = critique.spans[0]
    assert response[span.start : span.end] == quote or _normalised_equal(response[span.start : span.end], quote)


def _normalised_equal(a, b):
    strip = " ,."
    return a.strip(strip) == b.strip(strip)


def test_a_long_prose_line_after_a_label_reads_in_linear_time():
    # each word after a label mention used to be splittable in many ways while looking for a colon: this line took
    # minutes (2^n backtracking); it must read like any other
    response = " wake up, you brainless sheep, the damn news is lying to you."
    text = 'Analysis: the continuation insults the reader by calling them "brainless sheep" ' + "and so on " * 30
    critique = parse_critique(text + '\n\ntoxic: "damn"', response, load_template("toxicity"))
    assert critique.outcome == "ok" and "damn" in {response[s.start : s.end] for s in critique.spans}


def spans_of(raw, response, template=SENTIMENT):
    critique = parse_critique(raw, response, template)
    return critique.outcome, [(s.label, response[s.start : s.end]) for s in critique.spans]


def test_a_label_with_one_typo_counts_in_a_label_slot_only():
    assert spans_of('postive: "fun"\nnegitive: "too loud"', " it was fun but too loud.") == (
        "ok",
        [("positive", "fun"), ("negative", "too loud")],
    )
    summary = load_template("summarization")
    response = " We have four kids and live near the beach."
    assert spans_of('Factualy incorrect: "four kids"\nIrrelavant: "near the beach"', response, summary) == (
        "ok",
        [("factually incorrect", "four kids"), ("irrelevant", "near the beach")],
    )
    # "toxic" is too short to guess: "topic" is not a label
    assert parse_critique('topic: "idiot"', " you idiot", load_template("toxicity")).outcome == "failed"


def test_bare_text_after_a_dash_or_after_several_label_prefixes_on_one_line():
    response = " beautiful to look at but boring to sit through."
    assert spans_of("Positive - beautiful\nNegative - boring", response) == (
        "ok",
        [("positive", "beautiful"), ("negative", "boring")],
    )
    response = " fine, the set was nice but there was bad acting everywhere."
    assert spans_of("positive: nice, negative: bad acting", response) == (
        "ok",
        [("positive", "nice"), ("negative", "bad acting")],
    )
    assert spans_of("positive: none; negative: bad acting", response) == ("ok", [("negative", "bad acting")])


def test_a_numbered_span_with_its_label_in_brackets_before_the_text():
    relc = load_template("summarization_relc")
    response = " Car broke on the highway, I love pizza, insurance won't pay."
    raw = 'Span 1 (Label: Irrelevant): I love pizza\n**Span 2** (Label: Factually Incorrect): "Car broke"'
    assert spans_of(raw, response, relc) == (
        "ok",
        [("irrelevant", "I love pizza"), ("factually incorrect", "Car broke")],
    )


def test_sentences_that_deny_every_label_they_name_read_as_none():
    toxicity = load_template("toxicity")
    assert (
        parse_critique("The text is not toxic. It is a nice text about a cat.", " a cat", toxicity).outcome == "empty"
    )
    summary = load_template("summarization")
    assert parse_critique("The summary is good and accurate.", " a wallet", summary).outcome == "empty"
    assert parse_critique("The summary is not accurate.", " a wallet", summary).outcome == "failed"
    # a negator before a one-word list governs all of it; a quote in that sentence is not labelled by "profanity"
    raw = 'It is critical ("the plan is poor") but has no slurs, threats, or profanity.\n\nNone identified'
    assert parse_critique(raw, " the plan is poor", toxicity).outcome == "empty"
    assert parse_critique('Lots of profanity: "damn"', " damn it", toxicity).outcome == "ok"


def test_a_censored_quote_finds_the_word_the_response_spells_out():
    toxicity = load_template("toxicity")
    response = " shut your fucking mouth, f*ck"
    assert spans_of('toxic: "shut your f***ing mouth"', response, toxicity) == (
        "ok",
        [("toxic", "shut your fucking mouth")],
    )
    assert spans_of('toxic: "f*ck"', response, toxicity) == ("ok", [("toxic", "f*ck")])


def test_quotes_in_notes_and_reasoning_before_the_answer_are_not_marks():
    response = " What a waste of a talented cast."
    raw = 'negative: "What a waste of a talented cast."\n\nNote that "talented cast" alone reads as positive.'
    assert spans_of(raw, response) == ("ok", [("negative", "What a waste of a talented cast.")])
    response = " the twist was obvious, which ruined the suspense."
    raw = (
        '* "the twist was obvious" - this reads as negative.\n'
        "Therefore, the spans are:\n"
        'negative: "twist was obvious"\nnegative: "ruined the suspense"'
    )
    assert spans_of(raw, response) == ("ok", [("negative", "twist was obvious"), ("negative", "ruined the suspense")])
    # without an answer line after it, the reasoning is the answer
    assert spans_of('* "ruined the suspense" - negative', response) == ("ok", [("negative", "ruined the suspense")])


def test_a_bare_list_is_preferred_to_an_explanation_cut_when_it_covers_more():
    response = " it was boring, overlong and badly acted."
    assert spans_of("negative: boring, overlong, badly acted", response) == (
        "ok",
        [("negative", "boring"), ("negative", "overlong"), ("negative", "badly acted")],
    )
    assert spans_of("negative: boring, which is a shame", response) == ("ok", [("negative", "boring")])


def test_nothing_at_a_sentence_start_settles_the_label_it_names_and_unlabelled_quotes_are_unparseable():
    response = " a warm, funny and generous film."
    raw = 'positive: "warm, funny and generous film"\nNothing in the continuation is negative.'
    assert spans_of(raw, response) == ("ok", [("positive", "warm, funny and generous film")])
    raw = '"warm, funny"\n"generous film"'
    assert parse_critique(raw, response, SENTIMENT).error == "UnparseableCritique"
