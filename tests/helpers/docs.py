"""Reading the Markdown pages as text: their shell commands, their links, their headings' anchors.

``test_docs.py`` and ``test_docs_zh.py`` hold the pages to what they say; no TensorFlow needed.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_ZH = ROOT / "README.zh-CN.md"
GLOSSARY = ROOT / "notebooks" / "GLOSSARY.md"
DOCS = ROOT / "docs"

FENCE = re.compile(r"^[ \t]*```(\w*)[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path: pathlib.Path) -> str:
    return path.read_text(encoding="utf-8")


def shell_commands(text: str) -> list[str]:
    """Each command of the text's bash blocks: continuation lines joined, comments and blanks dropped."""
    commands = []
    for lang, body in FENCE.findall(text):
        if lang not in ("bash", "sh", "shell"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            command = re.sub(r"(^|\s+)#.*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def normalized(command: str) -> str:
    return " ".join(command.split())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: pathlib.Path) -> set[str]:
    prose = FENCE.sub("", read(path))
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", prose, re.M)}


def links(path: pathlib.Path) -> list[str]:
    """The targets of the page's Markdown links and images, outside code blocks."""
    return LINK.findall(FENCE.sub("", read(path)))


def broken_links(page: pathlib.Path) -> list[str]:
    """The page's relative links whose file, or heading in a Markdown file, does not exist."""
    broken = []
    for link in links(page):
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link!r}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{link!r}: no heading {fragment!r} in {path.name}")
    return broken
