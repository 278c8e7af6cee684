"""Every test secret is registered (``_secrets.secret``), so the log scanner looks for it.

The scanner (``conftest.secret_log_scanner``) reads ``_secrets.REGISTRY``; what keeps the
registry complete is that secrets are made by ``secret()``, and this module checks that
no test spells one out beside it. A literal "looks like a secret" when it is 12 characters
or more with no white space and stands where a secret goes:

- the value of a keyword argument, a parameter default or a dict entry named
  ``secret_key``, ``secret``, ``secrets``, ``client_secrets``, ``keys`` or ``key`` (for
  ``client_secrets`` and ``keys``, the mapping's values: its keys are ids);
- the first argument of what takes a secret first: ``create_signature``,
  ``HMACSigningAuth``, ``HMACAuth``, the signers, the peers' ``Webhook``, ``hmac.new``;
- a literal assigned to a name containing ``SECRET`` or ending in ``KEY``;
- an environment variable whose name contains ``SECRET`` (``setenv``, an ``env`` dict);
- the values ``pytest.mark.parametrize`` gives an argument named as above.

It may still be there if its text is registered (a published vector's, say). Literals
joined with ``+``/``*`` count as one; an f-string by its literal parts.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from pathlib import Path

import _secrets
import pytest
from _secrets import REGISTRY, secret
from conftest import SecretScanner

TESTS = Path(__file__).parent
NAMES = {"secret_key", "secret", "secrets", "client_secrets", "keys", "key"}
MAPPINGS = {"client_secrets", "keys"}  # {id: secret}: only the values are secrets
TAKE_A_SECRET_FIRST = {
    "create_signature",
    "HMACSigningAuth",
    "HMACAuth",
    "DestinySigner",
    "MessageSigner",
    "WebhookSigner",
    "Webhook",
    "DestinySigningAuth",
    "new",  # hmac.new
}


def folded(node: ast.expr) -> str | None:
    """The text of a str/bytes literal, of literals joined by + or *, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        value = node.value
        return value.decode("latin-1") if isinstance(value, bytes) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = folded(node.left), folded(node.right)
        count = node.right.value if isinstance(node.right, ast.Constant) else None
        if left is not None and right is not None and isinstance(node.op, ast.Add):
            return left + right
        if left is not None and isinstance(count, int) and not isinstance(count, bool):
            return left * count
    if isinstance(node, ast.JoinedStr):
        return "".join(folded(part) or "" for part in node.values)
    return None


def is_secret_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "secret"
    )


def literals(node: ast.expr, *, mapping: bool = False) -> Iterator[tuple[int, str]]:
    """(line, text) of each literal in ``node``, a secret's place; ``secret()`` calls
    are left out (that is registering one), and a mapping's keys."""
    if is_secret_call(node):
        return
    text = folded(node)
    if text is not None:
        yield node.lineno, text
        return
    if mapping and isinstance(node, ast.Dict):
        for value in node.values:
            yield from literals(value)
        return
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr):
            yield from literals(child)


def secret_places(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every literal standing where a secret goes (see the module's docstring)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not is_secret_call(node):
            for keyword in node.keywords:
                if keyword.arg in NAMES:
                    yield from literals(keyword.value, mapping=keyword.arg in MAPPINGS)
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in TAKE_A_SECRET_FIRST and node.args:
                yield from literals(node.args[0])
            if name == "setenv" and len(node.args) == 2:
                variable = folded(node.args[0]) or ""
                if "SECRET" in variable.upper():
                    yield from literals(node.args[1])
            if name == "parametrize" and len(node.args) >= 2:
                argnames = folded(node.args[0]) or ""
                columns = [i for i, n in enumerate(argnames.split(",")) if n.strip() in NAMES]
                rows = node.args[1]
                if columns and isinstance(rows, (ast.List, ast.Tuple)):
                    for row in rows.elts:
                        cells = row.elts if isinstance(row, ast.Tuple) else [row]
                        for column in columns:
                            if column < len(cells):
                                yield from literals(cells[column])
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                label = folded(key) if key is not None else None
                if label in NAMES:
                    yield from literals(value, mapping=label in MAPPINGS)
                elif label is not None and label.isupper() and "SECRET" in label:
                    yield from literals(value)  # an environment variable
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            pairs = [
                *zip(
                    positional[len(positional) - len(arguments.defaults) :],
                    arguments.defaults,
                    strict=True,
                ),
                *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
            ]
            for argument, default in pairs:
                if default is not None and argument.arg in NAMES:
                    yield from literals(default, mapping=argument.arg in MAPPINGS)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = [t.id for t in targets if isinstance(t, ast.Name)]
            if any("SECRET" in n.upper() or n.upper().endswith("KEY") for n in named):
                if folded(node.value) is not None:
                    yield from literals(node.value)


def looks_like_a_secret(text: str) -> bool:
    return len(text) >= 12 and not any(character.isspace() for character in text)


def registered_in_source(tree: ast.AST) -> set[str]:
    """The texts given to ``secret(purpose, text)``: registered when that line runs."""
    return {
        text
        for node in ast.walk(tree)
        if is_secret_call(node) and len(node.args) == 2  # type: ignore[attr-defined]
        for text in [folded(node.args[1])]  # type: ignore[attr-defined]
        if text is not None
    }


def test_no_test_spells_out_an_unregistered_secret() -> None:
    trees = {path: ast.parse(path.read_text("utf-8")) for path in sorted(TESTS.rglob("*.py"))}
    registered = set(REGISTRY.values())
    for tree in trees.values():
        registered |= registered_in_source(tree)
    unregistered = [
        f"{path.relative_to(TESTS)}:{line}"
        for path, tree in trees.items()
        for line, text in secret_places(tree)
        if looks_like_a_secret(text) and text not in registered
    ]
    assert unregistered == [], (
        "secret-looking literals that are not registered: make them with _secrets.secret()"
        f" (the scanner looks for nothing else): {unregistered}"
    )


CAUGHT = """
import hmac
SIGNING_SECRET = "typed-here-0123456789abcdef"
PEER_KEY = b"raw-key-" + b"k" * 24
app = HMACMiddleware(echo, secret_key="inline-0123456789abcdef-0123")
MessageSignatureScheme(keys={"key-id-not-a-secret": "mapping-value-0123456789"})
HMACSigningAuth("positional-0123456789abcdef", CLIENT_ID)
hmac.new(b"stdlib-key-0123456789abcdef", b"message", "sha256")
def sign(body, secret="a-default-0123456789abcdef"): ...
configs = {"secret_key": ["in-a-list-0123456789abcdef"]}
monkeypatch.setenv("HMAC_SECRET", "env-value-0123456789abcdef")
env = {**os.environ, "ORDERS_SECRET": "env-dict-0123456789abcdef"}
pytest.mark.parametrize("secret", ["parametrized-0123456789abcdef"])
forged = signed(secret=f"forger-{i}-0123456789abcdef")
"""
LEFT_ALONE = """
KEY_ID = "orders-key-1-not-a-secret"
MessageSignatureScheme(keys={"key-id-0123456789abcdef": RFC_SECRET})
HMACMiddleware(echo, secret_key=secret("made-here"), client_secrets={"not-a-uuid-at-all": S})
pytest.raises(ValueError, match="secret_key is empty, not shown")
HMACMiddleware(echo, secret_key="short")
REGISTERED_SECRET = secret("a purpose", "registered-0123456789abcdef")
"""


def test_the_guard_finds_each_kind_of_place_and_nothing_else() -> None:
    found = [text for _, text in secret_places(ast.parse(CAUGHT)) if looks_like_a_secret(text)]
    assert sorted(found) == sorted(
        [
            "typed-here-0123456789abcdef",
            "raw-key-" + "k" * 24,
            "inline-0123456789abcdef-0123",
            "mapping-value-0123456789",
            "positional-0123456789abcdef",
            "stdlib-key-0123456789abcdef",
            "a-default-0123456789abcdef",
            "in-a-list-0123456789abcdef",
            "env-value-0123456789abcdef",
            "env-dict-0123456789abcdef",
            "parametrized-0123456789abcdef",
            "forger--0123456789abcdef",  # an f-string's literal parts
        ]
    )
    left_alone = ast.parse(LEFT_ALONE)
    assert [t for _, t in secret_places(left_alone) if looks_like_a_secret(t)] == []
    assert registered_in_source(left_alone) == {"registered-0123456789abcdef"}


# The registry itself.


def test_made_secrets_are_long_distinct_and_the_same_on_every_run() -> None:
    first, second = secret("registry self-test"), secret("registry self-test, another")
    assert first != second
    assert secret("registry self-test") == first  # asked again: the same one
    assert REGISTRY["registry self-test"] == first
    made = [REGISTRY[purpose] for purpose in _secrets.MADE]
    assert all(len(value.encode()) >= _secrets.MADE_LENGTH for value in made)
    assert len(set(REGISTRY.values())) == len(REGISTRY)


def test_one_purpose_one_secret() -> None:
    made = secret("registry self-test")
    with pytest.raises(ValueError, match="has another secret already"):
        secret("registry self-test", "something-else-0123456789abcdef")
    with pytest.raises(ValueError, match="registered for another purpose"):
        secret("a second purpose for it", made)


def test_the_published_and_example_secrets_are_registered() -> None:
    vectors = {case["secret_key"] for case in _secrets.DESTINY_VECTORS["cases"]}
    assert vectors <= set(REGISTRY.values())
    for text in (
        _secrets.README_SECRET,
        _secrets.EXAMPLE_WEBHOOK_SECRET,
        _secrets.WEBHOOKS_SPEC_SECRET,
        _secrets.RFC9421_B15_KEY_B64.rstrip("="),
    ):
        assert text in REGISTRY.values()


def test_a_secret_made_during_a_test_is_scanned_from_then_on(
    secret_log_scanner: SecretScanner,
) -> None:
    logging.getLogger("some.library").debug("a first record, before the secret exists")
    made = secret("made during a test")
    logging.getLogger("some.library").debug("key material: %s", made.encode().hex())
    assert ("some.library", "made during a test", "hex") in secret_log_scanner.leaks
    secret_log_scanner.leaks.clear()  # this test's own leak, on purpose
