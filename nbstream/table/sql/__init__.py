"""Flink SQL statements on a TableEnvironment: queries, INSERT (and STATEMENT SET), DDL
(CREATE/DROP TABLE, VIEW, FUNCTION), SHOW, DESCRIBE, EXPLAIN, SET/RESET, USE.

The parser is sqlglot with nbstream's Flink dialect (:mod:`.dialect`); DDL's column lists
are read by :mod:`.ddl`; queries become plans in :mod:`.convert`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, List, Tuple

from ..catalog import strip_path
from ..expressions import Expression
from ..plan import RelNode
from ..result import ResultKind, TableResult
from ..types import DataTypes, ValidationError
from .dialect import SqlParseError, parse_expression_ast, parse_query, statements

if TYPE_CHECKING:  # pragma: no cover
    from ..environment import TableEnvironment

__all__ = ["SqlRunner", "parse_expression", "SqlParseError", "statements"]


def parse_expression(text: str) -> Expression:
    """An unresolved Expression of SQL text (``call_sql``, computed columns, watermarks)."""
    from .convert import to_expression
    return to_expression(parse_expression_ast(text))


_QUERY_START = re.compile(r"^\s*(\(|SELECT\b|WITH\b|VALUES\b)", re.IGNORECASE)


def _words(stmt: str, n: int = 4) -> List[str]:
    return [w.upper() for w in re.findall(r"[A-Za-z_]+", stmt)[:n]]


class SqlRunner:
    """Runs statements against one TableEnvironment."""

    def __init__(self, tenv: "TableEnvironment") -> None:
        self.tenv = tenv

    def _one(self, stmt: str) -> str:
        if re.match(r"^\s*EXECUTE\s+STATEMENT\s+SET\b", stmt, re.IGNORECASE):
            return stmt.strip().rstrip(";").strip()
        parts = statements(stmt)
        if len(parts) != 1:
            if not parts:
                raise SqlParseError("SQL parse failed. The statement is empty")
            raise SqlParseError(f"execute_sql takes one statement, not {len(parts)} (use a "
                                "STATEMENT SET for several INSERTs)")
        return parts[0]

    # -- queries ---------------------------------------------------------------------------------
    def query(self, stmt: str) -> RelNode:
        stmt = self._one(stmt)
        if not _QUERY_START.match(stmt):
            raise ValidationError(f"sql_query takes a SELECT (a query), not "
                                  f"'{' '.join(_words(stmt, 2))} ...'; use execute_sql")
        from .convert import Converter
        return Converter(self.tenv, stmt).query(parse_query(stmt))

    def explain(self, stmt: str) -> str:
        stmt = self._one(stmt)
        words = _words(stmt, 3)
        if words[:1] == ["INSERT"]:
            _, node = self.insert_target(stmt)
        else:
            node = self.query(stmt)
        return self.tenv._explain(node)

    # -- statements -------------------------------------------------------------------------------
    def execute(self, stmt: str) -> TableResult:  # noqa: C901  (one branch per statement)
        stmt = self._one(stmt)
        words = _words(stmt)
        head = words[0] if words else ""
        if _QUERY_START.match(stmt):
            return self.tenv._execute_query(self.query(stmt))
        if head in ("INSERT", "UPSERT"):
            return self.tenv._execute_inserts([self.insert_target(stmt)])
        if head == "EXECUTE" and words[1:3] == ["STATEMENT", "SET"]:
            return self.statement_set(stmt)
        if head == "EXECUTE":
            return self.execute(stmt.split(None, 1)[1])
        if head == "CREATE":
            return self.create(stmt, words)
        if head == "DROP":
            return self.drop(stmt, words)
        if head == "ALTER":
            return self.alter(stmt)
        if head == "SHOW":
            return self.show(stmt, words)
        if head in ("DESCRIBE", "DESC"):
            return self.describe(stmt.split(None, 1)[1] if len(stmt.split(None, 1)) > 1 else "")
        if head == "EXPLAIN":
            rest = re.sub(r"^\s*EXPLAIN\s+(PLAN\s+FOR\s+)?((ESTIMATED_COST|CHANGELOG_MODE|"
                          r"JSON_EXECUTION_PLAN|PLAN_ADVICE)\s*,?\s*)*", "", stmt,
                          flags=re.IGNORECASE)
            text = self.explain(rest)
            return _rows_result(["result"], [DataTypes.STRING()], [(text,)])
        if head == "SET":
            return self.set(stmt)
        if head == "RESET":
            m = re.match(r"^\s*RESET\s+'([^']*)'\s*$", stmt, re.IGNORECASE)
            if m:
                self.tenv.get_config()._values.pop(m.group(1), None)
            else:
                self.tenv.get_config()._values.clear()
            return _ok()
        if head == "USE":
            m = re.match(r"^\s*USE\s+(CATALOG\s+)?(\S+)\s*$", stmt, re.IGNORECASE)
            if m is None:
                raise SqlParseError(f"SQL parse failed: {stmt}")
            name = m.group(2).strip("`")
            if m.group(1):
                self.tenv.use_catalog(name)
            else:
                self.tenv.use_database(name.split(".")[-1] if "." in name else name)
            return _ok()
        if head == "BEGIN" and words[1:3] == ["STATEMENT", "SET"]:
            raise ValidationError("BEGIN STATEMENT SET is the SQL client's form: use "
                                  "EXECUTE STATEMENT SET BEGIN ... END or create_statement_set()")
        raise SqlParseError(f"SQL parse failed. Non-query expression encountered in illegal "
                            f"context: {head or stmt!r} statements are not supported")

    # -- INSERT -------------------------------------------------------------------------------------
    def insert_target(self, stmt: str) -> Tuple[str, RelNode]:
        m = re.match(r"^\s*(?:INSERT|UPSERT)\s+(INTO|OVERWRITE)\s+((?:`[^`]+`|[\w$.]+)+)\s*"
                     r"(\(([^)]*)\))?\s*(.*)$", stmt, re.IGNORECASE | re.DOTALL)
        if m is None:
            raise SqlParseError(f"SQL parse failed. INSERT needs INTO a table: {stmt[:80]}")
        target = m.group(2)
        columns = [c.strip().strip("`") for c in m.group(4).split(",")] if m.group(4) else None
        query = m.group(5)
        if not query.strip():
            raise SqlParseError("SQL parse failed. INSERT needs a query")
        node = self.query(query)
        if columns:
            node = self._insert_columns(target, columns, node)
        return target, node

    def _insert_columns(self, target: str, columns: List[str], node: RelNode) -> RelNode:
        """INSERT INTO t (a, b) SELECT ...: the other sink columns get NULL."""
        from ..functions.cast import make_cast
        from ..plan import Calc
        from ..rex import InputRef, Literal
        _, names, types, _ = self.tenv._sink_of(target)
        if len(columns) != len(node.names):
            raise ValidationError(f"INSERT names {len(columns)} columns, the query has "
                                  f"{len(node.names)}")
        projects = []
        for n, t in zip(names, types):
            if n in columns:
                i = columns.index(n)
                projects.append(InputRef(i, node.types[i], node.names[i]))
            else:
                projects.append(make_cast(Literal(None, DataTypes.NULL()), t))
        return Calc(node, projects, None, list(names))

    def statement_set(self, stmt: str) -> TableResult:
        m = re.match(r"^\s*EXECUTE\s+STATEMENT\s+SET\s+BEGIN\s+(.*?)\s*END\s*$", stmt,
                     re.IGNORECASE | re.DOTALL)
        if m is None:
            raise SqlParseError("SQL parse failed. EXECUTE STATEMENT SET BEGIN ...; END")
        inserts = [self.insert_target(s) for s in statements(m.group(1))]
        return self.tenv._execute_inserts(inserts)

    # -- DDL ------------------------------------------------------------------------------------------
    def create(self, stmt: str, words: List[str]) -> TableResult:
        from .ddl import create_function, create_table, create_view
        rest = [w for w in words[1:] if w not in ("TEMPORARY", "OR", "REPLACE", "SYSTEM")]
        what = rest[0] if rest else ""
        if what == "TABLE":
            create_table(self.tenv, stmt)
        elif what == "VIEW":
            create_view(self, stmt)
        elif what == "FUNCTION":
            create_function(self.tenv, stmt)
        elif what in ("DATABASE", "CATALOG"):
            raise ValidationError(f"CREATE {what} is not supported: nbstream has one catalog "
                                  "(default_catalog) and one database (default_database)")
        else:
            raise SqlParseError(f"SQL parse failed. CREATE {what} is not supported")
        return _ok()

    def drop(self, stmt: str, words: List[str]) -> TableResult:
        m = re.match(r"^\s*DROP\s+(TEMPORARY\s+)?(SYSTEM\s+)?(TABLE|VIEW|FUNCTION)\s+"
                     r"(IF\s+EXISTS\s+)?(\S+)\s*$", stmt, re.IGNORECASE)
        if m is None:
            raise SqlParseError(f"SQL parse failed. DROP TABLE|VIEW|FUNCTION name: {stmt[:60]}")
        kind, if_exists, name = m.group(3).upper(), bool(m.group(4)), m.group(5)
        if kind == "FUNCTION":
            if not self.tenv._catalog.functions.remove(strip_path(name)) and not if_exists:
                raise ValidationError(f"Function '{name}' does not exist")
        else:
            self.tenv._catalog.drop(name, if_exists, view=kind == "VIEW")
        return _ok()

    def alter(self, stmt: str) -> TableResult:
        m = re.match(r"^\s*ALTER\s+(TABLE|VIEW)\s+(\S+)\s+RENAME\s+TO\s+(\S+)\s*$", stmt,
                     re.IGNORECASE)
        if m is None:
            raise ValidationError("ALTER supports only ALTER TABLE/VIEW ... RENAME TO ...")
        catalog = self.tenv._catalog
        entry = catalog.get(m.group(2))
        catalog.drop(m.group(2))
        entry.name = strip_path(m.group(3))
        catalog.add(m.group(3), entry)
        return _ok()

    # -- SHOW / DESCRIBE / SET ----------------------------------------------------------------------
    def show(self, stmt: str, words: List[str]) -> TableResult:
        what = " ".join(words[1:3])
        tenv = self.tenv
        if words[1:2] == ["TABLES"]:
            return _list_result("table name", tenv.list_tables())
        if words[1:2] == ["VIEWS"]:
            return _list_result("view name", tenv.list_views())
        if words[1:3] == ["USER", "FUNCTIONS"]:
            return _list_result("function name", tenv.list_user_defined_functions())
        if words[1:2] == ["FUNCTIONS"]:
            return _list_result("function name", tenv.list_functions())
        if words[1:2] == ["CATALOGS"]:
            return _list_result("catalog name", tenv.list_catalogs())
        if words[1:2] == ["DATABASES"]:
            return _list_result("database name", tenv.list_databases())
        if words[1:3] == ["CURRENT", "CATALOG"]:
            return _list_result("current catalog name", ["default_catalog"])
        if words[1:3] == ["CURRENT", "DATABASE"]:
            return _list_result("current database name", ["default_database"])
        if words[1:2] == ["MODULES"]:
            return _list_result("module name", ["core"])
        if words[1:3] == ["CREATE", "TABLE"] or words[1:3] == ["CREATE", "VIEW"]:
            from .ddl import show_create
            name = stmt.split()[-1]
            text = show_create(tenv, name)
            return _rows_result(["result"], [DataTypes.STRING()], [(text,)], fit=True)
        if words[1:2] == ["COLUMNS"]:
            name = stmt.split()[-1]
            return self.describe(name)
        raise ValidationError(f"SHOW {what} is not supported")

    def describe(self, name: str) -> TableResult:
        from .ddl import describe
        names, types, rows = describe(self.tenv, name.strip())
        return _rows_result(names, types, rows)

    def set(self, stmt: str) -> TableResult:
        m = re.match(r"^\s*SET\s+'([^']*)'\s*=\s*'([^']*)'\s*$", stmt, re.IGNORECASE | re.DOTALL)
        if m is None:
            m2 = re.match(r"^\s*SET\s+([\w.\-]+)\s*=\s*(.+?)\s*$", stmt, re.IGNORECASE)
            if m2 is None:
                if re.match(r"^\s*SET\s*$", stmt, re.IGNORECASE):
                    items = sorted(self.tenv.get_config().to_dict().items())
                    return _rows_result(["key", "value"], [DataTypes.STRING(), DataTypes.STRING()],
                                        items)
                raise SqlParseError("SQL parse failed. SET 'key' = 'value'")
            key, value = m2.group(1), m2.group(2).strip("'")
        else:
            key, value = m.group(1), m.group(2)
        self.tenv.get_config().set(key, value)
        return _ok()


def create_view_node(runner: SqlRunner, query: str) -> RelNode:
    return runner.query(query)


def _ok() -> TableResult:
    return TableResult(["result"], [DataTypes.STRING()], ResultKind.SUCCESS, rows=[(0, "OK")],
                       streaming=False, ok_only=True)


def _list_result(column: str, names: List[str]) -> TableResult:
    return _rows_result([column], [DataTypes.STRING()], [(n,) for n in names])


def _rows_result(names: List[str], types: List[Any], rows: List[tuple],
                 fit: bool = False) -> TableResult:
    result = TableResult(names, types, ResultKind.SUCCESS_WITH_CONTENT,
                         rows=[(0,) + tuple(r) for r in rows], streaming=False)
    result._by_data = True
    return result


