"""Regenerating the docs' `check=` samples (tools/docs_samples.py): a sandbox per sample
(a fresh working directory and data dir, the commands in one shell as a user types them,
a cloud on a free port where a sample needs one), the generator per kind of sample, and
`normalise`, which makes equal what honest runs may differ in.

Split from docs_samples.py, which finds and checks the samples, to keep both short.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fingerpos.tools.docs_samples import Block

BIN = Path(sys.executable).parent

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

        self.into: dict[str, str] = {}   # what the docs write -> what this run uses
        self.back: dict[str, str] = {}   # and back, in what the commands print
        self.procs: list[subprocess.Popen] = []

    def close(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def session(self, commands: list[str]) -> list[list[str]]:
        """The commands in one shell, as a user types them (an `export` holds for the
        next); what each printed, stdout and stderr as a terminal shows them."""
        mark = f"--fp-docs-{os.getpid()}--"
        script = "exec 2>&1\n" + "".join(f"echo {mark}\n{c}\n" for c in commands)
        for doc, real in self.into.items():
            script = script.replace(doc, real)
        out = self.run(script)
        chunks, cur = [], None
        for line in out:
            if line == mark:
                cur = []
                chunks.append(cur)
            elif cur is not None:
                cur.append(line)
        return chunks

    def run(self, command: str, timeout: float = 300, raw: bool = False) -> list[str]:
        p = subprocess.run(["bash", "-c", command], cwd=self.root, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        text = p.stdout.decode("utf-8", "replace")
        if raw:
            return text.split()
        text = text.replace(f"{self.root}/", "")
        for real, doc in self.back.items():
            text = text.replace(real, doc)
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


def start_cloud(s: Sandbox) -> None:
    """A migrated cloud on a free port, with an admin's token, where the docs say
    127.0.0.1:18080 and <token>; terminal t2 already registered from another laptop."""
    import time
    import urllib.request

    from fingerpos.tools.mosquitto import free_port

    s.run("fingerpos migrate")
    token = s.run("echo pw-admin-12345678 | fingerpos user create --email admin@example.com"
                  " --role admin --password-stdin --token", raw=True)[-1]
    port = free_port()
    s.procs.append(subprocess.Popen([str(BIN / "fingerpos"), "serve", "--port", str(port)],
                                    cwd=s.root, env=s.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise RuntimeError("the cloud for the samples did not start")
    s.into.update({"127.0.0.1:18080": f"127.0.0.1:{port}", "<token>": token})
    s.back[f"127.0.0.1:{port}"] = "127.0.0.1:18080"
    s.session(["FINGERPOS_CLOUD=http://127.0.0.1:18080 FINGERPOS_TOKEN=<token> fingerpos "
               "device provision --id t2 --shop shop1 --out laptop-a"])


SETUPS = {
    "cloud": start_cloud,
    "migrated": lambda s: [s.run("fingerpos migrate"),
                           s.run("echo pw-li-12345678 | fingerpos user create --email li@shop1.example"
                                 " --role seller --shop shop1 --password-stdin")],
    "devices": lambda s: [s.terminal("t1"), s.terminal("t2"), s.terminal("t4", revoked=True)],
    "provisioned": lambda s: s.terminal("t1"),
}


def gen_run(block: Block, sandbox: Sandbox) -> list[str]:
    if block.attrs.get("setup"):
        SETUPS[block.attrs["setup"]](sandbox)
    commands = [line for line in block.lines if line.startswith("$ ")]
    out = []
    for command, printed in zip(commands, sandbox.session([c[2:] for c in commands]), strict=True):
        out += [command, *printed]
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
        shop="街角茶馆", order_id=1042, revision=2, created_at=datetime(2026, 12, 7, 6, 5, tzinfo=UTC),
        zone="Asia/Shanghai",
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
