"""Any language pair, either direction, end to end: train, translate, export, and load
the SavedModel in a fresh process that cannot import tf_transformer.

- en -> pt on the reversed embedded corpus (the direction in which "it" must be
  resolved to choose the Portuguese agreement);
- zh -> en from a small TSV written here (no spaces between Chinese words).

Tiny models (one layer of each kind) and a few hundred steps: the point is that every
stage accepts the pair and the exported model gives the same strings as the in-process
Translator.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers.corpora import chinese_pairs, gettext_pairs, write_po_catalog
from helpers.processes import NO_TF_TRANSFORMER, loaded_translations
from helpers.server import ServerProcess

from tf_transformer import cli
from tf_transformer.data import DatasetSpec, local, prepare
from tf_transformer.inference import Translator, export_translator
from tf_transformer.recipes import recipe
from tf_transformer.runs import DamagedRunError, load_run, read_run_info
from tf_transformer.training import train

# Trainings, exports and fresh processes; the tests share no fixture.
pytestmark = [pytest.mark.slow, pytest.mark.independent]

EXPORTED = (
    NO_TF_TRANSFORMER
    + """
loaded = tf.saved_model.load(export_dir)
out = loaded.signatures["serving_default"](text=tf.constant(texts))["translation"]
print("OUT", json.dumps([t.decode() for t in out.numpy()]))
"""
)


def exported_translations(export_dir, texts):
    proc = subprocess.run(
        [sys.executable, "-c", EXPORTED, str(export_dir), json.dumps([t.encode().hex() for t in texts])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("OUT", 1)[1])


def train_export_and_compare(run_dir, texts, **settings):
    result = train(run_dir=run_dir, **recipe("smoke", seed=1, **settings))
    assert result.stopped == "done"
    run = load_run(run_dir)
    translator = Translator.from_run(run)
    ours = [translator.translate(t) for t in texts]
    export_dir = run_dir.parent / "export" / "1"
    export_translator(translator, export_dir)
    assert exported_translations(export_dir, texts) == ours
    return run, ours


def test_english_to_portuguese_on_the_reversed_embedded_corpus(tmp_path):
    run, ours = train_export_and_compare(
        tmp_path / "run",
        ["The animal didn't cross the street because it was too tired."],
        dataset=DatasetSpec(reverse=True),
        max_steps=300,
        steps_per_epoch=100,
        batch_tokens=2048,
        warmup_steps=100,
        lr_scale=2.0,
        norm_first=True,
        train_examples=20_000,
        validation_examples=200,
        max_length=32,
    )
    info = read_run_info(run.path)
    assert (run.source_language, run.target_language) == ("en", "pt")
    assert info.data["reverse"] is True and info.spec.reverse
    # The vocabularies swapped sides: the source speaks English, the target Portuguese.
    assert run.source_tokenizer.get_vocab_path().numpy().decode().endswith("source.txt")
    words = {w.decode() for w in run.target_tokenizer.vocab.numpy()}
    assert {"animal", "rua", "cansado"} <= words and "street" not in words
    assert ours[0].strip(), "the model translates into something"


def test_chinese_to_english_from_a_tsv_file_with_the_command_line(tmp_path, capsys):
    corpus = tmp_path / "zh-en.tsv"
    corpus.write_text("".join(f"{zh}\t{en}\n" for zh, en in chinese_pairs()), encoding="utf-8")
    data_dir = tmp_path / "tfds"
    summary = prepare(DatasetSpec.parse(f"tsv:{corpus}"), data_dir=data_dir, vocab_size=300)
    assert summary["round_trip"] == {"source": 1.0, "target": 1.0}
    run_dir = tmp_path / "run"
    flags = ["--dataset", f"tsv:{corpus}", "--data-dir", str(data_dir)]
    train_args = ["train", "--preset", "tiny", "--run-dir", str(run_dir), "--max-steps", "20"]
    train_args += ["--num-layers", "1", "--batch-tokens", "512", "--max-length", "24"]
    train_args += ["--warmup-steps", "30", "--seed", "1", "--verbose", "0", *flags]
    assert cli.main(train_args) == 0
    assert cli.main(["translate", "--run-dir", str(run_dir), "我喜欢茶。", "他们喜欢音乐吗？"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[-2:]
    assert len(lines) == 2
    run = load_run(run_dir)
    assert (run.source_language, run.target_language) != ("pt", "en")
    # The tokenizer the run keeps spells Chinese back exactly.
    ids = run.source_tokenizer.tokenize(["我们不喜欢咖啡，但是喜欢茶。"])
    assert run.source_tokenizer.detokenize(ids).numpy()[0].decode() == "我们不喜欢咖啡，但是喜欢茶。"
    export_dir = tmp_path / "export" / "1"
    assert cli.main(["export", "--run-dir", str(run_dir), "--out", str(export_dir.parent)]) == 0
    translator = Translator.from_run(run)
    texts = ["我喜欢茶。", "他们喜欢音乐吗？"]
    assert exported_translations(export_dir, texts) == [translator.translate(t) for t in texts]
    # The corpus's identity is recorded: once its file changes, evaluate says its test split is not
    # the one the run held out (and records it beside the scores), and check names the corpus.
    assert run.info.prepared_corpus == local.prepared_path(f"tsv:{corpus}", data_dir).name
    with corpus.open("a", encoding="utf-8") as f:
        f.write("我们喝茶。\tWe drink tea.\n")
    capsys.readouterr()
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--limit", "4"]) == 0
    assert "warning: the corpus's files changed since this run trained" in capsys.readouterr().err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert all("changed since this run trained" in m["corpus_changed"] for m in metrics.values())
    assert cli.main(["check", "--run-dir", str(run_dir)]) != 0
    assert "corpus" in capsys.readouterr().out
    assert cli.main(train_args) == 2  # the same command again: refused, the corpus is not the same
    error = capsys.readouterr().err
    assert "holds a different run (the corpus's files changed since this run trained" in error


def test_old_runs_keep_their_direction(tmp_path):
    """A format-1 run.json (pt/en vocabularies and a dataset name) still reads as pt -> en."""
    model = {"num_layers": 1, "d_model": 8, "num_heads": 2, "dff": 16}
    model.update(input_vocab_size=30, target_vocab_size=20, max_length=16)
    old = {"model": model, "vocab": {"pt": "vocab/pt.txt", "en": "vocab/en.txt"}, "dataset": "embedded"}
    (tmp_path / "run.json").write_text(json.dumps(old))
    info = read_run_info(tmp_path)
    assert (info.source_language, info.target_language) == ("pt", "en")
    assert info.vocab == {"source": "vocab/pt.txt", "target": "vocab/en.txt"}
    assert info.spec == DatasetSpec()  # the embedded corpus, as before


def test_english_to_portuguese_from_gettext_catalogs_with_sentencepiece(tmp_path):
    """A corpus of gettext catalogs (written here), SentencePiece vocabularies, the command line;
    the export gives the in-process translations through both loaders in a fresh process."""
    catalogs = write_po_catalog(tmp_path / "catalogs", gettext_pairs())
    flags = ["--dataset", f"gettext:{catalogs}", "--data-dir", str(tmp_path / "tfds")]
    assert cli.main(["prepare", *flags, "--vocab-size", "200"]) == 0
    run_dir = tmp_path / "run"
    train = ["train", "--preset", "tiny", "--num-layers", "1", "--run-dir", str(run_dir), "--max-steps", "20"]
    assert cli.main([*train, "--batch-tokens", "512", "--max-length", "24", "--verbose", "0", *flags]) == 0
    info = read_run_info(run_dir)
    assert info.vocab == {"source": "vocab/source.model", "target": "vocab/target.model"}
    assert info.tokenizer == "sentencepiece" and info.train["tokenizer"] == "auto"
    run = load_run(run_dir)
    assert (run.source_language, run.target_language) == ("en", "pt_BR")
    texts = ["File 3 not found: '%s'", "(%d minutes left)", ""]
    translator = Translator.from_run(run)
    ours = {"greedy": translator.translate(texts), "beam": translator.translate(texts, beam_size=4)}
    export_dir = tmp_path / "export" / "1"
    assert cli.main(["export", "--run-dir", str(run_dir), "--out", str(export_dir.parent)]) == 0
    loaded = loaded_translations(export_dir, texts, cwd=tmp_path)
    for loader in ("tf2", "tf1"):
        assert {k: [t.decode() for t in v] for k, v in loaded[loader].items()} == ours, loader

    # `serve` on that export: its translations and its attention signature (what the page
    # draws: SentencePiece's pieces, "▁" where a word begins) are the Translator's.
    server = ServerProcess(export_dir.parent, tmp_path / "server")
    try:
        # (This barely trained model's outputs run to max_length on near-ties, where the batched
        # server and the in-process translator can differ by a piece: the strings are not compared.)
        code, reply = server.predict({"instances": texts})
        assert code == 200 and len(reply["predictions"]) == 3, reply
        assert all(isinstance(text, str) for text in reply["predictions"])
        code, reply = server.predict({"signature_name": "attention", "instances": [texts[0]]})
        assert code == 200, reply
        got, want = reply["predictions"][0], translator.attention(texts[0])
        assert got["source_tokens"] == want.source_tokens  # SentencePiece's pieces, as the page draws them
        assert any(token.startswith("\u2581") for token in got["source_tokens"])
        weights = np.array(got["weights"], np.float32)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    finally:
        assert server.stop() == 0, "".join(server.stderr)[-3000:]

    # A SentencePiece model cut short: one line that says what happened, not the library's own text.
    model_file = run_dir / "vocab" / "target.model"
    model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])
    damaged = r"target\.model (is damaged \(cut short or overwritten|has \d+ tokens, but)"
    with pytest.raises(DamagedRunError, match=damaged):
        load_run(run_dir)
