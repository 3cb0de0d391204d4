"""Flink SQL's dialect on sqlglot (a maintained SQL parser): backtick identifiers, window
table functions (``TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTES))``),
``JSON_VALUE(... RETURNING type)``, every other function call kept as written (one
uniform node, resolved by nbstream's function registry), and syntax errors that point at
line and column with a caret.

sqlglot was chosen because it is maintained, pure Python, fast enough to parse a
statement in well under a millisecond, and built to be extended per dialect (tokenizer
and parser are classes); Flink's own grammar (Calcite's JavaCC) has no Python port.

>>> q = parse_query("SELECT `user`, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), "
...                 "INTERVAL '1' MINUTE)) GROUP BY `user`")
>>> type(q).__name__
'Select'
"""

from __future__ import annotations

from typing import Any, List, Optional

from ..types import ValidationError

__all__ = ["SqlParseError", "parse_query", "parse_expression_ast", "tokenize", "caret",
           "TableFunction", "UNSUPPORTED"]

#: features refused by name (matched on the statement's keywords)
UNSUPPORTED = {
    "MATCH_RECOGNIZE": "MATCH_RECOGNIZE (complex event processing)",
    "TABLESAMPLE": "TABLESAMPLE",
}


class SqlParseError(ValidationError):
    """A statement that does not parse: the message names line and column and shows the
    line with a caret under the place."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def caret(sql: str, offset: int) -> tuple:
    """(line, column, the line's text with a caret line under it) of character ``offset``."""
    offset = max(0, min(offset, len(sql)))
    before = sql[:offset]
    line = before.count("\n") + 1
    start = before.rfind("\n") + 1
    end = sql.find("\n", offset)
    text = sql[start:end if end >= 0 else len(sql)]
    column = offset - start + 1
    return line, column, f"{text}\n{' ' * (column - 1)}^"


def _sqlglot() -> Any:
    import sqlglot  # noqa: F401  (imported on first SQL use: import nbstream stays fast)
    from sqlglot import exp, parser, tokens
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType
    return exp, parser, tokens, Dialect, TokenType


_DIALECT: Any = None


class TableFunction:  # replaced by the sqlglot expression class when the dialect is built
    pass


def _build() -> Any:
    global _DIALECT, TableFunction
    if _DIALECT is not None:
        return _DIALECT
    exp, parser, tokens, Dialect, TokenType = _sqlglot()

    class _TableFunction(exp.Expression):
        """``TABLE(name(args))`` in FROM: a table-valued function (window TVFs)."""
        arg_types = {"this": True, "expressions": False, "alias": False}

    class _TableArg(exp.Expression):
        """``TABLE t [PARTITION BY k, ...]`` as an argument of a table function."""
        arg_types = {"this": True, "partition_by": False}

    class _JsonValue(exp.Expression):
        arg_types = {"this": True, "path": True, "returning": False}

    class FlinkParser(parser.Parser):
        FUNCTIONS: dict = {}
        FUNCTION_PARSERS = {k: v for k, v in parser.Parser.FUNCTION_PARSERS.items()
                            if k in ("CAST", "TRY_CAST", "EXTRACT", "TRIM", "SUBSTRING",
                                     "POSITION", "FLOOR", "CEIL", "OVERLAY")}
        FUNCTION_PARSERS["JSON_VALUE"] = lambda self: self._parse_flink_json_value()

        def raise_error(self, message: str, token: Any = None) -> None:
            token = token or self._curr or self._prev
            offset = token.start if token is not None else len(self.sql or "")
            sql = self.sql or ""
            line, column, shown = caret(sql, offset)
            text = token.text if token is not None else ""
            near = f'Encountered "{text}"' if text else "Encountered the end of the statement"
            raise SqlParseError(f"SQL parse failed. {near} at line {line}, column {column}: "
                                f"{message}.\n{shown}", line, column)

        def _parse_flink_json_value(self) -> Any:
            this = self._parse_bitwise()
            self._match(TokenType.COMMA)
            path = self._parse_bitwise()
            returning = None
            if self._match_text_seq("RETURNING"):
                returning = self._parse_types()
            while self._curr and self._curr.token_type != TokenType.R_PAREN:
                self._advance()  # ON EMPTY / ON ERROR clauses: NULL is the default
            return self.expression(_JsonValue(this=this, path=path, returning=returning))

        def _parse_table(self, schema: bool = False, joins: bool = False,
                         alias_tokens: Any = None, parse_bracket: bool = False,
                         is_db_reference: bool = False, parse_partition: bool = False,
                         consume_pipe: bool = False) -> Any:
            if (not schema and self._curr is not None and self._curr.token_type == TokenType.TABLE
                    and self._next is not None and self._next.token_type == TokenType.L_PAREN):
                self._advance(2)
                name = self._parse_id_var(any_token=True)
                args = self._parse_wrapped_csv(self._parse_table_function_arg)
                self._match_r_paren()
                node = self.expression(_TableFunction(this=name, expressions=args))
                alias = self._parse_table_alias(alias_tokens=alias_tokens or
                                                self.TABLE_ALIAS_TOKENS)
                if alias:
                    node.set("alias", alias)
                return node
            return super()._parse_table(schema, joins, alias_tokens, parse_bracket,
                                        is_db_reference, parse_partition, consume_pipe)

        def _parse_table_function_arg(self) -> Any:
            # named arguments (DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => ...)
            if self._curr is not None and self._next is not None and \
                    self._next.token_type == TokenType.FARROW:
                name = self._curr.text.upper()
                self._advance(2)
                return self.expression(exp.Kwarg(this=exp.var(name),
                                                 expression=self._parse_table_function_arg()))
            if self._curr is not None and self._curr.token_type == TokenType.TABLE:
                self._advance()
                table = self._parse_table_parts()
                partition = None
                if self._match(TokenType.PARTITION_BY):
                    if self._curr is not None and self._curr.token_type == TokenType.L_PAREN:
                        partition = self._parse_wrapped_csv(self._parse_column)
                    else:  # one column; several need parentheses
                        partition = [self._parse_column()]
                return self.expression(_TableArg(this=table, partition_by=partition))
            return self._parse_assignment()

    class FlinkTokenizer(tokens.Tokenizer):
        IDENTIFIERS = ["`"]
        QUOTES = ["'"]
        STRING_ESCAPES = ["'"]
        KEYWORDS = {**tokens.Tokenizer.KEYWORDS}

    class Flink(Dialect):
        Tokenizer = FlinkTokenizer
        Parser = FlinkParser

    TableFunction = _TableFunction  # type: ignore[misc]
    Flink.TableFunction = _TableFunction  # type: ignore[attr-defined]
    Flink.TableArg = _TableArg  # type: ignore[attr-defined]
    Flink.JsonValue = _JsonValue  # type: ignore[attr-defined]
    _DIALECT = Flink
    return Flink


def dialect() -> Any:
    return _build()


def tokenize(sql: str) -> List[Any]:
    d = _build()
    try:
        return d().tokenize(sql)
    except Exception as exc:  # a tokenizer error (an unclosed quote)
        raise SqlParseError(f"SQL parse failed. {exc}") from None


def check_supported(sql: str) -> None:
    """Refuse what nbstream does not build, by name."""
    upper = sql.upper()
    for word, what in UNSUPPORTED.items():
        if word in upper:
            for tok in tokenize(sql):
                if tok.text.upper() == word:
                    line, column, shown = caret(sql, tok.start)
                    raise ValidationError(f"{what} is not supported by nbstream "
                                          f"(line {line}, column {column}).\n{shown}")


def parse_query(sql: str) -> Any:
    """The sqlglot tree of one query (SELECT / VALUES / UNION ... / WITH)."""
    check_supported(sql)
    d = _build()
    trees = d().parse(sql)
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise SqlParseError(f"expected one statement, found {len(trees)}")
    return trees[0]


def parse_expression_ast(sql: str) -> Any:
    """The sqlglot tree of one expression (``a * 2``, ``ts - INTERVAL '5' SECOND``)."""
    d = _build()
    p = d().parser()
    toks = tokenize(sql)
    result = p.parse_into_expression_only(toks, sql) if hasattr(p, "parse_into_expression_only") \
        else None
    if result is None:
        exp = _sqlglot()[0]
        tree = d().parse(f"SELECT {sql}")[0]
        if not isinstance(tree, exp.Select) or len(tree.expressions) != 1 or \
                tree.args.get("from_") or tree.args.get("from"):
            raise SqlParseError(f"not one expression: {sql!r}")
        result = tree.expressions[0]
    return result


def statements(sql: str) -> List[str]:
    """The statements of a script, split at top-level semicolons (not in quotes or
    comments)."""
    out, cur = [], []
    i, n = 0, len(sql)
    quote: Optional[str] = None
    while i < n:
        ch = sql[i]
        if quote:
            cur.append(ch)
            if ch == quote:
                if i + 1 < n and sql[i + 1] == quote:
                    cur.append(sql[i + 1])
                    i += 1
                else:
                    quote = None
        elif ch in ("'", "`", '"'):
            quote = ch
            cur.append(ch)
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            continue
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        elif ch == ";":
            text = "".join(cur).strip()
            if text:
                out.append(text)
            cur = []
        else:
            cur.append(ch)
        i += 1
    text = "".join(cur).strip()
    if text:
        out.append(text)
    return out
