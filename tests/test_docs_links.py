"""Every relative link in README.md and docs/*.md resolves (#17 item 6): to a file or
directory of the repository, and a `#fragment` to a heading of the Markdown file it
names, slugged as GitHub renders headings (lower case, punctuation dropped, spaces to
hyphens, a repeated heading gets -1, -2)."""

from __future__ import annotations

import re
from pathlib import Path

from fingerpos.tools import docs_samples as ds

LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    """The text outside fenced blocks and inline code, where links are links."""
    out, fence = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            fence = not fence
            continue
        if not fence:
            out.append(re.sub(r"`[^`\n]*`", "", line))
    return "\n".join(out)


def slugs(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6} +(.+?) *#*$", _prose(path.read_text().replace("`", "")), re.M):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def link_problems(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        for target in LINK.findall(_prose(path.read_text())):
            if re.match(r"^[a-z]+:", target):        # https:, mailto:
                continue
            file, _, fragment = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists():
                problems.append(f"{path.name}: {target}: no such file")
            elif fragment and dest.suffix == ".md" and fragment not in slugs(dest):
                problems.append(f"{path.name}: {target}: no heading #{fragment} in {dest.name}")
    return problems


def test_every_relative_link_in_the_readme_and_the_manuals_resolves():
    files = ds.doc_files()
    assert len(files) >= 10
    assert sum(len(LINK.findall(_prose(p.read_text()))) for p in files) > 80
    assert link_problems(files) == []


def test_the_readme_links_every_manual_in_docs():
    readme = (ds.REPO / "README.md").read_text()
    for doc in sorted((ds.REPO / "docs").glob("*.md")):
        assert f"](docs/{doc.name})" in readme, doc.name


def test_a_broken_link_or_anchor_is_named(tmp_path):
    (tmp_path / "other.md").write_text("# Running the cloud\n\n## Stock\n\n## Stock\n\n"
                                       "## HTTP API (`/api/v1`, OpenAPI 3)\n")
    doc = tmp_path / "x.md"
    doc.write_text("[a](other.md#running-the-cloud) [b](other.md#stock-1) "
                   "[c](other.md#http-api-apiv1-openapi-3) [d](#local) [e](https://example.com/x)\n"
                   "[f](missing.md) [g](other.md#stock-2) [h](#nowhere)\n\n# Local\n\n"
                   "```\n[not a link](nowhere.md)\n```\n")
    problems = link_problems([doc])
    assert problems == ["x.md: missing.md: no such file",
                        "x.md: other.md#stock-2: no heading #stock-2 in other.md",
                        "x.md: #nowhere: no heading #nowhere in x.md"], problems


def test_chinese_headings_slug_as_github_renders_them(tmp_path):
    doc = tmp_path / "zh.md"
    doc.write_text("## 校检 Validation before print\n")
    assert slugs(doc) == {"校检-validation-before-print"}


def test_the_readme_is_a_front_door_not_a_manual():
    """Issue #17 item 6: at most 250 lines; the manuals live in docs/."""
    readme = (ds.REPO / "README.md").read_text()
    assert len(readme.split("\n")) <= 250
    for role in ("Buyers", "Sellers", "Managers and operators", "Technicians", "Developers"):
        assert f"**{role}**" in readme, role
    assert "./run demo" in readme and "./run test" in readme
