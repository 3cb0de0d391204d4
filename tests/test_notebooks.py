"""Every notebook in notebooks/ runs top to bottom in a real kernel (nbclient) without
an error; a few outputs are checked for what the notebooks promise."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def run(path: Path, workdir: Path) -> nbformat.NotebookNode:
    for item in (ROOT / "notebooks").iterdir():
        if item.suffix in (".py", ".ipynb"):
            shutil.copy(item, workdir / item.name)
    nb = nbformat.read(workdir / path.name, as_version=4)
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "NBSTREAM_RECORDINGS")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]]))
    os.environ["NBSTREAM_RECORDINGS"] = str(workdir / "recordings")  # not the home folder's
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value
    return nb


def text_of(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "explore_windows.ipynb",
                                           "execution_modes.ipynb", "stateful_functions.ipynb",
                                           "live_feed.ipynb", "explore_with_sql.ipynb"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(path, tmp_path):
    nb = run(path, tmp_path)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    streams = [c for c in code if c.source.startswith("%%stream")]
    stopped = {c.source.split()[1] for c in code if c.source.startswith("%stream_stop ")}
    for cell in streams:  # every %%stream cell shows a live view with a text fallback
        mimes = [set(o.get("data", {})) for o in cell.outputs if o["output_type"] == "display_data"]
        widget = {"application/vnd.jupyter.widget-view+json", "text/plain"}
        assert any(widget <= m for m in mimes), cell.source
        name = cell.source.split("--name ")[1].split()[0] if "--name " in cell.source else None
        ended = "--blocking" in cell.source.splitlines()[0] or name in stopped
        if ended:  # its static snapshot stays (a stopped job's too: the docs show it)
            html = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
            word = "finished" if "--blocking" in cell.source.splitlines()[0] else "stopped"
            assert html and "<table" in html[0] and word in html[0], cell.source
    if path.stem == "quickstart":
        frame = next(c for c in code if "to_pandas()" in c.source)
        assert all(page in text_of(frame) for page in ("/home", "/search", "/checkout"))
        words = next(c for c in code if "--name words --blocking" in c.source)
        final = text_of(words)  # the blocking job's final table, for front ends without widgets
        assert "[thread] finished: 3 in, 11 out" in final
        assert [line.split() for line in final.splitlines() if line.split()[:1] == ["the"]] == [
            ["the", "3"]], final
    if path.stem == "stateful_functions":
        state = next(c for c in code if "statefun_state" in c.source)
        assert "{'visits': " in text_of(state) and "{'count': " in text_of(state)
        counts = next(c for c in code if "function_stats()" in c.source)
        assert "'example/person'" in text_of(counts) and "'latency p99 ms'" in text_of(counts)
    if path.stem == "live_feed":
        recorded = next(c for c in code if "--record edits" in c.source)
        assert "finished: 3,000 in" in text_of(recorded)
        assert "live: a live feed cannot replay" in text_of(next(c for c in code if "explain()" in c.source))
        replayed = next(c for c in code if "replayed" in c.source)
        assert "replayed 3,000 edits (recorded: 3,000)" in text_of(replayed)
        assert "commonswiki bot" in text_of(replayed)  # the edited window's keys
    if path.stem == "explore_with_sql":
        totals = text_of(next(c for c in code if c.source.startswith("%%sql --batch")))
        assert totals.split()[:3] == ["shop", "orders", "total"]
        assert [line.split()[2] for line in totals.strip().splitlines()[1:]] == ["60"] * 3
        quarters = text_of(next(c for c in code if "pivot" in c.source))
        assert "2024-03-12 08:45:00" in quarters and "466.25" in quarters
        live = next(c for c in code if "--name per_sensor" in c.source)
        html = [o["data"]["text/html"] for o in live.outputs if "text/html" in o.get("data", {})]
        assert html and "stopped:" in html[0] and "+I 4 " in html[0]  # a changelog: 4 sensors
        current = text_of(next(c for c in code if "per_sensor.to_pandas()" in c.source))
        assert current.split()[:4] == ["sensor", "readings", "max_temp", "mean_temp"]
    if path.stem == "explore_windows":
        share = next(c for c in code if "share_5xx" in c.source)
        top = text_of(share).strip().splitlines()[1]
        assert top.startswith("2024-03-12 08:"), top  # the incident comes out on top
        for cell in streams:  # blocking cells keep their final report
            assert "[thread] finished:" in text_of(cell), cell.source
        bots = next(c for c in code if "bot requests" in c.source)
        assert "from 09:" in text_of(bots)
