"""Generated edits shaped like a wiki's public "recent changes" feed (the fields the
notebook uses: ``meta.dt``, ``wiki``, ``type``, ``bot``, ``title``, ``user``, ``length``),
for notebooks/live_feed.ipynb when no network reaches a public feed."""

from __future__ import annotations

import datetime
import random
from typing import Any, Dict, List

WIKIS = ["enwiki", "wikidatawiki", "commonswiki", "dewiki", "frwiki", "eswiki"]
WEIGHTS = [30, 30, 15, 10, 8, 7]


def sample_edits(n: int = 3000, seed: int = 1, per_second: int = 50) -> List[Dict[str, Any]]:
    """``n`` edits, ``per_second`` of event time each second, a little out of order; bots
    do most of wikidata's edits, and a bot run on commons starts half-way."""
    rng = random.Random(seed)
    start = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    out = []
    for i in range(n):
        at = start + datetime.timedelta(milliseconds=i * 1000 // per_second + rng.randint(-300, 300))
        wiki = rng.choices(WIKIS, WEIGHTS)[0]
        late_bot_run = wiki == "commonswiki" and i > n // 2
        bot = rng.random() < (0.8 if wiki == "wikidatawiki" else 0.9 if late_bot_run else 0.1)
        old = rng.randint(0, 20_000)
        out.append({"meta": {"dt": at.isoformat().replace("+00:00", "Z")},
                    "wiki": wiki, "type": rng.choices(["edit", "new", "log"], [85, 10, 5])[0],
                    "bot": bot, "title": f"Page {rng.randint(1, 500)}",
                    "user": f"{'Bot' if bot else 'User'}{rng.randint(1, 40)}",
                    "length": {"old": old, "new": max(0, old + rng.randint(-500, 800))}})
    return out
