"""The samples section of the run report: the first, middle and last iterations' samples as HTML, each response
token coloured by its reward, beside what the critic said (raw output, located spans, dropped quotes, failures)."""

from __future__ import annotations

import html
import math


def pick_iterations(samples: list[dict]) -> list[int]:
    """The first, middle and last iteration present (fewer when the run has fewer)."""
    iterations = sorted({int(s.get("iteration", 0)) for s in samples})
    if not iterations:
        return []
    return sorted({iterations[0], iterations[len(iterations) // 2], iterations[-1]})


def token_colour(value: float, scale: float) -> str:
    """CSS background of a token: green for a positive reward, red for a negative one, transparent for 0; the
    opacity grows with ``|value| / scale`` (at least 0.15, so a small nonzero reward stays visible)."""
    if value == 0 or not math.isfinite(value) or scale <= 0:
        return "transparent"
    alpha = 0.15 + 0.7 * min(1.0, abs(value) / scale)
    rgb = "22,163,74" if value > 0 else "220,38,38"
    return f"rgba({rgb},{alpha:.2f})"


def coloured_response(sample: dict, scale: float) -> str:
    """The response as HTML, one ``<span class="tok">`` per token with its reward in ``data-reward`` and the title;
    plain escaped text when the row has no usable token rewards and character ranges."""
    text, rewards, ranges = sample.get("response", ""), sample.get("token_rewards"), sample.get("token_ranges")
    if not rewards or not ranges or len(rewards) != len(ranges):
        return html.escape(text)
    parts, cursor = [], 0
    for value, (start, end) in zip(rewards, ranges):
        if start > cursor:
            parts.append(html.escape(text[cursor:start]))
        start = max(start, cursor)
        parts.append(
            f'<span class="tok" data-reward="{value:.6g}" title="{value:+.3f}" '
            f'style="background:{token_colour(value, scale)}">{html.escape(text[start:end])}</span>'
        )
        cursor = max(cursor, end)
    parts.append(html.escape(text[cursor:]))
    return "".join(parts)


def span_sign(span: dict) -> str:
    """A span's token value (``value``) or, as the training loop records it, its ``polarity``."""
    if "value" in span:
        return f"{span['value']:+g}"
    return f"polarity {span.get('polarity', 0.0):+g}"


def critique_html(sample: dict) -> str:
    critique = sample.get("critique")
    if not critique:
        return '<span class="muted">no critique recorded</span>'
    outcome = critique.get("outcome", "?")
    out = [f'<span class="badge {html.escape(outcome)}">{html.escape(outcome)}</span>']
    if critique.get("error"):
        out.append(f'<div class="error">{html.escape(critique["error"])}</div>')
    if critique.get("raw"):
        out.append(f'<pre class="raw">{html.escape(critique["raw"])}</pre>')
    response = sample.get("response", "")
    spans = [
        f"<li>{html.escape(s.get('label', ''))} ({span_sign(s)}): "
        f"&ldquo;{html.escape(response[s['start'] : s['end']])}&rdquo;</li>"
        for s in critique.get("spans") or []
    ]
    if spans:
        out.append(f'<div class="sub">located spans</div><ul>{"".join(spans)}</ul>')
    dropped = [
        f"<li>&ldquo;{html.escape(d.get('quote', ''))}&rdquo; ({html.escape(d.get('label', ''))}): "
        f"<em>{html.escape(d.get('reason', ''))}</em></li>"
        for d in critique.get("dropped") or []
    ]
    if dropped:
        out.append(f'<div class="sub">dropped quotes</div><ul class="dropped">{"".join(dropped)}</ul>')
    return "".join(out)


def samples_table(samples: list[dict], per_iteration: int) -> str:
    iterations = pick_iterations(samples)
    if not iterations:
        return '<p class="muted">No samples in this run.</p>'
    shown = [[s for s in samples if int(s.get("iteration", 0)) == i][:per_iteration] for i in iterations]
    values = [abs(v) for group in shown for s in group for v in s.get("token_rewards") or [] if math.isfinite(v)]
    scale = max(values, default=0.0)
    rows = []
    for iteration, group in zip(iterations, shown):
        rows.append(f'<tr class="iteration"><th colspan="3">iteration {iteration}</th></tr>')
        for s in group:
            rewards = f"extrinsic {s.get('reward_extrinsic', s.get('reward', math.nan)):+.3f}"
            if "reward_total" in s:
                rewards += f"<br>total {s['reward_total']:+.3f}"
            rows.append(
                f'<tr class="sample" data-iteration="{iteration}"><td class="text"><span class="prompt">'
                f'{html.escape(s.get("prompt", ""))}</span><span class="response">{coloured_response(s, scale)}'
                f'</span></td><td class="num">{rewards}</td><td class="critique">{critique_html(s)}</td></tr>'
            )
    legend = (
        f'<p class="legend">Each response token is coloured by its reward in the samples file: '
        f'<span class="tok" style="background:{token_colour(scale, scale)}">positive</span> '
        f'<span class="tok" style="background:{token_colour(-scale, scale)}">negative</span>, '
        f"full strength at |r| = {scale:.3g}; hover a token for its value. Prompts are grey.</p>"
    )
    return (
        legend
        + '<table class="samples"><tr><th>prompt &rarr; response</th><th>reward</th><th>critic</th></tr>'
        + "".join(rows)
        + "</table>"
    )
