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
