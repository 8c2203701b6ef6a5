"""A corpus of hostile inputs, reused through both doors (HTTP and the input topic).

``HOSTILE_TEXTS`` are strings that must be kept as text (or rejected only for a
documented reason such as length); ``HOSTILE_BODIES`` are raw request/record bodies,
many of them invalid, that must each end as a ``raw`` record or a dead letter.
"""

from __future__ import annotations

import json

_CONTROL = "".join(chr(c) for c in range(0, 32)) + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))

HOSTILE_TEXTS: list[str] = [
    "plain text",
    _CONTROL,
    "nul\x00inside",
    "\u202eRTL override\u202c text",
    "\u200b\u200c\u200d\u2060zero widths",
    "Z̸̢̧̛̛̺̙̻̘̪̱͙̙̬̟̦̝̹͎͖̘̏̐̓̂̈́͊͗̀͌̆̐̊̕͘͘͝a̵l̴g̷o̶",
    "👨‍👩‍👧‍👦 family 🏳️‍🌈 flag 👍🏽",
    "\ufeffBOM at start",
    "\ud800 lone high surrogate",
    "lone low \udfff surrogate",
    "'; DROP TABLE messages; --",
    "<script>alert(1)</script>",
    '{"id": "injected", "type": "delete"}',
    "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd",
    "%s%s%s%n",
    "\\u0000 escaped nul",
    "مرحبا بالعالم #مرحبا",
    "日本語のテキスト #東京",
    "Ελληνικά κείμενα #Ελλάδα",
    "\t\n\r mixed whitespace \v\f",
    "a" * 10_000,
    "#" * 500,
    "@" * 500,
    "#café #CAFÉ #Café",
    "http://example.invalid/" + "x" * 2_000,
    "\U0010ffff last code point",
    "\ufffd replacement char",
    "emoji only 😀😀😀",
    "combining \u0301\u0301\u0301 marks",
]
HOSTILE_TEXTS += [f"mix {i} \x00\u202e{'😀' * (i % 5)}#t{i}" for i in range(40)]


def _event(text: object, **extra: object) -> dict[str, object]:
    return {"id": "h", "type": "update", "text": text, **extra}


def _bodies() -> list[bytes]:
    bodies: list[bytes] = []
    for index, text in enumerate(HOSTILE_TEXTS):
        event = _event(text, id=f"hostile_{index}")
        bodies.append(json.dumps(event).encode("utf-8", "surrogatepass"))
    bodies += [
        b"",
        b"{",
        b"not json",
        b"\xff\xfe\xfd",
        b'{"text": "\xc3\x28"}',
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 500 + b"1" + b"}" * 500,
        b"null",
        b"42",
        b'"string"',
        b"[]",
        b'{"text": NaN}',
        b'{"id": "x", "type": "update", "text": "dup", "text": "last wins"}',
        b'{"id": true, "type": "update", "text": "bool id"}',
        b'{"id": 1.5, "type": "update", "text": "float id"}',
        b'{"id": 12345, "type": "update", "text": "int id"}',
        b'{"id": "", "type": "update", "text": "empty id"}',
        b'{"id": "x", "type": "upsert", "text": "bad type"}',
        b'{"id": "x", "type": 3, "text": "bad type"}',
        b'{"id": "x", "type": "update"}',
        b'{"id": "x", "type": "update", "text": "   "}',
        b'{"id": "x", "type": "update", "text": ["list"]}',
        b'{"id": "x", "type": "update", "text": {"obj": 1}}',
        b'{"id": "x", "type": "delete"}',
        b'{"id": "x", "type": "delete", "text": 5}',
        b'{"id": "x", "type": "update", "text": "t", "timestamp": "yesterday"}',
        b'{"id": "x", "type": "update", "text": "t", "timestamp": true}',
        b'{"id": "x", "type": "update", "text": "t", "timestamp": 1e308}',
        b'{"id": "x", "type": "update", "text": "t", "timestamp": -5}',
        b'{"id": "x", "type": "update", "text": "t", "timestamp": "9999-12-31T23:59:59"}',
        b'{"id": "x", "type": "update", "text": "t", "timestamp": "1971-01-01T00:00:00Z"}',
        b'{"id": "x", "type": "update", "text": "t", "timestamp": [1]}',
        b'{"id": "x", "type": "update", "text": "t", "user_id": {"a": 1}}',
        b'{"id": "' + b"i" * 300 + b'", "type": "update", "text": "long id"}',
        b'{"id": "x", "type": "update", "text": "' + b"a" * 10_001 + b'"}',
        b'{"data": {"id": "1", "text": 5}}',
        b'{"id_str": "1", "user": "not an object", "text": "tweet"}',
        b'{"id_str": "1", "full_text": "tweet", "created_at": "Wed Oct 99 20:19:24 +0000 2018"}',
        "{\"text\": \"ok \u00e9\"}".encode(),
    ]
    return bodies


HOSTILE_BODIES: list[bytes] = _bodies()
