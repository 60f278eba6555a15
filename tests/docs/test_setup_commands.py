"""The set-up commands README.md and docs/ give a newcomer are the ones that work (issue 12).

* Installing: this version is not on the public package index, where ``pystator`` is an older
  0.0.x line that fails on import. No shell command in a fenced block (``bash``, ``sh``,
  ``console``, ``text``, ...) may install ``pystator`` or ``pystator[EXTRA]`` by name; it
  installs from a path (``-e .``, ``'.[api]'``, ``dist/pystator-...whl``). Comments do not
  count (``# once published: pip install 'pystator[api]'`` is fine), nor does prose: the
  README's extras table names ``pystator[api]`` with a note to read it as ``.[api]``. The
  README's Quick start must show such a path install.
* ``make serve`` installs the ``api`` extra and never ``.[dev]``; ``make test`` installs
  ``.[dev]``. Checked with ``make -n`` in a copy of the Makefile and pyproject.toml, so no
  stamp file of a real ``.venv`` hides what a fresh clone runs.
* Every ``make TARGET`` the documents mention (a ``make ...`` code span in prose, or a ``make``
  command in a shell block) is a target of the Makefile, and quickstart.md's instruction for
  running the examples names a target whose recipe runs ``examples/run_examples.py``.
* The README's "two commands" section is ``make serve`` and ``make test`` and states the
  measured time from a fresh clone to the first ``/health``.

Every check is a function of the files it reads, and each has a case below showing it refuses
the text the issue found (the old Quick start, the old Makefile, the old quickstart.md).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.docs.markdown_snippets import ROOT, blocks_of, documents

SHELL_LANGS = {"", "bash", "sh", "shell", "zsh", "console", "text"}
SEPARATORS = {"&&", "||", ";", "|", "&"}
# pip options whose value is not a requirement (-e/--editable's value is one).
PIP_OPTIONS_WITH_VALUE = {
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-t",
    "--target",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--prefix",
    "--root",
    "--python",
    "--platform",
    "--python-version",
}
INDEX_REQUIREMENT = re.compile(r"pystator(\[[^\]]*\])?\s*([<>=!~]=?.*)?", re.IGNORECASE)
MAKE_SPAN = re.compile(r"`make\s+([^`]+)`")
MAKE_RULE = re.compile(
    r"^(?P<targets>[A-Za-z0-9_][\w.-]*(?:[ \t]+[A-Za-z0-9_][\w.-]*)*)[ \t]*:(?!=)"
)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
BULLET = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+")
SECONDS = re.compile(r"\b\d+(?:\.\d+)?(?:\s*(?:to|-)\s*\d+(?:\.\d+)?)?\s*(?:s|seconds?)\b")


# --- Shell commands ---------------------------------------------------------------------------


def shell_commands(code: str) -> list[tuple[int, list[str]]]:
    """The commands of a shell block, as ``(line offset, argv)``; comments and prompts dropped.

    A console block's ``$ `` prompt is removed; ``&&``, ``;`` and pipes separate commands; a
    line ending in ``\\`` continues on the next. A line shlex cannot split (an unbalanced quote,
    as in output text) is split on white space instead.
    """
    out: list[tuple[int, list[str]]] = []
    pending = ""
    start = 0
    for offset, raw in enumerate(code.splitlines()):
        line = raw.strip()
        if not pending:
            start = offset
            line = line.removeprefix("$ ")
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        out.extend((start, argv) for argv in split_commands(line))
    return out


def split_commands(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        tokens = line.split("#", 1)[0].split()
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [argv for argv in commands if argv]


def pip_install_requirements(argv: list[str]) -> list[str] | None:
    """What a ``pip install`` command installs (``-e``'s value included), or None for another
    command. ``pip``, ``pip3``, ``.venv/bin/pip``, ``python -m pip`` and ``uv pip`` count."""
    for index, token in enumerate(argv[:-1]):
        if Path(token).name in {"pip", "pip3"} and argv[index + 1] == "install":
            break
    else:
        return None
    requirements: list[str] = []
    skip_value = False
    for token in argv[index + 2 :]:
        if skip_value:
            skip_value = False
        elif token in PIP_OPTIONS_WITH_VALUE:
            skip_value = True
        elif not token.startswith("-"):
            requirements.append(token)
    return requirements


def installs_from_the_index(requirement: str) -> bool:
    """``pystator``, ``pystator[api]``, ``pystator==0.1.0``: a name the index resolves."""
    return INDEX_REQUIREMENT.fullmatch(requirement.strip()) is not None


def installs_from_a_path(requirement: str) -> bool:
    """``.``, ``.[api]``, ``./pystator``, ``dist/pystator-0.1.0-py3-none-any.whl[api]``."""
    path = requirement.split("[", 1)[0]
    return path.startswith((".", "/", "~")) or "/" in path or path.endswith(".whl")


def index_installs(path: Path) -> list[str]:
    """Every shell-block command of a Markdown file that installs pystator from the index."""
    found: list[str] = []
    for block in blocks_of(path):
        if block.lang not in SHELL_LANGS:
            continue
        for offset, argv in shell_commands(block.code):
            requirements = pip_install_requirements(argv) or []
            if any(installs_from_the_index(r) for r in requirements):
                found.append(f"{path.name}:{block.line + 1 + offset}: {shlex.join(argv)}")
    return found


# --- Markdown structure -----------------------------------------------------------------------


def section(path: Path, title: str) -> tuple[int, int]:
    """The 1-based line range ``[first, last]`` of the section under heading ``title``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    first: int | None = None
    level = 0
    fence: str | None = None
    for number, line in enumerate(lines, start=1):
        opening = FENCE.match(line)
        if opening:
            mark = opening.group(1)
            fence = None if fence and mark.startswith(fence) else fence or mark
            continue
        heading = None if fence else HEADING.match(line)
        if heading is None:
            continue
        if first is None and heading.group(2).strip().lower() == title.lower():
            first, level = number, len(heading.group(1))
        elif first is not None and len(heading.group(1)) <= level:
            return first, number - 1
    if first is None:
        raise AssertionError(f"{path.name} has no section {title!r}")
    return first, len(lines)


def prose_units(path: Path) -> list[tuple[int, str]]:
    """Paragraphs, list items and headings outside fenced blocks, each joined into one line."""
    units: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    fence: str | None = None

    def flush() -> None:
        if current:
            units.append((start, " ".join(current)))
            current.clear()

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        opening = FENCE.match(line)
        if opening:
            flush()
            mark = opening.group(1)
            fence = None if fence and mark.startswith(fence) else fence or mark
            continue
        if fence:
            continue
        if not line.strip() or BULLET.match(line) or HEADING.match(line):
            flush()
        if line.strip():
            if not current:
                start = number
            current.append(line.strip())
    flush()
    return units


def make_targets_of(argv: list[str]) -> list[str]:
    """The targets of a ``make`` command line (variable assignments and options dropped)."""
    targets: list[str] = []
    skip_value = False
    for token in argv:
        if skip_value:
            skip_value = False
        elif token in {"-C", "-f", "--file", "--directory", "-j", "-o", "-W"}:
            skip_value = True
        elif not token.startswith("-") and "=" not in token:
            targets.append(token)
    return targets


def make_mentions(path: Path) -> list[tuple[str, str]]:
    """``(where, target)`` for every ``make TARGET`` of a Markdown file: code spans in prose
    and ``make`` commands in shell blocks."""
    mentions: list[tuple[str, str]] = []
    for line, text in prose_units(path):
        for span in MAKE_SPAN.finditer(text):
            argv = span.group(1).split()
            mentions += [(f"{path.name}:{line}", t) for t in make_targets_of(argv)]
    for block in blocks_of(path):
        if block.lang not in SHELL_LANGS:
            continue
        for offset, argv in shell_commands(block.code):
            while argv and re.fullmatch(r"\w+=.*", argv[0]):
                argv = argv[1:]
            if argv and Path(argv[0]).name in {"make", "gmake"}:
                where = f"{path.name}:{block.line + 1 + offset}"
                mentions += [(where, t) for t in make_targets_of(argv[1:])]
    return mentions


def makefile_targets(makefile: Path) -> set[str]:
    """The explicit rule targets of a Makefile (``.PHONY`` and variable targets excluded)."""
    targets: set[str] = set()
    for line in makefile.read_text(encoding="utf-8").splitlines():
        rule = MAKE_RULE.match(line)
        if rule:
            targets.update(t for t in rule.group("targets").split() if not t.startswith("."))
    return targets


# --- make -n ------------------------------------------------------------------------------------


def make_available() -> None:
    if shutil.which("make") is None:
        if IN_CI:
            pytest.fail("make is not installed (CI=true: it must be)")
        pytest.skip("make is not installed")


def dry_run(workdir: Path, target: str) -> list[list[str]]:
    """The commands ``make -n TARGET`` would run in ``workdir`` (``PY=python3``)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    completed = subprocess.run(
        ["make", "-n", "--no-print-directory", target, "PY=python3"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"make -n {target}: {completed.stderr.strip()}"
    return [argv for line in completed.stdout.splitlines() for argv in split_commands(line)]


def project_installs(commands: list[list[str]]) -> list[str]:
    """What the commands install of the project itself (``.[api]``, ``pystator``...)."""
    return [
        requirement
        for argv in commands
        for requirement in pip_install_requirements(argv) or []
        if installs_from_a_path(requirement) or installs_from_the_index(requirement)
    ]


def serve_problems(workdir: Path) -> list[str]:
    """Why ``make serve`` in ``workdir`` installs more (or other) than serving needs."""
    commands = dry_run(workdir, "serve")
    installs = project_installs(commands)
    problems = [f"installs {r!r}" for r in installs if r != ".[api]"]
    if ".[api]" not in installs:
        problems.append(f"never installs '.[api]' (installs: {installs})")
    if not any(
        argv[i : i + 2] == ["pystator", "api"] for argv in commands for i in range(len(argv))
    ):
        problems.append("never runs pystator api")
    return problems


def examples_instruction_problems(quickstart: Path, workdir: Path) -> list[str]:
    """Why quickstart.md's instruction for running the examples is wrong (or missing)."""
    instructions = [
        (line, text)
        for line, text in prose_units(quickstart)
        if "examples/" in text and re.search(r"\brun\b", text) and MAKE_SPAN.search(text)
    ]
    if not instructions:
        return [f"{quickstart.name}: no `make ...` instruction for running examples/"]
    problems: list[str] = []
    for line, text in instructions:
        for span in MAKE_SPAN.finditer(text):
            for target in make_targets_of(span.group(1).split()):
                commands = dry_run(workdir, target)
                if not any("examples/run_examples.py" in argv for argv in commands):
                    problems.append(
                        f"{quickstart.name}:{line}: `make {target}` does not run "
                        "examples/run_examples.py"
                    )
    return problems


def health_time_sentence(readme: Path) -> str | None:
    """The prose of "The two commands" that gives the seconds from a fresh clone to /health."""
    first, last = section(readme, "The two commands")
    for line, text in prose_units(readme):
        in_section = first <= line <= last
        if in_section and "/health" in text and "fresh clone" in text and SECONDS.search(text):
            return text
    return None


def copy_of_the_build(destination: Path, makefile: str) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    (destination / "Makefile").write_text(makefile, encoding="utf-8")
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Makefile and pyproject.toml alone, as in a fresh clone: no .venv, no stamp."""
    make_available()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return copy_of_the_build(tmp_path_factory.mktemp("fresh-clone"), makefile)


# --- Tests: installing --------------------------------------------------------------------------


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shell_block_installs_pystator_from_the_index(document: Path) -> None:
    found = index_installs(document)
    assert not found, (
        f"{found}: this version is not on the package index; install it from a checkout or a "
        "wheel (pip install -e '.[api]', pip install dist/pystator-...whl)"
    )


def test_the_readme_quick_start_installs_from_a_checkout_or_a_wheel() -> None:
    readme = ROOT / "README.md"
    first, last = section(readme, "Quick start")
    path_installs = [
        requirement
        for block in blocks_of(readme)
        if first <= block.line <= last and block.lang in SHELL_LANGS
        for _, argv in shell_commands(block.code)
        for requirement in pip_install_requirements(argv) or []
        if installs_from_a_path(requirement)
    ]
    assert path_installs, "README's Quick start shows no install from a checkout or a wheel"


@pytest.mark.parametrize(
    ("line", "from_the_index"),
    [
        ("pip install pystator", True),  # the old README's Quick start
        ("pip install 'pystator[api]'", True),
        ("$ python -m pip install -U pystator==0.1.0", True),
        ("pip install --quiet \\\n  pystator[redis]", True),
        ("pip install -e .", False),
        ("pip install -e '.[api]'   # once published: pip install 'pystator[api]'", False),
        ("pip wheel . -w dist && pip install dist/pystator-0.1.0-py3-none-any.whl", False),
        ("pip install 'dist/pystator-0.1.0-py3-none-any.whl[api]'", False),
        ("pip install pydantic pyyaml", False),
    ],
)
def test_the_install_check_tells_the_index_from_a_path(
    tmp_path: Path, line: str, from_the_index: bool
) -> None:
    document = tmp_path / "page.md"
    document.write_text(f"Install it:\n\n```bash\n{line}\n```\n", encoding="utf-8")
    assert bool(index_installs(document)) is from_the_index


# --- Tests: the Makefile ----------------------------------------------------------------------


def test_make_serve_installs_only_the_api_extra(fresh_clone: Path) -> None:
    assert serve_problems(fresh_clone) == []


def test_make_test_installs_the_dev_extra_and_runs_pytest(fresh_clone: Path) -> None:
    commands = dry_run(fresh_clone, "test")
    assert ".[dev]" in project_installs(commands)
    assert any("pytest" in argv for argv in commands)


OLD_SERVE = """\
PY ?= python3
BIN := .venv/bin
STAMP := .venv/.installed-dev

$(STAMP): pyproject.toml
\ttest -x $(BIN)/python || $(PY) -m venv .venv
\t$(BIN)/python -m pip install -q -e '.[dev]'
\ttouch $(STAMP)

install: $(STAMP)

serve: install
\tPYSTATOR_MACHINES_DIR=examples $(BIN)/python -m pystator api
"""


def test_the_serve_check_refuses_a_serve_that_installs_the_dev_tools(tmp_path: Path) -> None:
    make_available()
    problems = serve_problems(copy_of_the_build(tmp_path, OLD_SERVE))
    assert "installs '.[dev]'" in problems


# --- Tests: make targets in the documents ----------------------------------------------------


def test_every_make_target_the_documents_mention_exists() -> None:
    targets = makefile_targets(ROOT / "Makefile")
    mentions = [m for document in documents() for m in make_mentions(document)]
    assert {"serve", "test", "examples"} <= {target for _, target in mentions}
    unknown = [f"{where}: make {target}" for where, target in mentions if target not in targets]
    assert unknown == [], f"not targets of the Makefile ({sorted(targets)})"


def test_the_make_mention_check_sees_spans_and_commands(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Run `make serv` first, then make it work.\n\n"
        "```bash\nmake lint PYTEST_ARGS=-q   # and make nothing here\n$ make -C . tset\n```\n",
        encoding="utf-8",
    )
    assert [target for _, target in make_mentions(page)] == ["serv", "lint", "tset"]


def test_quickstart_runs_the_examples_with_the_target_that_runs_them(fresh_clone: Path) -> None:
    assert examples_instruction_problems(ROOT / "docs" / "quickstart.md", fresh_clone) == []


def test_the_examples_check_refuses_make_serve(tmp_path: Path, fresh_clone: Path) -> None:
    page = tmp_path / "quickstart.md"
    page.write_text(
        "## Next\n\n* `examples/basic_usage.py` and `examples/other.py` (run them all\n"
        "  with `make serve`).\n",
        encoding="utf-8",
    )
    assert examples_instruction_problems(page, fresh_clone) == [
        "quickstart.md:3: `make serve` does not run examples/run_examples.py"
    ]


# --- Tests: the two commands ------------------------------------------------------------------


def test_the_two_commands_are_make_serve_and_make_test() -> None:
    readme = ROOT / "README.md"
    first, last = section(readme, "The two commands")
    commands = [
        argv
        for block in blocks_of(readme)
        if first <= block.line <= last and block.lang in SHELL_LANGS
        for _, argv in shell_commands(block.code)
    ]
    assert commands == [["make", "serve"], ["make", "test"]]


def test_the_readme_states_the_time_from_a_fresh_clone_to_health() -> None:
    assert health_time_sentence(ROOT / "README.md") is not None, (
        'README\'s "The two commands" must give the measured seconds from a fresh clone to '
        "the first answer of /health"
    )
