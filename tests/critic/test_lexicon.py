from lit_critic_rl.critic.lexicon import LexiconCritic


def test_lexicon_marks_sentiment_words_with_their_sign_and_offsets():
    text = "A great cast, a dull plot and a table."
    (critique,) = LexiconCritic().critique(["prompt"], [text])
    assert critique.ok
    marked = {text[s.start : s.end]: s.polarity for s in critique.spans}
    assert marked == {"great": 1.0, "dull": -1.0}


def test_lexicon_threshold_and_neutral_text():
    critic = LexiconCritic(min_valence=3.0)
    assert critic.critique([""], ["a good film"])[0].spans == []  # 'good' has valence 1.9
    assert LexiconCritic().critique([""], ["the table is in the room"])[0].spans == []


def test_profanity_mode_marks_listed_words_as_toxic_spans():
    text = "You are a damn fool, not a classic assassin."
    (critique,) = LexiconCritic(mode="profanity").critique([""], [text])
    marked = [(text[s.start : s.end], s.label, s.polarity) for s in critique.spans]
    assert ("damn", "toxic", -1.0) in marked
    assert all(m[0].lower() not in {"classic", "assassin"} for m in marked)  # whole words only, no substrings
