"""A corpus of hostile inputs, reused through both doors (HTTP and the input topic).

- ``HOSTILE_TEXTS``: strings that must be *kept* as message text under the default
  limits (verbatim, except that lone surrogates become U+FFFD). None is blank, none
  is longer than 10,000 code points, and no high surrogate is directly followed by a
  low one (such a pair would be joined).
- ``HOSTILE_CASES``: ``(name, body, expected)`` where ``expected`` is ``None`` when the
  body must be accepted and otherwise the rejection reason, under the default limits
  (``moodstream_ingest.normalize.Limits()``) and a current arrival time.
- ``HOSTILE_BODIES``: just the bodies of ``HOSTILE_CASES``, in the same order.

Every body stays under 1 MiB on the wire, so it also fits in one Kafka record.
"""

from __future__ import annotations

import json

_BASE = {
    "id": "w",
    "type": "update",
    "text": "t",
    "user_id": "u",
    "timestamp": "2025-07-06T13:35:15Z",
}


def _chars(*codes: int) -> list[str]:
    return [chr(code) for code in codes]


# -- texts -------------------------------------------------------------------------

_CONTROL_CODES = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_CONTROL_TEXTS = [f"ctl {code:#04x} [{chr(code)}]" for code in _CONTROL_CODES]

_FORMAT_CODES = [
    0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x180E, 0x200B, 0x200C, 0x200D,
    0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2064,
    0x2066, 0x2067, 0x2068, 0x2069, 0x206A, 0x206F, 0x2800, 0x3164, 0xFE00, 0xFE0F,
    0xFEFF, 0xFFA0, 0xFFF9, 0xFFFA, 0xFFFB, 0xFFFC, 0xFFFD, 0xFFFE, 0xFFFF, 0xFDD0,
    0xFDEF, 0xE000, 0xF8FF, 0x1D173, 0x1FFFE, 0xE0001, 0xE0041, 0xE007F, 0xE0100,
    0xE01EF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFE, 0x10FFFF,
]
_FORMAT_TEXTS = [f"fmt U+{code:04X} [{chr(code)}]" for code in _FORMAT_CODES]

_SPACE_CODES = [
    0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
]
_SPACE_TEXTS = [f"space U+{code:04X} [{chr(code)}]" for code in _SPACE_CODES]

_SCRIPT_TEXTS = [
    "مرحبا بالعالم #مرحبا",
    "שלום עולם 123 abc",
    "日本語のテキスト #東京",
    "中文文本 #北京 @用户",
    "한국어 텍스트 #서울",
    "Ελληνικά κείμενα #Ελλάδα",
    "Русский текст #Москва",
    "हिन्दी पाठ #दिल्ली",
    "ภาษาไทยไม่มีช่องว่าง",
    "བོད་ཡིག",
    "မြန်မာစာ",
    "ᚠᛇᚻ᛫ᛒᛦᚦ",
    "𝐇𝐞𝐥𝐥𝐨 𝕎𝕠𝕣𝕝𝕕 𝓼𝓬𝓻𝓲𝓹𝓽",
    "ｆｕｌｌｗｉｄｔｈ ＃ｔａｇ",
    "раураl lookalike (Cyrillic)",
    "İstanbul ıi İI",
    "STRASSE straße ẞ",
    "ﬁne ﬂow ligatures",
    "Ⅻ ½ ² ³ ⁴ ₅ ∞",
    "café vs cafe\u0301 (NFC vs NFD)",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
    "\U0001f3f3\ufe0f\u200d\U0001f308 rainbow flag",
    "\U0001f3f4\u200d\u2620\ufe0f pirate flag",
    "\U0001f44d\U0001f3fd thumbs with skin tone",
    "\U0001f3fd lone skin tone modifier",
    "1\ufe0f\u20e3 keycap",
    "\U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5 flags",
    "\U0001f1fa lone regional indicator",
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland",
    "😀😃😄😁😆😅😂🤣 emoji only",
    "\U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1 people holding hands",
    "a\u0308\u0301\u0302 stacked marks",
]

_ZALGO_MARKS = [chr(code) for code in range(0x0300, 0x036F)]
_ZALGO_TEXTS = [
    "".join(base + "".join(_ZALGO_MARKS[(i * 7 + j) % len(_ZALGO_MARKS)] for j in range(30))
            for i, base in enumerate(word))
    for word in ("zalgo", "HE COMES", "#tag", "@user")
] + ["x" + "".join(_ZALGO_MARKS[j % len(_ZALGO_MARKS)] for j in range(5_000))]

_SURROGATE_TEXTS = [
    "\ud800 lone high surrogate",
    "lone low \udfff surrogate",
    "a\ud800b",
    "\udc00\ud800 reversed pair (two lone halves)",
    "half emoji \ud83d",
    "\ude00 trailing half",
    "\ud800" * 10 + " ten highs",
    "ends with a high \udbff",
]

_INJECTION_TEXTS = [
    "'; DROP TABLE messages; --",
    "1' OR '1'='1",
    "admin'--",
    "\"; SELECT * FROM users WHERE \"a\"=\"a",
    "1; WAITFOR DELAY '0:0:5'--",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "\"><script>alert(document.cookie)</script>",
    "javascript:alert(1)",
    "[click](javascript:alert(1))",
    "<!--#exec cmd=\"/bin/ls\" -->",
    "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
    '{"id": "injected", "type": "delete"}',
    '"}, {"id": "x", "type": "delete", "text": "',
    '\\"},"type":"delete","x":{"a":"',
    "\\u0000 escaped nul as text",
    "\\ud800 escaped surrogate as text",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}} ${7*7} #{7*7} <%= 7*7 %>",
    "{0.__class__.__mro__}",
    "%s%s%s%n%x%d",
    "$(rm -rf /) `id` | cat /etc/passwd && echo",
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "file.txt\x00.jpg",
    "a\r\nX-Injected: header\r\n\r\nbody",
    "line1\nline2\rline3\r\nline4",
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "*)(uid=*))(|(uid=*",
    "' || pg_sleep(5) --",
    "db.users.find({$where: 'sleep(5000)'})",
    "\x1b[31mred\x1b[0m ANSI escape",
    "\x1b]0;title\x07 OSC escape",
    "\x08\x08\x08 backspaces",
    "<?php system($_GET['c']); ?>",
    "\u202egnp.exe",
    "https://example.invalid/" + "x" * 2_000,
    "mailto:a@b.invalid?subject=%0d%0ainjected",
]

_LOOKALIKE_TEXTS = [
    "null", "None", "undefined", "true", "false", "NaN", "Infinity", "-Infinity",
    "0", "-0", "1e309", "[]", "{}", '""', "\\", "\\\\", '"', "'", "`", "#", "@",
]

_LENGTH_TEXTS = [
    "a" * 10_000,
    "\U0001f600" * 10_000,
    "\x00" * 10_000,
    "x" + "\u0301" * 9_999,
    "#a " * 3_333,
    "x" * 9_999 + "\ud800",
    "\U0001f3f3\ufe0f\u200d\U0001f308" * 2_500,
    "\u200b" * 10_000,
]

_HASHTAG_TEXTS = [
    "##double #",
    "#\U0001f642 emoji tag",
    "#café #CAFÉ #Café #cafe\u0301",
    "@@user @ @_ @123",
    "#" * 500,
    "@" * 500,
    "#tag_with_underscore #tag-with-dash #tag.dot",
    "#１２３ fullwidth digits",
    "#İstanbul #ISTANBUL",
    "#a" * 1_000,
    "mid#word e@mail.invalid",
    "#" + "long" * 500,
]

_MIX_TEXTS = [
    f"mix {i} \x00\u202e{chr(0x1F600 + i) * (i % 5)}#t{i} {chr(0x300 + i) * i}" for i in range(20)
]

HOSTILE_TEXTS: list[str] = (
    _CONTROL_TEXTS
    + _FORMAT_TEXTS
    + _SPACE_TEXTS
    + _SCRIPT_TEXTS
    + _ZALGO_TEXTS
    + _SURROGATE_TEXTS
    + _INJECTION_TEXTS
    + _LOOKALIKE_TEXTS
    + _LENGTH_TEXTS
    + _HASHTAG_TEXTS
    + _MIX_TEXTS
)


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


# -- bodies ------------------------------------------------------------------------

Case = tuple[str, bytes, str | None]


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode("ascii")


def _event(**fields: object) -> bytes:
    return _json({**_BASE, **fields})


def _text_cases() -> list[Case]:
    cases: list[Case] = []
    for index, text in enumerate(HOSTILE_TEXTS):
        event = {**_BASE, "id": f"hostile_{index}", "text": text}
        # \uXXXX-escaped ASCII JSON: always decodable; lone surrogates arrive as escapes.
        cases.append((f"text_{index}_ascii", _json(event), None))
        # Raw UTF-8: a lone surrogate can only be sent as invalid (CESU-style) bytes.
        raw = json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")
        if raw != cases[-1][1]:
            expected = "invalid_utf8" if _has_surrogate(text) else None
            cases.append((f"text_{index}_utf8", raw, expected))
    return cases


_VALUES: dict[str, object] = {
    "null": None, "true": True, "false": False, "zero": 0, "minus_one": -1, "float": 1.5,
    "huge_float": 1e308, "empty": "", "blank": " ", "array": [], "object": {},
    "array_1": [1], "object_1": {"a": 1}, "word": "x",
}
_BAD_NUMBER = {"true", "false", "float", "huge_float"}
_CONTAINERS = {"array", "object", "array_1", "object_1"}

# Expected outcome of putting each value in each contract field (None = accepted).
_FIELD_RULES: dict[str, dict[str, str | None]] = {
    "id": {
        **dict.fromkeys(_BAD_NUMBER | _CONTAINERS, "wrong_type"),
        "null": "missing_id", "empty": "missing_id", "blank": "missing_id",
        "zero": None, "minus_one": None, "word": None,
    },
    "type": {
        **dict.fromkeys(_BAD_NUMBER | _CONTAINERS | {"zero", "minus_one"}, "wrong_type"),
        "null": None, "empty": "unknown_type", "blank": "unknown_type", "word": "unknown_type",
    },
    "text": {
        **dict.fromkeys(_BAD_NUMBER | _CONTAINERS | {"zero", "minus_one"}, "wrong_type"),
        "null": "missing_text", "empty": "missing_text", "blank": "missing_text", "word": None,
    },
    "user_id": {
        **dict.fromkeys(_BAD_NUMBER | _CONTAINERS, "wrong_type"),
        "null": None, "empty": None, "blank": None, "zero": None, "minus_one": None,
        "word": None,
    },
    "timestamp": {
        **dict.fromkeys(_CONTAINERS, "bad_timestamp"),
        "true": "bad_timestamp", "false": "bad_timestamp", "zero": "bad_timestamp",
        "minus_one": "bad_timestamp", "huge_float": "bad_timestamp", "word": "bad_timestamp",
        "float": None, "null": None, "empty": None, "blank": None,
    },
}


def _field_cases() -> list[Case]:
    cases: list[Case] = []
    for field, rules in _FIELD_RULES.items():
        for name, value in _VALUES.items():
            cases.append((f"field_{field}_{name}", _event(**{field: value}), rules[name]))
    # A delete's text is ignored, whatever it is.
    for name, value in _VALUES.items():
        cases.append((f"delete_text_{name}", _event(type="delete", text=value), None))
    return cases


def _nested(depth: int) -> bytes:
    # The event object is level 1; ``x`` adds ``depth - 1`` array levels.
    return b'{"id": "n", "text": "t", "x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


_STRUCTURE_CASES: list[Case] = [
    ("empty", b"", "malformed_json"),
    ("space", b" ", "malformed_json"),
    ("newline", b"\n", "malformed_json"),
    ("open_brace", b"{", "malformed_json"),
    ("close_brace", b"}", "malformed_json"),
    ("open_bracket", b"[", "malformed_json"),
    ("not_json", b"not json", "malformed_json"),
    ("missing_value", b'{"id":}', "malformed_json"),
    ("single_quotes", b"{'id': 'a', 'text': 't'}", "malformed_json"),
    ("trailing_comma", b'{"id": "a", "text": "t",}', "malformed_json"),
    ("comment", b'{"id": "a" /* c */, "text": "t"}', "malformed_json"),
    ("unquoted_key", b'{id: "a", "text": "t"}', "malformed_json"),
    ("trailing_garbage", b'{"id": "a", "text": "t"} x', "malformed_json"),
    ("two_objects", b'{"id": "a", "text": "t"}{"id": "b", "text": "t"}', "malformed_json"),
    ("nan", b'{"id": "a", "text": "t", "timestamp": NaN}', "malformed_json"),
    ("infinity", b'{"id": "a", "text": "t", "timestamp": Infinity}', "malformed_json"),
    ("minus_infinity", b'{"id": "a", "text": "t", "timestamp": -Infinity}', "malformed_json"),
    ("unterminated_string", b'{"id": "a", "text": "t', "malformed_json"),
    ("bad_escape", b'{"id": "a", "text": "\\x41"}', "malformed_json"),
    ("short_unicode_escape", b'{"id": "a", "text": "\\u12"}', "malformed_json"),
    ("raw_nul_in_string", b'{"id": "a", "text": "a\x00b"}', "malformed_json"),
    ("raw_newline_in_string", b'{"id": "a", "text": "a\nb"}', "malformed_json"),
    ("escaped_nul", b'{"id": "a", "text": "a\\u0000b"}', None),
    ("escaped_lone_surrogate", b'{"id": "a", "text": "\\ud800"}', None),
    ("escaped_pair", b'{"id": "a", "text": "\\ud83d\\ude00"}', None),
    ("raw_del_and_c1", '{"id": "a", "text": "\x7f\x85\x9f"}'.encode(), None),
    ("leading_bom", b'\xef\xbb\xbf{"id": "a", "text": "t"}', None),
    ("double_bom", b'\xef\xbb\xbf\xef\xbb\xbf{"id": "a", "text": "t"}', "malformed_json"),
    ("whitespace_around", b' \t\r\n{"id": "a", "text": "t"}\n ', None),
    ("digits_5000", b'{"id": ' + b"1" * 5_000 + b', "text": "t"}', "malformed_json"),
    # invalid UTF-8
    ("byte_ff", b"\xff", "invalid_utf8"),
    ("bytes_fffefd", b"\xff\xfe\xfd", "invalid_utf8"),
    ("utf16le_bom", '{"id": "a", "text": "t"}'.encode("utf-16"), "invalid_utf8"),
    ("utf32", '{"id": "a", "text": "t"}'.encode("utf-32"), "invalid_utf8"),
    ("latin1", '{"id": "a", "text": "café"}'.encode("latin-1"), "invalid_utf8"),
    ("cp1252_quotes", b'{"id": "a", "text": "\x93hi\x94"}', "invalid_utf8"),
    ("overlong_slash", b'{"id": "a", "text": "\xc0\xaf"}', "invalid_utf8"),
    ("overlong_nul", b'{"id": "a", "text": "\xc0\x80"}', "invalid_utf8"),
    ("overlong_3", b'{"id": "a", "text": "\xe0\x80\xaf"}', "invalid_utf8"),
    ("encoded_surrogate", b'{"id": "a", "text": "\xed\xa0\x80"}', "invalid_utf8"),
    ("above_10ffff", b'{"id": "a", "text": "\xf4\x90\x80\x80"}', "invalid_utf8"),
    ("five_byte", b'{"id": "a", "text": "\xf8\x88\x80\x80\x80"}', "invalid_utf8"),
    ("lone_continuation", b'{"id": "a", "text": "\x80"}', "invalid_utf8"),
    ("truncated_sequence", b'{"id": "a", "text": "\xe2\x82"}', "invalid_utf8"),
    ("truncated_at_end", b'{"id": "a", "text": "t"}\xe2', "invalid_utf8"),
    ("invalid_in_key", b'{"te\xffxt": "t", "id": "a"}', "invalid_utf8"),
    ("invalid_pair", b'{"text": "\xc3\x28"}', "invalid_utf8"),
    # not an object
    ("null", b"null", "not_an_object"),
    ("number", b"42", "not_an_object"),
    ("float", b"1.5", "not_an_object"),
    ("true", b"true", "not_an_object"),
    ("string", b'"string"', "not_an_object"),
    ("array", b"[]", "not_an_object"),
    ("array_of_event", b'[{"id": "a", "text": "t"}]', "not_an_object"),
    # nesting
    ("depth_32", _nested(32), None),
    ("depth_33", _nested(33), "too_deeply_nested"),
    ("brackets_10000", b"[" * 10_000 + b"]" * 10_000, "too_deeply_nested"),
    ("objects_500", b'{"a":' * 500 + b"1" + b"}" * 500, "too_deeply_nested"),
    ("unbalanced_100000", b"[" * 100_000, "too_deeply_nested"),
    ("alternating_40", b'{"a": [' * 20 + b"1" + b"]}" * 20, "too_deeply_nested"),
    ("brackets_in_string", _event(text="[" * 5_000 + "{" * 5_000), None),
    ("escaped_quote_then_brackets", _event(text='\\" [[[[' * 1_000), None),
    ("many_flat_arrays", b'{"id": "a", "text": "t", "x": [' + b"[]," * 100_000 + b"[]]}", None),
    # limits
    ("text_10000", _event(text="a" * 10_000), None),
    ("text_10001", _event(text="a" * 10_001), "text_too_long"),
    ("text_900k", _event(text="a" * 900_000), "text_too_long"),
    ("body_1000001", _event(text="a" * (1_000_001 - len(_event(text="")))), "body_too_large"),
    ("id_256", _event(id="i" * 256), None),
    ("id_257", _event(id="i" * 257), "id_too_long"),
    ("user_id_257", _event(user_id="u" * 257), "id_too_long"),
    ("id_with_newline", _event(id="a\nb"), "bad_id"),
    ("id_with_nul", _event(id="a\x00b"), "bad_id"),
    ("id_with_c1", _event(id="a\x85b"), "bad_id"),
    ("user_id_with_escape", _event(user_id="\x1b[31m"), "bad_id"),
    ("id_emoji", _event(id="\U0001f600"), None),
    ("id_rtl_override", _event(id="\u202eabc"), None),
    ("id_lone_surrogate", _event(id="\ud800"), None),
    ("id_padded", _event(id=" a "), None),
    # numbers as ids
    ("id_int", _event(id=12345), None),
    ("id_2_64", _event(id=2**64), None),
    ("id_negative", _event(id=-7), None),
    ("id_float_integral", _event(id=12345.0), "wrong_type"),
    ("id_exponent", b'{"id": 1e3, "text": "t"}', "wrong_type"),
    ("id_exponent_string", _event(id="1e3"), None),
    ("user_id_int", _event(user_id=2301322), None),
    # duplicate keys: the last wins
    ("duplicate_text", b'{"id": "x", "type": "update", "text": "dup", "text": "last wins"}', None),
    ("duplicate_type_delete", b'{"id": "x", "type": "update", "text": "t", "type": "delete"}', None),
    ("duplicate_text_null", b'{"id": "x", "text": "t", "text": null}', "missing_text"),
    ("duplicate_id_bad", b'{"id": "x", "id": true, "text": "t"}', "wrong_type"),
    # type
    ("type_upper", _event(type="UPDATE"), "unknown_type"),
    ("type_padded", _event(type=" update"), "unknown_type"),
    ("type_upsert", _event(type="upsert"), "unknown_type"),
    ("type_missing_id", b'{"type": "update", "text": "t"}', "missing_id"),
    ("delete_minimal", b'{"id": "x", "type": "delete"}', None),
    ("update_no_text", b'{"id": "x", "type": "update"}', "missing_text"),
    ("update_ideographic_space", _event(text="\u3000\u2003\n\t"), "missing_text"),
    ("update_file_separator", _event(text="\x1c\x1d\x1e\x1f"), "missing_text"),
    ("update_zero_width_only", _event(text="\u200b"), None),
    ("update_nul_only", _event(text="\x00"), None),
    # timestamps
    ("ts_naive", _event(timestamp="2025-07-06T13:35:15.598473"), None),
    ("ts_offset", _event(timestamp="2025-07-06T15:35:15+02:00"), None),
    ("ts_lower_z", _event(timestamp="2025-07-06T13:35:15z"), None),
    ("ts_epoch_s", _event(timestamp=1751808915), None),
    ("ts_epoch_ms", _event(timestamp=1751808915598), None),
    ("ts_epoch_us", _event(timestamp=1751808915598473), None),
    ("ts_epoch_ns", _event(timestamp=1751808915598473000), None),
    ("ts_numeric_string", _event(timestamp="1751808915"), None),
    ("ts_numeric_string_ms", _event(timestamp="1751808915598"), None),
    ("ts_twitter", _event(timestamp="Wed Oct 10 20:19:24 +0000 2018"), None),
    ("ts_yesterday", _event(timestamp="yesterday"), "bad_timestamp"),
    ("ts_month_13", _event(timestamp="2025-13-01T00:00:00"), "bad_timestamp"),
    ("ts_feb_30", _event(timestamp="2025-02-30"), "bad_timestamp"),
    ("ts_hour_24", _event(timestamp="2025-07-06T24:00:00"), "bad_timestamp"),
    ("ts_offset_25h", _event(timestamp="2025-07-06T13:35:15+25:00"), "bad_timestamp"),
    ("ts_year_1", _event(timestamp="0001-01-01T00:00:00"), "bad_timestamp"),
    ("ts_year_9999", _event(timestamp="9999-12-31T23:59:59"), "bad_timestamp"),
    ("ts_1971", _event(timestamp="1971-01-01T00:00:00Z"), None),
    ("ts_epoch_0_string", _event(timestamp="1970-01-01T00:00:00Z"), "bad_timestamp"),
    ("ts_1e308", _event(timestamp=1e308), "bad_timestamp"),
    ("ts_1e999", b'{"id": "x", "text": "t", "timestamp": 1e999}', "bad_timestamp"),
    ("ts_400_digits", b'{"id": "x", "text": "t", "timestamp": ' + b"9" * 400 + b"}", "bad_timestamp"),
    ("ts_400_digit_string", _event(timestamp="9" * 400), "bad_timestamp"),
    ("ts_negative", _event(timestamp=-5), "bad_timestamp"),
    ("ts_negative_string", _event(timestamp="-5"), "bad_timestamp"),
    ("ts_array", _event(timestamp=[1]), "bad_timestamp"),
    ("ts_nan_string", _event(timestamp="NaN"), "bad_timestamp"),
    ("ts_inf_string", _event(timestamp="inf"), "bad_timestamp"),
    ("ts_underscore_digits", _event(timestamp="1_751_808_915"), "bad_timestamp"),
    ("ts_arabic_digits", _event(timestamp="١٧٥١٨٠٨٩١٥"), "bad_timestamp"),
    ("ts_twitter_day_99", _event(timestamp="Wed Oct 99 20:19:24 +0000 2018"), "bad_timestamp"),
    ("ts_twitter_bad_month", _event(timestamp="Wed Foo 10 20:19:24 +0000 2018"), "bad_timestamp"),
    # tweets
    ("tweet_v1", _json({"id_str": "1050118621198921728", "text": "hello #World",
                        "user": {"id_str": "6253282"},
                        "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                        "entities": {"hashtags": [{"text": "World", "indices": [6, 12]}]}}),
     None),
    ("tweet_v1_extended", _json({"id_str": "1", "text": "short…", "truncated": True,
                                 "extended_tweet": {"full_text": "the whole text"}}), None),
    ("tweet_v1_user_string", _json({"id_str": "1", "user": "not an object", "text": "tweet"}),
     "wrong_type"),
    ("tweet_v1_extended_string", _json({"id_str": "1", "text": "t", "extended_tweet": "x"}),
     "wrong_type"),
    ("tweet_v1_bad_created_at", _json({"id_str": "1", "full_text": "tweet",
                                       "created_at": "Wed Oct 99 20:19:24 +0000 2018"}),
     "bad_timestamp"),
    ("tweet_v1_no_id", _json({"full_text": "tweet", "user": {"id_str": "1"}}), "missing_id"),
    ("tweet_v1_no_text", _json({"id_str": "1", "user": {"id_str": "1"}}), "missing_text"),
    ("tweet_v1_bad_entities", _json({"id_str": "1", "text": "t",
                                     "entities": {"hashtags": [5, None, {"text": 7}, "x"]}}),
     None),
    ("tweet_v1_many_hashtags", _json({"id_str": "1", "text": "t", "entities": {
        "hashtags": [{"text": f"tag{i}"} for i in range(10_000)]}}), None),
    ("tweet_v1_delete", _json({"delete": {"status": {"id": 1, "id_str": "1", "user_id": 2,
                                                     "user_id_str": "2"},
                                          "timestamp_ms": "1541000000000"}}), None),
    ("tweet_v1_delete_bad", _json({"delete": "x"}), "wrong_type"),
    ("tweet_v2", _json({"data": {"id": "1", "text": "hi", "author_id": "2",
                                 "created_at": "2022-01-01T00:00:00.000Z"},
                        "includes": {"users": [{"id": "2", "username": "u"}]}}), None),
    ("tweet_v2_list", _json({"data": [{"id": "1", "text": "hi"}]}), "wrong_type"),
    ("tweet_v2_text_int", _json({"data": {"id": "1", "text": 5}}), "wrong_type"),
    ("tweet_v2_no_text", _json({"data": {"id": "1"}}), "missing_text"),
    # other shapes
    ("bare_text", _json({"text": "just text"}), None),
    ("bare_text_blank", _json({"text": " "}), "missing_text"),
    ("bare_text_number", _json({"text": 5}), "wrong_type"),
    ("empty_object", b"{}", "missing_text"),
    ("unknown_fields_only", _json({"foo": 1, "bar": [1, 2]}), "missing_text"),
    ("proto_pollution", _json({"id": "a", "text": "t", "__proto__": {"type": "delete"},
                               "constructor": {"prototype": {"x": 1}}}), None),
    ("escaped_key", b'{"id": "a", "t\\u0065xt": "escaped key"}', None),
    ("nul_in_key", b'{"id": "a", "text\\u0000": "t"}', "missing_text"),
    ("many_keys", _json({**{f"k{i}": i for i in range(20_000)}, "id": "a", "text": "t"}), None),
]

HOSTILE_CASES: list[Case] = _text_cases() + _field_cases() + _STRUCTURE_CASES
HOSTILE_BODIES: list[bytes] = [body for _name, body, _expected in HOSTILE_CASES]
