import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.base import Critique, Span
from lit_critic_rl.critic.shaping import critique_token_rewards, token_char_ranges, token_texts

TEXTS = ["The film was great, and the cast was great too.", "café 😀 日本語 and a bad ending", "a, the, a"]


def test_char_ranges_cover_the_decoded_text_in_order(tiny_tokenizer):
    for text in TEXTS:
        ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
        ranges = token_char_ranges(tiny_tokenizer, ids)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(text)
        # contiguous, except that tokens sharing a split character overlap on exactly that character
        assert all(b[0] in (a[1], a[1] - 1) for a, b in zip(ranges, ranges[1:]))


def test_every_token_of_a_split_character_holds_it(tiny_tokenizer):
    text = "😀"  # 4 UTF-8 bytes; the tiny byte-level BPE splits it into several tokens
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges = token_char_ranges(tiny_tokenizer, ids)
    assert len(ids) > 1 and ranges == [(0, 1)] * len(ids)


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_tokens_partly_inside_a_span_get_its_value_wherever_they_sit(tiny_tokenizer, where):
    text = {"start": "😀 great film", "middle": "a 😀 film", "end": "a film 😀"}[where]
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges = token_char_ranges(tiny_tokenizer, ids)
    span = {"start": (0, 7), "middle": (0, 6), "end": (2, 8)}[where]
    rewards = critique_token_rewards(
        Critique(ok=True, spans=[Span(*span, "positive", 1.0)]), ranges, len(ids), ShapingArgs()
    )
    emoji = text.index("😀")
    split = [i for i, (s, e) in enumerate(ranges) if (s, e) == (emoji, emoji + 1)]
    assert len(split) > 1 and all(rewards[i] == 0.5 for i in split)  # the leading byte-token too


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


def test_last_token_placement_and_overlap_modes(tiny_tokenizer):
    text = "a truly wonderful movie"
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges = token_char_ranges(tiny_tokenizer, ids)
    span = Span(2, len(text), "positive", 1.0)
    dup = Critique(ok=True, spans=[span, span, Span(2, 9, "positive", 1.0)])
    inner = [i for i, (s, e) in enumerate(ranges) if s < 9 and 2 < e]
    outer = [i for i, (s, e) in enumerate(ranges) if 9 <= s]
    summed = critique_token_rewards(dup, ranges, len(ids), ShapingArgs())
    assert all(summed[i] == 1.0 for i in inner) and all(summed[i] == 0.5 for i in outer)  # the duplicate counts once
    assert critique_token_rewards(dup, ranges, len(ids), ShapingArgs(overlap="max")).max() == 0.5
    one = Critique(ok=True, spans=[span])
    last = critique_token_rewards(one, ranges, len(ids), ShapingArgs(placement="last_token"))
    assert last[-1] == 0.5 and last[:-1].abs().sum() == 0


def test_not_bad_at_all_overlap_sums_by_default_and_the_order_only_matters_for_first(tiny_tokenizer):
    text = "it was not bad at all"
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges = token_char_ranges(tiny_tokenizer, ids)
    pos, neg = Span(7, 21, "positive", 1.0), Span(11, 14, "negative", -1.0)
    bad = [i for i, (s, e) in enumerate(ranges) if s < 14 and 11 < e]
    for spans in ([pos, neg], [neg, pos]):
        summed = critique_token_rewards(Critique(ok=True, spans=spans), ranges, len(ids), ShapingArgs())
        assert all(summed[i] == 0.0 for i in bad)  # +0.5 - 0.5
        largest = critique_token_rewards(Critique(ok=True, spans=spans), ranges, len(ids), ShapingArgs(overlap="max"))
        assert all(largest[i] == spans[0].polarity * 0.5 for i in bad)  # a tie in magnitude keeps the first
        first = critique_token_rewards(Critique(ok=True, spans=spans), ranges, len(ids), ShapingArgs(overlap="first"))
        assert all(first[i] == spans[0].polarity * 0.5 for i in bad)


def test_substring_placement_over_rewards_every_equal_token(tiny_tokenizer):
    text = "the plot, the cast and the end"
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    ranges, texts = token_char_ranges(tiny_tokenizer, ids), token_texts(tiny_tokenizer, ids)
    span = Span(10, 18, "negative", -1.0, "the cast")
    args = ShapingArgs(placement="substring")
    rewards = critique_token_rewards(Critique(ok=True, spans=[span]), ranges, len(ids), args, token_texts=texts)
    spread = critique_token_rewards(Critique(ok=True, spans=[span]), ranges, len(ids), ShapingArgs())
    for i, t in enumerate(texts):
        assert rewards[i] == (-0.5 if t.strip() and t.strip() in "the cast" else 0.0)
    assert (rewards != 0).sum() > (spread != 0).sum()  # "the" at 0 and 23 are rewarded too
    with pytest.raises(ValueError, match="token_texts"):
        critique_token_rewards(Critique(ok=True, spans=[span]), ranges, len(ids), args)


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=1, max_size=40), data=st.data())
def test_round_trip_random_texts_and_spans(tiny_tokenizer, text, data):
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assume(ids)
    decoded = tiny_tokenizer.decode(ids)
    ranges = token_char_ranges(tiny_tokenizer, ids)
    assert ranges[-1][1] == len(decoded)
    assume(decoded)
    start = data.draw(st.integers(0, len(decoded) - 1))
    end = data.draw(st.integers(start + 1, len(decoded)))
    value = data.draw(st.sampled_from([1.0, -1.0]))
    rewards = critique_token_rewards(
        Critique(ok=True, spans=[Span(start, end, "x", value)]), ranges, len(ids), ShapingArgs()
    )
    for (s, e), r in zip(ranges, rewards):
        overlaps = s < end and start < e
        assert r == ((0.5 if value > 0 else -0.5) if overlaps else 0.0)


def test_values_on_tokens_moves_critic_token_values_by_characters():
    from lit_critic_rl.critic.base import TokenValue
    from lit_critic_rl.critic.shaping import values_on_tokens

    # policy tokens "ab|cd|" + EOS (empty range at 4); critic tokens "a|bcd" and its own EOS value at 4
    values = [TokenValue(0, 1, -0.1), TokenValue(1, 4, 0.3), TokenValue(4, 4, 0.2)]
    out = values_on_tokens(values, [(0, 2), (2, 4), (4, 4)], 4)
    # token "ab": 1 char at -0.1 and 1 char at 0.3 -> 0.1; "cd": 0.3; EOS: 0.2; the 4th token has no range -> 0
    torch.testing.assert_close(out, torch.tensor([0.1, 0.3, 0.2, 0.0]))
    same = [TokenValue(0, 2, 0.5), TokenValue(2, 4, -0.05)]
    torch.testing.assert_close(values_on_tokens(same, [(0, 2), (2, 4)], 2), torch.tensor([0.5, -0.05]))


def test_token_valued_critique_ignores_unflagged_value_and_adds_spans():
    from lit_critic_rl.args import ShapingArgs
    from lit_critic_rl.critic.base import Critique, Span, TokenValue
    from lit_critic_rl.critic.shaping import critique_token_rewards

    shaping = ShapingArgs(unflagged_value=0.5)
    values = [TokenValue(0, 2, -0.1), TokenValue(2, 4, 0.0)]
    only_values = Critique(True, token_values=values)
    assert only_values.outcome == "ok"
    torch.testing.assert_close(
        critique_token_rewards(only_values, [(0, 2), (2, 4)], 2, shaping), torch.tensor([-0.1, 0.0])
    )
    both = Critique(True, spans=[Span(2, 4, "bad", -1.0)], token_values=values)
    expected = torch.tensor([-0.1 + 0.5, 0.0 + shaping.negative_value])
    torch.testing.assert_close(critique_token_rewards(both, [(0, 2), (2, 4)], 2, shaping), expected)
