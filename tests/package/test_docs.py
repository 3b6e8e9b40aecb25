"""The front door and the manual point at what exists: links, the layout table, the commands.

README.md is the front door and docs/ the manual. Every relative link of every page
resolves (a file, and a heading where the link names one), the README's layout table names
every module of tf_transformer/ and nothing else, and CI runs the test command the README
gives a newcomer. Read as text: no TensorFlow needed.
"""

import re

import pytest
from helpers.docs import DOCS, GLOSSARY, README, README_ZH, ROOT, broken_links, links, read, shell_commands

PACKAGE = ROOT / "tf_transformer"
RESULTS_README = ROOT / "benchmarks" / "results" / "README.md"
PAGES = [README, README_ZH, GLOSSARY, *sorted(DOCS.glob("*.md")), RESULTS_README]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    assert links(page), f"{page.name} links to nothing"
    broken = broken_links(page)
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("readme", [README, README_ZH], ids=lambda p: p.name)
def test_the_readmes_link_every_page_of_the_manual(readme):
    linked = {(readme.parent / link.partition("#")[0]).resolve() for link in links(readme)}
    missing = [page.name for page in sorted(DOCS.glob("*.md")) if page.resolve() not in linked]
    assert not missing, f"{readme.name} does not link docs/{', docs/'.join(missing)}"


def layout_rows():
    """The README's layout table as (folder, file names listed in that row)."""
    section = read(README).split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`tf_transformer/"):
            continue
        folder = re.match(r"`(tf_transformer/[\w/]*)`", cells[0]).group(1)
        rows.append((folder, re.findall(r"`(\w+\.py)`", " | ".join(cells[1:]))))
    return rows


def test_the_layout_table_names_every_module():
    """Each row is a folder of tf_transformer/ (`tf_transformer/` itself for the top-level modules),
    listing its modules as `name.py`; a package's own `__init__.py` goes without saying."""
    listed = {folder + name for folder, names in layout_rows() for name in names}
    modules = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    assert modules - listed == set(), f"README.md's layout table lacks {sorted(modules - listed)}"
    assert listed - modules == set(), f"README.md's layout table names missing {sorted(listed - modules)}"


def test_ci_runs_the_test_command_of_the_first_screen():
    opening = shell_commands(read(README).split("\n## ", 1)[0])
    assert "make test" in opening and "make demo" in opening, opening
    ci = [line.strip() for line in read(ROOT / ".ci" / "run").splitlines()]
    assert "make test" in ci, ".ci/run must run the README's `make test`"
    targets = set(re.findall(r"^([\w-]+):", read(ROOT / "Makefile"), re.M))
    assert {"demo", "test", "test-fast", "lint"} <= targets
