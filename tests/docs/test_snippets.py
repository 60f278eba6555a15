"""Every code block of README.md and docs/*.md runs, and says what it really prints.

* ``python`` blocks run in a fresh namespace, in a temporary directory that holds the YAML
  files of ``examples/`` and every block of the same document marked
  ``<!-- snippet: file=NAME -->`` that comes before it (see ``markdown_snippets``).
  A ``print(...)`` with a comment on its line is checked: ``print(x)  # True`` must print
  ``True``; text after the value and a space is explanation (``# True, because ...``), and
  ``...`` in the comment matches anything.
* ``yaml`` / ``json`` blocks must parse safely; full machine definitions (with ``meta``)
  must validate, unless marked ``<!-- snippet: invalid -->``, which must be refused.
* A ``text`` block marked ``<!-- snippet: output -->`` right after a python block is what that
  block prints, exactly.
* ``console`` blocks: each ``$ pystator ...`` line runs (as ``python -m pystator``) and its
  output must equal the lines below it; a line ``...`` stands for any number of lines.
* A python block may ``await`` at top level (it then runs in ``asyncio.run``).
* A block marked ``<!-- snippet: needs=redis -->`` (or ``postgres``, or both) runs against a
  real server when it is reachable, with the URLs it writes replaced by the test's own; it
  skips when the server is down, and fails when ``CI=true`` (``services.py``). A skip reason
  never stands for a server: it names what really keeps the block from running.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
import shlex
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Any

import pytest

from pystator import ConfigurationError
from pystator.loaders import load_json_string, load_yaml_string, load_yaml_text, parse_json_text
from tests.docs.markdown_snippets import ROOT, Block, all_blocks, blocks_of, documents
from tests.docs.services import SERVICES, ServiceUrls, services_for

BLOCKS = all_blocks()
PYTHON = [b for b in BLOCKS if b.lang in {"python", "py"}]
DATA = [b for b in BLOCKS if b.lang in {"yaml", "yml", "json"}]
CONSOLE = [b for b in BLOCKS if b.lang == "console"]
EXAMPLES = ROOT / "examples"


def _ids(blocks: list[Block]) -> list[str]:
    return [b.id for b in blocks]


# --------------------------------------------------------------------------- workspace
def prepare_workspace(block: Block, directory: Path) -> None:
    """Put the example YAML files and the document's earlier file blocks in ``directory``."""
    for pattern in ("*.yaml", "*.json"):
        for path in EXAMPLES.glob(pattern):
            shutil.copy(path, directory / path.name)
    for earlier in blocks_of(block.path):
        if earlier.line >= block.line:
            break
        if earlier.file and not earlier.skipped:
            (directory / earlier.file).write_text(earlier.code, encoding="utf-8")


# --------------------------------------------------------------------------- checked prints
def _line_comments(code: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    return comments


class _CheckPrints(ast.NodeTransformer):
    """Turn ``print(x)  # expected`` into a call that also checks what is printed."""

    def __init__(self, comments: dict[int, str], offset: int) -> None:
        self.comments = comments
        self.offset = offset

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        line = node.end_lineno
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "print"
            and line is not None
            and line in self.comments
        ):
            node.func = ast.copy_location(ast.Name("__checked_print__", ast.Load()), node.func)
            node.keywords.append(ast.keyword("__expected__", ast.Constant(self.comments[line])))
            node.keywords.append(ast.keyword("__line__", ast.Constant(line + self.offset)))
        return node


def output_matches(text: str, expected: str) -> bool:
    if text == expected or expected.startswith(text + " "):
        return True
    if "..." in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split("..."))
        return re.fullmatch(pattern, text, re.DOTALL) is not None
    return False


def _checked_print(doc: str) -> Any:
    def checked_print(
        *args: Any, sep: str | None = " ", __expected__: str, __line__: int, **kwargs: Any
    ) -> None:
        text = (" " if sep is None else sep).join(str(a) for a in args)
        print(*args, sep=sep, **kwargs)
        assert output_matches(text, __expected__), (
            f"{doc}:{__line__}: printed {text!r}, the comment says {__expected__!r}"
        )

    return checked_print


def compile_block(block: Block, urls: dict[str, str] | None = None) -> Any:
    tree = ast.parse(block.code, filename=block.doc)
    tree = _CheckPrints(_line_comments(block.code), block.line).visit(tree)
    if urls:
        tree = ServiceUrls(urls).visit(tree)
    ast.increment_lineno(tree, block.line)
    ast.fix_missing_locations(tree)
    return compile(tree, block.doc, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def run_code(code: Any, namespace: dict[str, Any]) -> None:
    """Run a compiled block; one that awaits at top level runs in its own event loop."""
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


def needs_of(blocks: list[Block]) -> set[str]:
    """The services the blocks need (``needs=redis,postgres``)."""
    return {
        name.strip()
        for block in blocks
        for name in block.directives.get("needs", "").split(",")
        if name.strip()
    }


def chain_of(block: Block) -> list[Block]:
    """The python blocks this one continues (oldest first), then the block itself."""
    python_blocks = [b for b in blocks_of(block.path) if b.lang in {"python", "py"}]
    position = next(i for i, b in enumerate(python_blocks) if b.line == block.line)
    session = block.directives.get("session")
    if session is not None:
        return [
            b
            for b in python_blocks[: position + 1]
            if b.directives.get("session") == session and not b.skipped
        ]
    chain = [block]
    while "continue" in chain[0].directives:
        position -= 1
        assert position >= 0, f"{block.id}: 'continue' with no python block before it"
        chain.insert(0, python_blocks[position])
    return chain


# --------------------------------------------------------------------------- tests
def test_documents_exist() -> None:
    names = {p.name for p in documents()}
    for required in (
        "README.md",
        "quickstart.md",
        "concepts.md",
        "configuration.md",
        "semantics.md",
        "api.md",
        "architecture.md",
    ):
        assert required in names


def test_every_skip_says_why() -> None:
    for block in BLOCKS:
        if block.skipped:
            assert block.directives["skip"].strip(), f"{block.id}: snippet: skip needs a reason"


def test_no_block_is_skipped_for_a_server() -> None:
    # A block that needs Redis or PostgreSQL says needs=...: it runs when the server is up.
    for block in BLOCKS:
        reason = block.directives.get("skip", "")
        assert not re.search(r"redis|postgres|database|server", reason, re.IGNORECASE), (
            f"{block.id}: skip ({reason}): mark it needs=redis or needs=postgres instead"
        )


def test_needs_names_known_services() -> None:
    for block in BLOCKS:
        assert needs_of([block]) <= set(SERVICES), f"{block.id}: needs={needs_of([block])}"


@pytest.mark.parametrize("block", PYTHON, ids=_ids(PYTHON))
def test_python_block_runs(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if block.skipped:
        pytest.skip(f"{block.id}: {block.directives['skip']}")
    prepare_workspace(block, tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {
        "__name__": "__snippet__",
        "__checked_print__": _checked_print(block.doc),
    }
    chain = chain_of(block)
    with services_for(needs_of(chain), monkeypatch) as urls:
        for part in chain:
            code = compile_block(part, urls)
            if part.line == block.line:
                run_code(code, namespace)
            else:
                with contextlib.redirect_stdout(io.StringIO()):
                    run_code(code, namespace)
    expected = expected_output(block)
    if expected is not None:
        assert capsys.readouterr().out == expected, f"{block.id}: output differs from the text"


def expected_output(block: Block) -> str | None:
    """The text of an ``output`` block that directly follows ``block``, if there is one."""
    following = [b for b in blocks_of(block.path) if b.line > block.line]
    if following and following[0].lang == "text" and "output" in following[0].directives:
        return following[0].code
    return None


@pytest.mark.parametrize("block", DATA, ids=_ids(DATA))
def test_data_block_is_valid(block: Block) -> None:
    if block.skipped:
        pytest.skip(f"{block.id}: {block.directives['skip']}")
    json_block = block.lang == "json"
    data = parse_json_text(block.code) if json_block else load_yaml_text(block.code).data
    is_definition = isinstance(data, dict) and "meta" in data
    load = load_json_string if json_block else load_yaml_string
    if "invalid" in block.directives:
        with pytest.raises(ConfigurationError):
            load(block.code)
        return
    if is_definition:
        load(block.code, source=block.id)
    if block.file and (EXAMPLES / block.file).exists():
        example = load_yaml_text((EXAMPLES / block.file).read_text(encoding="utf-8")).data
        assert data == example, f"{block.id} differs from examples/{block.file}"


def run_console_command(command: str, cwd: Path) -> list[str]:
    args = shlex.split(command)
    assert args[0] == "pystator", f"console blocks run pystator only, got {command!r}"
    completed = subprocess.run(
        [sys.executable, "-m", "pystator", *args[1:]],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    return completed.stdout.splitlines()


def lines_match(actual: list[str], expected: list[str]) -> bool:
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(lines_match(actual[i:], expected[1:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and lines_match(actual[1:], expected[1:])


@pytest.mark.parametrize("block", CONSOLE, ids=_ids(CONSOLE))
def test_console_block_output(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if block.skipped:
        pytest.skip(f"{block.id}: {block.directives['skip']}")
    with services_for(needs_of([block]), monkeypatch):
        check_console_block(block, tmp_path)


def check_console_block(block: Block, tmp_path: Path) -> None:
    prepare_workspace(block, tmp_path)
    sessions: list[tuple[str, list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith("$ "):
            sessions.append((line[2:], []))
        else:
            assert sessions, f"{block.id}: output before the first '$ ' command"
            sessions[-1][1].append(line)
    assert sessions, f"{block.id}: a console block needs '$ pystator ...' lines"
    for command, expected in sessions:
        while expected and not expected[-1].strip():
            expected.pop()
        actual = run_console_command(command, tmp_path)
        assert lines_match(actual, expected), f"{block.id}: `{command}` printed:\n" + "\n".join(
            actual
        )
