"""Collection rules for the whole repository (fixtures live in tests/conftest.py).

The flink-mode tests need PyFlink; ``scripts/test`` (the README's test command, and CI)
installs it with ``pip install -e '.[test,flink]'``. Without it they fail, naming the
missing module: nothing is left out silently.
"""

# PyFlink and old-Flink (Jython) programs that the tests run as scripts: data, not test modules
collect_ignore_glob = ["tests/pyflink_programs/*", "tests/jython_programs/*"]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_names(request):
    """Docstring examples of the stream API run as a notebook cell would: with nbstream's
    names imported and ``env`` a fresh StreamExecutionEnvironment."""
    if type(request.node).__name__ != "DoctestItem":
        yield
        return
    import nbstream

    names = request.getfixturevalue("doctest_namespace")
    names.update({n: getattr(nbstream, n) for n in nbstream.__all__})
    names["env"] = nbstream.StreamExecutionEnvironment.get_execution_environment()
    yield
