"""The protocol module as the terminal runs it: the same code, without its error texts.

protocol/__init__.py is shared by the cloud and the terminal. Its errors carry a
`code` (the class's, e.g. "bad_signature") and a message for a person reading the
cloud's logs. On the terminal the message costs heap for nothing: each long string
constant of a loaded .mpy is a str object on the GC heap (32 bytes plus its text,
rounded up to 32-byte blocks on the unix port), 2.3 KB for protocol's 30 messages,
and the terminal reports a refused command by its code alone (commands.py logs
"cmd: dropped (<code>)"). So the bundle compiles a copy in which every `raise` of a
ProtocolError class carries no arguments: the same checks in the same order, the
same exception classes and codes.

A source transform, like driver_trim.py: mpy-cross cannot leave constants out, and
freezing needs a custom MicroPython build. The copy is written by ast.unparse
(comments go; the bundle's -O3 keeps no line numbers anyway).
"""

from __future__ import annotations

import ast
from pathlib import Path


def error_classes(tree: ast.Module, root: str = "ProtocolError") -> set[str]:
    """The module's exception classes derived from `root`, `root` included."""
    found = {root}
    grew = True
    while grew:
        grew = False
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name not in found and any(
                    isinstance(b, ast.Name) and b.id in found for b in node.bases):
                found.add(node.name)
                grew = True
    return found


class _Silence(ast.NodeTransformer):
    def __init__(self, classes: set[str]) -> None:
        self.classes = classes
        self.count = 0

    def visit_Raise(self, node: ast.Raise) -> ast.Raise:
        exc = node.exc
        if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) \
                and exc.func.id in self.classes and (exc.args or exc.keywords):
            exc.args, exc.keywords = [], []
            self.count += 1
        return node


def silenced(source: str) -> tuple[str, int]:
    """(source with the ProtocolError raises' arguments removed, how many were)."""
    tree = ast.parse(source)
    t = _Silence(error_classes(tree))
    tree = t.visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n", t.count


def protocol_source(src: Path, into: Path) -> Path:
    """Write the terminal's copy of protocol/__init__.py into `into`; returns its path."""
    text, _ = silenced(src.read_text())
    out = into / src.name
    out.write_text(text)
    compile(text, str(out), "exec")
    return out
