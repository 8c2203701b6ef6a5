"""Text analysis for short messages: hashtags, mentions and the text the model scores.

Every public function here is total: it returns a value for any ``str`` (control
characters, lone surrogates, right-to-left marks, zalgo, megabyte-long input) and
never raises. The input is hostile by default: it comes straight off a public topic.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

MAX_TAG_CHARS = 100
"""Longest hashtag or mention kept; longer ones are dropped (no platform allows them)."""

MAX_SCORING_CHARS = 2000
"""Longest text handed to the model; a tweet is at most 280 characters."""

MAX_MARKS_PER_CHAR = 3
"""Combining marks kept after one base character; the rest of a zalgo stack goes."""

# Enough to hold MAX_SCORING_CHARS after URL removal and whitespace collapsing, while
# keeping the work on a megabyte-long message bounded.
_SCAN_CHARS = 16 * MAX_SCORING_CHARS

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# The few entities the Twitter API escapes in tweet text.
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
# C0/C1 controls except tab/newline (whitespace, collapsed later), lone surrogates
# (they cannot be encoded, so the tokenizer would fail on them), bidi embeddings and
# overrides (they only reorder display) and the BOM / noncharacters.
_STRIP = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069"
    "\ufeff\ufffe\uffff]"
)


@functools.cache
def _mark_class() -> str:
    """A regex character class body listing every combining mark (Mn, Mc, Me).

    Built once from :mod:`unicodedata`, so it follows the running Python's Unicode
    version; ``re``'s ``\\w`` does not include marks, yet hashtags in Devanagari,
    Thai or decomposed Latin need them.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    marks = _mark_class()
    # A tag body: word characters, combining marks and ZWNJ/ZWJ (needed in Indic
    # scripts). The sign must not follow a word character or '&' (entities), and a
    # body of only digits or underscores is no hashtag ("#1").
    body = rf"(?:\w|[{marks}\u200c\u200d])+"
    hashtag = re.compile(rf"(?<![\w&{marks}])[#\uff03]({body})")
    mention = re.compile(rf"(?<![\w@\uff20{marks}])[@\uff20]({body})")
    zalgo = re.compile(rf"([{marks}]{{{MAX_MARKS_PER_CHAR}}})[{marks}]+")
    return hashtag, mention, zalgo


def _prepare(text: str) -> str:
    """NFC-normalized text with URLs blanked, so '#' or '@' inside a URL is not a tag."""
    return _URL.sub(" ", unicodedata.normalize("NFC", text))


def _tags(pattern: re.Pattern[str], text: str, *, need_letter: bool) -> list[str]:
    seen: dict[str, None] = {}
    for match in pattern.finditer(_prepare(text)):
        tag = match.group(1).casefold()
        if len(tag) > MAX_TAG_CHARS or tag in seen:
            continue
        if need_letter and not any(ch.isalpha() for ch in tag):
            continue
        seen[tag] = None
    return list(seen)


def extract_hashtags(text: str) -> list[str]:
    """Hashtags in ``text``, case-folded, without the ``#``, first occurrence order.

    Unicode-aware: ``"#Café #CAFÉ #東京"`` gives ``["café", "東京"]``; a tag must hold
    at least one letter (``#1`` is not one) and tags inside URLs are ignored.
    """
    return _tags(_patterns()[0], text, need_letter=True)


def extract_mentions(text: str) -> list[str]:
    """``@user`` mentions in ``text``, case-folded, without the ``@``, first occurrence
    order; e-mail addresses (``a@b.com``) and URLs are not mentions."""
    return _tags(_patterns()[1], text, need_letter=False)


def clean_for_scoring(text: str) -> str:
    """The text the model should score: URLs removed, HTML entities of tweet text
    unescaped, control characters, lone surrogates and bidi overrides removed, zalgo
    stacks trimmed, whitespace collapsed, emoji and hashtags kept, at most
    :data:`MAX_SCORING_CHARS` characters. Returns ``""`` when nothing is left.
    """
    _, _, zalgo = _patterns()
    cleaned = _STRIP.sub(" ", text[:_SCAN_CHARS])
    cleaned = _URL.sub(" ", unicodedata.normalize("NFC", cleaned))
    cleaned = _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], cleaned)
    cleaned = zalgo.sub(r"\1", cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > MAX_SCORING_CHARS:
        cut = cleaned[:MAX_SCORING_CHARS]
        # End on a word boundary when there is one in the last tenth.
        space = cut.rfind(" ", MAX_SCORING_CHARS - MAX_SCORING_CHARS // 10)
        cleaned = cut[:space] if space > 0 else cut
    return cleaned
