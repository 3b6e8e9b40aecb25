"""The human translations already on the machine: gettext catalogs as a parallel corpus.

Programs translated with GNU gettext install one catalog per language and
program, ``/usr/share/locale/<LANG>/LC_MESSAGES/<program>.mo``: every string
the program shows in English (the ``msgid``), with a translator's rendering
(the ``msgstr``). ``--dataset gettext:pt_BR`` reads every such catalog of a
language as one corpus, English -> Portuguese; ``--reverse`` reads it the
other way. ``gettext:PATH`` reads one ``.mo`` or ``.po`` file, or every one
in a folder. The catalogs keep their programs' licences: they are read where
they lie and never copied into this repository.

``.mo`` files (compiled) are read with the standard library (``struct``: the
format is a table of offsets, documented in the GNU gettext manual), which
also copes with catalogs in another charset than UTF-8; ``.po`` files (the
translators' sources) with Babel, the library Sphinx and Flask-Babel use:
maintained, and it parses the format's corners (flags, contexts, plurals,
continued lines) that a hand-written parser would get wrong.

What a translator would want, decided entry by entry (each kind counted):

- ``header``: the catalog's metadata entry (``msgid ""``) is not a sentence;
- ``untranslated`` (empty ``msgstr``) and ``fuzzy`` (a translator's guess,
  marked for review; only ``.po`` files carry them) are not translations;
- ``plural``: a message with plural forms gives its singular pair only
  (``msgid`` -> ``msgstr[0]``); the other forms are counted here. Languages
  have 1 to 6 forms and their order follows a per-language formula, so only
  the first pairs alike everywhere;
- ``context`` (``msgctxt``): the pair is kept, the context dropped (it tells
  translators where a string appears, e.g. "menu"), and the line counted;
- ``accelerator``: keyboard accelerators are removed from both sides and the
  line counted: ``_File`` / ``&File`` -> ``File``, ``文件(_F)`` -> ``文件``. The
  model should not learn which letter a program underlines;
- ``identical``: a translation that repeats the English (``OK``, ``%s``,
  option names) is skipped: it teaches copying and inflates the score;
- placeholders (``%s``, ``%d``, ``%(name)s``, ``{0}``), markup (``<b>``) and
  escapes stay verbatim: a translation must carry them, and so must the model's;
- then the rules every local corpus gets (:mod:`~tf_transformer.data.local`):
  whitespace normalised (multi-line help texts become one line), empty,
  overlong and duplicate pairs skipped.

Example::

    for source, target in records(find_catalogs("pt_BR"), counts):  # (text, text) or a kind
        ...
"""

from __future__ import annotations

import collections
import pathlib
import re
import struct
from collections.abc import Iterable, Iterator

# Where distributions install catalogs (Debian, Ubuntu's language packs, /usr/local builds).
LOCALE_DIRS = ("/usr/share/locale", "/usr/share/locale-langpack", "/usr/local/share/locale")
CATALOG_SUFFIXES = (".mo", ".po")
# Entries `records` skips (yielded as their kind), and what it changes but keeps (counted in place).
SKIPPED = ("header", "untranslated", "fuzzy", "identical", "invalid_utf8")
CHANGED = ("plural", "context", "accelerator")
# Bump when these rules change, so that corpora prepared under the old ones are prepared again.
RULES = 1

# A placeholder a program fills in: printf's (%s, %5.2f, %ld, %(name)s, %%) and Python's format
# fields ({0}, {name}). See `placeholders`.
PLACEHOLDER = re.compile(
    r"%(?:\([\w-]+\))?[-#0 +']*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcspn%]|\{\w*\}"
)

_MO_MAGIC = {0x950412DE: "<", 0xDE120495: ">"}  # the magic number, as read little- or big-endian
# An accelerator: "(_F)" after CJK text, or a "_" / "&" that starts a word (at the start, or
# after a space, a bracket or a quote) before the letter it marks. "&&" is a literal &, "&amp;"
# an entity; a "_" inside a word or after a symbol is an identifier's: pam_get_item, pam_*_item.
_ACCEL_GROUP = re.compile(r"\s*[(（][_&]([^\W_])[)）]")
_ACCEL_MARK = re.compile(r"(?:^|(?<=[\s(\[\"'«“„¿¡]))[_&](?![A-Za-z]+;)(?=[^\W\d_])")


class Message(collections.namedtuple("Message", "msgid msgstr context plural fuzzy")):
    """One catalog entry: ``msgid``; ``msgstr`` (a tuple of forms when ``plural``); its ``context``."""


def find_catalogs(language: str, roots: Iterable[str | pathlib.Path] | None = None) -> list[pathlib.Path]:
    """Every ``<root>/<language>/LC_MESSAGES/*.mo`` of the machine, sorted (``roots``:
    :data:`LOCALE_DIRS`).

    Raises:
        FileNotFoundError: none; the message lists the languages that have catalogs.
    """
    roots = [pathlib.Path(root) for root in (LOCALE_DIRS if roots is None else roots)]
    found = sorted(
        path for root in roots for path in (root / language / "LC_MESSAGES").glob("*.mo") if path.is_file()
    )
    if not found:
        have = sorted(
            {
                p.parent.parent.name
                for root in map(pathlib.Path, roots)
                for p in root.glob("*/LC_MESSAGES/*.mo")
            }
        )
        shown = ", ".join(have[:40]) + (f" and {len(have) - 40} more" if len(have) > 40 else "")
        raise FileNotFoundError(
            f"no gettext catalogs for {language!r} in {', '.join(map(str, roots))}"
            + (f"; this machine has catalogs for: {shown}" if have else "; this machine has none")
            + ". Name one of those, or a .mo/.po file or folder: --dataset gettext:PATH"
        )
    return found


def catalogs_in(path: pathlib.Path) -> list[pathlib.Path]:
    """``path`` itself if it is a catalog, else every ``.mo``/``.po`` under it (sorted)."""
    if path.is_file():
        if path.suffix not in CATALOG_SUFFIXES:
            raise ValueError(f"{path} is not a gettext catalog (.mo or .po)")
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    found = sorted(p for p in path.rglob("*") if p.suffix in CATALOG_SUFFIXES and p.is_file())
    if not found:
        raise FileNotFoundError(f"{path} holds no .mo or .po files")
    return found


def read_catalog(path: pathlib.Path) -> list[Message]:
    """The entries of a ``.mo`` or ``.po`` file, the header entry included."""
    return read_mo(path) if path.suffix == ".mo" else read_po(path)


def read_mo(path: pathlib.Path) -> list[Message]:
    """A compiled catalog. Strings are decoded with the charset its header names (UTF-8 by
    default); bytes that do not decode become U+FFFD, which ``records`` counts as invalid."""
    data = pathlib.Path(path).read_bytes()
    if len(data) < 20 or struct.unpack("<I", data[:4])[0] not in _MO_MAGIC:
        raise ValueError(f"{path} is not a compiled gettext catalog (no .mo magic number)")
    order = _MO_MAGIC[struct.unpack("<I", data[:4])[0]]
    _, count, originals, translations = struct.unpack(order + "4I", data[4:20])

    def strings(table):
        for i in range(count):
            length, offset = struct.unpack(order + "2I", data[table + 8 * i : table + 8 * i + 8])
            if offset + length > len(data):
                raise ValueError(f"{path} is truncated (an entry points past its end)")
            yield data[offset : offset + length]

    raw = list(zip(strings(originals), strings(translations)))
    charset = "utf-8"
    for original, translation in raw:
        if original == b"":
            match = re.search(rb"charset=([-\w.]+)", translation)
            charset = match.group(1).decode("ascii") if match else charset
    try:
        "".encode(charset)
    except LookupError:
        charset = "utf-8"
    messages = []
    for original, translation in raw:
        original, translation = original.decode(charset, "replace"), translation.decode(charset, "replace")
        context, _, original = original.rpartition("\x04")  # "context\x04msgid"
        msgid, *plural = original.split("\x00")  # "msgid\x00msgid_plural"
        forms = tuple(translation.split("\x00"))
        messages.append(
            Message(
                msgid, forms if plural else forms[0], context or None, plural[0] if plural else None, False
            )
        )
    return messages


def read_po(path: pathlib.Path) -> list[Message]:
    """A translator's source catalog, through Babel (fuzzy entries kept, and marked)."""
    from babel.messages.pofile import read_po as babel_read_po

    with open(path, "rb") as f:
        catalog = babel_read_po(f, abort_invalid=False)
    header = Message(
        "",
        catalog.mime_headers and "\n".join(f"{k}: {v}" for k, v in catalog.mime_headers),
        None,
        None,
        False,
    )
    messages = [header]
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, (tuple, list)):
            forms = tuple(message.string) if isinstance(message.string, (tuple, list)) else (message.string,)
            messages.append(Message(message.id[0], forms, message.context, message.id[1], message.fuzzy))
        else:
            messages.append(Message(message.id, message.string or "", message.context, None, message.fuzzy))
    return messages


def placeholders(text: str) -> collections.Counter:
    """The placeholders of ``text``, as a multiset: a translation keeps them when its own are equal
    (the same ones, as often, in any order: translations may reorder them).

    Example:
        >>> sorted(placeholders("Copy %s to %(dir)s: %d%% done, {0} of %5.2f").elements())
        ['%%', '%(dir)s', '%5.2f', '%d', '%s', '{0}']
        >>> placeholders("%d of %s") == placeholders("%s: %d")
        True
    """
    return collections.Counter(PLACEHOLDER.findall(text))


def strip_accelerator(text: str) -> tuple[str, bool]:
    """``text`` without its keyboard accelerator, and whether it had one.

    >>> strip_accelerator("_File"), strip_accelerator("文件(_F)"), strip_accelerator("Save &As...")
    (('File', True), ('文件', True), ('Save As...', True))
    >>> strip_accelerator("pam_get_item()"), strip_accelerator("Tom & Jerry"), strip_accelerator("%s_%d")
    (('pam_get_item()', False), ('Tom & Jerry', False), ('%s_%d', False))
    """
    stripped = _ACCEL_GROUP.sub("", text)
    if stripped == text:
        stripped = _ACCEL_MARK.sub("", text, count=1)
    return stripped, stripped != text


def records(paths: Iterable[pathlib.Path], counts: dict[str, int]) -> Iterator[tuple[str, str] | str]:
    """``(English, translation)`` per usable entry of the catalogs, or the kind of a skipped one.

    ``counts`` (``{kind: n}`` for :data:`CHANGED`) is updated in place for what is
    changed but kept (``plural`` forms beyond the first, ``context``,
    ``accelerator``); skipped entries are yielded as their kind, for
    ``local.clean`` to count.
    """
    for path in paths:
        yield from catalog_records(read_catalog(path), counts)


def catalog_records(messages: Iterable[Message], counts: dict[str, int]) -> Iterator[tuple[str, str] | str]:
    """:func:`records` for one catalog's entries."""
    for message in messages:
        if message.msgid == "":
            yield "header"
            continue
        translation = message.msgstr
        if message.plural is not None:
            counts["plural"] += max(0, len(translation) - 1)
            translation = translation[0] if translation else ""
        if message.fuzzy:
            yield "fuzzy"
        elif not translation.strip():
            yield "untranslated"
        elif "\ufffd" in message.msgid + translation:
            yield "invalid_utf8"
        else:
            source, source_had = strip_accelerator(message.msgid)
            target, target_had = strip_accelerator(translation)
            if source_had or target_had:
                counts["accelerator"] += 1
            if message.context:
                counts["context"] += 1
            if " ".join(source.split()) == " ".join(target.split()):
                yield "identical"
            else:
                yield source, target


def catalog_language(path: pathlib.Path) -> str | None:
    """The language a catalog is in: its header's ``Language:``, else its folder or file name."""
    try:
        header = next((m.msgstr for m in read_catalog(path) if m.msgid == ""), "")
    except (OSError, ValueError):
        header = ""
    match = re.search(r"^Language:\s*([A-Za-z]{2,3}(?:[_-][A-Za-z0-9]+)?)", header or "", re.M)
    if match:
        return match.group(1)
    if path.parent.name == "LC_MESSAGES":
        return path.parent.parent.name
    return path.stem if re.fullmatch(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]+)?", path.stem) else None
