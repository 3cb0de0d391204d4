"""Collection rules for the whole repository (fixtures live in tests/conftest.py).

The flink-mode tests need PyFlink; ``scripts/test`` (the README's test command, and CI)
installs it with ``pip install -e '.[test,flink]'``. Without it they fail, naming the
missing module: nothing is left out silently.
"""

# PyFlink and old-Flink (Jython) programs that the tests run as scripts: data, not test modules
collect_ignore_glob = ["tests/pyflink_programs/*", "tests/jython_programs/*"]
