"""The README and docs/*.md promise only what exists: commands, options, settings, extras, files.

Every ``qiloop ...`` line in a shell block, and every inline ``qiloop ...`` span, is walked through
the real Typer app: each word must be a (visible) command of the group before it and each
``--option`` an option of the command it follows. Every ``QILOOP_*`` name must be a settings field,
a CLI option's environment variable, or a name the code spells. A doc that drifts from the code
fails here, not in a newcomer's first hour.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

from qiloop.cli.main import app
from qiloop.labeling.api.config import WebOptions
from qiloop.settings import Settings

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
SHELL = {"bash", "sh", "shell", "console"}
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
STOP = {"...", "…"}  # an elided rest: nothing after it is checked
PIP_NAME = {"psycopg2": "psycopg2-binary", "psycopg": "psycopg", "pg8000": "pg8000", "asyncpg": "asyncpg"}


def _root():
    return typer.main.get_command(app)


def _shell_commands(block: str) -> list[list[str]]:
    """The command lines of a shell block (continuations joined, comments dropped), split into words."""
    commands = []
    for text in block.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(text, posix=True, punctuation_chars="|;&()")
        lexer.whitespace_split, lexer.commenters = True, "#"
        line: list[str] = []
        for word in lexer:
            if set(word) <= set("|;&()"):
                commands.append(line)
                line = []
            else:
                line.append(word)
        commands.append(line)
    return [c for c in commands if c]


def invocations() -> list[tuple[str, list[str]]]:
    """``(where, words after qiloop)`` for every qiloop command written in the README and docs."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for lang, body in FENCE.findall(text):
            if lang in SHELL:
                for line in _shell_commands(body):
                    for i, word in enumerate(line):
                        if word == "qiloop" or word.endswith("/qiloop"):
                            found.append((f"{doc.name}: {' '.join(line)}", line[i + 1 :]))
        for span in INLINE.findall(FENCE.sub("", text)):
            words = shlex.split(span, posix=True) if span.count("'") % 2 == 0 else span.split()
            if words and (words[0] == "qiloop" or words[0].endswith("/qiloop")) and len(words) > 1:
                found.append((f"{doc.name}: `{span}`", words[1:]))
    return found


def _option(command, name: str):
    if name == "--help":
        return True
    for param in command.params:
        if name in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())):
            return param
    return None


def problems_of(words: list[str], root) -> list[str]:
    """What in ``qiloop WORDS`` the CLI does not have; empty when every command and option exists."""
    command, path, problems, i = root, ["qiloop"], [], 0
    while i < len(words):
        word = words[i]
        if word in STOP or word.startswith("<"):
            break
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            param = _option(command, name)
            if param is None:
                problems.append(f"`{' '.join(path)}` has no option {name}")
            elif param is not True and not getattr(param, "is_flag", False) and "=" not in word:
                i += 1  # the option's value
        elif getattr(command, "commands", None):
            choices = word.split("|")
            for choice in choices:
                sub = command.commands.get(choice)
                known = ", ".join(sorted(n for n, c in command.commands.items() if not c.hidden))
                if sub is None:
                    problems.append(f"`{' '.join(path)}` has no command {choice!r} (it has: {known})")
                elif sub.hidden:
                    problems.append(f"`{' '.join(path)} {choice}` is a hidden alias: write one of {known}")
            if len(choices) > 1 or choices[0] not in command.commands:
                break
            command = command.commands[word]
            path.append(word)
        i += 1
    return problems


def test_the_readme_opens_with_make_demo_and_make_test():
    text = README.read_text(encoding="utf-8")
    title, rest = text.split("\n", 1)
    assert title.startswith("# ")
    first = FENCE.search(rest)
    assert first is not None and rest[: first.start()].strip() == "", "the first thing after the title is a block"
    commands = [c[:2] for c in _shell_commands(first.group(2))]
    assert commands == [["make", "demo"], ["make", "test"]]


def test_every_qiloop_command_and_option_written_in_the_docs_exists():
    root = _root()
    found = invocations()
    assert len(found) > 40, "the README's examples were not found: has the parser broken?"
    wrong = [f"{where}\n    {p}" for where, words in found for p in problems_of(words, root)]
    assert not wrong, "the docs name commands or options the CLI does not have:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        (["models", "ls", "--home", "H"], None),
        (["models", "approve", "scratch-detector/2", "--reason", "ok"], None),
        (["modles", "ls"], "has no command 'modles'"),
        (["models", "ls", "--hom", "H"], "has no option --hom"),
        (["edge", "run", "...", "--anything"], None),
    ],
)
def test_the_walk_finds_what_is_missing(words, problem):
    problems = problems_of(words, _root())
    assert problems == [] if problem is None else any(problem in p for p in problems), problems


def _known_variables() -> set[str]:
    names = {f"QILOOP_{field.upper()}" for cls in (Settings, WebOptions) for field in cls.model_fields}
    stack = [_root()]
    while stack:
        command = stack.pop()
        stack.extend(getattr(command, "commands", {}).values())
        for param in command.params:
            envvars = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar]
            names.update(e for e in envvars if e)
    for source in (REPO / "src" / "qiloop").rglob("*.py"):
        names.update(re.findall(r"[\"'](QILOOP_[A-Z0-9_]+)[\"']", source.read_text(encoding="utf-8")))
    return names


def test_every_qiloop_variable_the_docs_name_exists():
    known = _known_variables()
    assert {"QILOOP_HOME", "QILOOP_CLASSES", "QILOOP_LABELING_SECRET_KEY"} <= known
    assert "QILOOP_NO_SUCH_SETTING" not in known
    named = {(doc.name, v) for doc in DOCS for v in re.findall(r"\bQILOOP_[A-Z0-9_]*[A-Z0-9]\b", doc.read_text())}
    unknown = sorted(f"{doc}: {v}" for doc, v in named if v not in known)
    assert not unknown, f"settings the code does not read: {unknown}"


def test_the_sample_configuration_is_valid_and_its_database_driver_is_installed_by_an_extra():
    text = README.read_text(encoding="utf-8")
    sample = next(body for lang, body in FENCE.findall(text) if lang == "toml")
    doc = tomllib.loads(sample)
    assert set(doc) <= set(Settings.model_fields), f"unknown settings: {set(doc) - set(Settings.model_fields)}"
    Settings(**doc)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    drivers = {d for path in DOCS for d in re.findall(r"postgresql\+(\w+)://", path.read_text(encoding="utf-8"))}
    for driver in drivers:
        for extra in ("label", "registry"):
            names = {re.match(r"[\w.-]+", dep).group().lower() for dep in extras[extra]}
            assert PIP_NAME.get(driver, driver) in names, f"postgresql+{driver}:// needs a driver [{extra}] lacks"


def test_the_extras_table_lists_exactly_the_extras_and_make_targets_exist():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| extra | for |") :].split("\n\n", 1)[0]
    listed = {name for row in re.findall(r"^\| (.+?) \|", table, re.M) for name in re.findall(r"`([\w-]+)`", row)}
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert listed == set(extras)
    targets = set(re.findall(r"^([\w-]+(?: [\w-]+)*):", (REPO / "Makefile").read_text(), re.M))
    targets = {t for group in targets for t in group.split()}
    assert set(re.findall(r"`make ([\w-]+)", text)) <= targets
    for link in re.findall(r"\]\(((?:docs/)[^)#\s]+)", text) + re.findall(r"`(docs/[\w.-]+)`", text):
        assert (REPO / link).exists(), f"README links to {link}, which does not exist"


def test_the_demo_home_and_the_mlflow_stores_the_docs_name_are_where_qiloop_keeps_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no qiloop.toml, no configured tracking URI: the defaults
    monkeypatch.delenv("QILOOP_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("QILOOP_CONFIG", raising=False)
    demo_home = re.search(r"^DEMO_HOME \?= (\S+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    assert f"QILOOP_HOME={demo_home}" in text and f"--home {demo_home}" in text
    stores = {Settings(home=Path(h)).mlflow_tracking_uri for h in (".qiloop", demo_home)}
    named = set(re.findall(r"--backend-store-uri (\S+)", text))
    assert named and named <= stores, f"{named - stores} is not where qiloop's registry lives"
