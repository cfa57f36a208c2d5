"""Which ``prompt_format`` should the local critics use? SmolLM2-135M-Instruct (the offline asset) critiques 20
hand-written review sentences through each shipped sentiment template, once as a plain completion prompt and once
through its chat template, greedy, 48 new tokens. Reports per setting: outcomes (ok / empty / failed), quotes named,
quotes located in the response (the located-quote rate), and the drop reasons.

    OMP_NUM_THREADS=1 python -m benchmarks.critic_prompt_format      # ~4 min on 2 shared cores
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter

from lit_critic_rl.critic.hf import HFCritic

# (opening, continuation): openings in the style of the shipped prompts, continuations written for this benchmark
SENTENCES = [
    ("I rented this on a rainy evening and", " the acting was superb, though the story dragged in the middle."),
    (
        "The film follows a young chef who",
        " burns every dish and somehow it is the funniest thing I have seen all year.",
    ),
    ("My friends kept telling me that", " this movie was a masterpiece, but I found it boring and far too long."),
    ("It starts in a small mountain village where", " the scenery is breathtaking and the music is lovely."),
    ("After the first twenty minutes", " I wanted to leave; the dialogue is clumsy and the jokes are stale."),
    ("The sequel picks up a year later, and", " it is even better than the original, with a clever script."),
    ("Halfway through the second act", " the plot collapses into a mess of pointless twists."),
    ("The lead actress plays a retired pilot and", " she is wonderful in every scene."),
    ("I watched it with my kids, and", " they loved the colourful animation while I enjoyed the witty dialogue."),
    ("The documentary covers the history of the canal, and", " it is informative but painfully dull."),
    ("From the opening credits", " the soundtrack is gorgeous and the camera work is stunning."),
    ("The villain is introduced early, and", " his performance is wooden and unconvincing."),
    ("It is a two-hour drama about a family farm, and", " I was moved to tears by the ending."),
    ("The special effects were promoted heavily, but", " they look cheap and the battle scenes are confusing."),
    (
        "The film is set during a long winter, and",
        " the cast is charming, the humour is gentle and the pace is perfect.",
    ),
    ("According to the trailer", " this was a thriller, yet it turned out to be a predictable, lifeless bore."),
    ("The remake keeps the original plot, and", " the new songs are catchy and fun."),
    ("Two detectives chase a forger across Europe, and", " the chase scenes are thrilling but the ending is rushed."),
    ("The director's debut feature", " is a tedious, self-indulgent exercise in style over substance."),
    ("I saw this at a festival last spring, and", " it remains one of the most beautiful films I have ever watched."),
]


def measure(template: str, prompt_format: str, max_new_tokens: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        critic = HFCritic(
            "asset:smollm2-135m-instruct",
            template=template,
            prompt_format=prompt_format,
            max_new_tokens=max_new_tokens,
            batch_size=10,
            cache_path=f"{tmp}/c.sqlite",
        )
        out = critic.critique([p for p, _ in SENTENCES], [r for _, r in SENTENCES])
    named = sum(len(c.spans) + c.n_dropped for c in out)
    located = sum(len(c.spans) for c in out)
    return {
        "outcomes": Counter(c.outcome for c in out),
        "named": named,
        "located": located,
        "rate": located / named if named else float("nan"),
        "reasons": Counter(d.reason for c in out for d in c.dropped),
        "errors": Counter(c.error for c in out if not c.ok),
        "example": out[0].raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", nargs="+", default=["sentiment", "sentiment_relc"])
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    for template in args.templates:
        for prompt_format in ("completion", "chat"):
            r = measure(template, prompt_format, args.max_new_tokens)
            print(
                f"{template:15s} {prompt_format:10s} outcomes {dict(r['outcomes'])}  located {r['located']}/"
                f"{r['named']} = {r['rate']:.0%}  drops {dict(r['reasons'])}  errors {dict(r['errors'])}"
            )
            print("    first raw output:", repr(r["example"][:160]), flush=True)


if __name__ == "__main__":
    main()
