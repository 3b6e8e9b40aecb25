"""gettext catalogs as a corpus: .po and .mo read alike, every rule counted, splits by the msgid.

The catalogs here are written by the tests (a .po text, compiled to .mo with Babel); one
test reads the machine's own catalogs, where it has them (the images this project runs on do).
"""

import gzip
import io
import json
import pathlib
import textwrap

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tf_transformer.data import DatasetSpec, catalogs, local, prepare

PT_PO = textwrap.dedent(r"""
    # A program's Portuguese catalog, as translators write them.
    msgid ""
    msgstr ""
    "Project-Id-Version: demo 1.0\n"
    "Language: pt_BR\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Plural-Forms: nplurals=2; plural=(n > 1);\n"

    msgid "File not found"
    msgstr "Arquivo não encontrado"

    msgid "_File"
    msgstr "_Arquivo"

    msgid "Save &As..."
    msgstr "Salvar &como..."

    msgid "Could not connect to the server: %s"
    msgstr "Não foi possível conectar ao servidor: %s"

    msgid "(%d minutes left to unlock)"
    msgstr "(%d minutos restantes para desbloquear)"

    msgid "pam_get_item() failed"
    msgstr "pam_get_item() falhou"

    msgid "<b>Warning:</b> %(name)s is {0}"
    msgstr "<b>Aviso:</b> %(name)s é {0}"

    msgctxt "menu"
    msgid "Open"
    msgstr "Abrir"

    msgid "%d file"
    msgid_plural "%d files"
    msgstr[0] "%d arquivo"
    msgstr[1] "%d arquivos"

    msgid "OK"
    msgstr "OK"

    msgid "Not yet"
    msgstr ""

    #, fuzzy
    msgid "Maybe"
    msgstr "Talvez"

    msgid "Usage: %s [OPTION]...\n"
    "Print the files.\n"
    msgstr "Uso: %s [OPÇÃO]...\n"
    "Mostra os arquivos.\n"
""").lstrip()

EXPECTED = [
    ("File not found", "Arquivo não encontrado"),
    ("File", "Arquivo"),
    ("Save As...", "Salvar como..."),
    ("Could not connect to the server: %s", "Não foi possível conectar ao servidor: %s"),
    ("(%d minutes left to unlock)", "(%d minutos restantes para desbloquear)"),
    ("pam_get_item() failed", "pam_get_item() falhou"),
    ("<b>Warning:</b> %(name)s is {0}", "<b>Aviso:</b> %(name)s é {0}"),
    ("Open", "Abrir"),
    ("%d file", "%d arquivo"),
    ("Usage: %s [OPTION]...\nPrint the files.\n", "Uso: %s [OPÇÃO]...\nMostra os arquivos.\n"),
]


def write_catalogs(folder: pathlib.Path, text: str = PT_PO, name: str = "demo") -> pathlib.Path:
    """``folder/pt_BR/LC_MESSAGES/<name>.po`` and its compiled ``.mo`` (as ``msgfmt`` would)."""
    messages = folder / "pt_BR" / "LC_MESSAGES"
    messages.mkdir(parents=True, exist_ok=True)
    (messages / f"{name}.po").write_text(text, encoding="utf-8")
    with open(messages / f"{name}.mo", "wb") as f:
        write_mo(f, read_po(io.StringIO(text)))  # leaves fuzzy entries out, as msgfmt does
    return messages


def read_all(paths):
    counts = dict.fromkeys(catalogs.CHANGED, 0)
    found = list(catalogs.records(paths, counts))
    pairs = [r for r in found if not isinstance(r, str)]
    skipped = {kind: found.count(kind) for kind in catalogs.SKIPPED if kind in found}
    return pairs, skipped, counts


def test_a_po_catalog_gives_its_pairs_and_counts_every_rule(tmp_path):
    po = write_catalogs(tmp_path) / "demo.po"
    pairs, skipped, changed = read_all([po])
    assert pairs == EXPECTED
    assert skipped == {"header": 1, "untranslated": 1, "fuzzy": 1, "identical": 1}
    assert changed == {"plural": 1, "context": 1, "accelerator": 2}


def test_the_compiled_catalog_reads_the_same_with_the_standard_library(tmp_path):
    messages = write_catalogs(tmp_path)
    mo_pairs, mo_skipped, mo_changed = read_all([messages / "demo.mo"])
    # (A .mo keeps its entries sorted by msgid, for a binary search.)
    assert sorted(mo_pairs) == sorted(EXPECTED) and mo_changed == {
        "plural": 1,
        "context": 1,
        "accelerator": 2,
    }
    # msgfmt leaves untranslated and fuzzy entries out of the .mo: nothing to skip there.
    assert mo_skipped == {"header": 1, "identical": 1}
    assert catalogs.catalog_language(messages / "demo.mo") == "pt_BR"


def test_a_catalog_in_another_charset_is_decoded_by_its_header(tmp_path):
    catalog = Catalog(locale="de", charset="iso-8859-1")
    catalog.add("Size", "Größe")
    catalog.add("Open file", "Datei öffnen")
    path = tmp_path / "de.mo"
    with open(path, "wb") as f:
        write_mo(f, catalog)
    assert b"Gr\xf6\xdfe" in path.read_bytes()  # Latin-1 bytes, not UTF-8
    assert sorted(read_all([path])[0]) == [("Open file", "Datei öffnen"), ("Size", "Größe")]


def test_broken_catalogs_are_named(tmp_path):
    (tmp_path / "notes.mo").write_bytes(b"not a catalog at all")
    with pytest.raises(ValueError, match="not a compiled gettext catalog"):
        catalogs.read_mo(tmp_path / "notes.mo")
    good = write_catalogs(tmp_path / "ok") / "demo.mo"
    (tmp_path / "cut.mo").write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated"):
        catalogs.read_mo(tmp_path / "cut.mo")
    with pytest.raises(FileNotFoundError, match="no gettext catalogs for 'xx'.*has catalogs for: pt_BR"):
        catalogs.find_catalogs("xx", roots=[tmp_path / "ok"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no .mo or .po files"):
        catalogs.catalogs_in(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        catalogs.catalogs_in(tmp_path / "missing")


@pytest.mark.parametrize(
    "text, stripped",
    [
        ("_File", "File"),
        ("Save _As", "Save As"),
        ("&Quit", "Quit"),
        ("文件(_F)", "文件"),
        ("ファイル(&F)", "ファイル"),
        ("pam_*_item()", "pam_*_item()"),  # identifiers keep their underscores
        ("LC_ALL", "LC_ALL"),
        ("Tom & Jerry", "Tom & Jerry"),
        ("&amp; more", "&amp; more"),  # an entity, not an accelerator
        ("%s_%d", "%s_%d"),
    ],
)
def test_accelerators_and_only_accelerators_are_removed(text, stripped):
    assert catalogs.strip_accelerator(text) == (stripped, stripped != text)


def test_the_gettext_spec_names_a_language_or_a_path(tmp_path, monkeypatch):
    assert DatasetSpec.parse("gettext:pt_BR").languages == ("en", "pt_BR")
    assert DatasetSpec.parse("gettext:pt_BR", reverse=True).languages == ("pt_BR", "en")
    assert DatasetSpec.parse("gettext:pt_BR").is_local and DatasetSpec.parse("gettext:de").kind == "gettext"
    messages = write_catalogs(tmp_path)
    spec = DatasetSpec.parse(f"gettext:{messages / 'demo.mo'}")
    assert spec.paths == (messages / "demo.mo",) and spec.languages == ("en", "pt_BR")
    folder = DatasetSpec.parse(f"gettext:{tmp_path}")
    assert folder.paths == (messages / "demo.mo", messages / "demo.po")
    with pytest.raises(ValueError, match="gettext: names a language"):
        DatasetSpec.parse("gettext:")
    monkeypatch.setattr(catalogs, "LOCALE_DIRS", (str(tmp_path),))  # the machine's, as a test sees it
    assert DatasetSpec.parse("gettext:pt_BR").paths == (messages / "demo.mo",)


def test_prepare_reads_carves_by_the_msgid_and_records_the_catalogs(tmp_path):
    # Two programs' catalogs: the demo one, and a bigger one that makes the corpus worth carving.
    extra = "".join(
        f'msgid "Item number {i} of the list"\nmsgstr "Item número {i} da lista"\n\n' for i in range(60)
    )
    messages = write_catalogs(tmp_path / "locale")
    write_catalogs(tmp_path / "locale", PT_PO.split("\n\n", 1)[0] + "\n\n" + extra, name="lists")
    for po in messages.glob("*.po"):
        po.unlink()  # the .mo files only, as a machine has them
    spec = DatasetSpec.parse(f"gettext:{tmp_path / 'locale'}")
    summary = prepare(spec, data_dir=tmp_path / "data", vocab_size=300)
    assert summary["tokenizer"] == "sentencepiece"
    assert summary["languages"] == {"source": "en", "target": "pt_BR"}
    assert sum(summary["splits"].values()) == len(EXPECTED) + 60 and summary["carved"] == [
        "validation",
        "test",
    ]
    assert summary["skipped"]["header"] == 2 and summary["skipped"]["identical"] == 1
    assert summary["changed"] == {"plural": 1, "context": 1, "accelerator": 2}
    assert [(c["name"], c["pairs"]) for c in summary["catalogs"]] == [
        ("demo.mo", len(EXPECTED)),
        ("lists.mo", 60),
    ]
    assert all(len(c["sha256"]) == 64 for c in summary["catalogs"])
    assert summary["round_trip"] == {"source": 1.0, "target": 1.0}
    printed = prepare_module_summary(summary)
    assert (
        "read        2 gettext catalogs" in printed
        and "changed     plural 1, context 1, accelerator 2" in printed
    )
    # The same msgid lands in the same split in another data dir (on another machine).
    again = local.prepare_local(spec, tmp_path / "elsewhere")

    def split_of(info):
        return {
            line.split("\t")[0]: split
            for split in ("train", "validation", "test")
            for line in gzip.open(pathlib.Path(info["path"]) / f"{split}.tsv.gz", "rt", encoding="utf-8")
        }

    first = local.read_info(pathlib.Path(summary["prepared_in"]))
    assert split_of(first) == split_of(again)
    assert (
        json.loads((pathlib.Path(again["path"]) / local.INFO_FILE).read_text())["catalogs"][0]["name"]
        == "demo.mo"
    )


def prepare_module_summary(summary):
    from tf_transformer.data.prepare import format_summary

    return format_summary(summary)


@pytest.mark.slow  # reads every catalog of the machine's language and learns two vocabularies
def test_the_machines_portuguese_catalogs_come_back_exactly(tmp_path):
    try:
        found = catalogs.find_catalogs("pt_BR")
    except FileNotFoundError:
        pytest.skip("this machine has no pt_BR gettext catalogs (/usr/share/locale/pt_BR/LC_MESSAGES)")
    summary = prepare(DatasetSpec.parse("gettext:pt_BR"), data_dir=tmp_path)
    assert len(summary["catalogs"]) == len(found) and summary["splits"]["train"] > 5000
    assert summary["round_trip_sentences"] >= 500
    assert min(summary["round_trip"].values()) >= 0.999, summary["round_trip_failures"]
