"""A small TOML reader for Pythons without ``tomllib`` (3.10: Blender 3.4 to 4.0's own Python).

``occpose.configio`` uses the standard library's ``tomllib`` whenever it exists and this module
only otherwise, so that the Blender add-on can read presets inside the official Blender 3.4 to
4.0 builds, which bundle Python 3.10 and numpy but no TOML reader. It reads the TOML that presets
use and a little more:

* comments, bare and quoted keys, dotted keys (``a.b = 1``), ``[table]``, ``[[array.of.tables]]``;
* basic strings with the TOML escapes, literal strings, multi-line basic and literal strings;
* integers (decimal with ``_``, ``0x``/``0o``/``0b``), floats (exponents, ``inf``, ``nan``),
  booleans, arrays (nested, over several lines, trailing comma), inline tables.

Dates and times are not supported; like every syntax error they raise :class:`TOMLDecodeError`
naming the line. Redefining a key or a table is an error, as in TOML. ``loads`` returns the same
dicts and lists as ``tomllib.loads`` for everything it accepts (tested against ``tomllib``).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["TOMLDecodeError", "loads"]


class TOMLDecodeError(ValueError):
    """Malformed or unsupported TOML (the message names the line)."""


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_NUMBER = re.compile(r"[+-]?[0-9A-Za-z_.+-]+")
_DEC_INT = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)")
_PREFIXED = {"0x": (16, re.compile(r"0x[0-9A-Fa-f](_?[0-9A-Fa-f])*")),
             "0o": (8, re.compile(r"0o[0-7](_?[0-7])*")),
             "0b": (2, re.compile(r"0b[01](_?[01])*"))}
_FLOAT = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def loads(text: str) -> dict:
    """Parse a TOML document into dicts, lists and scalars (like ``tomllib.loads``)."""
    if not isinstance(text, str):
        raise TypeError("loads() expects a str")
    return _Parser(text).document()


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text.replace("\r\n", "\n")
        self.i = 0
        self.root: dict = {}
        self.defined: set[int] = set()  # ids of tables made by a [header] or a key = {inline}
        self.frozen: set[int] = set()  # ids of inline tables and static arrays (never extended)

    # ---- errors and low-level scanning -----------------------------------------------------

    def error(self, what: str) -> TOMLDecodeError:
        line = self.s.count("\n", 0, self.i) + 1
        return TOMLDecodeError(f"{what} (at line {line})")

    def peek(self, n: int = 1) -> str:
        return self.s[self.i:self.i + n]

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def skip_comment(self) -> None:
        if self.peek() == "#":
            end = self.s.find("\n", self.i)
            self.i = len(self.s) if end < 0 else end

    def skip_blank(self) -> None:
        """Whitespace, newlines and comments (inside arrays)."""
        while True:
            self.skip_ws()
            self.skip_comment()
            if self.peek() == "\n":
                self.i += 1
            else:
                return

    def end_of_line(self) -> None:
        self.skip_ws()
        self.skip_comment()
        if self.i < len(self.s):
            if self.peek() != "\n":
                raise self.error(f"expected the end of the line, found {self.peek()!r}")
            self.i += 1

    # ---- document structure ----------------------------------------------------------------

    def document(self) -> dict:
        table = self.root
        while True:
            self.skip_blank()
            if self.i >= len(self.s):
                return self.root
            if self.peek(2) == "[[":
                self.i += 2
                path = self.key_path("]]")
                table = self.append_table(path)
            elif self.peek() == "[":
                self.i += 1
                path = self.key_path("]")
                table = self.open_table(path)
            else:
                self.key_value(table)
            self.end_of_line()

    def key_path(self, close: str) -> list[str]:
        self.skip_ws()
        path = self.key()
        self.skip_ws()
        if self.peek(len(close)) != close:
            raise self.error(f"expected {close!r} after the table name")
        self.i += len(close)
        return path

    def descend(self, table: dict, path: list[str]) -> dict:
        """The table at ``path`` below ``table`` (created implicitly; arrays give their last)."""
        for k in path:
            node = table.setdefault(k, {})
            if isinstance(node, list) and id(node) not in self.frozen:
                node = node[-1]
            if not isinstance(node, dict) or id(node) in self.frozen:
                raise self.error(f"key {k!r} is already a value, not a table")
            table = node
        return table

    def open_table(self, path: list[str]) -> dict:
        parent = self.descend(self.root, path[:-1])
        node = parent.setdefault(path[-1], {})
        if not isinstance(node, dict) or id(node) in self.defined or id(node) in self.frozen:
            raise self.error(f"table [{'.'.join(path)}] is defined twice")
        self.defined.add(id(node))
        return node

    def append_table(self, path: list[str]) -> dict:
        parent = self.descend(self.root, path[:-1])
        array = parent.setdefault(path[-1], [])
        if not isinstance(array, list) or id(array) in self.frozen:
            raise self.error(f"[[{'.'.join(path)}]]: {path[-1]!r} is already a value")
        node: dict = {}
        array.append(node)
        self.defined.add(id(node))
        return node

    def key_value(self, table: dict) -> None:
        path = self.key()
        self.skip_ws()
        if self.peek() != "=":
            raise self.error(f"expected '=' after the key {'.'.join(path)!r}")
        self.i += 1
        self.skip_ws()
        value = self.value()
        target = self.descend(table, path[:-1])
        if path[-1] in target:
            raise self.error(f"key {'.'.join(path)!r} is defined twice")
        target[path[-1]] = value

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_ws()
            c = self.peek()
            if c == '"':
                parts.append(self.basic_string())
            elif c == "'":
                parts.append(self.literal_string())
            else:
                m = _BARE_KEY.match(self.s, self.i)
                if not m:
                    raise self.error(f"expected a key, found {c!r}" if c else "expected a key")
                parts.append(m.group())
                self.i = m.end()
            self.skip_ws()
            if self.peek() != ".":
                return parts
            self.i += 1

    # ---- values ----------------------------------------------------------------------------

    def value(self) -> Any:
        c = self.peek()
        if self.peek(3) == '"""':
            return self.multiline_string('"""')
        if self.peek(3) == "'''":
            return self.multiline_string("'''")
        if c == '"':
            return self.basic_string()
        if c == "'":
            return self.literal_string()
        if c == "[":
            return self.array()
        if c == "{":
            return self.inline_table()
        for word, val in (("true", True), ("false", False)):
            if self.s.startswith(word, self.i):
                self.i += len(word)
                return val
        return self.number()

    def number(self) -> int | float:
        m = _NUMBER.match(self.s, self.i)
        if not m:
            raise self.error(f"expected a value, found {self.peek()!r}" if self.peek() else "expected a value")
        word = m.group()
        self.i = m.end()
        sign = -1.0 if word.startswith("-") else 1.0
        if word.lstrip("+-") in ("inf", "nan"):
            return sign * (math.inf if word.lstrip("+-") == "inf" else math.nan)
        prefixed = _PREFIXED.get(word[:2])
        if prefixed and prefixed[1].fullmatch(word):
            return int(word[2:].replace("_", ""), prefixed[0])
        if _DEC_INT.fullmatch(word):
            return int(word.replace("_", ""))
        if _FLOAT.fullmatch(word):
            return float(word.replace("_", ""))
        raise self.error(f"invalid or unsupported value {word!r} (dates and times are not supported)")

    def basic_string(self) -> str:
        self.i += 1
        out = []
        while True:
            if self.i >= len(self.s) or self.peek() == "\n":
                raise self.error("unterminated string")
            c = self.s[self.i]
            self.i += 1
            if c == '"':
                return "".join(out)
            out.append(self.escape() if c == "\\" else c)

    def escape(self) -> str:
        c = self.peek()
        if c in _ESCAPES:
            self.i += 1
            return _ESCAPES[c]
        if c in "uU":
            n = 4 if c == "u" else 8
            digits = self.s[self.i + 1:self.i + 1 + n]
            if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise self.error(f"invalid \\{c} escape")
            self.i += 1 + n
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise self.error(f"invalid unicode escape \\{c}{digits}")
            return chr(code)
        raise self.error(f"invalid escape \\{c}")

    def literal_string(self) -> str:
        end = self.s.find("'", self.i + 1)
        newline = self.s.find("\n", self.i + 1)
        if end < 0 or 0 <= newline < end:
            raise self.error("unterminated string")
        text = self.s[self.i + 1:end]
        self.i = end + 1
        return text

    def multiline_string(self, quote: str) -> str:
        self.i += 3
        if self.peek() == "\n":  # a newline right after the opening quotes is trimmed
            self.i += 1
        out = []
        while True:
            if self.i >= len(self.s):
                raise self.error("unterminated multi-line string")
            if self.s.startswith(quote, self.i):
                extra = 0  # up to two quotes right before the closing ones belong to the string
                while extra < 2 and self.s.startswith(quote[0], self.i + 3 + extra):
                    extra += 1
                out.append(quote[0] * extra)
                self.i += 3 + extra
                return "".join(out)
            c = self.s[self.i]
            self.i += 1
            if c == "\\" and quote == '"""':
                rest = self.s[self.i:]
                stripped = rest.lstrip(" \t")
                if stripped.startswith("\n"):  # line-ending backslash: trim the whitespace
                    self.i += len(rest) - len(stripped)
                    while self.i < len(self.s) and self.s[self.i] in " \t\n":
                        self.i += 1
                    continue
                out.append(self.escape())
            else:
                out.append(c)

    def array(self) -> list:
        self.i += 1
        out: list = []
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.i += 1
                break
            out.append(self.value())
            self.skip_blank()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() == "]":
                self.i += 1
                break
            else:
                raise self.error("expected ',' or ']' in an array")
        self.frozen.add(id(out))
        return out

    def inline_table(self) -> dict:
        self.i += 1
        out: dict = {}
        self.skip_ws()
        if self.peek() == "}":
            self.i += 1
            self.frozen.add(id(out))
            return out
        while True:
            self.skip_ws()
            self.key_value(out)
            self.skip_ws()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() == "}":
                self.i += 1
                break
            else:
                raise self.error("expected ',' or '}' in an inline table")
        self.frozen.add(id(out))
        return out
