"""Every number a notebook's prose states is one its outputs show, a committed result holds, the
paper says, or simple arithmetic on those gives: prose cannot drift from the run it describes.

Read as text from the committed ``.ipynb`` files and ``benchmarks/results/``: no TensorFlow.
A number counts as shown when a cell's output or code, or a results file, has it at the
prose's precision (``0.7869`` shows ``0.787`` and ``78.7%``; ``21,383`` shows "21,000"). Numbers
that come from elsewhere are listed below with where they come from; numbers the prose works
out are listed with the arithmetic, whose every operand must itself be shown.
"""

import json
import math
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RESULTS = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "benchmarks" / "results").glob("*.*"))

# Cited, not measured here: number -> where it comes from.
PAPER_TABLE_2 = "the paper's Table 2 (BLEU on WMT 2014)"
CITED = {
    "02": {"37,000": "the paper, section 5.1: the English-German BPE vocabulary"},
    "07": {"27.3": PAPER_TABLE_2},
    "09": {
        "27.3": PAPER_TABLE_2,
        "38.1": PAPER_TABLE_2,
        "28.4": PAPER_TABLE_2,
        "41.8": PAPER_TABLE_2,
        "25,000": "the paper, section 5.1: tokens per batch",
        "37,000": "the paper, section 5.1: the English-German BPE vocabulary",
        "24.9": "the paper's Table 3, row (A)",
        "24.6": "the paper's Table 3, row (D)",
        "4.67": "the paper's Table 3, row (D): perplexity",
        "4.92": "the paper's Table 3, base: perplexity",
        "25.3": "the paper's Table 3, row (D)",
        "25.7": "the paper's Table 3, row (E)",
        "26.4": "the paper's Table 3, big",
    },
    "11": {
        "27.3": PAPER_TABLE_2,
        "28.4": PAPER_TABLE_2,
        "51,785": "TFDS's ted_hrlr_translate/pt_to_en: its training split",
    },
}
# Worked out in the prose: number -> the arithmetic (every literal in it must be shown).
DERIVED = {
    "07": {
        "1.1394": "-math.log(0.32)",
        "1.1552": "-math.log(0.315)",
        "2.88": "-math.log(0.056)",
        "1.0388": "math.log(0.32) / ((5 + 2) / 6) ** 0.6",  # the length penalty of 2 tokens
        "0.9720": "math.log(0.315) / ((5 + 3) / 6) ** 0.6",
        "0.035": "0.35 * 0.1",
        "0.016": "0.08 * 0.2",
    },
    "09": {  # differences between rows of the ablation table (benchmarks/results/ablations.md)
        "0.007": "0.7869 - 0.7796",
        "0.21": "0.7869 - 0.5775",
        "0.24": "0.7869 - 0.5469",
        "16,384": "2334502 - 2318118",
        "103,974": "2318118 - 2214144",
    },
}

NUMBER = re.compile(r"(?<![\w.\-])(\d+\.\d+(?:e-?\d+)?|\d{1,3}(?:,\d{3})+)(?![\w])")
SHOWN = re.compile(r"\d[\d,]*\.?\d*(?:e-?\d+)?")


def shown_forms(text: str) -> set[str]:
    """Every way a number in ``text`` may be quoted: itself, rounded, as a percent, in e-notation."""
    forms = set()
    for match in SHOWN.finditer(text):
        literal = match.group(0).rstrip(".").replace(",", "")
        try:
            value = float(literal)
        except ValueError:
            continue
        forms.add(literal)
        for digits in range(5):
            forms.update((f"{value:.{digits}f}", f"{100 * value:.{digits}f}", f"{value:.{digits}e}"))
        if value >= 1000:
            forms.add(f"{round(value, -3):.0f}")  # "about 21,000"
    return forms


def prose_numbers(markdown: str) -> list[str]:
    """The numbers of a markdown cell that claim something: not in code, math, citations or headings
    of the paper's sections and tables."""
    text = re.sub(r"`[^`]*`|\$[^$]*\$", "", markdown)
    text = re.sub(r"\([^)]*\b(19|20)\d\d\b[^)]*\)", "", text)  # (Vaswani et al., 2017)
    text = re.sub(r"(?i)\b(sections?|table|equation)\s*\d+(\.\d+)*|\d+(\.\d+)+\s*节", "", text)
    return [m.group(1) for m in NUMBER.finditer(text)]


def cells(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return notebook["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_number_in_the_prose_is_shown_cited_or_worked_out(path):
    number = path.name[:2]
    shown_text = RESULTS
    for cell in cells(path):
        if cell["cell_type"] == "code":
            shown_text += "\n" + "".join(cell["source"])
            for output in cell.get("outputs", []):
                shown_text += "\n" + "".join(output.get("text", ""))
                shown_text += "\n" + "".join(output.get("data", {}).get("text/plain", ""))
    shown = shown_forms(shown_text)
    cited, derived = CITED.get(number, {}), DERIVED.get(number, {})
    unaccounted = set()
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for found in prose_numbers("".join(cell["source"])):
            plain = found.replace(",", "")
            if plain in shown or found in cited or found in derived:
                continue
            unaccounted.add(found)
    assert not unaccounted, (
        f"{path.name} states {sorted(unaccounted)}, which no output, results file, citation or "
        "worked arithmetic gives: rebuild it, fix the prose, or list the number's source here"
    )
    for found, expression in derived.items():
        for literal in re.findall(r"\d+\.?\d*", expression):
            assert literal in shown or literal in derived, (
                f"{path.name}: {expression} uses {literal}, shown nowhere"
            )
        value = abs(eval(expression, {"math": math}))  # noqa: S307  (the expressions above)
        decimals = len(found.split(".")[1]) if "." in found else 0
        assert f"{value:,.{decimals}f}".replace(",", "") == found.replace(",", ""), (found, expression)


def test_the_listed_numbers_are_still_in_the_prose():
    """A citation or a worked number the prose no longer states leaves the lists."""
    for path in NOTEBOOKS:
        number = path.name[:2]
        stated = {
            n
            for c in cells(path)
            if c["cell_type"] == "markdown"
            for n in prose_numbers("".join(c["source"]))
        }
        listed = set(CITED.get(number, {})) | set(DERIVED.get(number, {}))
        assert listed <= stated, f"{path.name} no longer states {sorted(listed - stated)}"
