"""The README and the pages under docs/: what they promise a reader still holds.

* The README opens with its two commands (set up and run the demo; set up and run the tests), and `.ci/run`
  runs the second; the README stays a front door (at most 250 lines) and no page outside CHANGELOG.md names
  an issue number.
* Every command in the README and in docs/ — each line of a code block that runs ``xlsweep``, a script or
  ``bash``, and each inline ``.venv/bin/...`` command — still runs as written: its ``xlsweep`` subcommand,
  options and arguments parse against the CLI (without running it), the configs and scripts it names exist,
  and a script's options are options of that script. The shipped configs those commands name are validated
  by their own tests (tests/config/).
* Every full config shown in a page (a YAML block with a ``name``) is a valid sweep.
* Every relative link and image between the pages resolves, anchors included.
"""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted([README, *(ROOT / "docs").rglob("*.md")])
# Pages written by the code restructure, in its own branch: a link to one may dangle until it lands.
TWO_COMMANDS = (
    "```bash\n"
    "bash scripts/setup.sh && .venv/bin/xlsweep sweep tune_configs/demo.yaml    "
    "# set up, run the demo sweep (~3 min; first setup +3)\n"
    "bash scripts/setup.sh && .venv/bin/python -m pytest                        "
    "# set up, run the tests (~12 min; first setup +3)\n"
    "```\n"
)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_COMMAND = re.compile(r"`(\.venv/bin/[^`]+)`")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def _prose(text: str) -> str:
    return FENCE.sub("", text)


def _commands(page: Path) -> list[str]:
    text = page.read_text()
    found = []
    for block in _blocks(text):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if re.match(r"(\.venv/bin/|xlsweep |bash |nice )", line):
                found.append(line)
    found += INLINE_COMMAND.findall(_prose(text))
    return found


ALL_COMMANDS = [(page, command) for page in PAGES for command in _commands(page)]


# ----------------------------------------------------------------- the front door
def test_the_readme_opens_with_its_two_commands() -> None:
    text = README.read_text()
    assert text.startswith("# xlsweep\n\n" + TWO_COMMANDS)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = TWO_COMMANDS.splitlines()[2].split("#")[0].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    for part in test_command.split(" && "):
        assert part in ci, f".ci/run does not run {part!r}, a part of the README's test command"


def test_the_readme_is_a_front_door() -> None:
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_no_page_names_an_issue_number(page: Path) -> None:
    assert not re.search(r"\bissues?\s*#?\d", page.read_text(), re.I), f"{_name(page)}: history goes to CHANGELOG.md"


# ----------------------------------------------------------------- commands
def test_the_pages_show_commands() -> None:
    assert len(ALL_COMMANDS) >= 20  # the extraction finds them (a regression would silently check nothing)


def _check_xlsweep(args: list[str]) -> None:
    import typer

    from xlsweep.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    name, *rest = args
    assert name in commands, f"no subcommand {name!r}; the CLI has {sorted(commands)}"
    commands[name].make_context(name, rest)  # parses without running: a UsageError on an unknown option or argument


def _check_paths(args: list[str]) -> None:
    for arg in args:
        if arg.startswith(("tune_configs/", "scripts/", ".ci/")) and "<" not in arg:
            assert glob.glob(str(ROOT / arg)), f"{arg}: no such file"


def _check_script(args: list[str]) -> None:
    script = ROOT / args[0]
    assert script.is_file(), f"{args[0]}: no such script"
    source = script.read_text()
    for arg in args[1:]:
        if arg.startswith("--"):
            assert f'"{arg.split("=")[0]}"' in source, f"{args[0]} has no option {arg}"


@pytest.mark.parametrize(("page", "command"), ALL_COMMANDS, ids=[f"{_name(p)}: {c[:60]}" for p, c in ALL_COMMANDS])
def test_every_command_in_a_page_still_runs(page: Path, command: str) -> None:
    for part in command.split(" && "):
        args = shlex.split(part, comments=True)
        if args[:2] == ["nice", "-n"]:
            args = args[3:]
        if not args:
            continue
        _check_paths(args)
        program = args[0]
        if program.endswith("xlsweep"):
            expanded = [m for a in args[1:] for m in (sorted(glob.glob(a, root_dir=ROOT)) if "*" in a else [a])]
            _check_xlsweep(expanded)
        elif program.endswith("python") and args[1:2] != ["-m"]:
            _check_script(args[1:])
        elif program == "bash":
            assert (ROOT / args[1]).is_file(), f"{args[1]}: no such file"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_full_config_in_a_page_is_a_valid_sweep(page: Path, tmp_path: Path) -> None:
    from xlsweep.plan import load_sweep

    for block in _blocks(page.read_text()):
        if block.startswith("name:"):  # read as a user's file would be
            (tmp_path / "config.yaml").write_text(block)
            load_sweep(tmp_path / "config.yaml")


# ----------------------------------------------------------------- links
def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose(page.read_text()).splitlines():
        if match := re.match(r"#+ (.*)", line):
            slug = _slug(match.group(1))
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("page", [*PAGES, ROOT / "CHANGELOG.md"], ids=_name)
def test_every_link_between_the_pages_resolves(page: Path) -> None:
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{_name(page)}: {target} points to no file"
        if anchor:
            assert anchor in _anchors(file), f"{_name(page)}: {target} has no heading #{anchor}"
