"""Languages through the three real services: a mixed stream lands with each message's
detected language; the non-English ones are counted as unscored (hashtags included),
with exact per-language counts in /v1/totals, the windows and /v1/languages; an update
that changes a message's language moves its contribution, and a delete retracts it; the
dashboard's language panel shows the mix (screenshot in ``test-artifacts/``)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MINUTE = float(int(time.time()) // 60 * 60 - 120)  # a past minute of its own
STREAM = {
    "en": [
        "I love this phone, the battery lasts all day #mix",
        "Worst customer service ever, I want a refund #mix",
        "Thanks for the quick help with my account!",
        "My order still hasn't arrived after two weeks",
    ],
    "fr": [
        "C'est nul, je veux un remboursement #mix",
        "Merci beaucoup pour votre aide rapide",
        "Ma commande n'est toujours pas arrivée",
    ],
    "ko": ["너무 실망했어요 최악이에요 #mix", "정말 최고예요"],
    "es": ["Estoy muy feliz con mi compra", "El pedido llegó roto y nadie responde"],
    "ja": ["この商品は本当に素晴らしいです"],
    "und": ["😡😡😡", "👍 #mix"],
}


def messages() -> list[dict]:
    items = []
    for language, texts in STREAM.items():
        for n, text in enumerate(texts):
            items.append(
                {
                    "id": f"lang_{language}_{n}",
                    "user_id": f"u_{language}",
                    "text": text,
                    "timestamp": MINUTE + len(items),
                    "type": "update",
                }
            )
    return items


def get(url: str) -> dict:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def post(ingest: str, items: list[dict]) -> None:
    response = httpx.post(f"{ingest}/v1/messages:batch", json={"messages": items}, timeout=30)
    assert response.status_code == 200 and response.json()["accepted"] == len(items), response.text


def test_non_english_messages_are_counted_unscored_by_language(stack, page: Page):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    items = messages()
    post(ingest, items)
    total = len(items)
    eventually(lambda: get(f"{aggregator}/v1/totals")["total"] == total, timeout=120)

    totals = get(f"{aggregator}/v1/totals")
    unscored = sum(
        len(texts) for language, texts in STREAM.items() if language not in ("en", "und")
    )
    assert totals["unscored"] == unscored == 8
    assert totals["positive"] + totals["neutral"] + totals["negative"] == total - unscored
    assert totals["languages"] == {"en": 4, "fr": 3, "es": 2, "ko": 2, "und": 2, "ja": 1}

    korean = get(f"{aggregator}/v1/messages/lang_ko_0")
    assert (korean["label"], korean["language"]) == ("unscored", "ko")
    english = get(f"{aggregator}/v1/messages/lang_en_1")
    assert (english["label"], english["language"]) == ("negative", "en")
    emoji = get(f"{aggregator}/v1/messages/lang_und_0")
    assert emoji["language"] == "und" and emoji["label"] == "negative"  # und is scored

    by_language = {row["language"]: row for row in get(f"{aggregator}/v1/languages")["languages"]}
    assert {code: row["total"] for code, row in by_language.items()} == totals["languages"]
    assert by_language["ko"]["unscored"] == 2 and by_language["ko"]["unscored_share"] == 1.0
    assert by_language["en"]["unscored"] == 0 and by_language["en"]["negative"] >= 1
    # Hashtags count unscored messages too, under "unscored".
    mix = next(
        row for row in get(f"{aggregator}/v1/hashtags")["hashtags"] if row["hashtag"] == "mix"
    )
    assert (mix["total"], mix["unscored"]) == (5, 2)
    minutes = get(f"{aggregator}/v1/sentiment/minutes?last=30")["windows"]
    window = next(w for w in minutes if w["total"])
    assert window["languages"] == totals["languages"] and window["unscored"] == 8
    # The feed filters on "unscored" like on a label.
    feed = get(f"{aggregator}/v1/messages?label=unscored&limit=50")["messages"]
    assert sorted(entry["id"] for entry in feed) == sorted(
        item["id"] for item in items if item["id"].split("_")[1] not in ("en", "und")
    )

    # An update in another language moves the message; a delete retracts it.
    post(ingest, [{**items[4], "text": "Actually the refund came through, thank you so much!"}])
    moved = eventually(
        lambda: (found := get(f"{aggregator}/v1/totals"))["languages"].get("fr") == 2 and found,
        timeout=60,
    )
    assert moved["languages"]["en"] == 5 and moved["unscored"] == 7 and moved["total"] == total
    mix = next(
        row for row in get(f"{aggregator}/v1/hashtags")["hashtags"] if row["hashtag"] == "mix"
    )
    assert (mix["total"], mix["unscored"]) == (4, 1)  # the update has no #mix
    post(ingest, [{"id": "lang_ko_1", "type": "delete", "timestamp": MINUTE + 100}])
    after = eventually(
        lambda: (found := get(f"{aggregator}/v1/totals"))["languages"].get("ko") == 1 and found,
        timeout=60,
    )
    assert after["unscored"] == 6 and after["total"] == total - 1

    page.goto(f"{aggregator}/dashboard")
    page.wait_for_function(
        "() => document.querySelector('#languages').dataset.languages.split(',').length === 6",
        timeout=30_000,
    )
    rows = page.locator("#languages li")
    assert rows.nth(0).get_attribute("data-language") == "en"
    korean_row = page.locator('#languages li[data-language="ko"]')
    assert korean_row.get_attribute("data-unscored") == "1"
    assert "unscored" in korean_row.inner_text()
    assert page.inner_text("#unscored-count") == "6"
    page.select_option("#feed-label", "unscored")
    page.wait_for_function(
        """() => {
          const entries = [...document.querySelectorAll('#feed li[data-id]')];
          return entries.length === 6 && entries.every((li) => li.dataset.label === 'unscored');
        }""",
        timeout=30_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-languages.png"), full_page=True)
