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
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
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


# ---------------------------------------------------------------- regenerating samples

def normalise(lines: list[str]) -> list[str]:
    """What may differ between two honest runs, made equal: secrets, free ports,
    temporary directories, and the order parallel terminals report in."""
    subs = [
        (r"fpt_[A-Za-z0-9_\-]{16,}", "fpt_…"),
        (r"/reset/[A-Za-z0-9_\-]{16,}", "/reset/…"),
        (r"fingerpos-demo-\w+", "fingerpos-demo-X"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"^(    (?:admin|manager|seller|buyer)\s+\S+\s+)\S+", r"\1PASSWORD"),
        (r"PIN \d{4}", "PIN NNNN"),
    ]
    out = []
    for line in lines:
        for pattern, repl in subs:
            line = re.sub(pattern, repl, line)
        out.append(line.rstrip())
    # terminals boot in parallel: their enrolment lines come in any order
    i = 0
    while i < len(out):
        j = i
        while j < len(out) and re.match(r"^  \w+: .* enrolled finger ", out[j]):
            j += 1
        out[i:j] = sorted(out[i:j])
        i = j + 1
    return out


class Sandbox:
    """A fresh working directory and data dir; commands run there as a user's shell would."""

    def __init__(self, root: Path):
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FINGERPOS_")}
        self.env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", COLUMNS="80",
                        FINGERPOS_DATA=str(root / "data"), PYTHONIOENCODING="utf-8",
                        ADMIN_PASSWORD="correct-horse-battery-staple")

    def run(self, command: str, timeout: float = 300) -> list[str]:
        p = subprocess.run(["bash", "-c", command], cwd=self.root, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        text = p.stdout.decode("utf-8", "replace").replace(f"{self.root}/", "")
        # secrets are not for a manual: shown elided, as a user should paste them
        text = re.sub(r"\b(fpt_|/reset/)[A-Za-z0-9_\-]{16,}", r"\1…", text)
        return text.rstrip("\n").split("\n") if text.strip() else []

    def terminal(self, device_id: str, revoked: bool = False) -> None:
        """A provisioning directory as `fingerpos device provision` leaves it (the cloud's
        side is not needed by `bundle` or `broker-config --devices-from`)."""
        from fingerpos.tools.device import terminal_config as tc

        d = self.root / "devices" / device_id
        d.mkdir(parents=True)
        wifi = tc.check_wifi("ShopNet", "correct horse")
        broker = tc.parse_broker("mqtts://mqtt.example.com")
        tc.write_new(d / "config.json", tc.build(device_id, "shop1", os.urandom(32), wifi, broker))
        if revoked:
            (d / tc.REVOKED_NAME).write_text("stolen\n")


SETUPS = {
    "migrated": lambda s: [s.run("fingerpos migrate"),
                           s.run("echo pw-li-12345678 | fingerpos user create --email li@shop1.example"
                                 " --role seller --shop shop1 --password-stdin")],
    "devices": lambda s: [s.terminal("t1"), s.terminal("t2"), s.terminal("t4", revoked=True)],
    "provisioned": lambda s: s.terminal("t1"),
}


def gen_run(block: Block, sandbox: Sandbox) -> list[str]:
    if block.attrs.get("setup"):
        SETUPS[block.attrs["setup"]](sandbox)
    out = []
    for line in block.lines:
        if line.startswith("$ "):
            out += [line, *sandbox.run(line[2:])]
    return out


def gen_help(block: Block, sandbox: Sandbox) -> list[str]:
    from fingerpos.tools.cli import build_parser

    command = block.lines[0]
    argv = shlex.split(command[2:])[1:]
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"   # argparse wraps to the terminal: the docs' width
    text = io.StringIO()
    try:
        with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
            build_parser().parse_args(argv)
    finally:
        os.environ.pop("COLUMNS") if old is None else os.environ.__setitem__("COLUMNS", old)
    return [command, *text.getvalue().rstrip("\n").split("\n")]


def gen_demo(block: Block, sandbox: Sandbox) -> list[str]:
    """`./run demo` up to the line that says the sellers are selling, then Ctrl-C.
    It runs on a free port and writes the default 8080 into the sample."""
    from fingerpos.tools.mosquitto import free_port

    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="fingerpos-demo-"))
    proc = subprocess.Popen([str(BIN / "fingerpos"), "demo", "--port", str(port),
                             "--data-dir", str(data), "--duration", "120"],
                            cwd=sandbox.root, env=sandbox.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    lines = [block.lines[0]]
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line.replace(f"127.0.0.1:{port}/", "127.0.0.1:8080/"))
            if line.startswith("sellers are selling") or line.startswith("error:"):
                break
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        import shutil
        shutil.rmtree(data, ignore_errors=True)
    return lines


def gen_receipt(block: Block, sandbox: Sandbox) -> list[str]:
    """The 58 mm receipt of the Shanghai example: 2 乌龙茶 at 13 %, 1 月饼 at 9 %, a
    price change of -0.80, paid in cash (the order tests/test_tax.py builds)."""
    from fingerpos.cloud.commerce import receipts
    from fingerpos.cloud.orders import tax

    items = [("oolong", "乌龙茶", 2, 1890, 1300), ("mooncake", "月饼", 1, 1200, 900)]
    adjustment = ("改价 price change: 老顾客", -80)
    lines = tuple(receipts.ReceiptLine(sku, name, q, p, q * p) for sku, name, q, p, _ in items)
    total = sum(ln.line_total for ln in lines) + adjustment[1]
    r = receipts.Receipt(
        shop="街角茶馆", order_id=1042, revision=2, created_at=datetime(2026, 12, 7, 14, 5),
        currency="CNY", lines=lines, total=total, adjustments=(adjustment,),
        payment_method="cash", paid=total, address="上海市黄浦区南京东路 100 号 世纪大厦 12 楼",
        tax_id="91310000MA1FL0XX0X",
        taxes=tuple(tax.summary([(q, p, rate) for *_, q, p, rate in items], [adjustment[1]])))
    return receipts.text_lines(r)


def gen_broker_acl(block: Block, sandbox: Sandbox) -> list[str]:
    SETUPS["devices"](sandbox)
    sandbox.run("fingerpos broker-config --out broker")
    return (sandbox.root / "broker" / "acl").read_text().rstrip("\n").split("\n")


GENERATORS = {"run": gen_run, "help": gen_help, "demo": gen_demo, "receipt": gen_receipt,
              "broker-acl": gen_broker_acl}


def regenerate(files: list[Path], write: bool, only: set[str] | None = None) -> list[str]:
    """Run every check= sample; rewrite it (write) or report each that drifted."""
    drifted = []
    for path in files:
        text = path.read_text().split("\n")
        todo = [b for b in blocks(path) if b.attrs.get("check") in GENERATORS
                and (only is None or b.attrs["check"] in only)]
        for b in reversed(todo):
            with tempfile.TemporaryDirectory(prefix="fp-docs-") as tmp:
                new = GENERATORS[b.attrs["check"]](b, Sandbox(Path(tmp)))
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
