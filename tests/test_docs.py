"""The README and docs/ hold what the repository holds, and their examples run as shown.

Marking an example: put the line `<!-- example -->` right before a ```console block. Each
`$ mlcore ...` line in the block runs through the real CLI (the `cli` fixture, in-process) in
a fresh temporary folder holding links to the repository's `configs/`, `experiments/` and
`examples/`;
the blocks of a page do not share that folder, so each block is self-contained. The command
must exit 0, and every line the block shows after it must appear, in order, among the lines
it printed (stdout; a line not there may be on stderr). A `...` line stands for any number of
lines. Times such as `0.3s` are not compared, and runs of spaces count as one. Options go
after a colon: `<!-- example: slow -->` (a whole training of more than a few seconds),
`<!-- example: exit=2 -->` (every command of the block must exit with that code).
Commands that need a GPU, the network or minutes of training are shown without the marker.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import REPO

DOCS = sorted((REPO / "docs").rglob("*.md"))
PAGES = [REPO / "README.md", *DOCS]


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


# --- the config reference -------------------------------------------------------------------


def _schema_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of the config dataclasses, walked here independently of reference.py."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        found.append(prefix + f.name)
        options = typing.get_args(hints[f.name]) or (hints[f.name],)
        for option in options:
            if dataclasses.is_dataclass(option):
                found += _schema_keys(option, prefix + f.name + ".")
    return found


def test_config_reference_holds_every_key_with_an_explanation():
    from mlcore.config import reference
    from mlcore.config.sections import Config

    schema = _schema_keys(Config)
    assert "trainer.early_stopping.patience" in schema and "model.generator.hidden" in schema
    rows = {k.key: k for k in reference.all_keys()}
    assert sorted(rows) == sorted(schema)
    text = reference.markdown()
    for key in schema:
        assert f"`{key}`" in text, key
        assert len(rows[key].doc) > 10, f"{key}: no docstring under the field in sections.py"


def test_config_reference_defaults_are_the_schema_defaults():
    from mlcore.config import reference
    from mlcore.config.sections import Config

    def flat(tree: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[prefix + key] = value
        return out

    defaults = flat(Config().to_dict())
    rows = {k.key: k for k in reference.all_keys()}
    for key, value in defaults.items():
        if key.endswith(".mode"):  # null in the file; the instance holds what it inferred
            assert rows[key].default == "null"
            continue
        assert rows[key].default == reference.format_value(value), key
    assert rows["optimizer.eps"].default == "1.0e-08" and rows["model.hidden"].default == "[64]"


def test_the_docs_page_has_the_reference_marker():
    from importlib import util

    spec = util.spec_from_file_location("hook", REPO / "docs/hooks/config_reference.py")
    hook = util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = (REPO / "docs/config-reference.md").read_text(encoding="utf-8")
    assert hook.MARKER in page
    built = hook.on_page_markdown(page, page=None, config=None, files=None)
    assert "`trainer.threads`" in built and hook.MARKER not in built


# --- links and paths ------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# a backticked path into the repository: starts with one of its top-level folders or files
TOP = ("mlcore/", "configs/", "experiments/", "examples/", "benchmarks/", "tests/", "docs/", ".ci/")
TOP_FILES = ("Makefile", "pyproject.toml", "mkdocs.yml", "cli.py", "README.md")
TICKED = re.compile(r"`([^`\s]+)`")
MD_NAME = re.compile(r"(?<![\w/.<-])([\w./-]+\.md)\b")


def _prose(text: str) -> str:
    """The page without its fenced blocks (commands and outputs, not references)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_relative_link_exists(page):
    for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{_rel(page)}: link to {target}, which the repository lacks"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_repository_path_named_exists(page):
    prose = _prose(page.read_text(encoding="utf-8"))
    named = [t for t in TICKED.findall(prose) if t.startswith(TOP) or t in TOP_FILES]
    named += MD_NAME.findall(prose)
    for name in named:
        if re.search(r"[<>*{}]|NN|\.\.\.", name):  # a pattern, not a path
            continue
        where = [REPO / name, page.parent / name]
        assert any(p.exists() for p in where), f"{_rel(page)}: names {name}, which is missing"


# --- the examples ---------------------------------------------------------------------------


@dataclass
class Example:
    page: Path
    line: int
    options: str
    steps: list[tuple[str, list[str]]] = field(default_factory=list)  # (command, shown)

    @property
    def id(self) -> str:
        return f"{_rel(self.page)}:{self.line}"


MARK = re.compile(r"^<!-- example(?::\s*(.*?))? -->$")


def collect(page: Path) -> list[Example]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        mark = MARK.match(line.strip())
        if not mark:
            continue
        assert lines[i + 1].startswith("```console"), f"{_rel(page)}:{i + 1}: not a console block"
        example = Example(page, i + 1, mark.group(1) or "")
        for body in lines[i + 2 :]:
            if body.startswith("```"):
                break
            if body.startswith("$ "):
                assert body.startswith("$ mlcore "), f"{_rel(page)}: only mlcore commands run"
                example.steps.append((body[2:], []))
            else:
                example.steps[-1][1].append(body)
        found.append(example)
    return found


EXAMPLES = [e for page in PAGES for e in collect(page)]
DURATION = re.compile(r"\b\d+(\.\d+)?s\b")


def _norm(line: str) -> str:
    return " ".join(DURATION.sub("<time>", line).split())


def _missing(shown: list[str], out: str, err: str) -> list[str]:
    """The shown lines that are not, in order, in the output (or anywhere on stderr)."""
    actual = [_norm(x) for x in out.splitlines()]
    errors = {_norm(x) for x in err.splitlines()}
    missing, at = [], 0
    for line in shown:
        want = _norm(line)
        if not want or want == "...":
            continue
        if want in actual[at:]:
            at = actual.index(want, at) + 1
        elif want not in errors:
            missing.append(line)
    return missing


def test_the_examples_are_found():
    pages = {_rel(e.page) for e in EXAMPLES}
    assert {"README.md", "docs/commands/train.md", "docs/commands/errors.md"} <= pages
    assert all(e.steps for e in EXAMPLES)


@pytest.mark.parametrize(
    "example",
    [
        pytest.param(e, marks=[pytest.mark.slow] if "slow" in e.options else [], id=e.id)
        for e in EXAMPLES
    ],
)
def test_example_runs_as_shown(example, cli, tmp_path, monkeypatch):
    for name in ("configs", "experiments", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    code = re.search(r"exit=(\d+)", example.options)
    expected = int(code.group(1)) if code else 0
    for command, shown in example.steps:
        result = cli(*shlex.split(command)[1:])
        assert result.code == expected, f"{command}: exit {result.code}\n{result.out}{result.err}"
        missing = _missing(shown, result.out, result.err)
        assert not missing, f"{command}: not in its output:\n" + "\n".join(missing)
