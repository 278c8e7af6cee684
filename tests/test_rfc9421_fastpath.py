"""The fast readings of Signature-Input, Signature and Content-Digest agree with the full parser.

``hmac_asgi.schemes._rfc9421_base`` reads the common case (one member, canonical
RFC 8941) with regular expressions, and remembers the shapes of the members it
has read. Whatever the input, the result must be exactly what the strict parser
of ``hmac_asgi._sfv`` gives, serialization of ``@signature-params`` included.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hmac_asgi._sfv import (
    StructuredFieldError,
    Token,
    parse_dictionary,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
)
from hmac_asgi.schemes._rfc9421_base import InputReader, parse_digests, parse_signatures


def full(text: str) -> list[Any]:
    """What the strict parser makes of a Signature-Input value, in the readers' terms."""
    members = []
    for label, (items, params) in parse_dictionary(text).items():
        if not isinstance(items, list) or any(type(item[0]) is not str for item in items):
            members.append(None)
            continue
        covered = [(serialize_item(item), item[0], item[1]) for item in items]
        members.append((label, covered, params, serialize_inner_list((items, params))))
    return members


def agree(text: str, reader: InputReader | None = None) -> None:
    try:
        want = full(text)
    except StructuredFieldError:
        with pytest.raises(StructuredFieldError):
            (reader or InputReader())([text])
        return
    got = (reader or InputReader())([text])
    assert got == want
    for (_, _, got_params, _), (_, _, want_params, _) in zip(
        [m for m in got if m], [m for m in want if m], strict=True
    ):  # equal dicts, and equal types: a Token is not a String, True is not 1
        assert [type(v) for v in got_params.values()] == [type(v) for v in want_params.values()]


NAMES = st.text(alphabet=' abc@-;=()"\\', min_size=1, max_size=8)
KEYS = st.sampled_from(["created", "keyid", "alg", "expires", "nonce", "tag", "x", "a*b"])
BARE = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1),
    st.text(alphabet=' az;="\\()', max_size=6),
    st.sampled_from([Token("hmac-sha256"), True, False, b"\x00\xff", 1.5]),
)
COMPONENT_PARAMS = st.dictionaries(st.sampled_from(["name", "key", "sf", "bs"]), BARE, max_size=2)
COMPONENTS = st.lists(st.tuples(NAMES, COMPONENT_PARAMS), max_size=5)
PARAMS = st.dictionaries(KEYS, BARE, max_size=6)


@settings(max_examples=400)
@given(
    label=st.sampled_from(["sig1", "pyhms", "a", "sig-b25", "x*"]),
    covered=COMPONENTS,
    params=PARAMS,
)
def test_canonical_members_read_as_the_full_parser_reads_them(
    label: str, covered: list[Any], params: dict[str, Any]
) -> None:
    text = serialize_dictionary({label: (covered, params)})
    reader = InputReader()
    agree(text, reader)
    agree(text, reader)  # the second time from the remembered shape


@settings(max_examples=300)
@given(
    covered=COMPONENTS,
    params=PARAMS,
    created=st.lists(st.integers(0, 10**15 - 1), min_size=1, max_size=4),
)
def test_a_remembered_shape_takes_each_new_created(
    covered: list[Any], params: dict[str, Any], created: list[int]
) -> None:
    reader = InputReader()
    for value in created:
        agree(serialize_dictionary({"sig1": (covered, {"created": value, **params})}), reader)


@settings(max_examples=300)
@given(text=st.text(alphabet='sig1=("@method" ;created=0123456789keyid"\\?,) \t', max_size=80))
@example('sig1=("@method");created=01;keyid="k"')  # a leading zero: not canonical
@example('sig1=("@method");created=1;keyid="k";created=2')  # a repeated parameter
@example('sig1=("@method";name="a";name="b");created=1')  # a repeated component parameter
@example('sig1=( "@method");created=1')  # optional whitespace: not canonical
@example('sig1=("@method");created=1;x=?1')  # true spelt out
@example('sig1=("a);created=5");created=5;keyid="k"')  # ;created= inside a String
@example('sig1=("@method");created=1, sig2=("@path");created=2')  # two members
def test_anything_else_reads_as_the_full_parser_reads_it(text: str) -> None:
    reader = InputReader()
    agree(text, reader)
    agree(text, reader)


def test_a_created_inside_a_string_is_not_taken_for_the_parameter() -> None:
    reader = InputReader()
    first = 'sig1=("a);created=5");created=5;keyid="k"'
    agree(first, reader)
    # The same text with other digits in the String: another component, not another created.
    agree('sig1=("a);created=6");created=5;keyid="k"', reader)


@settings(max_examples=200)
@given(label=st.sampled_from(["sig1", "a", "x*"]), value=st.binary(max_size=70))
def test_signature_and_digest_members_read_as_the_full_parser_reads_them(
    label: str, value: bytes
) -> None:
    text = serialize_dictionary({label: (value, {})})
    assert parse_signatures([text]) == {label: value}
    digest = serialize_dictionary({"sha-256": (value, {})})
    assert parse_digests([digest]) == {"sha-256": value}


@pytest.mark.parametrize(
    "text",
    [
        "sig1=:AAAA:, sig2=:AAAA:",  # two members
        "sig1=:AAA=:;x=1",  # with a parameter
        "sig1=?1",  # not a byte sequence
        "sig1 =:AAAA:",  # not a member
    ],
)
def test_other_signature_values_go_to_the_full_parser(text: str) -> None:
    try:
        want = {
            label: member[0] if isinstance(member[0], bytes) else None
            for label, member in parse_dictionary(text).items()
        }
    except StructuredFieldError:
        with pytest.raises(StructuredFieldError):
            parse_signatures([text])
        return
    assert parse_signatures([text]) == want
