"""Fault injection for end-to-end tests, loaded by a service started with this folder on
its ``PYTHONPATH`` (Python imports ``sitecustomize`` at start). Never on a real path.

``MOODSTREAM_FAULT_SHORT_CHANGELOG_READ=N``: Faust's changelog recovery takes every
``aggregates`` changelog end as N records lower than the broker answered, and applies
nothing past it, as a broker whose reported end lags what it acknowledged makes it
do: the table comes back without its newest writes.
"""

import os

_short = int(os.environ.get("MOODSTREAM_FAULT_SHORT_CHANGELOG_READ", "0") or 0)

if _short:
    from faust.tables.base import Collection
    from faust.tables.recovery import Recovery

    _ends = {}
    _build = Recovery._build_highwaters
    _apply = Collection.apply_changelog_batch

    async def _short_highwaters(self, consumer, tps, destination, title):
        await _build(self, consumer, tps, destination, title)
        for tp, highwater in list(destination.items()):
            if tp.topic.endswith("-aggregates-changelog") and highwater >= 0:
                destination[tp] = _ends[tp] = max(-1, highwater - _short)
        self.log.warning("fault injection: changelog ends read %d short: %s", _short, _ends)

    def _apply_up_to_short_end(self, batch):
        kept = [e for e in batch if e.message.offset <= _ends.get(e.message.tp, e.message.offset)]
        return _apply(self, kept)

    Recovery._build_highwaters = _short_highwaters
    Collection.apply_changelog_batch = _apply_up_to_short_end
