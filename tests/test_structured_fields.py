"""``hmac_asgi._sfv`` (RFC 8941 Structured Field Values) against the httpwg corpus.

The corpus is the copy in ``tests/data/structured-field-tests/`` (its ``SOURCE.txt``
says which commit; ``LICENSE.md`` its licence). Every case of every file runs:

- a parse case: ``must_fail`` must raise `StructuredFieldError`; otherwise the parse
  equals ``expected`` (types compared too: Token is not String, ``True`` is not ``1``,
  ``1.0`` is not ``1``, and order counts), and both the parse and ``expected`` serialize
  to ``canonical`` (or to ``raw``, when there is no ``canonical``). A ``can_fail`` case
  may fail to parse; if it parses, it must be right. Several ``raw`` lines are joined
  with ``", "``, as a caller joins field lines.
- ``serialisation-tests/``: ``expected`` serializes to ``canonical``, or, ``must_fail``,
  raises `StructuredFieldError`.
- ``date.json`` and ``display-string.json`` test RFC 9651's Date (``@``) and Display
  String (``%``), which RFC 8941, the version RFC 9421 is built on, does not have. They
  are not skipped: under RFC 8941 no bare item starts with ``@`` or ``%``, so every one
  of their inputs must fail here, whatever the file says it gives under RFC 9651. A
  signature header carrying them is malformed for RFC 9421, and is refused.

Then the RFC 9421 shapes the signing code will rely on, and a hypothesis round trip.
"""

from __future__ import annotations

import base64
import decimal
import hashlib
import hmac
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _secrets import RFC9421_B15_KEY_B64
from hypothesis import given, settings
from hypothesis import strategies as st

from hmac_asgi._sfv import (
    BareItem,
    InnerList,
    Item,
    Params,
    StructuredFieldError,
    Token,
    combine,
    parse_dictionary,
    parse_item,
    parse_list,
    serialize_bare_item,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
    serialize_list,
    serialize_params,
)

CORPUS = Path(__file__).parent / "data" / "structured-field-tests"
PARSE_FILES = [
    "binary", "boolean", "dictionary", "examples", "item", "key-generated",
    "large-generated", "list", "listlist", "number", "number-generated", "param-dict",
    "param-list", "param-listlist", "string", "string-generated", "token", "token-generated",
]  # fmt: skip
RFC_9651_ONLY = ["date", "display-string"]
SERIALISATION_FILES = ["key-generated", "number", "string-generated", "token-generated"]

PARSERS: dict[str, Callable[[str], Any]] = {
    "item": parse_item,
    "list": parse_list,
    "dictionary": parse_dictionary,
}
SERIALIZERS: dict[str, Callable[[Any], str]] = {
    "item": serialize_item,
    "list": serialize_list,
    "dictionary": serialize_dictionary,
}


def load(relative: str) -> list[Any]:
    """``pytest.param`` for each case of a corpus file, named by case and file."""
    cases = json.loads((CORPUS / f"{relative}.json").read_text(encoding="utf-8"))
    names = [case["name"] for case in cases]
    assert len(set(names)) == len(names), relative  # so that ids are unique
    return [pytest.param(case, id=f"{case['name']} [{relative}.json]") for case in cases]


PARSE_CASES = [p for name in PARSE_FILES for p in load(name)]
RFC_9651_CASES = [p for name in RFC_9651_ONLY for p in load(name)]
SERIALISATION_CASES = [
    p for name in SERIALISATION_FILES for p in load(f"serialisation-tests/{name}")
]


def test_every_corpus_file_is_run() -> None:
    on_disk = {str(p.relative_to(CORPUS).with_suffix("")) for p in CORPUS.rglob("*.json")}
    run = set(PARSE_FILES) | set(RFC_9651_ONLY)
    run |= {f"serialisation-tests/{name}" for name in SERIALISATION_FILES}
    assert on_disk == run
    assert (len(PARSE_CASES), len(RFC_9651_CASES), len(SERIALISATION_CASES)) == (1552, 39, 544)


# The corpus's JSON form to ours: Token and binary are {"__type", "value"} objects (binary
# in base32); Parameters and Dictionaries are lists of [key, value] pairs.


def bare_from_json(value: Any) -> BareItem:
    if isinstance(value, dict):
        if value["__type"] == "token":
            return Token(value["value"])
        assert value["__type"] == "binary", value["__type"]
        return base64.b32decode(value["value"])
    assert isinstance(value, (bool, int, float, str)), value
    return value


def params_from_json(pairs: list[Any]) -> Params:
    return {key: bare_from_json(value) for key, value in pairs}


def member_from_json(member: list[Any]) -> Item | InnerList:
    value, params = member
    if isinstance(value, list):
        return (
            [(bare_from_json(v), params_from_json(p)) for v, p in value],
            params_from_json(params),
        )
    return (bare_from_json(value), params_from_json(params))


def from_json(header_type: str, expected: Any) -> Any:
    if header_type == "item":
        return member_from_json(expected)
    if header_type == "list":
        return [member_from_json(m) for m in expected]
    return {key: member_from_json(m) for key, m in expected}


def typed(value: Any) -> Any:
    """A form that ``==`` compares strictly: each leaf with its type, dicts in order."""
    if isinstance(value, dict):
        return [(key, typed(v)) for key, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("case", PARSE_CASES)
def test_corpus_parse(case: dict[str, Any]) -> None:
    parse = PARSERS[case["header_type"]]
    serialize = SERIALIZERS[case["header_type"]]
    text = combine(case["raw"])
    if case.get("must_fail"):
        with pytest.raises(StructuredFieldError):
            parse(text)
        return
    try:
        parsed = parse(text)
    except StructuredFieldError:
        if case.get("can_fail"):
            return
        raise
    expected = from_json(case["header_type"], case["expected"])
    assert typed(parsed) == typed(expected)
    canonical = ", ".join(case.get("canonical", case["raw"]))
    assert serialize(parsed) == canonical
    assert serialize(expected) == canonical


@pytest.mark.parametrize("case", RFC_9651_CASES)
def test_rfc_9651_date_and_display_string_are_not_rfc_8941(case: dict[str, Any]) -> None:
    assert case["raw"][0][:1] in ("@", "%")
    with pytest.raises(StructuredFieldError):
        PARSERS[case["header_type"]](combine(case["raw"]))


@pytest.mark.parametrize("case", SERIALISATION_CASES)
def test_corpus_serialise(case: dict[str, Any]) -> None:
    serialize = SERIALIZERS[case["header_type"]]
    value = from_json(case["header_type"], case["expected"])
    if case.get("must_fail"):
        with pytest.raises(StructuredFieldError):
            serialize(value)
    else:
        assert serialize(value) == ", ".join(case["canonical"])


# What RFC 9421 needs.

SIG1 = (
    '("@method" "@authority" "@path" "content-digest")'
    ';created=1618884473;keyid="test-key";alg="hmac-sha256"'
)
B25_INPUT = '("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"'
B25_SIGNATURE = ":pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
# RFC 9421 Appendix B.1.5: the shared secret of its hmac-sha256 examples.
B15_SECRET = base64.b64decode(RFC9421_B15_KEY_B64)


def test_signature_input_member_round_trips_exactly() -> None:
    parsed = parse_dictionary(f"sig1={SIG1}")
    components, params = parsed["sig1"]
    assert typed(components) == typed([("@method", {}), ("@authority", {}), ("@path", {}),
                                       ("content-digest", {})])  # fmt: skip
    assert typed(params) == typed(
        {"created": 1618884473, "keyid": "test-key", "alg": "hmac-sha256"}
    )
    assert isinstance(components, list)
    assert serialize_inner_list((components, params)) == SIG1
    assert serialize_dictionary(parsed) == f"sig1={SIG1}"


def test_signature_member_is_bytes() -> None:
    parsed = parse_dictionary(f"sig1={B25_SIGNATURE}")
    value, params = parsed["sig1"]
    assert type(value) is bytes and len(value) == 32 and params == {}
    assert serialize_dictionary(parsed) == f"sig1={B25_SIGNATURE}"


def test_rfc_9421_b25_signature_verifies_over_the_reserialized_params() -> None:
    """Appendix B.2.5, end to end: the inner list re-serialized is its @signature-params."""
    inputs = parse_dictionary(combine([b"sig-b25=" + B25_INPUT.encode(), b"other=(); created=1"]))
    signatures = parse_dictionary(f"sig-b25={B25_SIGNATURE}")
    components, params = inputs["sig-b25"]
    assert isinstance(components, list)
    assert [c for c, _ in components] == ["date", "@authority", "content-type"]
    assert all(type(c) is str for c, _ in components)  # Strings, not Tokens
    assert typed(params) == typed({"created": 1618884473, "keyid": "test-shared-secret"})
    signature_params = serialize_inner_list((components, params))
    assert signature_params == B25_INPUT
    base = (
        '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
        '"@authority": example.com\n'
        '"content-type": application/json\n'
        f'"@signature-params": {signature_params}'
    )
    mac = hmac.new(B15_SECRET, base.encode("ascii"), hashlib.sha256).digest()
    assert mac == signatures["sig-b25"][0]


def test_component_identifier_with_parameters_round_trips() -> None:
    text = '("@query-param";name="Pet" "content-type";req "example-dict";sf;key="a")'
    (members,) = parse_list(text)
    assert serialize_list([members]) == text
    assert typed(members[0][2]) == typed(("example-dict", {"sf": True, "key": "a"}))


def test_bool_and_int_are_told_apart() -> None:
    assert serialize_params({"a": True, "b": 1, "c": False, "d": 0}) == ";a;b=1;c=?0;d=0"
    assert serialize_bare_item(True) == "?1" and serialize_bare_item(1) == "1"
    assert serialize_dictionary({"a": (True, {}), "b": (1, {})}) == "a, b=1"
    assert serialize_dictionary({"a": ([], {})}) == "a=()"
    assert typed(parse_item("1;a=?1;b=1")) == typed((1, {"a": True, "b": 1}))


@pytest.mark.parametrize(
    ("value", "text"),
    [(-0.0, "0.0"), (-0.0004, "0.0"), (1e-7, "0.0"), (2.0, "2.0"), (0.1, "0.1"),
     (999999999999.999, "999999999999.999"), (-5.0005, "-5.0"), (-5.0015, "-5.002")],
)  # fmt: skip
def test_decimal_serialization(value: float, text: str) -> None:
    assert serialize_bare_item(value) == text


def test_decimal_serialization_ignores_the_callers_decimal_context() -> None:
    with decimal.localcontext() as context:
        context.prec = 3
        context.traps[decimal.Inexact] = True
        assert serialize_bare_item(123456789.125) == "123456789.125"


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 999999999999.9996, 1e300, 10**15, -(10**15), None,
     bytearray(b"x"), ["list"], Token(""), Token("a b"), Token("é"), "é", "\x7f", "a\nb"],
    ids=repr,
)  # fmt: skip
def test_unserializable_bare_items(value: Any) -> None:
    with pytest.raises(StructuredFieldError):
        serialize_bare_item(value)


@pytest.mark.parametrize("key", ["", "A", "1a", "a b", "é", "-a", "a=", 1])
def test_invalid_keys_do_not_serialize(key: Any) -> None:
    with pytest.raises(StructuredFieldError):
        serialize_params({key: 1})
    with pytest.raises(StructuredFieldError):
        serialize_dictionary({key: (1, {})})


@pytest.mark.parametrize(
    ("text", "value"),
    [(":aGVsbA:", b"hell"), (":aGVsbA==:", b"hell"), (":aGk:", b"hi"), (":aGk=:", b"hi"),
     (":aQ:", b"i"), (":aR==:", b"i")],
)  # fmt: skip
def test_byte_sequence_padding_may_be_left_off_and_pad_bits_be_set(text: str, value: bytes) -> None:
    assert parse_item(text) == (value, {})


@pytest.mark.parametrize(
    "text", [":a:", ":aGVsbA=:", ":aGk==:", ":aGVsbG8==:", ":aGVsbA===:", ":=:", ":====:"]
)
def test_byte_sequence_with_a_wrong_length_or_partial_padding_fails(text: str) -> None:
    with pytest.raises(StructuredFieldError, match="bad base64 length or padding"):
        parse_item(text)


def test_field_lines_are_combined_as_latin_1() -> None:
    assert combine([b"a=1", "b=2"]) == "a=1, b=2"
    with pytest.raises(StructuredFieldError, match="not ASCII at position 1"):
        parse_item(combine([b'"\xe9"']))  # latin-1 'é' then '"': fails at ASCII check
    with pytest.raises(StructuredFieldError):
        parse_list(combine([b"1", b"", b"2"]))  # an empty line is an empty member


@pytest.mark.parametrize(
    "text",
    ["sig1=" + "A" * 5000 + "<", 'k="SECRET' + "x" * 5000 + '\x01"', "a=(" + "SECRET " * 999,
     "SECRET\u00e9", "k=:" + "SECRET" * 999],
    ids=["token", "string", "inner-list", "non-ascii", "bytes"],
)  # fmt: skip
def test_errors_name_a_position_never_the_input(text: str) -> None:
    with pytest.raises(StructuredFieldError) as caught:
        parse_dictionary(text)
    message = str(caught.value)
    assert "SECRET" not in message and "AAAA" not in message and len(message) < 80
    assert "position" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an item at position 0, found end of input"),
        ("1, \u00e9", "not ASCII at position 3, found non-ASCII"),
        ("1 2", "unexpected text after the value at position 2, found digit"),
        ("a x", "unexpected text after the value at position 2, found letter"),
        ("1\t", "unexpected text after the value at position 1, found space or tab"),
        ('"a\x01"', "bad String at position 2, found control character"),
        ("1 ;", "unexpected text after the value at position 2, found punctuation"),
    ],
    ids=["end", "non-ascii", "digit", "letter", "tab", "control", "punctuation"],
)
def test_errors_say_what_they_found_where(text: str, message: str) -> None:
    """What a developer reads when a signature header does not parse (the 401 itself
    keeps its fixed detail): the position and the kind of character found there."""
    with pytest.raises(StructuredFieldError) as caught:
        parse_item(text)
    assert str(caught.value) == message


def test_token_repr_says_token() -> None:
    assert repr(Token("a")) == "Token('a')"
    assert serialize_bare_item(Token("*/x:y")) == "*/x:y" and serialize_bare_item("a") == '"a"'


# Round trip: any Dictionary of Items and Inner Lists, with parameters, serializes to
# text that parses back to the same thing, types and order included.

KEYS = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,6}", fullmatch=True)
BARE_ITEMS = st.one_of(
    st.booleans(),
    st.integers(-999_999_999_999_999, 999_999_999_999_999),
    st.integers(-999_999_999_999_999, 999_999_999_999_999).map(lambda n: n / 1000),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
    st.from_regex(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,10}", fullmatch=True).map(Token),
    st.binary(max_size=20),
)
PARAMS = st.dictionaries(KEYS, BARE_ITEMS, max_size=3)
ITEMS = st.tuples(BARE_ITEMS, PARAMS)
INNER_LISTS = st.tuples(st.lists(ITEMS, max_size=4), PARAMS)
DICTIONARIES = st.dictionaries(KEYS, st.one_of(ITEMS, INNER_LISTS), max_size=5)


@settings(max_examples=300, deadline=None)
@given(DICTIONARIES)
def test_dictionary_round_trip(value: dict[str, Item | InnerList]) -> None:
    text = serialize_dictionary(value)
    assert typed(parse_dictionary(text)) == typed(value)
    assert serialize_dictionary(parse_dictionary(f"  {text}  ")) == text


# Any text, biased towards the grammar's characters: a parser either fails with
# StructuredFieldError (never another exception) or gives a value whose serialization
# parses back to itself.

GRAMMAR_TEXT = st.text(st.sampled_from(' \t"\\():;=,?*-.0159aAzZ/+!%@\x01\x7f\u00e9'), max_size=40)


@settings(max_examples=1000, deadline=None)
@given(GRAMMAR_TEXT, st.sampled_from(sorted(PARSERS)))
def test_any_text_parses_to_a_fixed_point_or_fails_cleanly(text: str, header_type: str) -> None:
    try:
        parsed = PARSERS[header_type](text)
    except StructuredFieldError:
        return
    again = PARSERS[header_type](SERIALIZERS[header_type](parsed))
    assert typed(again) == typed(parsed)
