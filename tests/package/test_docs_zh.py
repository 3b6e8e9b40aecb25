"""The Chinese pages cannot drift from the English one.

README.zh-CN.md repeats the English README's first-screen commands verbatim and
lists every notebook; notebooks/GLOSSARY.md names notebooks by number. Both are
read as text: no TensorFlow needed. Their links are checked with every other
page's in test_docs.py.
"""

import re

import pytest
from helpers.docs import GLOSSARY, LINK, README, README_ZH, ROOT, normalized, read, shell_commands

NOTEBOOK_NUMBERS = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def first_screen_commands():
    """The commands of README.md's opening, before its first section heading."""
    opening = read(README).split("\n## ", 1)[0]
    return shell_commands(opening)


def test_first_screen_commands_are_repeated_verbatim():
    english = first_screen_commands()
    assert english, "README.md's first screen should hold a bash block with its commands"
    chinese = shell_commands(read(README_ZH))
    for command in english:
        assert command in chinese, f"README.zh-CN.md lacks the first-screen command {command!r}"


def test_every_command_of_the_chinese_page_exists():
    """A `make` target the Makefile has, or a `tf-transformer` command the English README gives."""
    targets = set(re.findall(r"^([\w-]+):", read(ROOT / "Makefile"), re.M))
    english = {normalized(c) for c in shell_commands(read(README))}
    checked = 0
    for command in shell_commands(read(README_ZH)):
        if command.startswith("make "):
            assert command.split()[1] in targets, f"no Makefile target for {command!r}"
            checked += 1
        elif command.startswith("tf-transformer "):
            assert normalized(command) in english, f"README.md does not give {command!r}"
            checked += 1
    assert checked >= 3


def test_outline_lists_every_notebook_in_order():
    outline = read(README_ZH).split("## 课程目录", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\]\(notebooks/(\d\d)_\w+\.ipynb\)", outline)
    assert listed == NOTEBOOK_NUMBERS


def test_glossary_rows_name_existing_notebooks():
    rows = [line for line in read(GLOSSARY).splitlines() if line.startswith("| ")]
    rows = [row for row in rows if not row.startswith(("| English", "| ---"))]
    assert len(rows) >= 30
    for row in rows:
        where = re.split(r"(?<!\\)\|", row)[-2]
        numbers = re.findall(r"\d+", where)
        assert numbers, f"no notebook number in {row!r}"
        for number in numbers:
            assert number in NOTEBOOK_NUMBERS, f"no notebook {number} for {row!r}"


@pytest.mark.parametrize(
    "english, chinese",
    [
        ("self-attention", "自注意力"),
        ("multi-head attention", "多头注意力"),
        ("positional encoding", "位置编码"),
        ("residual connection", "残差连接"),
        ("layer normalization", "层规范化"),
        ("feed-forward network", "前馈网络"),
        ("padding mask", "填充掩码"),
        ("causal mask", "因果掩码"),
        ("beam search", "束搜索"),
        ("teacher forcing", "教师强制"),
    ],
)
def test_glossary_has_the_core_terms(english, chinese):
    row = next((line for line in read(GLOSSARY).splitlines() if english in line), "")
    assert chinese in row, f"the glossary should translate {english!r} as {chinese!r}"


def test_english_readme_links_to_both_pages():
    links = LINK.findall(read(README))
    assert "README.zh-CN.md" in links
    assert "notebooks/GLOSSARY.md" in links


@pytest.mark.parametrize("number", NOTEBOOK_NUMBERS)
def test_every_notebook_opens_with_a_chinese_summary(number):
    # A markdown cell among the first three, headed "本节内容" (what this notebook covers),
    # written in Chinese: at least 40 CJK characters, not a heading over English text.
    (source,) = (ROOT / "notebooks").glob(f"{number}_*.py")
    cells = re.split(r"^# %%.*$", read(source), flags=re.M)[:4]
    summary = [c for c in cells if "本节内容" in c]
    assert summary, f"{source.name}: no '本节内容' cell near the top"
    assert len(re.findall(r"[\u4e00-\u9fff]", summary[0])) >= 40, f"{source.name}: summary too short"
