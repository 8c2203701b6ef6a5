"""A realistic mix of short messages: three sentiments, several languages, hashtags, emoji.

Deterministic for a given seed, so a load run can be repeated exactly.
"""

from __future__ import annotations

import random

POSITIVE = [
    "I love the new update, it works perfectly",
    "Great support today, thank you so much",
    "This is the best app I have used all year",
    "Fantastic service, my issue was fixed in minutes",
    "Me encanta este producto, funciona genial",
    "J'adore cette application, merci beaucoup",
    "Das ist wirklich großartig, danke",
    "Amazing experience, highly recommend it",
    "So happy with my order, arrived early",
    "Brilliant work by the team, well done",
]
NEGATIVE = [
    "The app keeps crashing, this is terrible",
    "Worst customer service ever, still no refund",
    "I am really disappointed with this purchase",
    "My package arrived broken and nobody answers",
    "Esto es horrible, no funciona nada",
    "C'est nul, je suis très déçu",
    "Das ist furchtbar, nichts funktioniert",
    "Awful experience, I want my money back",
    "The login is broken again, so frustrating",
    "Slow, buggy and overpriced, never again",
]
NEUTRAL = [
    "My order number is 4821, shipped on Tuesday",
    "The meeting is moved to 3pm in room B",
    "How do I change my email address",
    "El pedido llega mañana por la tarde",
    "La réunion commence à dix heures",
    "Die Lieferung kommt am Montag",
    "Please send the invoice to accounting",
    "The store opens at 9 on weekdays",
    "I updated the app to version 2.3",
    "Where can I find the user manual",
]
HASHTAGS = ["launch", "support", "refund", "shipping", "bug", "feature", "café", "東京", "update"]
EMOJI = {
    "positive": ["😍", "🎉", "👍", "😀"],
    "negative": ["😡", "👎", "😞", "💔"],
    "neutral": [""],
}


def make_text(rng: random.Random) -> tuple[str, str]:
    """One message and the sentiment it was written with."""
    sentiment = rng.choice(("positive", "negative", "neutral"))
    pool = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}[sentiment]
    parts = [rng.choice(pool)]
    if rng.random() < 0.5:
        parts.append(rng.choice(EMOJI[sentiment]))
    for _ in range(rng.choice((0, 1, 1, 2))):
        parts.append(f"#{rng.choice(HASHTAGS)}")
    if rng.random() < 0.1:
        parts.append(f"@user{rng.randrange(100)}")
    return " ".join(part for part in parts if part), sentiment
