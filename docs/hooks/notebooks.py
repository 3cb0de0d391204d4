"""MkDocs hook: the example notebooks in ``notebooks/`` as pages of the site, with their outputs.

Each notebook is run from top to bottom (nbclient, in a copy of the folder, this checkout on
the kernel's PYTHONPATH; ``NBSTREAM_DOCS_EXECUTE=0`` renders them as they are) and turned into
HTML by nbconvert. A live view's output in a run notebook is its static snapshot (status line,
chart as SVG, table), so the pages need no kernel and load nothing from elsewhere. Links
between notebooks (``explore_windows.ipynb``) point at their pages. It also shows the
docstrings' examples as code (see :class:`_DoctestBlocks`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import nbformat
from markdown import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
_pages: Dict[str, str] = {}  # page src_uri -> its HTML


def _run(path: Path, workdir: Path) -> Any:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), old]))
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=False,
                       resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    return nb


def _html(nb: Any) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="basic").from_notebook_node(nb)
    body = re.sub(r'href="([A-Za-z0-9_]+)\.ipynb"', r'href="\1.html"', body)
    # heading anchors as MkDocs makes them (lower case), so the page's table of contents finds them
    body = re.sub(r'(<h[1-6] id=")([^"]+)"', lambda m: m.group(1) + m.group(2).lower() + '"', body)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{m.group(1).lower()}"', body)


class _DoctestBlocks(Extension):
    """Docstring examples (``>>>`` lines and their output, up to a blank line) as Python
    console code blocks: in plain Markdown they would be read as text and links."""

    def extendMarkdown(self, md: Any) -> None:  # noqa: N802 (Markdown's name)
        md.preprocessors.register(_DoctestFence(md), "nbstream_doctests", 30)


class _DoctestFence(Preprocessor):
    def run(self, lines: List[str]) -> List[str]:
        out: List[str] = []
        fence = None  # the indentation of the open block
        for line in lines:
            stripped = line.lstrip()
            if fence is None and stripped.startswith(">>>"):
                fence = line[:len(line) - len(stripped)]
                out.append(f"{fence}```pycon")
            elif fence is not None and not stripped:
                out.append(f"{fence}```")
                fence = None
            out.append(line)
        if fence is not None:
            out.append(f"{fence}```")
        return out


def on_config(config: Any) -> Any:
    # in place: mkdocstrings renders docstrings with this same list of extensions
    config.markdown_extensions.insert(0, _DoctestBlocks())
    return config


def on_files(files: Any, config: Any) -> Any:
    execute = os.environ.get("NBSTREAM_DOCS_EXECUTE", "1") != "0"
    workdir = Path(tempfile.mkdtemp(prefix="nbstream-docs-"))
    try:
        for item in NOTEBOOKS.iterdir():
            if item.suffix in (".py", ".ipynb"):
                shutil.copy(item, workdir / item.name)
        for path in sorted(NOTEBOOKS.glob("*.ipynb")):
            nb = _run(workdir / path.name, workdir) if execute else nbformat.read(path, as_version=4)
            src_uri = f"notebooks/{path.stem}.md"
            title = next((line[2:].strip() for c in nb.cells if c.cell_type == "markdown"
                          for line in c.source.splitlines() if line.startswith("# ")), path.stem)
            _pages[src_uri] = _html(nb)
            files.append(File.generated(config, src_uri, content=f"# {title}\n"))
        for helper in sorted(NOTEBOOKS.glob("*.py")):  # modules the notebooks import and link to
            files.append(File.generated(config, f"notebooks/{helper.name}",
                                        content=helper.read_bytes()))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return files


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    notebook = _pages.get(page.file.src_uri)
    return f'<div class="nbstream-notebook">{notebook}</div>' if notebook is not None else html
