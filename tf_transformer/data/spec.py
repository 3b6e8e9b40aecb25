"""``DatasetSpec``: which parallel corpus, which columns, which direction.

One string names a corpus, everywhere (``--dataset`` on ``prepare``,
``train`` and ``demo``; ``load_dataset``; ``run.json``):

======================================  ==============================================
``embedded``                            the corpus that ships with the package (pt→en)
``ted_hrlr_translate/pt_to_en``         any TFDS translation dataset, by its TFDS name
``tsv:PATH``                            one tab-separated file (``.tsv``, ``.txt``);
                                        ``PATH.csv`` is read as CSV; either may be ``.gz``
``text:SRC_PATH,TGT_PATH``              two line-aligned files, line *i* of one
                                        translating line *i* of the other
``gettext:LANG``                        the machine's gettext catalogs for LANG
                                        (``/usr/share/locale/LANG/LC_MESSAGES/*.mo``):
                                        English -> LANG, as their translators wrote it
``gettext:PATH``                        one ``.mo``/``.po`` catalog, or a folder of them
======================================  ==============================================

A TSV/CSV file gives one pair a line; ``source_column`` and ``target_column``
(0 and 1 by default) pick the two sides, so an Anki/Tatoeba export
(``English<TAB>Portuguese<TAB>attribution``) reads pt→en with
``source_column=1, target_column=0``.

Line-aligned files name their language by their suffix, as OPUS, WMT and the
TED archive do (``train.pt`` + ``train.en``: source ``pt``, target ``en``).
When the two files are called ``train.SRC`` and ``train.TGT`` and
``validation.*`` (or ``dev.*`` / ``valid.*``) and ``test.*`` files with the
same suffixes sit beside them, those are the splits. Otherwise, and for a
TSV file and for gettext catalogs (see :mod:`~tf_transformer.data.catalogs`),
validation and test are carved out of the one corpus by a hash of the source
sentence, so every rerun, on every machine, carves the same way.

``reverse=True`` swaps the two sides: the embedded corpus reversed is en→pt.

Example:
    >>> spec = DatasetSpec.parse("tsv:por.txt", source_column=1, target_column=0)
    >>> spec.kind, spec.languages
    ('tsv', ('source', 'target'))
    >>> DatasetSpec.parse("embedded", reverse=True).languages
    ('en', 'pt')
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import pathlib
import re
from typing import Any

from tf_transformer.constants import EMBEDDED_LANGUAGES, SOURCE, TARGET


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither prepared nor downloadable here (no network, or the download failed)."""


EMBEDDED = "embedded"
EMBEDDED_TFDS_NAME = "embedded_pt_en"
TSV_PREFIX = "tsv:"
TEXT_PREFIX = "text:"
GETTEXT_PREFIX = "gettext:"
KINDS = ("embedded", "tfds", "tsv", "text", "gettext")
LOCAL_KINDS = ("tsv", "text", "gettext")
# A gettext catalog's source language: programs are written in English.
GETTEXT_SOURCE_LANGUAGE = "en"

# A file suffix that reads as a language code ("pt", "en", "zh", "pt_BR", "zh-Hans"),
# unlike the usual file extensions.
_LANGUAGE_SUFFIX = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?(?:@[A-Za-z]+)?$")
_NOT_LANGUAGES = {"txt", "tsv", "csv", "src", "tgt", "dat", "raw", "tok", "out"}
_FILE_SUFFIXES = (".tsv", ".csv", ".txt", ".gz")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A parallel corpus and how to read it.

    Args:
        name: ``"embedded"``, a TFDS translation dataset name, ``"tsv:PATH"``
            or ``"text:SRC_PATH,TGT_PATH"`` (see the module docstring). Local
            paths are made absolute, so a spec written into ``run.json`` still
            names the same files from another working directory.
        source_column: the TSV/CSV column (from 0) that holds the source side.
        target_column: the TSV/CSV column that holds the target side.
        reverse: swap source and target after reading.

    Raises:
        ValueError: columns for something that is not a TSV/CSV file, equal or
            negative columns, or a bare file path without its ``tsv:`` /
            ``text:`` prefix.
    """

    name: str = EMBEDDED
    source_column: int = 0
    target_column: int = 1
    reverse: bool = False

    def __post_init__(self):
        name = str(self.name).strip()
        if name == EMBEDDED_TFDS_NAME:
            name = EMBEDDED
        if name.startswith(TSV_PREFIX):
            name = TSV_PREFIX + str(_absolute(name[len(TSV_PREFIX) :]))
        elif name.startswith(TEXT_PREFIX):
            parts = name[len(TEXT_PREFIX) :].split(",")
            if len(parts) != 2 or not all(p.strip() for p in parts):
                raise ValueError(
                    f"{name!r}: line-aligned files are given as "
                    "text:SOURCE_PATH,TARGET_PATH (two paths, one comma)"
                )
            name = TEXT_PREFIX + ",".join(str(_absolute(p)) for p in parts)
        elif name.startswith(GETTEXT_PREFIX):
            target = name[len(GETTEXT_PREFIX) :].strip()
            if not target:
                raise ValueError(
                    "gettext: names a language (gettext:pt_BR, the machine's catalogs) or a "
                    ".mo/.po file or folder (gettext:PATH)"
                )
            if not _LANGUAGE_SUFFIX.match(target):  # a path
                target = str(_absolute(target))
            name = GETTEXT_PREFIX + target
        elif name != EMBEDDED and (
            name.endswith(_FILE_SUFFIXES) or (name and pathlib.Path(name).expanduser().is_file())
        ):
            raise ValueError(
                f"{name!r} looks like a file: write tsv:{name} for a TSV/CSV file, "
                "or text:SOURCE_PATH,TARGET_PATH for two line-aligned files"
            )
        if not name:
            raise ValueError("empty dataset name; use 'embedded' for the default corpus")
        object.__setattr__(self, "name", name)
        for field in ("source_column", "target_column"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{field} must be a column number >= 0, got {value!r}")
        if self.source_column == self.target_column:
            raise ValueError(f"source_column and target_column are both {self.source_column}")
        if self.kind != "tsv" and (self.source_column, self.target_column) != (0, 1):
            raise ValueError(f"--source-column/--target-column only apply to tsv:PATH, not {name!r}")
        object.__setattr__(self, "reverse", bool(self.reverse))

    # ------------------------------------------------------------ what it names
    @property
    def kind(self) -> str:
        """``"embedded"``, ``"tfds"``, ``"tsv"``, ``"text"`` or ``"gettext"``."""
        if self.name == EMBEDDED:
            return "embedded"
        for prefix in (TSV_PREFIX, TEXT_PREFIX, GETTEXT_PREFIX):
            if self.name.startswith(prefix):
                return prefix[:-1]
        return "tfds"

    @property
    def is_local(self) -> bool:
        """True for files on this machine (``tsv:``, ``text:`` and ``gettext:``), prepared by ``local``."""
        return self.kind in LOCAL_KINDS

    @property
    def paths(self) -> tuple[pathlib.Path, ...]:
        """The local files: one for ``tsv:``, (source, target) for ``text:``, the catalogs for
        ``gettext:`` (found now: a language's are every catalog the machine has); ``()`` otherwise.

        Raises:
            FileNotFoundError: ``gettext:`` names a language without catalogs here, or no catalog.
        """
        if self.kind == "tsv":
            return (pathlib.Path(self.name[len(TSV_PREFIX) :]),)
        if self.kind == "text":
            return tuple(pathlib.Path(p) for p in self.name[len(TEXT_PREFIX) :].split(","))
        if self.kind == "gettext":
            from tf_transformer.data import catalogs

            target = self.name[len(GETTEXT_PREFIX) :]
            if _LANGUAGE_SUFFIX.match(target):
                return tuple(catalogs.find_catalogs(target))
            return tuple(catalogs.catalogs_in(pathlib.Path(target)))
        return ()

    @property
    def tfds_name(self) -> str | None:
        """The TFDS builder name (``embedded_pt_en`` for the embedded corpus), or ``None``."""
        return {"embedded": EMBEDDED_TFDS_NAME, "tfds": self.name}.get(self.kind)

    @property
    def languages(self) -> tuple[str, str]:
        """``(source, target)`` language codes, after ``reverse``.

        The embedded corpus is ``("pt", "en")``; a TFDS dataset says its own
        (its supervised keys); line-aligned files are named by their suffixes.
        A TSV file, or files whose suffixes are no language codes, give the
        placeholders ``("source", "target")``, which ``reverse`` leaves alone.
        """
        codes = self.corpus_languages
        if self.reverse and codes != (SOURCE, TARGET):
            codes = codes[::-1]
        return codes

    @property
    def corpus_languages(self) -> tuple[str, str]:
        """The language codes in the corpus's own order (before ``reverse``)."""
        if self.kind == "embedded":
            return tuple(EMBEDDED_LANGUAGES)
        if self.kind == "tfds":
            return _tfds_languages(self.name)
        if self.kind == "gettext":
            return (GETTEXT_SOURCE_LANGUAGE, _gettext_language(self.name[len(GETTEXT_PREFIX) :]))
        if self.kind == "text":
            codes = tuple(_suffix(p) for p in self.paths)
            if (
                all(_LANGUAGE_SUFFIX.match(c) and c.lower() not in _NOT_LANGUAGES for c in codes)
                and codes[0] != codes[1]
            ):
                return codes
        return (SOURCE, TARGET)

    def unreversed(self) -> DatasetSpec:
        """The same corpus read in its own direction (what prepared files store)."""
        return dataclasses.replace(self, reverse=False)

    # ------------------------------------------------------------- conversions
    @classmethod
    def parse(cls, text: str | DatasetSpec, **options) -> DatasetSpec:
        """A spec from its string (or a spec with some fields replaced).

        Example:
            >>> DatasetSpec.parse("text:opus.en-pt.pt,opus.en-pt.en").languages
            ('pt', 'en')
        """
        if isinstance(text, DatasetSpec):
            return dataclasses.replace(text, **options) if options else text
        return cls(name=text, **options)

    def to_dict(self) -> dict[str, Any]:
        """The fields, as ``run.json`` stores them."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSpec:
        """Back from :meth:`to_dict`; other keys (``run.json`` adds some) are ignored."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """Add ``--dataset --source-column --target-column --reverse --data-dir``."""
        group = parser.add_argument_group("dataset")
        group.add_argument(
            "--dataset",
            default=EMBEDDED,
            metavar="SPEC",
            help="embedded (default, ships with the package); a TFDS translation dataset such "
            "as ted_hrlr_translate/pt_to_en; tsv:PATH (a TSV/CSV file, may be .gz); "
            "text:SRC_PATH,TGT_PATH (line-aligned files); gettext:LANG (this machine's gettext "
            "catalogs, English -> LANG, e.g. gettext:pt_BR) or gettext:PATH (a .mo/.po file or folder)",
        )
        group.add_argument(
            "--source-column",
            type=int,
            default=0,
            metavar="N",
            help="tsv: the column of the source side (default 0)",
        )
        group.add_argument(
            "--target-column",
            type=int,
            default=1,
            metavar="N",
            help="tsv: the column of the target side (default 1)",
        )
        group.add_argument(
            "--reverse",
            action="store_true",
            help="swap source and target (the embedded corpus reversed is en->pt)",
        )
        group.add_argument(
            "--data-dir",
            default=None,
            metavar="DIR",
            help="where prepared data and learned vocabularies go "
            "(default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DatasetSpec:
        """The spec that :meth:`add_arguments`'s flags describe."""
        return cls.parse(
            args.dataset,
            source_column=args.source_column,
            target_column=args.target_column,
            reverse=args.reverse,
        )

    def __str__(self) -> str:
        extras = []
        if self.kind == "tsv":
            extras.append(f"columns {self.source_column}->{self.target_column}")
        if self.reverse:
            extras.append("reversed")
        return self.name + (f" ({', '.join(extras)})" if extras else "")


def _absolute(path: str) -> pathlib.Path:
    return pathlib.Path(path.strip()).expanduser().absolute()


@functools.cache
def _gettext_language(target: str) -> str:
    """The language of ``gettext:TARGET``: the code itself, or what its catalogs say."""
    if _LANGUAGE_SUFFIX.match(target):
        return target
    from tf_transformer.data import catalogs

    path = pathlib.Path(target)
    found = catalogs.catalogs_in(path) if path.exists() else []
    return next((code for code in map(catalogs.catalog_language, found) if code), TARGET)


def _suffix(path: pathlib.Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return pathlib.Path(name).suffix.lstrip(".")


@functools.cache
def _tfds_languages(name: str) -> tuple[str, str]:
    # Building a TFDS builder reads its code only: no download, no network.
    from tf_transformer.data._tfds import tfds_builder

    info = tfds_builder(name).info
    keys = info.supervised_keys
    if not keys or len(keys) != 2 or not all(isinstance(k, str) for k in keys):
        raise ValueError(
            f"{name} is not a translation dataset: it has no (source, target) "
            f"supervised keys (found {keys!r})"
        )
    kinds = [_feature_kind(info.features, key) for key in keys]
    if kinds != ["Text", "Text"]:  # (mnist's are an image and a label)
        raise ValueError(
            f"{name} is not a translation dataset: its (input, output) are "
            f"{', '.join(f'{k} ({kind})' for k, kind in zip(keys, kinds))}, not two texts"
        )
    return tuple(keys)


def _feature_kind(features, key: str) -> str:
    try:
        return type(features[key]).__name__
    except (KeyError, TypeError):
        return "missing"
