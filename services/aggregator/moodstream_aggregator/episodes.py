"""Alert episodes: when a rule's condition starts holding it fires, when it stops it
resolves, and in between nothing more is sent.

Pure: :func:`step` takes a rule's stored state and what the rule saw now, and returns
the new state and the :class:`~moodstream_common.records.Alert` to publish, if any.
The state lives in the aggregator's ``alerts`` table (see
:mod:`moodstream_aggregator.alerts`); it is a JSON dict::

    {"episodes": 3, "active": <alert dict> | None, "recent": [<resolved alert dicts>]}

Why this makes alerts idempotent: an episode's id is ``<rule>#<episode number>``,
numbered from the stored count. Redelivered or replayed events change no aggregate,
so the condition and the state agree and nothing is sent. If the aggregator dies after
sending a firing record but before its state is stored, the next check fires the same
episode number again: a receiver sees the same id twice, never two episodes.
"""

from __future__ import annotations

from typing import Any

from moodstream_aggregator.alert_rules import Observation, Rule
from moodstream_common.records import ALERT_FIRING, ALERT_RESOLVED, Alert

RECENT_KEPT = 20  # resolved episodes kept per rule for GET /v1/alerts
State = dict[str, Any]


def empty_state() -> State:
    """A rule that never fired."""
    return {"episodes": 0, "active": None, "recent": []}


def step(
    state: State | None, rule: Rule, seen: Observation, watermark: float, now: float
) -> tuple[State, Alert | None]:
    """The rule's next state after seeing ``seen`` at event time ``watermark``, and the
    alert record to publish (``None`` when no episode starts or ends)."""
    state = dict(state or empty_state())
    active = state.get("active")
    if active is None and seen.holds:
        number = int(state.get("episodes", 0)) + 1
        alert = _alert(rule, f"{rule.name}#{number}", ALERT_FIRING, seen, watermark, now)
        state.update(episodes=number, active=alert_json(alert))
        return state, alert
    if active is not None and not seen.holds:
        alert = _alert(rule, active["id"], ALERT_RESOLVED, seen, active["started_at"], now)
        alert.ended_at = watermark
        state.update(
            active=None, recent=[alert_json(alert), *state.get("recent", [])][:RECENT_KEPT]
        )
        return state, alert
    if active is not None and (active["value"], active["messages"]) != (seen.value, seen.messages):
        # Still firing: keep what it shows current, without sending anything.
        state["active"] = {
            **active,
            "value": seen.value,
            "messages": seen.messages,
            "updated_at": now,
        }
    return state, None


def alert_json(alert: Alert) -> dict[str, Any]:
    """The alert as a plain dict (the table's form and the views')."""
    return dict(alert.asdict())


def _alert(
    rule: Rule, alert_id: str, state: str, seen: Observation, started_at: float, now: float
) -> Alert:
    return Alert(
        id=alert_id,
        rule=rule.name,
        state=state,
        scope=rule.scope,
        metric=rule.metric,
        comparison=rule.comparison,
        threshold=rule.threshold,
        window_minutes=rule.window_minutes,
        min_messages=rule.min_messages,
        value=seen.value,
        messages=seen.messages,
        started_at=started_at,
        updated_at=now,
    )
