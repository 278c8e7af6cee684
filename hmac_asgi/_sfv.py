"""RFC 8941 Structured Field Values: a strict parser and serializer, standard library only.

It parses one field value as an Item, a List or a Dictionary (RFC 8941 section 4.2)
and serializes them back (section 4.1), so that RFC 9421 ``Signature-Input`` and
``Signature`` members, ``@signature-params`` and component identifiers are read and
re-written exactly. Parsed values are plain Python:

- bare items: ``int`` (Integer), ``float`` (Decimal), ``str`` (String), `Token` (a
  ``str`` subclass), ``bytes`` (Byte Sequence), ``bool`` (Boolean). Beware when
  comparing: ``Token("a") == "a"``, ``True == 1`` and ``1.0 == 1``;
- ``Params`` is an ordered ``dict``; an Item is ``(bare_item, params)``, an Inner List
  ``([item, ...], params)``; a List is a ``list`` of both, a Dictionary a ``dict``.

Input is a ``str`` that the caller decoded from header bytes as latin-1: any character
that is not ASCII fails. Several field lines are one value: join them with ``", "``
first (`combine`). A Decimal parses to a ``float`` (at most 15 significant digits: it
comes back exactly), and a ``float`` serializes from its shortest ``repr``, rounded
half-even to three fractional digits (``0.0025`` gives ``0.002``).

What it does not do: RFC 9651's Date (``@``) and Display String (``%``) fail, as RFC
8941 has neither; it knows no particular field (which keys, which types: the caller
checks); it has no size limit beyond the RFC's number lengths (bound the field first).
Failures raise `StructuredFieldError`, naming a position and a character class, never
echoing the input.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import TypeAlias, TypeVar, Union

__all__ = [
    "BareItem", "InnerList", "Item", "Params", "StructuredFieldError", "Token", "combine",
    "parse_dictionary", "parse_item", "parse_list", "serialize_bare_item", "serialize_dictionary",
    "serialize_inner_list", "serialize_item", "serialize_list", "serialize_params",
]  # fmt: skip


class StructuredFieldError(ValueError):
    """A field value that does not parse, or a value that cannot be serialized."""


class Token(str):
    """A Token bare item, told apart from a String by its type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Token({str.__repr__(self)})"


BareItem: TypeAlias = Union[int, float, str, bytes, bool]
Params: TypeAlias = dict[str, BareItem]
Item: TypeAlias = tuple[BareItem, Params]
InnerList: TypeAlias = tuple[list[Item], Params]

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]*))?")
_STRING_BODY = re.compile(r'[ !#-\[\]-~]*(?:\\["\\][ !#-\[\]-~]*)*')  # printable; \" \\
_UNESCAPE = re.compile(r"\\(.)")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*(=*)")
_PRINTABLE = re.compile(r"[ -~]*")
_T = TypeVar("_T")
_MAX_INTEGER = 999_999_999_999_999
_THOUSANDTH = Decimal("0.001")
_DECIMAL_CONTEXT = Context(prec=28)  # not the caller's context, which may be narrower


def combine(lines: Iterable[bytes | str]) -> str:
    """One field value from its field lines, in order (bytes are decoded as latin-1)."""
    return ", ".join(x.decode("latin-1") if isinstance(x, bytes) else x for x in lines)


def _error(what: str, text: str, pos: int) -> StructuredFieldError:
    c = text[pos : pos + 1]
    found = (
        "end of input" if not c
        else "non-ASCII" if not c.isascii()
        else "digit" if c.isdigit()
        else "letter" if c.isalpha()
        else "space or tab" if c in " \t"
        else "control character" if not c.isprintable()
        else "punctuation"
    )  # fmt: skip
    return StructuredFieldError(f"{what} at position {pos}, found {found}")


# Parsing (RFC 8941 section 4.2): each helper takes the text and a position, and
# returns what it parsed and the position after it.


def _parse(text: str, parse: Callable[[str, int], tuple[_T, int]]) -> _T:
    if not text.isascii():
        raise _error("not ASCII", text, next(i for i, c in enumerate(text) if not c.isascii()))
    value, pos = parse(text, _skip(text, 0))
    pos = _skip(text, pos)
    if pos < len(text):
        raise _error("unexpected text after the value", text, pos)
    return value


def _skip(text: str, pos: int, chars: str = " ") -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _key(text: str, pos: int) -> tuple[str, int]:
    m = _KEY.match(text, pos)
    if m is None:
        raise _error("expected a key", text, pos)
    return m[0], m.end()


def _bare_item(text: str, pos: int) -> tuple[BareItem, int]:
    c = text[pos : pos + 1]
    if c == '"':
        m = _STRING_BODY.match(text, pos + 1)  # always matches, perhaps nothing
        end = m.end() if m else pos + 1
        if text[end : end + 1] != '"':
            raise _error("bad String", text, end)
        body = text[pos + 1 : end]
        return (_UNESCAPE.sub(r"\1", body) if "\\" in body else body), end + 1
    if c == "?":
        if text[pos + 1 : pos + 2] not in ("0", "1"):
            raise _error("bad Boolean", text, pos + 1)
        return text[pos + 1] == "1", pos + 2
    if c == ":":
        m = _BASE64.match(text, pos + 1)  # always matches, perhaps nothing
        end = m.end() if m else pos + 1
        if m is None or text[end : end + 1] != ":":
            raise _error("bad Byte Sequence", text, end)
        pad = len(m[1])
        data = text[pos + 1 : end - pad]
        if len(data) % 4 == 1 or pad > 2 or (pad and (len(data) + pad) % 4):
            raise _error("bad base64 length or padding", text, pos)
        # Padding may be left off, and non-zero pad bits are accepted (RFC 8941 4.2.7).
        return binascii.a2b_base64(data + "=" * (-len(data) % 4)), end + 1
    m = _TOKEN.match(text, pos)
    if m is not None:
        return Token(m[0]), m.end()
    m = _NUMBER.match(text, pos)
    if m is None:
        raise _error("expected an item", text, pos)
    digits, fraction = m[1], m[2]
    if fraction is None:
        if len(digits) > 15:
            raise _error("Integer longer than 15 digits", text, pos)
        value = int(digits)
        return (-value if c == "-" else value), m.end()
    if len(digits) > 12 or not 1 <= len(fraction) <= 3:
        raise _error("Decimal not of 1-12 digits '.' 1-3 digits", text, pos)
    return float(m[0]), m.end()


def _params(text: str, pos: int) -> tuple[Params, int]:
    params: Params = {}
    while text.startswith(";", pos):
        key, pos = _key(text, _skip(text, pos + 1))
        value: BareItem = True
        if text.startswith("=", pos):
            value, pos = _bare_item(text, pos + 1)
        params[key] = value  # a repeated key keeps its first place, takes the last value
    return params, pos


def _item(text: str, pos: int) -> tuple[Item, int]:
    value, pos = _bare_item(text, pos)
    params, pos = _params(text, pos)
    return (value, params), pos


def _member(text: str, pos: int) -> tuple[Item | InnerList, int]:
    """An Item, or an Inner List: ``(`` Items separated by spaces ``)``, then Parameters."""
    if not text.startswith("(", pos):
        return _item(text, pos)
    items: list[Item] = []
    pos = _skip(text, pos + 1)
    while not text.startswith(")", pos):
        item, pos = _item(text, pos)
        items.append(item)
        if not text.startswith((" ", ")"), pos):
            raise _error("expected a space or ')' in an Inner List", text, pos)
        pos = _skip(text, pos)
    params, pos = _params(text, pos + 1)
    return (items, params), pos


def _next(text: str, pos: int) -> int:
    """After a List or Dictionary member: where the next one starts, or the end."""
    pos = _skip(text, pos, " \t")
    if pos < len(text):
        if text[pos] != ",":
            raise _error("expected ','", text, pos)
        pos = _skip(text, pos + 1, " \t")
        if pos == len(text):
            raise _error("trailing ','", text, pos)
    return pos


def _list(text: str, pos: int) -> tuple[list[Item | InnerList], int]:
    members: list[Item | InnerList] = []
    while pos < len(text):
        member, pos = _member(text, pos)
        members.append(member)
        pos = _next(text, pos)
    return members, pos


def _dictionary(text: str, pos: int) -> tuple[dict[str, Item | InnerList], int]:
    members: dict[str, Item | InnerList] = {}
    while pos < len(text):
        key, pos = _key(text, pos)
        if text.startswith("=", pos):
            members[key], pos = _member(text, pos + 1)
        else:
            params, pos = _params(text, pos)
            members[key] = (True, params)
        pos = _next(text, pos)  # a repeated key keeps its first place, takes the last value
    return members, pos


def parse_item(text: str) -> Item:
    """An Item field value: ``(bare_item, params)``."""
    return _parse(text, _item)


def parse_list(text: str) -> list[Item | InnerList]:
    """A List field value (empty text is an empty List)."""
    return _parse(text, _list)


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """A Dictionary field value (empty text is an empty Dictionary)."""
    return _parse(text, _dictionary)


# Serializing (RFC 8941 section 4.1).


def _serialize_decimal(value: float) -> str:
    if not abs(value) < 1e12:  # also NaN
        raise StructuredFieldError("Decimal out of range or not finite")
    rounded = Decimal(repr(value)).quantize(_THOUSANDTH, ROUND_HALF_EVEN, _DECIMAL_CONTEXT)
    if rounded.copy_abs() >= 10**12:
        raise StructuredFieldError("Decimal out of range")
    if not rounded:
        return "0.0"  # not "-0.0"
    integer, _, fraction = f"{rounded:f}".partition(".")
    return f"{integer}.{fraction.rstrip('0') or '0'}"


def serialize_bare_item(value: BareItem) -> str:
    """A bare item's text; `StructuredFieldError` for a value RFC 8941 cannot carry."""
    if isinstance(value, Token):  # before str: a Token is a str
        if _TOKEN.fullmatch(value) is None:
            raise StructuredFieldError("not a valid Token")
        return str(value)
    if isinstance(value, str):
        if _PRINTABLE.fullmatch(value) is None:
            raise StructuredFieldError("String with a character that is not printable ASCII")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):  # before int: bool is an int
        return "?1" if value else "?0"
    if isinstance(value, int):
        if not -_MAX_INTEGER <= value <= _MAX_INTEGER:
            raise StructuredFieldError("Integer out of range")
        return str(int(value))
    if isinstance(value, float):
        return _serialize_decimal(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    raise StructuredFieldError(f"no Structured Field type for {type(value).__name__}")


def _serialize_key(key: str) -> str:
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise StructuredFieldError("not a valid key")
    return key


def serialize_params(params: Params) -> str:
    """``;key=value`` for each parameter, ``;key`` alone for ``True``."""
    if not params:
        return ""
    return "".join(
        f";{_serialize_key(k)}" if v is True else f";{_serialize_key(k)}={serialize_bare_item(v)}"
        for k, v in params.items()
    )


def serialize_item(item: Item) -> str:
    value, params = item
    return serialize_bare_item(value) + serialize_params(params)


def serialize_inner_list(inner: InnerList) -> str:
    items, params = inner
    return "(" + " ".join(map(serialize_item, items)) + ")" + serialize_params(params)


def _serialize_member(member: Item | InnerList) -> str:
    value, params = member
    if isinstance(value, list):
        return serialize_inner_list((value, params))
    return serialize_item((value, params))


def serialize_list(members: list[Item | InnerList]) -> str:
    """A List's text; an empty List is ``""`` (the field is then not sent)."""
    return ", ".join(map(_serialize_member, members))


def serialize_dictionary(members: dict[str, Item | InnerList]) -> str:
    """A Dictionary's text; a ``True`` Item member is written as its key alone."""
    return ", ".join(
        _serialize_key(k) + serialize_params(m[1])
        if m[0] is True
        else f"{_serialize_key(k)}={_serialize_member(m)}"
        for k, m in members.items()
    )
