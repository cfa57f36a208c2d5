"""Constrained critiques: the word-aligned quotes a response allows, the grammar that allows exactly those, and local
critics (tiny random model, SmolLM2) whose every critique then parses with every quote located."""

import random
import sys

import pytest

from lit_critic_rl.args import AdapterArgs
from lit_critic_rl.critic.base import CriticSetup
from lit_critic_rl.critic.constrained import NONE_FORM, complete_lines, critique_grammar, quotes, words
from lit_critic_rl.critic.grammar_decoding import grammar_accepts
from lit_critic_rl.critic.hf import HFCritic
from lit_critic_rl.critic.parsing import parse_critique
from lit_critic_rl.critic.self_critique import SelfCritique
from lit_critic_rl.critic.templates import load_template
from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel

SENTIMENT = load_template("sentiment")
# words: I | didn't | like | it | at | all | Fine; the '"' after "it, " and the '".\n' after "all" are hard breaks
SMALL = 'I didn\'t like it, "at all".\nFine'
SMALL_QUOTES = {
    "I",
    "I didn't",
    "I didn't like",
    "I didn't like it",
    "didn't",
    "didn't like",
    "didn't like it",
    "like",
    "like it",
    "it",
    "at",
    "at all",
    "all",
    "Fine",
}


def test_words_keep_apostrophes_and_hyphens_inside_and_split_unspaced_scripts():
    text = "the cast's well-made 'film' -- 日本 café 😀 don’t"
    assert [text[w.start : w.end] for w in words(text)] == [
        "the",
        "cast's",
        "well-made",
        "film",
        "日",
        "本",
        "café",
        "don’t",
    ]


def test_quotes_are_exactly_the_word_aligned_pieces_that_cross_no_line_break_or_double_quote():
    assert quotes(SMALL) == SMALL_QUOTES
    assert quotes("...  ") == set() and quotes("") == set()


def test_grammar_accepts_exactly_the_word_aligned_quotes():
    grammar = critique_grammar(SMALL, SENTIMENT, max_spans=4)
    # every piece of the response, word-aligned or not: accepted exactly when it is one of the 14 above
    pieces = {SMALL[i:j] for i in range(len(SMALL)) for j in range(i + 1, len(SMALL) + 1)}
    accepted = {p for p in pieces if grammar_accepts(grammar, f'positive: "{p}"')}
    assert accepted == SMALL_QUOTES


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (NONE_FORM, True),
        ('negative: "didn\'t like it"', True),
        ('negative: "didn\'t like it"\npositive: "Fine"', True),
        ('positive: "I"\npositive: "I"\npositive: "I"\npositive: "I"', True),
        ('positive: "I"\npositive: "I"\npositive: "I"\npositive: "I"\npositive: "I"', False),  # 5 > max_spans
        ('neutral: "like"', False),  # not a label of the template
        ('Positive: "like"', False),
        ('positive: "like"\n', False),  # no blank or trailing line
        ('positive: "like it,"', False),  # ends on punctuation, not a word
        ('positive: " like"', False),
        ("positive: like", False),
        (f'{NONE_FORM}\npositive: "I"', False),
        ("", False),
    ],
)
def test_grammar_lines_labels_and_none_form(text, ok):
    assert grammar_accepts(critique_grammar(SMALL, SENTIMENT, max_spans=4), text) is ok


def test_grammar_escapes_backslashes_and_quotes_and_keeps_unicode_words():
    response = "a\\b {x} “smart” café 日本 😀 naïve"
    grammar = critique_grammar(response, SENTIMENT)
    for quote in ["a\\b", "a\\b {x", "x", "smart", "café 日本", "日", "本 😀 naïve"]:
        assert grammar_accepts(grammar, f'positive: "{quote}"'), quote
    for quote in ["b {x}", "x} “smart", "😀", "caf", "日本 😀"[1:], "smart” café"]:
        assert not grammar_accepts(grammar, f'positive: "{quote}"'), quote


def test_a_response_without_words_allows_only_the_none_form():
    grammar = critique_grammar("?! ...", SENTIMENT)
    assert grammar_accepts(grammar, NONE_FORM) and not grammar_accepts(grammar, 'positive: "?!"')


def test_labels_come_from_the_template():
    grammar = critique_grammar("it is wrong", load_template("summarization"))
    assert grammar_accepts(grammar, 'factually incorrect: "is wrong"\nirrelevant: "it"')
    assert not grammar_accepts(grammar, 'negative: "is wrong"')


def test_max_spans_below_one_is_refused(tiny_model_path):
    with pytest.raises(ValueError, match="critic.max_spans"):
        critique_grammar(SMALL, SENTIMENT, max_spans=0)
    with pytest.raises(ValueError, match="critic.max_spans must be at least 1"):
        HFCritic(tiny_model_path, constrained=True, max_spans=0)


def test_complete_lines_drops_the_line_the_token_limit_cut():
    assert complete_lines('positive: "a"\nnegative: "b c', finished=False) == 'positive: "a"'
    assert complete_lines('positive: "a"\nnegative: "b"', finished=True) == 'positive: "a"\nnegative: "b"'
    assert complete_lines('positive: "a', finished=False) == 'positive: "a'  # nothing complete: fails as cut off


_POOL = [
    "good",
    "bad",
    "film",
    "didn't",
    "cast's",
    "well-made",
    "café",
    "日本語",
    "😀",
    '"quoted"',
    "“curly”",
    "'single'",
    "(aside)",
    "end.",
    "wait,",
    "\n",
    "a\\b",
    "--",
    "positive:",
    "None",
]


def _random_responses(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["" if i == 0 else " ".join(rng.choices(_POOL, k=rng.randint(1, 14))) for i in range(n)]


def _assert_every_quote_located(critiques, responses, max_spans: int) -> None:
    for critique, response in zip(critiques, responses):
        assert critique.ok and not critique.dropped, (critique.raw, critique.error, critique.dropped)
        assert critique.raw == NONE_FORM or critique.spans, critique.raw
        assert len(critique.raw.splitlines()) <= max_spans
        allowed = quotes(response)
        for span in critique.spans:
            assert span.text == response[span.start : span.end] and span.text in allowed


@pytest.mark.parametrize("template", ["sentiment", "sentiment_relc", "summarization_relc"])
def test_every_line_the_grammar_allows_parses_to_exactly_its_quote(template):
    """Without a model: each allowed line, for every quote of 20 random responses and every label, reads back as
    one span of that label and text (label words, "None", emphasis marks and quote marks inside quotes included)."""
    t = load_template(template)
    responses = [*_random_responses(20, seed=3), "None here. *so* _very_ positive: none [x] (y)"]
    for response in responses:
        for quote in quotes(response):
            for label in t.labels:
                critique = parse_critique(f'{label}: "{quote}"', response, t)
                assert critique.ok and [(s.label, s.text) for s in critique.spans] == [(label, quote)], critique


def test_tiny_model_under_the_constraint_always_writes_located_quotes(tiny_model_path, tmp_path):
    """A property test: 20 random responses (quotes, apostrophes, newlines, backslashes, emoji, CJK, label words)
    critiqued by a random-weight model; every critique must parse with every quote located."""
    critic = HFCritic(
        tiny_model_path,
        constrained=True,
        max_spans=3,
        max_new_tokens=40,
        batch_size=20,
        cache_path=str(tmp_path / "c.sqlite"),
    )
    responses = _random_responses(20, seed=0)
    out = critic.critique([f"prompt {i}" for i in range(20)], responses)
    _assert_every_quote_located(out, responses, max_spans=3)
    assert sum(len(c.spans) for c in out) > 0


def test_a_cut_off_constrained_critique_keeps_its_complete_lines_or_fails(tiny_model_path, tmp_path):
    critic = HFCritic(
        tiny_model_path, constrained=True, max_new_tokens=12, batch_size=6, cache_path=str(tmp_path / "c.sqlite")
    )
    responses = _random_responses(6, seed=1)
    for critique, response in zip(critic.critique(["p"] * 6, responses), responses):
        assert not critique.dropped
        assert critique.ok or critique.error in ("TruncatedCritique", "UnparseableCritique"), critique.error
        if critique.ok:  # what is left is exactly the lines that were complete
            assert parse_critique(critique.raw, response, SENTIMENT).spans == critique.spans


def test_self_critique_under_the_constraint_matches_the_hf_critic_on_the_same_weights(tiny_model_path, tmp_path):
    tokenizer = load_tokenizer(tiny_model_path)
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))
    own = SelfCritique(constrained=True, max_spans=2, max_new_tokens=32)
    own.setup(CriticSetup(lm, tokenizer, tiny_model_path, tmp_path))
    responses = _random_responses(5, seed=2)
    out = own.critique(["p"] * 5, responses)
    _assert_every_quote_located(out, responses, max_spans=2)
    hf = HFCritic(tiny_model_path, constrained=True, max_spans=2, max_new_tokens=32, cache_path=str(tmp_path / "h"))
    assert [c.raw for c in out] == [c.raw for c in hf.critique(["p"] * 5, responses)]
    assert "constrained2" in own.identity and "constrained" not in SelfCritique().identity


def test_missing_xgrammar_names_the_option_and_the_extra(tiny_model_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # what `import xgrammar` meets when it is not installed
    with pytest.raises(ImportError, match=r"critic.constrained: true needs the xgrammar package.*\[constrained\]"):
        HFCritic(tiny_model_path, constrained=True)
    with pytest.raises(ImportError, match=r"critic.constrained"):
        SelfCritique(constrained=True)
    assert not HFCritic(tiny_model_path).constrained  # unconstrained critics do not need it


@pytest.mark.integration
def test_smollm2_under_the_constraint_quotes_only_the_response(tmp_path):
    from lit_critic_rl.models.loading import SMOLLM2_ALIAS

    prompts = ["I watched this movie on a Sunday afternoon and", "The film opens with a long shot of a harbor, and"]
    responses = [" I loved every minute of it, the acting was wonderful.", " the pacing is slow and the story is dull."]
    critic = HFCritic(SMOLLM2_ALIAS, constrained=True, max_new_tokens=40, cache_path=str(tmp_path / "c.sqlite"))
    out = critic.critique(prompts, responses)
    _assert_every_quote_located(out, responses, max_spans=4)
