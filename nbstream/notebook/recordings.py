"""``%stream_recordings``: the recordings of ``%%stream --record NAME`` (they outlive the
kernel), as a table, and deleting one."""

from __future__ import annotations

from typing import Any, Dict, List

__all__ = ["recordings_table", "RECORDING_COLUMNS"]

RECORDING_COLUMNS = ["name", "sources", "records", "bytes", "span_s"]


def recordings_table() -> List[Dict[str, Any]]:
    """A row per recording: name, sources, records, bytes and the time it spans (s)."""
    from ..connectors.recording import list_recordings

    return [{"name": r["name"], "sources": ", ".join(r["sources"]), "records": r["records"],
             "bytes": r["bytes"],
             "span_s": (round((r["last_ms"] - r["first_ms"]) / 1000, 3)
                        if r["first_ms"] is not None else 0.0)} for r in list_recordings()]
