"""Markdown tables in a critic output: a header row names the text and label columns (``| Span | Label |``), each
later row gives one mark; without a header, the cell that is only a label's name is the label and the first other
non-empty cell the text."""

from __future__ import annotations

import re

from lit_critic_rl.critic import labels as lab
from lit_critic_rl.critic.line_parts import demarkdown, only_label
from lit_critic_rl.critic.quotes import scan

_SEPARATOR_ROW = re.compile(r"^[\s|:\-–—]+$")
_TEXT_COLUMNS = {"span", "spans", "text", "phrase", "quote", "excerpt", "segment", "words", "snippet", "passage"}
_LABEL_COLUMNS = {"label", "sentiment", "type", "category", "polarity", "class", "classification", "toxicity", "issue"}


class TableRows:
    """The table part of the free-text reader (:class:`lit_critic_rl.critic.reading._Reader`), which provides
    ``labels``, ``fits``, ``columns``, ``mark``, ``none``, ``bare``, ``quote_text`` and ``_context_label``."""

    def table_row(self, row: str) -> None:
        if _SEPARATOR_ROW.match(row):
            return
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        plain = [demarkdown(c) for c in cells]
        labels = [lab.label_of(c, self.labels) if only_label(c, self.labels) else None for c in plain]
        has_quotes = any(scan(c) for c in cells)
        if self.columns is None and not any(labels) and not has_quotes:
            words = [{w for w, _, _ in lab.words_with_spans(c)} for c in plain]
            text_col = next((k for k, w in enumerate(words) if w & _TEXT_COLUMNS), None)
            label_col = next((k for k, w in enumerate(words) if w & _LABEL_COLUMNS), None)
            if text_col is not None or label_col is not None:
                self.columns = (text_col, label_col)
                return
        text_col, label_col = self.columns or (None, None)
        if label_col is not None and label_col < len(cells):
            label = labels[label_col]
        else:
            label = next((x for x in labels if x), None)
            label_col = labels.index(label) if label else None
        if text_col is None or text_col >= len(cells):
            text_col = next((k for k in range(len(cells)) if k != label_col and plain[k]), None)
        if text_col is None:
            return
        cell = cells[text_col]
        quoted = [q for q in scan(cell, self.fits) if q.text.strip()]
        quotes = [self.quote_text(q.text) for q in quoted] if quoted else self.bare(cell)
        if label is None:
            label = self._context_label(True) if not (label_col is not None and plain[label_col]) else None
            if label is None and label_col is not None and lab.labelish(plain[label_col]):
                self.mark(None, quotes, plain[label_col])
                return
        if label is not None and lab.is_none_word(demarkdown(cell)):
            self.none([label])
        elif label is not None:
            self.mark(label, quotes)
