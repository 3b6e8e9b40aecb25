"""Translator (strings to strings), bad input, attention maps, run-dir reloads, evaluation and CLI."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.runs import BAD_INPUTS, corpus_pairs, trained_run_dir, trained_translator
from helpers.shared import copy_of

from tf_transformer import cli
from tf_transformer import runs as rd
from tf_transformer.inference import Translator, corpus_scores
from tf_transformer.runs import load_run

pytestmark = pytest.mark.shared("inference_run")  # the session's trained run


@pytest.fixture(scope="module")
def translator():
    return trained_translator()


def test_bad_input_gets_defined_answers_alone_and_mixed(translator):
    names = list(BAD_INPUTS)
    good = [pt for pt, _ in corpus_pairs(count=3)]
    alone = {name: translator.translate(BAD_INPUTS[name]) for name in names}
    assert alone["empty"] == "" and alone["spaces"] == ""
    for name in ("chinese", "emoji", "punctuation", "long"):
        assert isinstance(alone[name], str)
    # In a batch, each sentence still gets exactly its own answer.
    mixed = translator.translate([BAD_INPUTS[n] for n in names] + good)
    assert mixed[: len(names)] == [alone[n] for n in names]
    assert mixed[len(names) :] == translator.translate(good) and all(mixed[len(names) :])
    # Beam search too.
    mixed4 = translator.translate([BAD_INPUTS[n] for n in names] + good, beam_size=4)
    assert mixed4[0] == mixed4[1] == "" and all(mixed4[len(names) :])


def test_translate_batches_by_length_and_answers_in_order(translator, monkeypatch):
    sentences = [pt for pt, _ in corpus_pairs(count=7)] + ["Oi."]
    alone = [translator.translate(s) for s in sentences]
    batches = []
    greedy = translator.greedy

    def recording(text):
        batches.append([t.decode() for t in text.numpy()])
        return greedy(text)

    monkeypatch.setattr(translator, "greedy", recording)
    assert translator.translate(sentences, batch_size=3) == alone
    lengths = [[len(s) for s in batch] for batch in batches]
    assert [len(b) for b in batches] == [3, 3, 2]
    assert sum(lengths, []) == sorted(map(len, sentences), reverse=True)  # longest first


def test_long_input_is_truncated_to_max_length(translator):
    long = BAD_INPUTS["long"]
    [count] = translator.source_lengths([long])
    assert count > translator.max_length
    ids = translator.source_ids(tf.constant([long, "O gato dorme."])).numpy()
    assert ids.shape[1] == translator.max_length
    assert ids[0, 0] == 2 and ids[0, -1] == 3  # [START] ... [END] kept
    # The truncated input translates as its first max_length - 2 tokens would.
    words = translator.source_tokenizer.tokenize(tf.constant([long]))[0, 1 : translator.max_length - 1]
    np.testing.assert_array_equal(ids[0, 1:-1], words.numpy())


def test_invalid_utf8_is_repaired_not_fatal(translator):
    out = translator(tf.constant([b"O gato \xff\xfe dorme.", b"\xc3"])).numpy()
    assert out.shape == (2,)
    for text in out:
        text.decode("utf-8")  # valid UTF-8 comes out


def test_cross_attention_map(translator):
    sentence = corpus_pairs(count=1)[0][0]
    att = translator.attention(sentence)
    config = translator.model.config
    assert att.translation == translator.translate(sentence)
    assert att.source_tokens[0] == "[START]" and att.source_tokens[-1] == "[END]"
    assert att.target_tokens[0] == "[START]" and "[END]" not in att.target_tokens
    assert att.weights.shape == (
        config.num_layers,
        config.num_heads,
        len(att.target_tokens),
        len(att.source_tokens),
    )
    # softmax rows sum to 1 up to float32 rounding of a sum of up to max_length terms (~1e-6)
    np.testing.assert_allclose(att.weights.sum(-1), 1.0, atol=1e-5)


def test_keras_file_and_weights_file_reload_identically():
    path = trained_run_dir()
    whole = keras.models.load_model(path / rd.MODEL_FILE, compile=False)  # inference needs no loss
    run = load_run(path)  # builds from run.json and reads model.weights.h5
    src = tf.constant([[2, 40, 41, 42, 3, 0]])
    tgt = tf.constant([[2, 50, 51]])
    np.testing.assert_array_equal(whole((src, tgt)).numpy(), run.model((src, tgt)).numpy())
    sentences = [pt for pt, _ in corpus_pairs(count=4)]
    assert Translator(whole, run.source_tokenizer, run.target_tokenizer, run.max_length).translate(
        sentences
    ) == Translator.from_run(run).translate(sentences)


def test_format_1_run_directories_keep_loading(tmp_path):
    """A run written before source/target (vocab/pt.txt, vocab/en.txt, "dataset") loads as pt -> en."""
    old = tmp_path / "old_run"
    shutil.copytree(trained_run_dir(), old)
    info = rd.read_run_info(old)
    (old / "vocab/source.txt").rename(old / "vocab/pt.txt")
    (old / "vocab/target.txt").rename(old / "vocab/en.txt")
    format_1 = {
        "model": info.model.to_dict(),
        "dataset": "embedded",
        "max_length": info.max_length,
        "vocab": {"pt": "vocab/pt.txt", "en": "vocab/en.txt"},
        "train": {"preset": "tiny", "dataset": "embedded"},
        "tf_transformer_version": "0.1.0",
    }
    (old / rd.RUN_FILE).write_text(json.dumps(format_1))
    run, new = load_run(old), load_run(trained_run_dir())
    assert (run.source_language, run.target_language, run.max_length) == ("pt", "en", new.max_length)
    assert run.info.data == new.info.data and run.info.vocab["source"] == "vocab/pt.txt"
    src = new.source_tokenizer.tokenize(tf.constant(["O gato dorme."])).to_tensor()
    tgt = new.target_tokenizer.tokenize(tf.constant(["The cat"])).to_tensor()
    np.testing.assert_array_equal(
        run.source_tokenizer.tokenize(tf.constant(["O gato dorme."])).to_tensor(), src
    )
    np.testing.assert_array_equal(run.model((src, tgt)).numpy(), new.model((src, tgt)).numpy())


def test_run_directories_from_a_newer_version_are_refused(tmp_path):
    newer = tmp_path / "newer"
    shutil.copytree(trained_run_dir(), newer)
    info = rd.read_run_info(newer).to_dict()
    (newer / rd.RUN_FILE).write_text(json.dumps({**info, "format": rd.FORMAT + 1}))
    with pytest.raises(ValueError, match="newer than this tf_transformer reads"):
        load_run(newer)


def test_corpus_scores_report_sacrebleu_signatures():
    perfect = corpus_scores(["The cat sleeps.", "I like it."], ["The cat sleeps.", "I like it."])
    assert perfect["bleu"] == pytest.approx(100) and perfect["chrf"] == pytest.approx(100)
    assert perfect["bleu_line"].startswith("BLEU|nrefs:1|") and "tok:13a" in perfect["bleu_signature"]
    assert perfect["chrf_line"].startswith("chrF2|nrefs:1|")
    poor = corpus_scores(["A dog runs."], ["The cat sleeps."])
    assert poor["bleu"] < 20 and poor["chrf"] < 40
    with pytest.raises(ValueError, match="references"):
        corpus_scores(["a"], [])


def test_cli_evaluate_writes_metrics(capsys, tmp_path):
    path = copy_of("inference_run", tmp_path / "run")  # evaluate writes metrics.json into the run
    assert (
        cli.main(
            [
                "evaluate",
                "--run-dir",
                str(path),
                "--split",
                "generalization",
                "--beam-size",
                "3",
                "--limit",
                "20",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("BLEU|nrefs:1|") == 1 and out.count("chrF2|nrefs:1|") == 1
    entry = json.loads((path / "metrics.json").read_text())["generalization/beam3/limit-20"]
    assert entry["sentences"] == 20 and entry["beam_size"] == 3 and 0 <= entry["bleu"] <= 100
    assert "BLEU|" in entry["bleu_line"] and "examples" not in entry


def test_cli_translate_arguments_stdin_and_truncation_warning(capsys, monkeypatch, translator):
    path = str(trained_run_dir())
    # Loading a run is tested above and by the export; reuse the traced translator here.
    monkeypatch.setattr("tf_transformer.inference.cli._load", lambda run_dir, *a, **k: translator)
    sentences = [corpus_pairs(count=1)[0][0], "", BAD_INPUTS["long"]]
    assert cli.main(["translate", "--run-dir", path, *sentences]) == 0
    captured = capsys.readouterr()
    assert captured.out.split("\n")[:3] == translator.translate(sentences)
    assert "warning: sentence 3 has" in captured.err and "sentence 1" not in captured.err

    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(sentences[0] + "\n"))
    assert cli.main(["translate", "--run-dir", path, "--beam-size", "2"]) == 0
    assert capsys.readouterr().out.strip() == translator.translate(sentences[0], beam_size=2)


def test_cli_errors_are_plain(tmp_path, capsys):
    assert cli.main(["translate", "--run-dir", str(tmp_path / "missing"), "hello"]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["translate", "--run-dir", str(tmp_path), "--beam-size", "0", "x"])
