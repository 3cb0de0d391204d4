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
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from xml.etree.ElementTree import Element
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
    # heading anchors as MkDocs makes them (its slugs: "Top-N: %%sql" is top-n-sql), so the
    # page's table of contents and the notebook's own links find them
    body = re.sub(r'(<h[1-6] id=")([^"]+)"', lambda m: f'{m.group(1)}{_slug(m.group(2))}"', body)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{_slug(m.group(1))}"', body)


def _slug(anchor: str) -> str:
    """nbconvert's heading id (the heading's text, spaces as ``-``) as MkDocs' slug of it."""
    from html import unescape
    from urllib.parse import unquote

    from markdown.extensions.toc import slugify

    return slugify(unescape(unquote(anchor)).replace("-", " "), "-")


class _DoctestBlocks(Extension):
    """Docstring examples (``>>>`` lines and their output, up to a blank line) as Python
    console code blocks: in plain Markdown they would be read as text and links. A line
    that ends with reStructuredText's ``::`` ends with ``:`` (the indented block after
    it is a code block in Markdown too)."""

    def extendMarkdown(self, md: Any) -> None:  # noqa: N802 (Markdown's name)
        md.preprocessors.register(_DoctestFence(md), "nbstream_doctests", 30)


class _DoctestFence(Preprocessor):
    def run(self, lines: List[str]) -> List[str]:
        out: List[str] = []
        fence = None  # the indentation of the open block
        written = None  # the fence of a code block written as one (a page's ```pycon)
        for line in lines:
            stripped = line.lstrip()
            if fence is None and (written or stripped.startswith(("```", "~~~"))):
                if written is None:
                    written = stripped[:3]
                elif stripped.startswith(written):
                    written = None
                out.append(line)
                continue
            if fence is None and stripped.startswith(">>>"):
                fence = line[:len(line) - len(stripped)]
                out.append(f"{fence}```pycon")
            elif fence is not None and not stripped:
                out.append(f"{fence}```")
                fence = None
            elif fence is None and stripped.endswith("::") and stripped != "::":
                line = line[:-1]
            out.append(line)
        if fence is not None:
            out.append(f"{fence}```")
        return out


class _Roles(Extension):
    """The docstrings' cross-references, written as Sphinx roles (``:class:`~.live.start```,
    ``:func:`install```): in plain Markdown they would show as ``:class:`` and the path. Each
    becomes its target in code, linked where the site renders that object (an optional
    autorefs reference: a target the reference does not show stays plain code, no warning).
    ``~`` shows the last name only; a leading ``.`` looks the name up from the docstring's
    module upwards, as Sphinx does; a bare name is resolved in the docstring's scope."""

    def extendMarkdown(self, md: Any) -> None:  # noqa: N802 (Markdown's name)
        md.inlinePatterns.register(_Role(_ROLE, md), "nbstream_roles", 200)


_ROLE = r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj):`(~?)([A-Za-z0-9_.]+)(?:\(\))?`"


class _Role(InlineProcessor):
    def handleMatch(self, m: Any, data: str) -> Any:  # noqa: N802 (Markdown's name)
        short, target = m.group(1), m.group(2)
        shown = target.lstrip(".").rsplit(".", 1)[-1] if short else target.lstrip(".")
        el = Element("autoref", {"identifier": self._expand(target), "optional": ""})
        code = Element("code")
        code.text = shown
        el.append(code)
        return el, m.start(0), m.end(0)

    def _expand(self, target: str) -> str:
        refs = self.md.inlinePatterns["mkdocs-autorefs"] if "mkdocs-autorefs" in self.md.inlinePatterns else None
        current = getattr(getattr(refs, "hook", None), "current_object", None)
        if current is None:  # a page, not a docstring
            return target.lstrip(".")
        name = target.lstrip(".")
        try:
            if target.startswith("."):  # from the module upwards
                module = current.module
                while module is not None:
                    try:
                        return module[name].path
                    except Exception:
                        module = module.parent
                return name
            first, _, rest = name.partition(".")
            path = current.resolve(first) if current.parent is not None or first != current.name else current.path
            return f"{path}.{rest}" if rest else path
        except Exception:  # not in scope: as written
            return name


def on_config(config: Any) -> Any:
    # in place: mkdocstrings renders docstrings with this same list of extensions
    config.markdown_extensions.insert(0, _DoctestBlocks())
    config.markdown_extensions.insert(0, _Roles())
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
