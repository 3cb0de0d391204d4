"""The documentation site builds from this checkout with warnings as errors (``mkdocs build
--strict``: broken links between pages, missing anchors, a README section a page includes
that is gone, a docstring the API reference cannot render), the example notebooks run and
show their outputs, and every internal link of the built site (pages, anchors, assets)
resolves. The pages' examples (their ``pycon`` blocks) print what the pages show."""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list = []
        self.ids: set = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name"):
            if attrs.get(name):
                self.ids.add(attrs[name])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])


def parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(site: Path) -> list:
    """Internal links of every page that point at no file, or at no element of their page."""
    pages = {p: parse(p) for p in site.rglob("*.html")}
    broken = []
    for page, parsed in pages.items():
        if page.name == "404.html":
            continue  # served for any missing path, so its links are from the site's root
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue  # another site (checked by no one here: the tests run offline)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    return broken


def test_the_site_builds_strictly_with_the_notebooks_and_no_broken_internal_link(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", NBSTREAM_DOCS_EXECUTE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("PYTEST_CURRENT_TEST", None)
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(ROOT / "mkdocs.yml"), "-d", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    for page in ("index.html", "getting-started.html", "concepts/windows.html",
                 "concepts/table-api-and-sql.html", "concepts/udfs.html", "how-to/live-view.html",
                 "how-to/kafka.html", "how-to/live-feeds.html", "how-to/files.html",
                 "how-to/trust.html", "how-to/fault-tolerance.html", "how-to/conformance.html",
                 "reference/nbstream.html", "notebooks/quickstart.html"):
        assert (site / page).is_file(), page
    # the API reference comes from the docstrings, their examples as code, their
    # cross-references (Sphinx roles) as links or code, never as ":class:" text
    reference = {p.stem: p.read_text() for p in (site / "reference").glob("*.html")}
    assert "StreamExecutionEnvironment" in reference["nbstream"]
    assert "execute_and_collect" in reference["nbstream"]
    for page, names in {"table": ["TableEnvironment", "execute_sql", "DataTypes", "TableDescriptor",
                                  "TableResult", "row_interval"],
                        "udf": ["udaf", "FunctionContext", "TableAggregateFunction"],
                        "connectors": ["KafkaSource", "LocalKafkaCluster", "ServerSentEvents",
                                       "HttpPolling", "monitor_continuously", "ParquetWriterFactory"],
                        "checkpointing": ["CheckpointConfig", "set_max_held_records",
                                          "RestartStrategies", "UntrustedFileError"],
                        "compat": ["nbstream.compat.pyflink.activated", "run_source", "load_module"]
                        }.items():
        assert all(f'id="{n}"' in reference[page] or f".{n}\"" in reference[page]
                   for n in names), (page, [n for n in names if n not in reference[page]])
    assert not [p for p, html in reference.items() if re.search(r":(class|func|meth|mod):", html)]
    # the notebooks ran: a blocking cell's view kept its snapshot (status, SVG chart, table)
    windows = (site / "notebooks" / "explore_windows.html").read_text()
    assert windows.count('class="nbstream-snapshot"') >= 2 and "<svg" in windows
    assert "[thread] finished:" in windows
    assert "finished: 3,000 in" in (site / "notebooks" / "live_feed.html").read_text()
    # ... and a job stopped by a later cell too (a %%sql changelog: 4 keys inserted, then updated)
    sql = (site / "notebooks" / "explore_with_sql.html").read_text()
    assert "[thread] stopped:" in sql and "+I 4 -U " in sql
    quickstart = (site / "notebooks" / "quickstart.html").read_text()
    assert "[thread] stopped:" in quickstart and "becomes its results" not in quickstart
    assert broken_links(site) == []


def test_the_link_checker_finds_a_broken_link_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#there">b</a><a href="c.html">c</a>'
                                     '<a href="https://example.org/x">out</a><p id="here"></p>')
    (tmp_path / "b.html").write_text('<a href="a.html#here">a</a><a href="a.html#nowhere">?</a>')
    assert sorted(broken_links(tmp_path)) == ["a.html: b.html#there (no such anchor)",
                                              "a.html: c.html (no such file)",
                                              "b.html: a.html#nowhere (no such anchor)"]


DOCS = ROOT / "docs"
EXAMPLE_PAGES = sorted(p for p in DOCS.rglob("*.md") if "```pycon" in p.read_text(encoding="utf-8"))


def examples_of(page: Path) -> list:
    """A page's ``pycon`` blocks' examples, one after another (one session per page), with
    the page's line numbers."""
    text = page.read_text(encoding="utf-8")
    examples = []
    for block in re.finditer(r"^( *)```pycon[^\n]*\n(.*?)^\1```", text, re.S | re.M):
        first_line = text.count("\n", 0, block.start(2))
        for example in doctest.DocTestParser().get_examples(textwrap.dedent(block.group(2))):
            example.lineno += first_line
            examples.append(example)
    return examples


def test_pages_with_examples_are_found():
    assert {p.name for p in EXAMPLE_PAGES} >= {"kafka.md", "live-feeds.md", "files.md",
                                               "trust.md", "udfs.md"}


@pytest.mark.parametrize("page", EXAMPLE_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_a_pages_examples_print_what_it_shows(page, tmp_path, monkeypatch):
    """Run as doctests (ELLIPSIS and NORMALIZE_WHITESPACE), in a folder of their own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBSTREAM_RECORDINGS", str(tmp_path / "recordings"))  # not the home's
    test = doctest.DocTest(examples_of(page), {"__name__": "__docs__"}, page.name, str(page),
                           0, None)
    assert test.examples, page
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list = []
    try:
        runner.run(test, out=report.append, clear_globs=False)
    finally:
        for value in list(test.globs.values()):  # a failed page's broker or server: closed
            if type(value).__name__ in ("LocalKafkaCluster", "LocalFeedServer"):
                value.close()
        test.globs.clear()
    assert runner.failures == 0, "".join(report)
