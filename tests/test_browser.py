"""The live view in a real browser: JupyterLab on loopback, headless Chromium (Debian's
package) driven by Playwright, in the light and the dark theme (screenshots in
tests/artifacts/). The quickstart's table fills, updates and stops; a keyed max('temp')
charts temp over time; a bounded job's progress reaches 100 %; a failed job turns its
view red and raises a notification; highlighted rows and the error box are readable
(contrast from computed styles); re-running a cell leaves one job; an unbounded %%sql GROUP
BY is an upserting table (a row per key, updated in place) with the +I/-U/+U/-D counters;
a notebook saved while a job runs, reopened after its kernel shut down, shows the last
results (no "model not found"). Measured and reported (tests/artifacts/browser_metrics.json), with generous
bounds only: the time to the first row, and frame times with 100 keys at 10,000 rows/s."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
FIRST_ROW_RUNS = 3
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
THEME_SETTINGS = Path("settings") / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings"

# the notebook the theme tests run: a keyed max over time, a bounded job, a failing job
VIEWS_CELLS = [
    "%load_ext nbstream\nimport itertools, math, time",
    "%%stream\n"  # no --name: re-running the cell must replace its job
    "def readings():\n"
    "    for i in itertools.count():\n"
    "        yield {'sensor': f's{i % 5}', 'ts': int(time.time() * 1000),\n"
    "               'temp': round(20 + 4 * math.sin(i / 40) + i % 5 + i / 500, 2)}\n"
    "        time.sleep(0.01)\n"
    "env.from_iterable(readings).key_by('sensor').max('temp')",
    "%%stream --name bounded\n"
    "env.from_collection(list(range(2000))).map(lambda n: time.sleep(0.0005) or {'n': n, 'sq': n * n})",
    "%%stream --name broken\n"
    "def parse(line):\n"
    "    return int(line)\n"
    "env.from_collection(['1', '2', 'x3']).map(parse).name('parse')",
    "%%sql --name per_key\n"
    "CREATE TABLE IF NOT EXISTS ticks (k INT) WITH ('connector' = 'datagen',\n"
    "    'rows-per-second' = '50', 'fields.k.min' = '0', 'fields.k.max' = '2');\n"
    "SELECT k, COUNT(*) AS c FROM ticks GROUP BY k",
    "%stream_jobs",
]
KEYED, BOUNDED, BROKEN, SQL, JOBS = 1, 2, 3, 4, 5
COUNTERS = r"/\+I 3 -U ([\d,]+) \+U ([\d,]+) -D 0/"  # the changelog's counters, in the header

# 100 keys at 10,000 records a second, a rolling sum per key
BUDGET_CELL = (
    "%%stream --name budget\n"
    "def fast():\n"
    "    start = time.perf_counter()\n"
    "    for i in itertools.count():\n"
    "        yield {'key': f'k{i % 100:02d}', 'v': (i * 7919) % 1000}\n"
    "        if i % 500 == 499:  # paced to 10,000 a second\n"
    "            wait = start + (i + 1) / 10_000 - time.perf_counter()\n"
    "            if wait > 0:\n"
    "                time.sleep(wait)\n"
    "env.from_iterable(fast).key_by('key').sum('v')")


class Lab(NamedTuple):
    base: str
    token: str
    home: Path
    work: Path


def set_theme(home: Path, theme: str) -> None:
    """JupyterLab's theme for pages opened from now on (the user settings it reads)."""
    path = home / THEME_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"theme": theme}))

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of notebooks/ (and a benchmark notebook) on loopback."""
    assert os.path.exists(CHROMIUM), "Debian's chromium is needed (scripts/test installs it)"
    home = tmp_path_factory.mktemp("lab")
    work = home / "work"
    shutil.copytree(ROOT / "notebooks", work)
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in VIEWS_CELLS],
                                metadata=KERNELSPEC), work / "views.ipynb")
    bench = new_notebook(cells=[
        new_markdown_cell("Measurements of the live view"),
        new_code_cell("%load_ext nbstream\nimport itertools, time"),
        new_code_cell("%%stream --name first\n"
                      "env.from_iterable(lambda: itertools.count())"
                      ".map(lambda n: {'n': n, 'square': n * n})"),
        new_code_cell("%stream_stop --all"),
        new_code_cell(BUDGET_CELL),
    ], metadata=KERNELSPEC)
    nbformat.write(bench, work / "bench.ipynb")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    set_theme(home, "JupyterLab Light")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    env.pop("PYTEST_CURRENT_TEST", None)
    log = open(home / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         f"--LabApp.user_settings_dir={home / 'settings'}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}",
         "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, (home / "lab.log").read_text()
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.3)
        yield Lab(base, token, home, work)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1100})
        yield context
        context.close()


def open_notebook(browser, lab, name, workspace=None):
    base, token = lab.base, lab.token
    page = browser.new_page()
    page._nbs_console = []
    page.on("console", lambda m: page._nbs_console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page._nbs_console.append(f"pageerror: {e}"))
    workspace = workspace or Path(name).stem  # one fresh workspace per notebook: no other tabs
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?token={token}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    kernel_ready(lab, name)
    page.wait_for_function("() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
                           "?.getAttribute('data-status') === 'idle'", timeout=60_000)
    shot_on_failure(page, f"{workspace}-failure.png")
    return page


def kernel_ready(lab, name, timeout=90):
    """Wait until the notebook's kernel has started and is idle (the page's indicator says
    idle before a kernel is there; a cell run then can end in a kernel dialog)."""
    deadline = time.monotonic() + timeout
    while True:
        sessions = json.loads(urllib.request.urlopen(f"{lab.base}/api/sessions?token={lab.token}").read())
        states = [s["kernel"]["execution_state"] for s in sessions if s["path"].endswith(name)]
        if states and all(state == "idle" for state in states):
            return
        assert time.monotonic() < deadline, f"the kernel of {name} did not start: {states}"
        time.sleep(0.2)


def shot_on_failure(page, name):
    """Save a screenshot if the test fails from here on (pages are closed on success)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.on("close", lambda _p: None)
    page._nbs_shot = str(ARTIFACTS / name)


@pytest.fixture(autouse=True)
def screenshot_failures(request, browser):
    yield
    for page in browser.pages:
        if getattr(page, "_nbs_shot", None) and not page.is_closed():
            page.screenshot(path=page._nbs_shot)
            Path(page._nbs_shot).with_suffix(".console.txt").write_text(
                "\n".join(getattr(page, "_nbs_console", [])))
            page.close()


def run_cell(page, index):
    """Select cell ``index`` by its prompt, run it with Shift+Enter; for a code cell, wait
    until the kernel took it (its prompt shows [*] or a count)."""
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    for _ in range(3):
        prompt.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Enter")
        if page.locator(".jp-Notebook .jp-Cell").nth(index).get_attribute("class").find(
                "jp-CodeCell") < 0:
            return
        try:
            page.wait_for_function(
                "([i]) => /\\[[0-9*]+\\]/.test(document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                ".querySelector('.jp-InputPrompt').textContent)", arg=[index], timeout=5_000)
            return
        except Exception:
            continue
    raise AssertionError(f"cell {index} did not run")


def run_cells(page, indices):
    for index in indices:
        run_cell(page, index)


LAST_BOX = "[...document.querySelectorAll('.nbs-box')].pop()"


def cells(page):
    """The table rows of the last live view on the page, as lists of cell texts."""
    return page.evaluate(f"() => [...{LAST_BOX}.querySelectorAll('.nbs-table tbody tr:not(.nbs-pad)')]"
                         ".map(r => [...r.children].map(td => td.textContent))")


def header(page):
    return page.evaluate("() => document.querySelector('.nbs-stats')?.textContent || ''")


def records_in(page):
    text = header(page)
    return int(text.split("in ")[1].split(" ·")[0].replace(",", "")) if "in " in text else 0




def box_of(index):
    """JS: the live view in cell ``index``."""
    return f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{index}].querySelector('.nbs-box')"


def wait_box(page, index, predicate="true", timeout=60_000):
    page.wait_for_function(f"() => {{ const b = {box_of(index)}; return b && ({predicate}); }}",
                           timeout=timeout)


CONTRAST = """(el) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const lum = (rgb) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
  };
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let bg = [255, 255, 255];
  for (const c of layers.reverse()) bg = bg.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
  const fg = parse(getComputedStyle(el).color);
  const text = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
  const [a, b] = [lum(text), lum(bg)].sort((x, y) => y - x);
  return Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100;
}"""


def contrasts(page):
    """Contrast ratios (WCAG) of the text that must stay readable, from computed styles: a
    highlighted (just changed) row, the error box, the status pills, the notification."""
    return page.evaluate(f"""() => {{
        const contrast = {CONTRAST};
        const out = {{}};
        const keyed = {box_of(KEYED)};
        const tr = keyed.querySelector('.nbs-table tbody tr:not(.nbs-pad)');
        tr.classList.add('nbs-hot');  // as a row is for a moment after it changed
        out.highlighted_row = contrast(tr.querySelector('td'));
        tr.classList.remove('nbs-hot');
        out.row = contrast(tr.querySelector('td'));
        const broken = {box_of(BROKEN)};
        out.error_title = contrast(broken.querySelector('.nbs-error-title'));
        out.error_traceback = contrast(broken.querySelector('.nbs-error pre'));
        for (const [name, b] of [['running', keyed], ['finished', {box_of(BOUNDED)}], ['failed', broken]])
            out['status_' + name] = contrast(b.querySelector('.nbs-status'));
        const toast = document.querySelector('.nbs-toast div');
        if (toast) out.notification = contrast(toast);
        return out;
    }}""")


def save_shot(page, name, index=None):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if index is not None:
        page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".nbs-box").screenshot(
            path=str(ARTIFACTS / f"{name}-view.png"))


def jobs_table(page):
    """The %stream_jobs output's rows as dicts."""
    page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-Cell')[{JOBS}]"
                           ".querySelector('.jp-OutputArea-output table')", timeout=30_000)
    rows = page.evaluate(f"""() => {{
        const t = document.querySelectorAll('.jp-Notebook .jp-Cell')[{JOBS}].querySelector('table');
        const head = [...t.querySelectorAll('thead th')].map(th => th.textContent.trim()).slice(1);
        return [...t.querySelectorAll('tbody tr')].map(tr =>
            Object.fromEntries([...tr.querySelectorAll('td')]
                .map((td, i) => [head[i], td.textContent.trim()])));
    }}""")
    return rows


def test_the_live_view_in_light_and_dark_and_after_the_kernel_is_gone(browser, lab):
    page = open_notebook(browser, lab, "views.ipynb")
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "true"
    run_cells(page, [0, KEYED, BOUNDED, BROKEN, SQL])
    # a keyed max('temp'): temp over time, a line per sensor, real time axis
    wait_box(page, KEYED, "b.querySelector('.nbs-plot')?.dataset.series === '5'")
    chart = page.evaluate(f"""() => {{ const b = {box_of(KEYED)};
        return {{ y: b.querySelector('.nbs-y').value, x: b.querySelector('.nbs-plot').dataset.x,
                  legend: [...b.querySelectorAll('.u-legend .u-series th')].map(t => t.textContent.trim()),
                  axis: b.querySelector('.nbs-plot').dataset.ylabel }}; }}""")
    assert chart["y"] == "temp" and chart["axis"] == "temp" and chart["x"] == "time", chart
    assert chart["legend"][0].startswith("time (UTC)") and set(chart["legend"][1:]) == {
        "s0", "s1", "s2", "s3", "s4"}, chart
    # a bounded job: x of N to 100 %, then finished
    wait_box(page, BOUNDED, "b.querySelector('.nbs-status').textContent.startsWith('finished')")
    # Two clean-clone runs of the whole suite read "" here right after "finished" (never
    # alone, nor under CPU load): give the header a moment, and say what it showed if not
    done = "b.querySelector('.nbs-progress').textContent === '2,000 of 2,000 (100 %)'"
    try:
        wait_box(page, BOUNDED, done, timeout=15_000)
    except Exception:  # playwright's TimeoutError: the assertion below says what was shown
        pass
    progress, head, boxes = page.evaluate(f"""() => {{ const b = {box_of(BOUNDED)};
        return [b.querySelector('.nbs-progress').textContent, b.querySelector('.nbs-head').textContent,
                document.querySelectorAll('.jp-Notebook .jp-Cell')[{BOUNDED}].querySelectorAll('.nbs-box').length]; }}""")
    assert progress == "2,000 of 2,000 (100 %)", (progress, head, f"{boxes} views in the cell")
    # a failed background job: red view, the error once, a notification
    wait_box(page, BROKEN, "b.classList.contains('nbs-failed-box')")
    page.wait_for_selector(".nbs-toast", timeout=15_000)
    assert "nbstream job 'broken' failed" in page.inner_text(".nbs-toast")
    error = page.evaluate(f"() => {box_of(BROKEN)}.querySelector('.nbs-error').innerText")
    assert error.count("invalid literal for int()") == 2  # the summary, and the traceback's last line
    assert "in step 'parse', function parse (Cell In[" in error and ", line 3, in parse" in error
    # an unbounded %%sql GROUP BY: a row per key, updated in place, and the changes counted
    table = f"{box_of(SQL)}.querySelectorAll('.nbs-table tbody tr:not(.nbs-pad)')"
    sql_rows = f"() => [...{table}].map(r => [...r.children].map(td => td.textContent))"
    wait_box(page, SQL, f"b.querySelectorAll('.nbs-table tbody tr:not(.nbs-pad)').length === 3"
                        f" && {COUNTERS}.test(b.querySelector('.nbs-counters').textContent)")
    before = {row[0]: int(row[1].replace(",", "")) for row in page.evaluate(sql_rows)}
    assert set(before) == {"0", "1", "2"}, before
    wait_box(page, SQL, f"Number({COUNTERS}.exec(b.querySelector('.nbs-counters').textContent)[2]"
                        f".replace(/,/g, '')) > {sum(before.values())} + 10")
    after = {row[0]: int(row[1].replace(",", "")) for row in page.evaluate(sql_rows)}
    assert set(after) == set(before) and sum(after.values()) > sum(before.values()), (before, after)
    counters = page.evaluate(f"() => {box_of(SQL)}.querySelector('.nbs-counters').textContent")
    page.evaluate(f"() => {box_of(SQL)}.scrollIntoView()")
    save_shot(page, "light-sql", SQL)
    page.locator(".jp-Notebook .jp-Cell").nth(SQL).locator(".nbs-stop").click()
    wait_box(page, SQL, "b.querySelector('.nbs-status').textContent.startsWith('stopped')")
    print("\n%%sql view:", counters)
    page.evaluate(f"() => {box_of(KEYED)}.scrollIntoView()")
    save_shot(page, "light", KEYED)
    page.evaluate(f"() => {box_of(BROKEN)}.scrollIntoView()")
    save_shot(page, "light-failed", BROKEN)
    light = contrasts(page)
    # re-running the keyed cell (no --name) replaces its job: one running job
    run_cell(page, KEYED)
    wait_box(page, KEYED, "b.querySelector('.nbs-plot')?.dataset.series === '5'")
    run_cell(page, JOBS)
    jobs = jobs_table(page)
    assert [j["status"] for j in jobs].count("running") == 1, jobs
    assert all(j["cell"].startswith("In[") for j in jobs), jobs
    save_notebook(page, lab, "views.ipynb")
    page.close()

    # the same notebook in the dark theme, its views restored from the kernel
    set_theme(lab.home, "JupyterLab Dark")
    page = open_notebook(browser, lab, "views.ipynb", workspace="views-dark")
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    wait_box(page, KEYED, "b.querySelector('.nbs-table tbody tr:not(.nbs-pad)')")
    wait_box(page, BROKEN, "b.querySelector('.nbs-error-title')")
    page.evaluate(f"() => {box_of(KEYED)}.scrollIntoView()")
    save_shot(page, "dark", KEYED)
    page.evaluate(f"() => {box_of(BROKEN)}.scrollIntoView()")
    save_shot(page, "dark-failed", BROKEN)
    dark = contrasts(page)
    (ARTIFACTS / "contrast.json").write_text(json.dumps({"light": light, "dark": dark}, indent=2))
    print("\ncontrast (WCAG ratio):", json.dumps({"light": light, "dark": dark}))
    for theme, ratios in (("light", light), ("dark", dark)):
        low = {k: v for k, v in ratios.items() if v < 4.5}
        assert not low, (theme, low)

    # saved while the keyed job runs; the kernel shuts down; the notebook opened again
    save_notebook(page, lab, "views.ipynb")
    shut_down_kernels(lab)
    page.close()
    set_theme(lab.home, "JupyterLab Light")
    page = open_notebook(browser, lab, "views.ipynb", workspace="views-reopened")
    page.wait_for_function("() => document.querySelectorAll('.nbstream-saved-view').length >= 3",
                           timeout=60_000)
    page.wait_for_timeout(1000)  # any widget error would be shown by now
    text = page.inner_text(".jp-Notebook")
    assert "model not found" not in text and "Error displaying widget" not in text
    shown = page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c =>
        [...c.querySelectorAll('.nbstream-saved-view')].map(s => ({
            text: s.textContent, rows: s.querySelectorAll('tbody tr').length,
            svg: s.querySelectorAll('svg polyline').length,
            bars: s.querySelectorAll('svg rect').length })))""")
    keyed, bounded, broken, sql = shown[KEYED], shown[BOUNDED], shown[BROKEN], shown[SQL]
    assert len(keyed) == 1 and "Saved while the job was running" in keyed[0]["text"]
    assert keyed[0]["rows"] == 5 and keyed[0]["bars"] == 5  # the newest temp per sensor
    assert "finished: 2,000 in, 2,000 out" in bounded[0]["text"] and bounded[0]["rows"] == 1000
    assert bounded[0]["svg"] == 1  # n over time
    assert "failed" in broken[0]["text"] and "ValueError" in broken[0]["text"]
    assert "stopped:" in sql[0]["text"] and "changes +I 3 -U " in sql[0]["text"]
    assert sql[0]["rows"] == 3 and sql[0]["bars"] == 3  # the count per key, as it stood
    assert not any("running:" in s["text"] for s in bounded + broken)  # ended jobs never say running
    save_shot(page, "reopened-without-kernel")
    page.close()


def save_notebook(page, lab, name):
    """Save with JupyterLab (Ctrl+S) and wait for the file to have the views' snapshots."""
    saved = lab.work / name
    before = saved.stat().st_mtime_ns
    page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while saved.stat().st_mtime_ns == before or "nbstream-saved-view" not in saved.read_text():
        assert time.monotonic() < deadline, "the notebook was not saved with its snapshots"
        time.sleep(0.2)


def shut_down_kernels(lab):
    sessions = json.loads(urllib.request.urlopen(f"{lab.base}/api/sessions?token={lab.token}").read())
    for session in sessions:
        request = urllib.request.Request(f"{lab.base}/api/sessions/{session['id']}?token={lab.token}",
                                         method="DELETE")
        urllib.request.urlopen(request).read()
    deadline = time.monotonic() + 30
    while json.loads(urllib.request.urlopen(f"{lab.base}/api/kernels?token={lab.token}").read()):
        assert time.monotonic() < deadline, "kernels still running"
        time.sleep(0.2)


def test_quickstart_table_fills_updates_and_stops(browser, lab):
    page = open_notebook(browser, lab, "quickstart.ipynb")
    run_cells(page, [1, 3, 5])  # %load_ext, the generator, %%stream
    pages = {"/home", "/search", "/product", "/cart", "/checkout"}
    rows_of = f"() => Number({LAST_BOX}?.querySelector('.nbs-table')?.dataset.rows || 0)"
    page.wait_for_function(f"() => ({rows_of})() >= 5", timeout=30_000)
    first = cells(page)
    assert {row[0] for row in first} <= pages
    page.wait_for_function(f"() => ({rows_of})() >= {page.evaluate(rows_of)} + 5",
                           timeout=30_000)  # more windows close and arrive
    later = cells(page)
    assert later[0] != first[0] and {row[0] for row in later} == pages
    assert all(int(row[3].replace(",", "")) > 0 for row in later)  # counts per window
    assert later[0][2].startswith("20") and len(later[0][2]) >= 19  # window end with its date
    page.wait_for_function(f"() => {LAST_BOX}.querySelector('.nbs-plot')?.dataset.series === '5'")
    headers = page.evaluate(f"() => [...{LAST_BOX}.querySelectorAll('.nbs-table th')]"
                            ".map(t => t.textContent)")
    assert headers == ["key", "window_start", "window_end", "count"]
    # sort by count, filter by a page, the UTC/local switch
    for arrow in ("▲", "▼"):  # ascending, then descending
        page.click(".nbs-box >> nth=-1 >> .nbs-table th:has-text('count')")
        page.wait_for_function(f"() => [...{LAST_BOX}.querySelectorAll('.nbs-table th')]"
                               f".some(t => t.textContent === 'count {arrow}')")
    counts = [int(r[3].replace(",", "")) for r in cells(page)]
    assert counts == sorted(counts, reverse=True)
    page.fill(".nbs-box >> nth=-1 >> .nbs-search", "/cart")
    page.wait_for_function(f"() => [...{LAST_BOX}.querySelectorAll('.nbs-table tbody tr:not(.nbs-pad)')]"
                           ".every(r => r.children[0].textContent === '/cart')")
    page.fill(".nbs-box >> nth=-1 >> .nbs-search", "")
    with page.expect_download() as download:
        page.click(".nbs-box >> nth=-1 >> .nbs-csv")
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.splitlines()[0] == "key,window_start,window_end,count"
    assert csv_text.count("\n") >= 6
    with page.expect_download() as download:
        page.click(".nbs-box >> nth=-1 >> .nbs-parquet")
    import pyarrow.parquet as pq
    table = pq.read_table(download.value.path())
    assert table.column_names == ["key", "window_start", "window_end", "count"]
    assert str(table.schema.field("window_end").type) == "timestamp[ns, tz=UTC]"
    ARTIFACTS.mkdir(exist_ok=True)
    widget = page.locator(".nbs-box").first
    widget.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "quickstart.png"))
    widget.screenshot(path=str(ARTIFACTS / "quickstart-widget.png"))

    page.click(".nbs-stop")
    page.wait_for_function("() => document.querySelector('.nbs-status').textContent"
                           ".startsWith('stopped')", timeout=15_000)
    stopped_at = records_in(page)
    page.wait_for_timeout(500)  # the final display update (its snapshot) re-renders the view
    stopped_rows = (page.evaluate(rows_of), cells(page)[:5])
    time.sleep(1.0)
    assert records_in(page) == stopped_at  # nothing moves
    assert (page.evaluate(rows_of), cells(page)[:5]) == stopped_rows
    assert page.locator(".nbs-stop").is_disabled()
    # the kernel agrees: run the next cells (to_pandas, %stream_jobs)
    run_cells(page, [7, 9])  # to_pandas, %stream_jobs
    page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                           ".some(o => o.textContent.includes('records_per_s'))", timeout=30_000)
    jobs = page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output table')]"
                         ".map(t => t.innerText).find(t => t.includes('records_per_s'))")
    row = next(line for line in jobs.splitlines() if "clicks" in line).split("\t")
    assert "stopped" in row and str(stopped_at) in row
    page.close()


def test_a_stateful_functions_job_shows_its_egress_and_a_line_per_function_type(browser, lab):
    page = open_notebook(browser, lab, "stateful_functions.ipynb")
    run_cells(page, [1, 3, 5])  # %load_ext, the functions, %%stream
    lines_of = f"() => [...({LAST_BOX})?.querySelectorAll('.nbs-fns div') || []].map(d => d.textContent)"
    page.wait_for_function(f"() => ({lines_of})().length == 2", timeout=30_000)
    page.wait_for_function(f"() => ({lines_of})().every(line => line.includes('p99 '))",
                           timeout=30_000)
    lines = page.evaluate(lines_of)
    assert [line.split(":")[0] for line in lines] == ["example/person", "example/total"]
    assert all(" in, " in line and " calls" in line for line in lines)
    assert " egress" in lines[0]
    greetings = [row for row in cells(page) if row[-1].startswith("Hello ")]
    assert greetings, cells(page)  # the egress rows, in the table
    page.click(".nbs-stop")
    page.wait_for_function("() => document.querySelector('.nbs-status').textContent"
                           ".startsWith('stopped')", timeout=15_000)
    page.close()


def test_measure_first_row_and_the_frame_budget_with_100_keys(browser, lab):
    page = open_notebook(browser, lab, "bench.ipynb")
    run_cells(page, [1])
    page.wait_for_function("() => document.querySelectorAll('.jp-InputPrompt')[1]"
                           ".textContent.includes('[1]')", timeout=30_000)
    first_rows = []
    for _ in range(FIRST_ROW_RUNS):
        # note when Shift+Enter goes down and when the new widget's first row is in the DOM
        page.evaluate("""() => {
            window.nbsT0 = null; window.nbsT1 = null;
            const down = (e) => {
                if (e.key === 'Enter' && e.shiftKey) {
                    window.nbsT0 = performance.now();
                    document.removeEventListener('keydown', down, true);
                }
            };
            document.addEventListener('keydown', down, true);
            const seen = () => window.nbsT0 !== null && window.nbsT1 === null &&
                [...document.querySelectorAll('.nbs-table tbody tr:not(.nbs-pad)')].length > 0;
            const observer = new MutationObserver(() => {
                if (seen()) { window.nbsT1 = performance.now(); observer.disconnect(); }
            });
            observer.observe(document.body, { childList: true, subtree: true });
        }""")
        page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Enter")  # %%stream --name first
        page.wait_for_function("() => window.nbsT1 !== null", timeout=30_000)
        first_rows.append(page.evaluate("() => window.nbsT1 - window.nbsT0") / 1000)
        run_cell(page, 3)  # %stream_stop --all
        page.wait_for_function("() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
                               "?.getAttribute('data-status') === 'idle'")
        time.sleep(0.3)
    run_cell(page, 4)  # 100 keys at 10,000 records/s
    wait_box(page, 4, "b.querySelector('.nbs-table')?.dataset.rows === '100'")
    wait_box(page, 4, "(b.querySelector('.nbs-keys')?.textContent || '').includes('90 hidden')")
    page.evaluate(f"() => {box_of(4)}.scrollIntoView()")
    page.wait_for_timeout(1500)  # past the first second
    frames = page.evaluate("""() => new Promise((resolve) => {
        const times = []; const end = performance.now() + 5000;
        const tick = (t) => { times.push(t); if (t < end) requestAnimationFrame(tick); else resolve(times); };
        requestAnimationFrame(tick);
    })""")
    rate = page.evaluate(f"() => {box_of(4)}.querySelector('.nbs-counters').textContent")
    keys = page.evaluate(f"() => {box_of(4)}.querySelector('.nbs-keys').textContent")
    save_shot(page, "budget-100-keys", 4)
    page.click(".nbs-box >> nth=-1 >> .nbs-stop")
    wait_box(page, 4, "b.querySelector('.nbs-status').textContent.startsWith('stopped')")
    deltas = [b - a for a, b in zip(frames, frames[1:])]
    metrics = {
        "first_row_s": first_rows,
        "first_row_median_s": statistics.median(first_rows),
        "budget_header": rate,
        "budget_keys": keys,
        "frames": len(deltas),
        "frame_ms_median": round(statistics.median(deltas), 1),
        "frame_ms_p95": round(sorted(deltas)[int(0.95 * (len(deltas) - 1))], 1),
        "frame_ms_max": round(max(deltas), 1),
        "frames_over_50ms": sum(d > 50 for d in deltas),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser_metrics.json").write_text(json.dumps(metrics, indent=2))
    print("\nbrowser metrics:", json.dumps(metrics))
    assert keys.startswith("10 of 100 keys") and "90 hidden" in keys
    # a generous bound (the machine is shared): the figure itself is reported above
    assert metrics["frame_ms_p95"] < 200, metrics
    page.close()
