"""Hashtags, mentions and the text the model scores: behaviour and totality."""

from __future__ import annotations

import random
import unicodedata

import pytest

from moodstream_analyzer.text import (
    MAX_SCORING_CHARS,
    MAX_TAG_CHARS,
    clean_for_scoring,
    extract_hashtags,
    extract_mentions,
)

# Inputs a public topic can carry. Every function must return for each, never raise.
HOSTILE = [
    "",
    " ",
    "\x00",
    "\x00#tag\x00@user\x00",
    "\x1b[31mred\x1b[0m #ansi",
    "\ud800",
    "lone \udfff surrogate #tag\ud83d",
    "\ud83d\ude00 pair written as surrogates",
    "\u202egnirts desrever #\u202etag",
    "\u200f\u200e\u061c marks only",
    "مرحبا #مرحبا بالعالم @مستخدم",
    "שלום #עברית",
    "Z̷̛̛͓̮̟̣̟̟a̶̢̛̮̣l̵̨̛̦̼g̴̨̛̟o̸̢̧̗ #z̷a̶l̵g̴o̸",
    "\u0301" * 10_000,
    "#" * 10_000,
    "@" * 10_000,
    "#a" * 50_000,
    "x" * 1_000_000,
    ("#tag @user http://example.com/#frag " * 30_000)[:1_000_000],
    "\ufeff#bom",
    "\uffff\ufffe\U0010ffff",
    "😀" * 1000,
    "👨‍👩‍👧‍👦 🏳️‍🌈 1️⃣ 👍🏽",
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029",
    "http://",
    "https://" + "a" * 100_000,
    "www." * 1000,
    "&amp;" * 1000,
    "&#39;#tag",
    "a@b.com @ @_ @@x ＠full",
    "#1 #2023 #_ #__init__ #ü",
    "%s %d {0} {} \\N{BULLET} $(rm -rf /) '; DROP TABLE--",
    "\U000e0001\U000e0074\U000e0061\U000e0067",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_total_on_hostile_strings(text: str) -> None:
    cleaned = clean_for_scoring(text)
    hashtags = extract_hashtags(text)
    mentions = extract_mentions(text)
    assert isinstance(cleaned, str)
    assert len(cleaned) <= MAX_SCORING_CHARS
    # The cleaned text must survive strict UTF-8 encoding: the tokenizer needs that.
    cleaned.encode("utf-8")
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    for tags in (hashtags, mentions):
        assert len(tags) == len(set(tags))
        assert all(0 < len(tag) <= MAX_TAG_CHARS for tag in tags)
        assert all(tag == tag.casefold() for tag in tags)


def test_total_on_random_code_points() -> None:
    """Seeded fuzz over the whole code space, lone surrogates included."""
    rng = random.Random(20240607)
    alphabet = "#@ \n:/._&"
    for _ in range(300):
        length = rng.randint(0, 200)
        text = "".join(
            rng.choice(alphabet) if rng.random() < 0.3 else chr(rng.randint(0, 0x10FFFF))
            for _ in range(length)
        )
        cleaned = clean_for_scoring(text)
        cleaned.encode("utf-8")
        for tag in extract_hashtags(text) + extract_mentions(text):
            tag.encode("utf-8", errors="surrogatepass")
            assert tag


def test_hashtags_are_case_folded_unicode_and_deduplicated_in_order() -> None:
    text = "#Café and #CAFÉ then #東京, #Straße, #हिंदी and #café again"
    assert extract_hashtags(text) == ["café", "東京", "strasse", "हिंदी"]


def test_hashtags_equal_under_unicode_normalization() -> None:
    decomposed = "#Cafe\u0301"
    assert unicodedata.normalize("NFC", decomposed) != decomposed
    assert extract_hashtags(decomposed) == ["café"]


def test_hashtag_boundaries() -> None:
    assert extract_hashtags("C# and foo#bar and &#39; entity") == []
    assert extract_hashtags("#1 #2023 #__") == []
    assert extract_hashtags("#a1 #2023final #snake_case") == ["a1", "2023final", "snake_case"]
    assert extract_hashtags("(#paren) #end. #comma,") == ["paren", "end", "comma"]
    assert extract_hashtags("full-width ＃タグ") == ["タグ"]


def test_hashtags_in_urls_are_ignored() -> None:
    assert extract_hashtags("see https://example.com/page#section and #real") == ["real"]
    assert extract_hashtags("www.example.com/#/route") == []


def test_overlong_hashtag_is_dropped() -> None:
    assert extract_hashtags("#" + "a" * (MAX_TAG_CHARS + 1) + " #ok") == ["ok"]
    assert extract_hashtags("#" + "a" * MAX_TAG_CHARS) == ["a" * MAX_TAG_CHARS]


def test_mentions() -> None:
    text = "@Alice thanks @bob, cc @ALICE; mail me at carol@example.com @_x ＠Ünï"
    assert extract_mentions(text) == ["alice", "bob", "_x", "ünï"]
    assert extract_mentions("https://example.com/@handle") == []
    assert extract_mentions("@ alone and @@double") == []


def test_clean_removes_urls_and_collapses_whitespace() -> None:
    text = "  Loving it!!\n\n see https://t.co/abc123 and www.example.com/x?y=1\tnow  "
    assert clean_for_scoring(text) == "Loving it!! see and now"


def test_clean_keeps_emoji_hashtags_mentions_and_scripts() -> None:
    text = "Best day 😍👍🏽 👨\u200d👩\u200d👧 #Happy @friend مرحبا 你好"
    assert clean_for_scoring(text) == text


def test_clean_strips_controls_surrogates_and_bidi_overrides() -> None:
    assert clean_for_scoring("a\x00b\x07c\ud800d\u202ee\x85f") == "a b c d e f"


def test_clean_unescapes_tweet_entities() -> None:
    assert clean_for_scoring("Q&amp;A &lt;3 &quot;great&quot;") == 'Q&A <3 "great"'


def test_clean_trims_zalgo_but_keeps_accents() -> None:
    # "q" has no precomposed accented forms, so NFC leaves every mark separate.
    cleaned = clean_for_scoring("q" + "\u0301\u0302\u0303\u0304\u0305" * 20 + " café")
    assert cleaned == "q\u0301\u0302\u0303 café"


def test_clean_caps_length_at_a_word_boundary() -> None:
    cleaned = clean_for_scoring("word " * 1000)
    assert len(cleaned) <= MAX_SCORING_CHARS
    assert cleaned.endswith("word")
    assert len(clean_for_scoring("y" * 1_000_000)) == MAX_SCORING_CHARS


def test_clean_of_nothing_but_noise_is_empty() -> None:
    assert clean_for_scoring(" \x00 https://example.com \u202e \t") == ""
