"""``pyflink.testing.test_case_utils`` in Python: PyFlink's test base classes on nbstream.

As Flink's test environment, the streaming and batch test cases share one environment per
class at parallelism 2. ``PythonAPICompletenessTestCase`` compares with a Java class, which
needs the JVM.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest
from typing import Any, List

from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

from .jvm import _jvm

__all__ = ["PyFlinkTestCase", "PyFlinkStreamingTestCase", "PyFlinkBatchTestCase",
           "PyFlinkUTTestCase", "PythonAPICompletenessTestCase", "exec_insert_table"]


def exec_insert_table(table: Any, table_path: str) -> Any:
    """Insert ``table`` into ``table_path`` and return the job's execution result."""
    return table.execute_insert(table_path).get_job_client().get_job_execution_result().result()


class PyFlinkTestCase(unittest.TestCase):
    """A temporary folder per class (``cls.tempdir``) and sorted-list comparison."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tempdir = tempfile.mkdtemp()
        os.environ["_python_worker_execution_mode"] = "process"

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tempdir, ignore_errors=True)
        os.environ.pop("_python_worker_execution_mode", None)

    @classmethod
    def assert_equals(cls, actual: List[Any], expected: List[Any]) -> None:
        actual, expected = sorted(actual), sorted(expected)
        assert actual == expected, (actual, expected)

    @classmethod
    def to_py_list(cls, actual: Any) -> List[Any]:
        return list(actual)


def _environment(mode: RuntimeExecutionMode) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.set_runtime_mode(mode)
    return env


class PyFlinkStreamingTestCase(PyFlinkTestCase):
    """One STREAMING environment per class, at parallelism 2."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.env = _environment(RuntimeExecutionMode.STREAMING)


class PyFlinkBatchTestCase(PyFlinkTestCase):
    """One BATCH environment per class, at parallelism 2."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.env = _environment(RuntimeExecutionMode.BATCH)


class PyFlinkUTTestCase(PyFlinkTestCase):
    """A fresh STREAMING environment per test, at parallelism 2."""

    def setUp(self) -> None:
        self.env = _environment(RuntimeExecutionMode.STREAMING)


class PythonAPICompletenessTestCase:
    """Compares a Python class's methods with a Java class's: the Java side needs the JVM."""

    @classmethod
    def python_class(cls) -> Any:
        raise NotImplementedError

    @classmethod
    def java_class(cls) -> str:
        raise NotImplementedError

    @classmethod
    def excluded_methods(cls) -> set:
        return set()

    def test_completeness(self) -> None:
        raise _jvm(f"the methods of Java class {self.java_class()}")
