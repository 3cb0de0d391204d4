"""Merge the output of ``generate.py <case names>`` (run for some cases only) into
expected.txt, in the order of cases.py:

    TZ=UTC PYTHONUNBUFFERED=1 python tests/table_corpus/generate.py name1 name2 > /tmp/new.txt
    python tests/table_corpus/merge.py /tmp/new.txt
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES  # noqa: E402


def sections(text: str) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    name = None
    for line in text.splitlines():
        if line.startswith("##### ") and not line.startswith("##### error"):
            name = line[6:].strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def main(new_file: str) -> None:
    expected = HERE / "expected.txt"
    merged = sections(expected.read_text())
    merged.update(sections(Path(new_file).read_text()))
    lines = []
    for name, *_ in CASES:
        if name in merged:
            lines.append(f"##### {name}")
            lines.extend(merged[name])
    expected.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
