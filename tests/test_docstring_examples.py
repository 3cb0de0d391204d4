"""Every public method of the stream classes shows a runnable example (the doctests run
with the rest of the suite: ``--doctest-modules``)."""

from __future__ import annotations

import inspect

import pytest

from nbstream.api.datastream import DataStream, KeyedStream
from nbstream.api.windowed import AllWindowedStream, WindowedStream


@pytest.mark.parametrize("cls", [DataStream, KeyedStream, WindowedStream, AllWindowedStream])
def test_every_public_method_has_an_example(cls: type) -> None:
    missing = [name for name, member in inspect.getmembers(cls)
               if not name.startswith("_") and callable(member)
               and ">>>" not in (inspect.getdoc(member) or "")]
    assert missing == []
