"""String built-ins, with Flink's positions (SUBSTRING, POSITION and arrays 1-based,
SPLIT_INDEX 0-based) and NULL rules (CONCAT NULL if any argument is, CONCAT_WS skips
NULLs)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, List, Optional

from ..rex import Call
from ..types import DataType, DataTypes, VarCharType
from . import BUILTINS, CallContext, ScalarFunctionDef, Strict, signature

STRING = DataTypes.STRING()
INT = DataTypes.INT()


def _strings(*fams: str, result: DataType = STRING) -> Any:
    return signature(*fams, result=result)


class Concat(ScalarFunctionDef):
    """``a || b`` and CONCAT(a, b, ...): NULL if any argument is NULL."""

    def __init__(self, name: str) -> None:
        self.name = name

    def coerce(self, ctx: CallContext) -> None:
        for i, t in enumerate(ctx.types):
            if not t.is_string:
                if t.root in ("BINARY", "VARBINARY"):
                    raise ctx.wrong_types(["CONCAT(<STRING>, ...)"])
                ctx.cast(i, STRING.copy(t.nullable))

    def infer(self, ctx: CallContext) -> DataType:
        if not ctx.types:
            raise ctx.wrong_types(["CONCAT(<STRING>, ...)"])
        return STRING.copy(ctx.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return gen.strict(call, args, lambda v: "(" + " + ".join(v) + ")")


BUILTINS.add(Concat("concat"), "||")


def _concat_ws(sep: Optional[str], *parts: Optional[str]) -> Optional[str]:
    if sep is None:
        return None
    return sep.join(p for p in parts if p is not None)


class ConcatWs(ScalarFunctionDef):
    name = "concat_ws"

    def coerce(self, ctx: CallContext) -> None:
        for i, t in enumerate(ctx.types):
            if not t.is_string:
                ctx.cast(i, STRING.copy(t.nullable))

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) < 2:
            raise ctx.wrong_types(["CONCAT_WS(<STRING>, <STRING>, ...)"])
        return STRING.copy(ctx.types[0].nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return f"{gen.bind(_concat_ws, 'f')}({', '.join(args)})"


BUILTINS.add(ConcatWs())

BUILTINS.add(Strict("upper", _strings("STRING"), template="{0}.upper()"), "upper_case")
BUILTINS.add(Strict("lower", _strings("STRING"), template="{0}.lower()"), "lower_case")
BUILTINS.add(Strict("char_length", _strings("STRING", result=INT), template="len({0})"),
             "character_length", "length")


def _substring(s: str, start: int, length: Optional[int] = None) -> Optional[str]:
    if length is not None and length < 0:
        return None
    begin = start - 1 if start > 0 else (len(s) + start if start < 0 else 0)
    begin = max(begin, 0)
    return s[begin:] if length is None else s[begin:begin + length]


BUILTINS.add(Strict("substring", lambda ts: STRING if len(ts) in (2, 3) and ts[0].is_string and all(
    t.is_integer or t.root == "NULL" for t in ts[1:]) else None, _substring,
    forms=["SUBSTRING(<STRING> FROM <INTEGER> [FOR <INTEGER>])"]), "substr")


def _trim(mode: str, chars: str, s: str) -> str:
    if mode == "BOTH":
        return s.strip(chars)
    if mode == "LEADING":
        return s.lstrip(chars)
    return s.rstrip(chars)


class Trim(ScalarFunctionDef):
    """TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) as operands ``s[, chars]`` with the
    mode in ``params``; LTRIM/RTRIM/BTRIM are its forms."""

    def __init__(self, name: str, mode: str) -> None:
        self.name, self.mode = name, mode

    def infer(self, ctx: CallContext) -> DataType:
        if not 1 <= len(ctx.types) <= 2 or not all(t.is_string or t.root == "NULL"
                                                   for t in ctx.types):
            raise ctx.wrong_types([f"{self.name.upper()}(<STRING>)"])
        return STRING.copy(ctx.nullable)

    def params(self, ctx: CallContext) -> tuple:
        return ()

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        mode = call.param("mode", self.mode)
        f = gen.bind(_trim, "f")
        if len(args) == 1:
            return gen.strict(call, args, lambda v: f"{f}({mode!r}, ' ', {v[0]})")
        return gen.strict(call, args, lambda v: f"{f}({mode!r}, {v[1]}, {v[0]})")


BUILTINS.add(Trim("trim", "BOTH"), "btrim")
BUILTINS.add(Trim("ltrim", "LEADING"), "trim_leading")
BUILTINS.add(Trim("rtrim", "TRAILING"), "trim_trailing")

BUILTINS.add(Strict("replace", _strings("STRING", "STRING", "STRING"),
                    lambda s, a, b: s.replace(a, b)))


def _position(needle: str, hay: str, start: int = 1) -> int:
    return hay.find(needle, max(start - 1, 0)) + 1


BUILTINS.add(Strict("position", lambda ts: INT if len(ts) in (2, 3) and ts[0].is_string
                    and ts[1].is_string else None, _position), "locate")


def _instr(hay: str, needle: str) -> int:
    return hay.find(needle) + 1


BUILTINS.add(Strict("instr", _strings("STRING", "STRING", result=INT), _instr))


def _lpad(s: str, n: int, pad: str) -> Optional[str]:
    if n < 0:
        return None
    if len(s) >= n:
        return s[:n]
    if not pad:
        return None
    fill = (pad * (n // len(pad) + 1))[:n - len(s)]
    return fill + s


def _rpad(s: str, n: int, pad: str) -> Optional[str]:
    if n < 0:
        return None
    if len(s) >= n:
        return s[:n]
    if not pad:
        return None
    return s + (pad * (n // len(pad) + 1))[:n - len(s)]


BUILTINS.add(Strict("lpad", _strings("STRING", "INTEGER", "STRING"), _lpad))
BUILTINS.add(Strict("rpad", _strings("STRING", "INTEGER", "STRING"), _rpad))


def _initcap(s: str) -> str:
    out, upper = [], True
    for ch in s:
        out.append(ch.upper() if upper else ch.lower())
        upper = not ch.isalnum()
    return "".join(out)


BUILTINS.add(Strict("initcap", _strings("STRING"), _initcap), "init_cap")


def _split_index(s: str, sep: str, i: int) -> Optional[str]:
    parts = s.split(sep) if sep else list(s)
    return parts[i] if 0 <= i < len(parts) else None


BUILTINS.add(Strict("split_index", _strings("STRING", "STRING", "INTEGER"), _split_index))


def _java_regex(pattern: str) -> "re.Pattern[str]":
    return re.compile(pattern)


def _regexp_extract(s: str, pattern: str, group: int = 1) -> Optional[str]:
    m = _java_regex(pattern).search(s)
    if m is None or group > (m.re.groups or 0):
        return None
    return m.group(group)


def _regexp_replace(s: str, pattern: str, repl: str) -> str:
    return _java_regex(pattern).sub(re.sub(r"\$(\d+)", r"\\\1", repl), s)


BUILTINS.add(Strict("regexp_extract", lambda ts: STRING if len(ts) in (2, 3) else None,
                    _regexp_extract))
BUILTINS.add(Strict("regexp_replace", _strings("STRING", "STRING", "STRING"), _regexp_replace))
BUILTINS.add(Strict("regexp", _strings("STRING", "STRING", result=DataTypes.BOOLEAN()),
                    lambda s, p: _java_regex(p).search(s) is not None))
BUILTINS.add(Strict("repeat", _strings("STRING", "INTEGER"), lambda s, n: s * max(n, 0)))
BUILTINS.add(Strict("reverse", _strings("STRING"), template="{0}[::-1]"))
BUILTINS.add(Strict("left", _strings("STRING", "INTEGER"), lambda s, n: s[:max(n, 0)]))
BUILTINS.add(Strict("right", _strings("STRING", "INTEGER"),
                    lambda s, n: s[len(s) - n:] if n > 0 else ""))
BUILTINS.add(Strict("ascii", _strings("STRING", result=INT), lambda s: ord(s[0]) if s else 0))
BUILTINS.add(Strict("chr", _strings("INTEGER"), lambda n: chr(n % 256)))
BUILTINS.add(Strict("md5", _strings("STRING"), lambda s: hashlib.md5(s.encode()).hexdigest()))
BUILTINS.add(Strict("sha1", _strings("STRING"), lambda s: hashlib.sha1(s.encode()).hexdigest()))
BUILTINS.add(Strict("sha256", _strings("STRING"),
                    lambda s: hashlib.sha256(s.encode()).hexdigest()))
BUILTINS.add(Strict("to_base64", _strings("STRING"),
                    lambda s: base64.b64encode(s.encode()).decode()))
BUILTINS.add(Strict("from_base64", _strings("STRING"),
                    lambda s: base64.b64decode(s.encode()).decode()))


# -- JSON -------------------------------------------------------------------------------------------
_PATH_TOKEN = re.compile(r"\.([A-Za-z_$][\w$]*)|\['([^']*)'\]|\[(\d+)\]")


def json_path(path: str) -> List[Any]:
    """The steps of a JSON path ``$.a.b[0]`` (keys and indexes)."""
    if not path.startswith("$"):
        raise ValueError(f"Illegal JSON path: {path!r}")
    steps: List[Any] = []
    pos = 1
    rest = path.strip()[1:]
    for m in _PATH_TOKEN.finditer(rest):
        steps.append(m.group(1) if m.group(1) is not None else
                     m.group(2) if m.group(2) is not None else int(m.group(3)))
        pos = m.end()
    if pos - 1 > len(rest) or (rest and pos == 1 and not steps):
        raise ValueError(f"Illegal JSON path: {path!r}")
    return steps


def _lookup(doc: Any, steps: List[Any]) -> Any:
    for s in steps:
        if isinstance(s, int):
            if not isinstance(doc, list) or s >= len(doc):
                return _MISSING
            doc = doc[s]
        else:
            if not isinstance(doc, dict) or s not in doc:
                return _MISSING
            doc = doc[s]
    return doc


_MISSING = object()


def json_value(s: str, path: str) -> Optional[str]:
    """JSON_VALUE: the scalar at ``path`` as a string, NULL when it is missing or not
    a scalar (Flink's NULL ON EMPTY / NULL ON ERROR)."""
    try:
        doc = json.loads(s)
        v = _lookup(doc, json_path(path))
    except (ValueError, TypeError):
        return None
    if v is _MISSING or v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v) if not isinstance(v, float) else repr(v)


class JsonValue(ScalarFunctionDef):
    """JSON_VALUE(s, path [RETURNING type]): the target type in ``params``."""

    name = "json_value"

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) < 2 or not ctx.types[0].is_string or not ctx.types[1].is_string:
            raise ctx.wrong_types(["JSON_VALUE(<STRING>, <STRING>)"])
        return STRING

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        f = gen.bind(json_value, "f")
        code = gen.strict(call, args[:2], lambda v: f"{f}({v[0]}, {v[1]})")
        if call.type.root in ("VARCHAR", "CHAR"):
            return code
        from .cast import Caster, _try
        c = gen.bind(Caster(VarCharType(), call.type, gen.zone), "cast")
        t = gen.temp()
        return f"(None if ({t} := {code}) is None else {gen.bind(_try, 'f')}({c}, {t}))"


BUILTINS.add(JsonValue())


def _json_exists(s: str, path: str) -> bool:
    try:
        return _lookup(json.loads(s), json_path(path)) is not _MISSING
    except (ValueError, TypeError):
        return False


BUILTINS.add(Strict("json_exists", _strings("STRING", "STRING", result=DataTypes.BOOLEAN()),
                    _json_exists))


def _is_json(s: str) -> bool:
    try:
        json.loads(s)
        return True
    except ValueError:
        return False


BUILTINS.add(Strict("is_json", lambda ts: DataTypes.BOOLEAN(False) if ts and ts[0].is_string
                    else None, _is_json))


def _json_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


BUILTINS.add(Strict("json_quote", _strings("STRING"), _json_quote))
