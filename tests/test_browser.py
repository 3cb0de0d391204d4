"""The quickstart in a real browser: JupyterLab on loopback, headless Chromium (Debian's
package) driven by Playwright. The live view's table fills and updates, its Stop button
stops the job. Also measured (printed and saved to tests/artifacts/, never asserted): the
time from running a %%stream cell to its first row in the table, and the frame time with
1,000 rows shown while they update."""

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

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
FIRST_ROW_RUNS = 5

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
    bench = new_notebook(cells=[
        new_markdown_cell("Measurements of the live view"),
        new_code_cell("%load_ext nbstream\nimport itertools, time"),
        new_code_cell("%%stream --name first\n"
                      "env.from_iterable(lambda: itertools.count())"
                      ".map(lambda n: {'n': n, 'square': n * n})"),
        new_code_cell("%stream_stop --all"),
        new_code_cell("%%stream --name thousand --rows 1000\n"
                      "def ticks():\n"
                      "    for n in itertools.count():\n"
                      "        yield n\n"
                      "        if n % 50 == 0:\n"
                      "            time.sleep(0.005)\n"
                      "env.from_iterable(ticks).map(lambda n: {'n': n, 'even': n % 2 == 0, "
                      "'label': f'tick {n}', 'value': (n * 7919) % 1000 / 10})"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(bench, work / "bench.ipynb")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
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
        yield base, token
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


def open_notebook(browser, lab, name):
    base, token = lab
    page = browser.new_page()
    workspace = Path(name).stem  # one fresh workspace per notebook: no other tabs
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?token={token}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function("() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
                           "?.getAttribute('data-status') === 'idle'", timeout=60_000)
    shot_on_failure(page, f"{workspace}-failure.png")
    return page


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
    assert page.evaluate(f"() => {LAST_BOX}.querySelectorAll('.nbs-svg polyline').length") == 5
    headers = page.evaluate(f"() => [...{LAST_BOX}.querySelectorAll('th')].map(t => t.textContent)")
    assert headers == ["key", "window_start", "window_end", "count"]
    ARTIFACTS.mkdir(exist_ok=True)
    widget = page.locator(".nbs-box").first
    widget.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "quickstart.png"))
    widget.screenshot(path=str(ARTIFACTS / "quickstart-widget.png"))

    page.click(".nbs-stop")
    page.wait_for_function("() => document.querySelector('.nbs-status').textContent"
                           ".startsWith('stopped')", timeout=15_000)
    stopped_at = records_in(page)
    stopped_rows = cells(page)
    time.sleep(1.0)
    assert records_in(page) == stopped_at and cells(page) == stopped_rows  # nothing moves
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


def test_measure_first_row_and_frame_time(browser, lab):
    page = open_notebook(browser, lab, "bench.ipynb")
    run_cells(page, [1])
    try:
        page.wait_for_function("() => document.querySelectorAll('.jp-InputPrompt')[1]"
                               ".textContent.includes('[1]')", timeout=30_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "bench-failure.png"))
        raise
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
        try:
            page.wait_for_function("() => window.nbsT1 !== null", timeout=30_000)
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "bench-failure.png"))
            print(page.evaluate("() => [window.nbsT0, window.nbsT1]"))
            raise
        first_rows.append(page.evaluate("() => window.nbsT1 - window.nbsT0") / 1000)
        run_cell(page, 3)  # %stream_stop --all
        page.wait_for_function("() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
                               "?.getAttribute('data-status') === 'idle'")
        time.sleep(0.3)
    run_cell(page, 4)  # the 1,000-row stream
    page.wait_for_function(f"() => {LAST_BOX}?.querySelector('.nbs-table')?.dataset.rows"
                           " === '1000'", timeout=60_000)
    shown = cells(page)
    if not shown:
        print(page.evaluate(f"() => {{ const b = {LAST_BOX}; const t = b.querySelector('.nbs-tablebox');"
                            " return [t.scrollTop, t.clientHeight, t.style.display, "
                            "b.querySelector('tbody').children.length, b.isConnected, "
                            "document.querySelectorAll('.nbs-box').length] }"))
    top_before = shown[0]
    frames = page.evaluate("""() => new Promise((resolve) => {
        const times = []; const end = performance.now() + 3000;
        const tick = (t) => { times.push(t); if (t < end) requestAnimationFrame(tick); else resolve(times); };
        requestAnimationFrame(tick);
    })""")
    rows_shown = int(page.evaluate(f"() => {LAST_BOX}.querySelector('.nbs-table').dataset.rows"))
    top_after = cells(page)[0]
    page.click(".nbs-stop >> nth=-1")
    page.wait_for_function(f"() => {LAST_BOX}.querySelector('.nbs-status').textContent"
                           ".startsWith('stopped')", timeout=15_000)
    page.wait_for_timeout(500)
    newest = cells(page)[0]
    # the table scrolls through all of them: the bottom row is 999 ticks older than the top
    page.evaluate(f"() => {{ const b = {LAST_BOX}.querySelector('.nbs-tablebox');"
                  " b.scrollTop = b.scrollHeight; }")
    page.wait_for_timeout(300)
    oldest = cells(page)[-1]
    deltas = [b - a for a, b in zip(frames, frames[1:])]
    metrics = {
        "first_row_s": first_rows,
        "first_row_median_s": statistics.median(first_rows),
        "rows_shown": rows_shown,
        "frames": len(deltas),
        "frame_ms_median": statistics.median(deltas),
        "frame_ms_p95": sorted(deltas)[int(0.95 * (len(deltas) - 1))],
        "frame_ms_max": max(deltas),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser_metrics.json").write_text(json.dumps(metrics, indent=2))
    print("\nbrowser metrics:", json.dumps(metrics))
    assert rows_shown == 1000  # bounded: the newest 1,000 rows
    assert top_after != top_before  # and still updating while measured
    assert int(newest[0].replace(",", "")) - int(oldest[0].replace(",", "")) == 999
    page.close()
