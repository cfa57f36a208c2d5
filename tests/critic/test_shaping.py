import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.base import Critique, Span
from lit_critic_rl.critic.shaping import critique_token_rewards, token_char_ranges

TEXTS = ["The film was great, and the cast was great too.", "café 😀 日本語 and a bad ending", "a, the, a"]


def test_char_ranges_tile_the_decoded_text(tiny_tokenizer):
    for text in TEXTS:
        ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
        ranges = token_char_ranges(tiny_tokenizer, ids)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(text)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, no gaps or overlaps


def test_partial_characters_go_to_the_token_that_completes_them(tiny_tokenizer):
    text = "😀"  # 4 UTF-8 bytes; the tiny byte-level BPE splits it into several tokens
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges = token_char_ranges(tiny_tokenizer, ids)
    assert len(ids) > 1
    assert [r for r in ranges if r[1] > r[0]] == [(0, 1)]


def test_span_rewards_only_touch_overlapping_tokens_not_every_equal_word(tiny_tokenizer):
    text = "the cast was great and the end was bad"
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges = token_char_ranges(tiny_tokenizer, ids)
    start = text.index("great")
    critique = Critique(ok=True, spans=[Span(start, start + 5, "positive", 1.0)])
    rewards = critique_token_rewards(critique, ranges, len(ids), ShapingArgs())
    for (s, e), r in zip(ranges, rewards):
        assert r == (0.5 if s < start + 5 and start < e else 0.0)
    # "the" occurs twice; flagging the first must not reward the second (the reference code's substring bug)
    first_the = Critique(ok=True, spans=[Span(0, 3, "negative", -1.0)])
    rewards = critique_token_rewards(first_the, ranges, len(ids), ShapingArgs())
    second = text.index("the", 4)
    assert all(r == 0 for (s, e), r in zip(ranges, rewards) if s >= second)


def test_last_token_placement_and_no_stacking(tiny_tokenizer):
    text = "a truly wonderful movie"
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges = token_char_ranges(tiny_tokenizer, ids)
    span = Span(2, len(text), "positive", 1.0)
    dup = Critique(ok=True, spans=[span, span, Span(2, 9, "positive", 1.0)])
    spread = critique_token_rewards(dup, ranges, len(ids), ShapingArgs())
    assert spread.max() == 0.5  # duplicates and overlaps do not stack
    one = Critique(ok=True, spans=[span])
    last = critique_token_rewards(one, ranges, len(ids), ShapingArgs(placement="last_token"))
    assert last[-1] == 0.5 and last[:-1].abs().sum() == 0


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=1, max_size=40), data=st.data())
def test_round_trip_random_texts_and_spans(tiny_tokenizer, text, data):
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        return
    decoded = tiny_tokenizer.decode(ids)
    ranges = token_char_ranges(tiny_tokenizer, ids)
    assert ranges[-1][1] == len(decoded)
    if not decoded:
        return
    start = data.draw(st.integers(0, len(decoded) - 1))
    end = data.draw(st.integers(start + 1, len(decoded)))
    value = random.choice([1.0, -1.0])
    rewards = critique_token_rewards(Critique(ok=True, spans=[Span(start, end, "x", value)]), ranges, len(ids),
                                     ShapingArgs())
    for (s, e), r in zip(ranges, rewards):
        overlaps = s < end and start < e
        assert r == ((0.5 if value > 0 else -0.5) if overlaps else 0.0)
