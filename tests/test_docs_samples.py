"""The manuals' command samples against the real commands (#17 item 6): every
`check=` sample in README.md and docs/*.md is what the command prints today, every
other command sample says when it was measured, and every `fingerpos` command line
in them parses with the real CLI's argparse (tools/docs_samples.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fingerpos.tools import docs_samples as ds

DOCS = ds.doc_files()


@pytest.mark.parametrize("kind", sorted(ds.GENERATORS))
def test_each_regenerated_sample_matches_what_its_command_prints_now(kind):
    marked = [b for p in DOCS for b in ds.blocks(p) if b.attrs.get("check") == kind]
    assert marked, f"no check={kind} sample in the docs"
    assert ds.regenerate(DOCS, write=False, only={kind}) == []


def test_the_readme_shows_the_demos_real_first_lines():
    (demo,) = [b for b in ds.blocks(DOCS[0]) if b.attrs.get("check") == "demo"]
    assert demo.lines[0] == "$ ./run demo"
    assert any(line.startswith("cloud on http://127.0.0.1:8080/") for line in demo.lines)


def test_a_sample_that_drifted_fails_the_check_and_write_puts_it_back(tmp_path):
    doc = tmp_path / "technicians.md"
    shutil.copy(Path(ds.REPO) / "docs" / "technicians.md", doc)
    original = doc.read_text()
    assert "  --port PORT        serial port" in original
    doc.write_text(original.replace("  --port PORT        serial port", "  --port PORT        the port"))
    drifted = ds.regenerate([doc], write=False, only={"help"})
    assert len(drifted) == 1 and "check=help" in drifted[0], drifted
    assert ds.main(["--check", "--only", "help", str(doc)]) == 1
    assert ds.main(["--write", "--only", "help", str(doc)]) == 0
    assert doc.read_text() == original
    assert ds.main(["--check", "--only", "help", str(doc)]) == 0


def test_a_stale_run_sample_fails_too(tmp_path):
    """The sample README.md carried before this check: 2 migrations, when there are 13+."""
    doc = tmp_path / "ops.md"
    doc.write_text("```console check=run\n$ fingerpos serve\nerror: the database schema is "
                   "out of date (2 migration(s) pending): run `fingerpos migrate` first\n```\n")
    assert len(ds.regenerate([doc], write=False)) == 1
    ds.regenerate([doc], write=True)
    text = doc.read_text()
    assert "(2 migration(s) pending)" not in text and "migration(s) pending" in text
    assert ds.regenerate([doc], write=False) == []


def test_every_command_sample_says_how_it_is_kept_true():
    assert ds.mark_problems(DOCS) == []


def test_an_unmarked_or_undated_sample_is_named(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("```\n$ fingerpos bench search\np50 1 ms\n```\n\n"
                   "```console measured=last-week\n$ fingerpos bench web\n```\n\n"
                   "```console check=nonsense\n$ fingerpos serve\n```\n\n"
                   "```console measured=2026-12-07\n$ fingerpos bench reports\n```\n")
    problems = ds.mark_problems([doc])
    assert [p.split(":")[1] for p in problems] == ["1", "6", "10"], problems


def test_every_fingerpos_command_line_in_the_docs_parses_with_the_real_cli():
    lines = [c for p in DOCS for c in ds.command_lines(p)]
    assert len(lines) > 60          # blocks and inline spans are both found
    assert ds.cli_problems(DOCS) == []


def test_a_command_line_the_cli_refuses_is_named(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "```console measured=2026-12-07\n$ fingerpos device flash --prot /dev/ttyACM0 --id t1\n"
        "$ fingerpos bench ingest --workers three\n```\n\n"
        "```sh\nFINGERPOS_CLOUD=http://x ./run fingerpos device provison --id t1\n```\n\n"
        "Run `fingerpos serve --no-such-flag` or `fingerpos user create ... --tokens`.\n"
        "These are fine: `fingerpos serve --share-group`, `fingerpos broker-config --db`,\n"
        "`./run demo --terminals 5`, `echo x | fingerpos user create --email a@b --role admin "
        "--password-stdin`, `fingerpos bench ingest --workers N`.\n")
    problems = ds.cli_problems([doc])
    assert [p.split(":")[1] for p in problems] == ["2", "3", "7", "10", "10"], problems
    assert "--port" in problems[0] and "'three'" in problems[1] and "provison" in problems[2]


def test_command_lines_are_found_through_the_shell_around_them():
    assert ds.fingerpos_argvs("./run demo --port 8081") == [["demo", "--port", "8081"]]
    assert ds.fingerpos_argvs('echo "$PW" | FINGERPOS_DATA=/d .venv/bin/fingerpos migrate') == [
        ["migrate"]]
    assert ds.fingerpos_argvs("./run fingerpos protocol verify --key <64 hex> --topic t "
                              "< payload.bin  # a comment") == [
        ["protocol", "verify", "--key", "X", "--topic", "t"]]
    assert ds.fingerpos_argvs("./run test -q tests/test_demo.py") == []
