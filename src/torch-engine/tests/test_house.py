"""The house rule for the engine's code, as ESLint's max-lines-per-function is for the
TypeScript (eslint.config.mjs): no function over 80 lines, blank lines, comments and its
docstring not counted, unless a `# one piece: <why>` comment on the line above its `def` says
why it must stay whole. ruff has no such rule, so this test is the lint."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Tuple

MAX_LINES = 80
EXCEPTION = "# one piece:"
ENGINE = Path(__file__).resolve().parent.parent


def counted_lines(source: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of `node` that hold code: not blank, not only a comment, not its docstring."""
    lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
    docstring: set[int] = set()
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            docstring = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    count = 0
    for number, line in enumerate(lines, start=node.lineno):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and number not in docstring:
            count += 1
    return count


def long_functions(source: str, name: str) -> Iterator[Tuple[str, int]]:
    """(where, lines) of each function over MAX_LINES without an exception comment."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        above = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        said = lines[above - 2].strip() if above >= 2 else ""
        n = counted_lines(source, node)
        if n > MAX_LINES and not (said.startswith(EXCEPTION) and said[len(EXCEPTION) :].strip()):
            yield f"{name}:{node.lineno} {node.name}", n


def engine_sources() -> List[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if ".venv" not in p.parts)


def test_no_function_in_the_engine_is_over_80_lines() -> None:
    found = [
        f"{where} ({n} lines)"
        for path in engine_sources()
        for where, n in long_functions(path.read_text(), str(path.relative_to(ENGINE)))
    ]
    assert found == [], "split these, or say why one must stay whole (# one piece: <why>)"


def fixture(body_lines: int, above: str = "") -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines - 1))
    return f'{above}def f() -> None:\n    """Doc.\n\n    More doc."""\n\n    # a comment\n{body}'


def test_the_rule_bites_and_counts_only_code() -> None:
    assert list(long_functions(fixture(80), "f.py")) == []  # def line + 79: exactly 80
    assert list(long_functions(fixture(81), "f.py")) == [("f.py:1 f", 81)]
    said = "# one piece: one table of statements, read as one\n"
    assert list(long_functions(fixture(81, said), "f.py")) == []
    bare = "# one piece:\n"  # an exception without its why is no exception
    assert list(long_functions(fixture(81, bare), "f.py")) == [("f.py:2 f", 81)]
