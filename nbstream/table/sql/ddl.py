"""CREATE TABLE / VIEW / FUNCTION, DESCRIBE and SHOW CREATE TABLE.

CREATE TABLE's column list (physical and computed columns, metadata columns,
``WATERMARK FOR ts AS ...``, ``PRIMARY KEY (...) NOT ENFORCED``) and its ``WITH (...)``
options are read here; the types with :func:`~nbstream.table.types.parse_type` and the
expressions with the SQL parser.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from ..catalog import CatalogTable, CatalogView, strip_path
from ..schema import Schema, SchemaColumn, WatermarkSpec
from ..types import DataType, DataTypes, ValidationError, parse_type
from .dialect import SqlParseError, caret

if TYPE_CHECKING:  # pragma: no cover
    from ..environment import TableEnvironment

__all__ = ["create_table", "create_view", "create_function", "describe", "show_create",
           "split_top", "matching_paren"]

_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)(?:\.(?:`(?:[^`]|``)+`|[\w$]+))*"


def matching_paren(text: str, open_at: int) -> int:
    """The index of the ``)`` closing the ``(`` at ``open_at`` (quotes respected)."""
    depth, i, quote = 0, open_at, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", "`"):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    line, column, shown = caret(text, open_at)
    raise SqlParseError(f"SQL parse failed. The '(' at line {line}, column {column} is not "
                        f"closed.\n{shown}", line, column)


def split_top(text: str, sep: str = ",") -> List[str]:
    """``text`` split at top-level ``sep`` (not inside parentheses, <> or quotes)."""
    out, cur, depth, quote = [], [], 0, None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in ("'", "`"):
            quote = ch
        elif ch in "(<":
            depth += 1
        elif ch in ")>":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _unquote(name: str) -> str:
    name = name.strip()
    if name.startswith("`") and name.endswith("`"):
        return name[1:-1].replace("``", "`")
    return name


def _string(text: str) -> str:
    text = text.strip()
    if not (text.startswith("'") and text.endswith("'")):
        raise SqlParseError(f"SQL parse failed. Expected a quoted string, found {text!r}")
    return text[1:-1].replace("''", "'")


def _options(text: str) -> dict:
    out = {}
    for item in split_top(text):
        m = re.match(r"^\s*('(?:[^']|'')*')\s*=\s*('(?:[^']|'')*')\s*$", item, re.DOTALL)
        if m is None:
            raise SqlParseError(f"SQL parse failed. Options are 'key' = 'value', not {item!r}")
        out[_string(m.group(1))] = _string(m.group(2))
    return out


_CREATE_TABLE = re.compile(rf"^\s*CREATE\s+(TEMPORARY\s+)?TABLE\s+(IF\s+NOT\s+EXISTS\s+)?({_NAME})\s*",
                           re.IGNORECASE)


def create_table(tenv: "TableEnvironment", stmt: str) -> None:
    m = _CREATE_TABLE.match(stmt)
    if m is None:
        raise SqlParseError(f"SQL parse failed. CREATE TABLE name (...) WITH (...): {stmt[:80]}")
    temporary, if_not_exists, name = bool(m.group(1)), bool(m.group(2)), m.group(3)
    pos = m.end()
    schema = Schema()
    if pos < len(stmt) and stmt[pos] == "(":
        close = matching_paren(stmt, pos)
        for element in split_top(stmt[pos + 1:close]):
            _element(schema, element)
        pos = close + 1
    rest = stmt[pos:]
    comment = None
    partition: List[str] = []
    options: dict = {}
    while rest.strip():
        r = rest.lstrip()
        cm = re.match(r"^COMMENT\s+('(?:[^']|'')*')", r, re.IGNORECASE)
        pm = re.match(r"^PARTITIONED\s+BY\s*\(", r, re.IGNORECASE)
        wm = re.match(r"^WITH\s*\(", r, re.IGNORECASE)
        lm = re.match(r"^LIKE\s+", r, re.IGNORECASE)
        if cm:
            comment = _string(cm.group(1))
            rest = r[cm.end():]
        elif pm:
            close = matching_paren(r, pm.end() - 1)
            partition = [_unquote(c) for c in split_top(r[pm.end():close])]
            rest = r[close + 1:]
        elif wm:
            close = matching_paren(r, wm.end() - 1)
            options = _options(r[wm.end():close])
            rest = r[close + 1:]
        elif lm:
            raise ValidationError("CREATE TABLE ... LIKE is not supported yet")
        else:
            offset = len(stmt) - len(r)
            line, column, shown = caret(stmt, offset)
            raise SqlParseError(f"SQL parse failed. Encountered \"{r.split()[0]}\" at line "
                                f"{line}, column {column}.\n{shown}", line, column)
    if not schema.columns:
        raise ValidationError(f"the table {name} needs columns")
    table = CatalogTable(strip_path(name), schema, options, partition, comment, temporary)
    tenv._catalog.add(name, table, if_not_exists=if_not_exists)


def _element(schema: Schema, element: str) -> None:
    m = re.match(r"^WATERMARK\s+FOR\s+(" + _NAME + r")\s+AS\s+(.+)$", element,
                 re.IGNORECASE | re.DOTALL)
    if m:
        schema.watermark = WatermarkSpec(_unquote(m.group(1)), m.group(2).strip())
        return
    m = re.match(r"^(CONSTRAINT\s+" + _NAME + r"\s+)?PRIMARY\s+KEY\s*\(([^)]*)\)\s*(NOT\s+ENFORCED)?\s*$",
                 element, re.IGNORECASE)
    if m:
        if not m.group(3):
            raise ValidationError("Flink doesn't support ENFORCED mode for PRIMARY KEY "
                                  "constraint. ENFORCED/NOT ENFORCED controls if the "
                                  "constraint checks are performed on the incoming/outgoing "
                                  "data. Flink does not own the data therefore the only "
                                  "supported mode is the NOT ENFORCED mode")
        schema.primary_key = [_unquote(c) for c in split_top(m.group(2))]
        return
    m = re.match(r"^(" + _NAME + r")\s+(.*)$", element, re.DOTALL)
    if m is None:
        raise SqlParseError(f"SQL parse failed. Cannot read the column {element!r}")
    name, body = _unquote(m.group(1)), m.group(2).strip()
    comment = None
    cm = re.search(r"\s+COMMENT\s+('(?:[^']|'')*')\s*$", body, re.IGNORECASE)
    if cm:
        comment = _string(cm.group(1))
        body = body[:cm.start()].strip()
    am = re.match(r"^AS\s+(.+)$", body, re.IGNORECASE | re.DOTALL)
    if am:
        schema.columns.append(SchemaColumn(name, expression=am.group(1).strip(), comment=comment))
        return
    key = False
    km = re.search(r"\s+PRIMARY\s+KEY(\s+NOT\s+ENFORCED)?\s*$", body, re.IGNORECASE)
    if km:
        key = True
        body = body[:km.start()].strip()
    metadata: Optional[str] = None
    virtual = False
    mm = re.search(r"\s+METADATA(\s+FROM\s+('(?:[^']|'')*'))?(\s+VIRTUAL)?\s*$", body, re.IGNORECASE)
    if mm:
        metadata = _string(mm.group(2)) if mm.group(2) else name
        virtual = bool(mm.group(3))
        body = body[:mm.start()].strip()
    data_type = parse_type(body)
    schema.columns.append(SchemaColumn(name, data_type, metadata=metadata, virtual=virtual,
                                       comment=comment))
    if key:
        schema.primary_key = [name]


_CREATE_VIEW = re.compile(rf"^\s*CREATE\s+(TEMPORARY\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?({_NAME})"
                          r"\s*(\(([^)]*)\))?\s+AS\s+(.+)$", re.IGNORECASE | re.DOTALL)


def create_view(runner: Any, stmt: str) -> None:
    m = _CREATE_VIEW.match(stmt)
    if m is None:
        raise SqlParseError(f"SQL parse failed. CREATE VIEW name AS query: {stmt[:80]}")
    name, query = m.group(3), m.group(6)
    node = runner.query(query)
    if m.group(5):
        from .convert import _rename
        node = _rename(node, [_unquote(c) for c in split_top(m.group(5))])
    runner.tenv._catalog.add(name, CatalogView(strip_path(name), node, query=query,
                                               temporary=bool(m.group(1))),
                             if_not_exists=bool(m.group(2)), what="View")


_CREATE_FUNCTION = re.compile(rf"^\s*CREATE\s+(TEMPORARY\s+)?(SYSTEM\s+)?FUNCTION\s+"
                              rf"(IF\s+NOT\s+EXISTS\s+)?({_NAME})\s+AS\s+('(?:[^']|'')*')"
                              r"(\s+LANGUAGE\s+(\w+))?\s*$", re.IGNORECASE)


def create_function(tenv: "TableEnvironment", stmt: str) -> None:
    m = _CREATE_FUNCTION.match(stmt)
    if m is None:
        raise SqlParseError("SQL parse failed. CREATE FUNCTION name AS 'module.function' "
                            "LANGUAGE PYTHON")
    language = (m.group(7) or "JAVA").upper()
    if language != "PYTHON":
        raise ValidationError(f"CREATE FUNCTION ... LANGUAGE {language}: nbstream runs Python "
                              "functions only (LANGUAGE PYTHON)")
    name = strip_path(m.group(4))
    if m.group(3) and tenv._catalog.functions._find("scalars", name):
        return
    tenv._register_function(name, _string(m.group(5)))


# -- DESCRIBE / SHOW CREATE --------------------------------------------------------------------------
def describe(tenv: "TableEnvironment", name: str) -> Tuple[List[str], List[DataType], List[tuple]]:
    """DESCRIBE's rows: name, type, null, key, extras, watermark."""
    name = re.sub(r"^\s*(EXTENDED\s+)?", "", name, flags=re.IGNORECASE).strip()
    entry = tenv._catalog.get(name)
    string = DataTypes.STRING()
    names = ["name", "type", "null", "key", "extras", "watermark"]
    types: List[DataType] = [string, string, DataTypes.BOOLEAN(False), string, string, string]
    rows = []
    if isinstance(entry, CatalogTable):
        schema = entry.schema
        plan = tenv._scan(name)
        for i, c in enumerate(schema.columns):
            t = plan.types[i]
            key = f"PRI({', '.join(schema.primary_key)})" if c.name in schema.primary_key else None
            extras = None
            if c.expression is not None:
                extras = f"AS {_quote_columns(c.expression, [x.name for x in schema.columns])}"
            elif c.metadata is not None:
                extras = "METADATA" + (f" FROM '{c.metadata}'" if c.metadata != c.name else "") \
                    + (" VIRTUAL" if c.virtual else "")
            wm = None
            if schema.watermark is not None and schema.watermark.column == c.name:
                wm = _quote_columns(schema.watermark.expression, [x.name for x in schema.columns])
            nullable = t.nullable and c.name not in schema.primary_key
            rows.append((c.name, t.summary_string(), nullable, key, extras, wm))
    else:
        node = entry.node
        for n, t in zip(node.names, node.types):
            rows.append((n, t.summary_string(), t.nullable, None, None, None))
    return names, types, rows


def _quote_columns(expr: Any, columns: List[str]) -> str:
    """An expression as Flink shows it in DESCRIBE: column names in backticks."""
    text = str(expr)
    for c in sorted(columns, key=len, reverse=True):
        text = re.sub(rf"(?<![`\w']){re.escape(c)}(?![`\w'])", f"`{c}`", text)
    return text


def show_create(tenv: "TableEnvironment", name: str) -> str:
    entry = tenv._catalog.get(name)
    key = strip_path(name)
    if isinstance(entry, CatalogView):
        return f"CREATE TEMPORARY VIEW `default_catalog`.`default_database`.`{key}` AS\n{entry.query}"
    lines = []
    cols = [c.name for c in entry.schema.columns]
    for c in entry.schema.columns:
        if c.expression is not None:
            lines.append(f"  `{c.name}` AS {_quote_columns(c.expression, cols)}")
        else:
            lines.append(f"  `{c.name}` {c.data_type.summary_string()}")
    wm = entry.schema.watermark
    if wm is not None:
        lines.append(f"  WATERMARK FOR `{wm.column}` AS {_quote_columns(wm.expression, cols)}")
    if entry.schema.primary_key:
        keys = ", ".join(f"`{k}`" for k in entry.schema.primary_key)
        lines.append(f"  CONSTRAINT `PK_{'_'.join(entry.schema.primary_key)}` PRIMARY KEY ({keys}) "
                     "NOT ENFORCED")
    opts = ",\n".join(f"  '{k}' = '{v}'" for k, v in entry.options.items())
    kind = "TEMPORARY TABLE" if entry.temporary else "TABLE"
    return (f"CREATE {kind} `default_catalog`.`default_database`.`{key}` (\n"
            + ",\n".join(lines) + f"\n) WITH (\n{opts}\n)\n")
