"""The command samples in README.md and docs/*.md, regenerated from the real commands.

A sample is a fenced block whose info string carries a mark (#17 item 6):

    ```console check=run setup=devices     each `$ command` is run in a fresh sandbox
    ```console check=help                  `$ fingerpos ... --help`: the real argparse help
    ```console check=demo                  the first lines `fingerpos demo` prints
    ```text check=receipt                  receipts.text_lines of the Shanghai example order
    ```text check=broker-acl               the `acl` file `fingerpos broker-config` writes
    ```console measured=2026-12-07         a benchmark: when it ran (the prose names the machine)
    ```console transcript=2026-12-07       a session against a running cloud or board

`--write` rewrites the `check=` samples from what the commands print now; `--check`
exits 1 and names each sample that drifted. Outputs that differ on every run (tokens,
passwords, free ports, temporary paths, the order in which parallel terminals enrol)
are compared through `normalise`. Every `fingerpos` command line anywhere in the docs,
in a block or in an inline code span, must parse with the real CLI (`cli_problems`):
samples that cannot be re-run (benchmarks) are held at least to that.

Written here rather than with a doctest-style library (cram, pytest-console-scripts):
those run every sample, and most of ours need a cloud, a board or minutes of
benchmark; the marks say which can be re-run and how.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fingerpos.tools.docs_sandbox import GENERATORS, Sandbox, normalise

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\S*)(.*)$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ELISION = ("...", "…")


def doc_files(repo: Path = REPO) -> list[Path]:
    return [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]


@dataclass
class Block:
    path: Path
    start: int            # index of the opening fence line
    end: int              # index of the closing fence line
    lang: str
    attrs: dict[str, str]
    lines: list[str]

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.start + 1}"


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("```")), None)
        if j is None:
            raise ValueError(f"{path.name}:{i + 1}: a fence that never closes")
        attrs = dict(a.partition("=")[::2] for a in m.group(2).split())
        out.append(Block(path, i, j, m.group(1), attrs, lines[i + 1:j]))
        i = j + 1
    return out


# ---------------------------------------------------------------- command lines

def fingerpos_argvs(command: str) -> list[list[str]]:
    """The fingerpos invocations in one shell command line, as argv lists (without
    `fingerpos`): `./run demo`, `./run fingerpos X`, `.venv/bin/fingerpos X`, after
    `VAR=value` prefixes and in each part of a pipeline."""
    command = re.sub(r"<[^<>\n]*>", "X", command)               # <64 hex>, <token>: one word
    command = re.sub(r"(^|\s)\d?(?:>>?|<)&?\d*\s*(?=\S)\S*", " ", command)  # redirections
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    out, part = [], []
    for w in [*words, "|"]:
        if w not in ("|", "&&", ";", "||"):
            part.append(w)
            continue
        while part and re.match(r"^[A-Z_][A-Z0-9_]*=", part[0]):
            part.pop(0)
        if part[:2] == ["./run", "demo"]:
            out.append(["demo", *part[2:]])
        elif part and part[0] == "./run":
            part = part[1:]
        if part and part[0].split("/")[-1] == "fingerpos" and part[0] != "./run":
            out.append(part[1:])
        part = []
    return out


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """Walk `words` down the sub-commands; the deepest parser and the words left."""
    while words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or words[0] not in subs[0].choices:
            break
        parser, words = subs[0].choices[words[0]], words[1:]
    return parser, words


def parse_problem(argv: list[str], inline: bool = False) -> str | None:
    """Why the real CLI refuses `fingerpos argv`, or None. With an elision (`...`), or in
    an inline code span (which names a command or an option in prose, `fingerpos
    broker-config --db`), only the sub-command and the option names are checked."""
    from fingerpos.tools.cli import build_parser

    parser = build_parser()
    if inline or any(w in ELISION for w in argv):
        sub, rest = _subparser(parser, [w for w in argv if w not in ELISION])
        if sub is parser:
            return f"no such command: fingerpos {' '.join(argv)}"
        known = {o for a in sub._actions for o in a.option_strings}
        unknown = [w.split("=")[0] for w in rest
                   if w.startswith("--") and w.split("=")[0] not in known]
        return f"unknown option(s) {', '.join(unknown)}" if unknown else None
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as e:
        if e.code:
            return err.getvalue().strip().splitlines()[-1]
    return None


INLINE = re.compile(r"`([^`\n]+)`")


def command_lines(path: Path) -> list[tuple[int, str, bool]]:
    """(line number, command) of every fingerpos command line in a doc: `$ ` lines and
    the lines of `sh` blocks, and inline code spans that start with one."""
    out = []
    fence: Block | None = None
    text = path.read_text().split("\n")
    spans = {b.start: b for b in blocks(path)}
    for n, line in enumerate(text):
        if fence and n == fence.end:
            fence = None
            continue
        if n in spans:
            fence = spans[n]
            continue
        if fence:
            cmd = line[2:] if line.startswith("$ ") else line if fence.lang in ("sh", "bash") else ""
            if re.search(r"(^|[\s|/;])(fingerpos|\./run demo)\b", cmd):
                out.append((n + 1, cmd, False))
        else:
            for m in INLINE.finditer(line):
                if re.match(r"^(\./run |\.venv/bin/)?fingerpos [a-z]|^\./run demo\b", m.group(1)):
                    out.append((n + 1, m.group(1), True))
    return out


def cli_problems(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        for n, cmd, inline in command_lines(path):
            for argv in fingerpos_argvs(cmd):
                why = parse_problem(argv, inline)
                if why:
                    problems.append(f"{path.name}:{n}: `{cmd}`: {why}")
    return problems


def mark_problems(files: list[Path]) -> list[str]:
    """A block with `$ ` command lines must say how it is kept true."""
    problems = []
    for path in files:
        for b in blocks(path):
            if not any(ln.startswith("$ ") for ln in b.lines) and "check" not in b.attrs:
                continue
            if b.attrs.get("check") in GENERATORS:
                continue
            dated = b.attrs.get("measured") or b.attrs.get("transcript")
            if not dated or not DATE.match(dated):
                problems.append(f"{b.where}: a command sample with neither check=NAME "
                                f"({', '.join(GENERATORS)}) nor measured=/transcript=YYYY-MM-DD")
    return problems




def regenerate(files: list[Path], write: bool, only: set[str] | None = None) -> list[str]:
    """Run every check= sample; rewrite it (write) or report each that drifted."""
    drifted = []
    for path in files:
        text = path.read_text().split("\n")
        todo = [b for b in blocks(path) if b.attrs.get("check") in GENERATORS
                and (only is None or b.attrs["check"] in only)]
        for b in reversed(todo):
            with tempfile.TemporaryDirectory(prefix="fp-docs-") as tmp:
                sandbox = Sandbox(Path(tmp))
                try:
                    new = GENERATORS[b.attrs["check"]](b, sandbox)
                finally:
                    sandbox.close()
            if normalise(new) != normalise(b.lines):
                drifted.append(f"{b.where}: the check={b.attrs['check']} sample no longer "
                               f"matches what the command prints")
                text[b.start + 1:b.end] = new
        if write and drifted:
            path.write_text("\n".join(text))
    return drifted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the check= samples")
    mode.add_argument("--check", action="store_true", help="exit 1 if any sample drifted")
    ap.add_argument("--only", action="append", metavar="CHECK", choices=sorted(GENERATORS),
                    help="only these kinds of sample (repeat)")
    ap.add_argument("files", nargs="*", type=Path, help="default: README.md and docs/*.md")
    args = ap.parse_args(argv)
    files = args.files or doc_files()
    problems = mark_problems(files) + cli_problems(files)
    drifted = regenerate(files, write=args.write, only=set(args.only) if args.only else None)
    for line in problems + ([] if args.write else drifted):
        print(line, file=sys.stderr)
    if args.write:
        print(f"{len(drifted)} sample(s) rewritten")
    return 1 if problems or (drifted and not args.write) else 0


if __name__ == "__main__":
    sys.exit(main())
