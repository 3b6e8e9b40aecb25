"""WordPiece tokenizers: fixed reserved ids, reproducible vocab, clean text back."""

import tensorflow as tf

from tf_transformer.data import corpus, tokenizer
from tf_transformer.data.tokenizer import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID

import pytest

TOKENIZERS = tokenizer.load_tokenizers()


def test_vocab_files_start_with_reserved_tokens():
    for lang in tokenizer.LANGUAGES:
        vocab = (tokenizer.VOCAB_DIR / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
        assert vocab[:4] == ["[PAD]", "[UNK]", "[START]", "[END]"] == RESERVED_TOKENS
        assert len(vocab) == len(set(vocab))
    assert (PAD_ID, UNK_ID, START_ID, END_ID) == (0, 1, 2, 3)


def test_rebuilding_the_vocab_gives_the_committed_files(tmp_path):
    train = corpus.read("train")
    pairs = tf.data.Dataset.from_tensor_slices(([p for p, _ in train], [e for _, e in train]))
    paths = tokenizer.build_vocab_files(pairs, tmp_path)
    for lang, path in paths.items():
        assert path.read_bytes() == (tokenizer.VOCAB_DIR / f"{lang}.txt").read_bytes(), lang


@pytest.mark.parametrize("lang,column", [("en", 1), ("pt", 0)])
def test_round_trip_of_test_split(lang, column):
    sentences = [pair[column] for pair in corpus.read("test")]
    tok = getattr(TOKENIZERS, lang)
    back = [s.decode() for s in tok.detokenize(tok.tokenize(sentences)).numpy()]
    rate = sum(a == b for a, b in zip(sentences, back)) / len(sentences)
    print(f"{lang} round trip: {rate:.2%} of {len(sentences)} test sentences")
    assert rate >= 0.99


def test_tokenize_adds_start_and_end_and_keeps_case():
    ids = TOKENIZERS.en.tokenize(["The animal didn't cross the street."])
    assert ids.dtype == tf.int64 and isinstance(ids, tf.RaggedTensor)
    row = ids[0].numpy().tolist()
    assert row[0] == START_ID and row[-1] == END_ID and UNK_ID not in row
    tokens = [t.decode() for t in TOKENIZERS.en.lookup(ids)[0].numpy()]
    assert tokens[1] == "The" and "didn" in tokens and "'" in tokens


def test_detokenize_dense_padded_and_ragged_agree():
    sentences = ["The animal didn't cross the street because it was too tired.",
                 "Why isn't João's cat eating?", "Yes."]
    ragged = TOKENIZERS.en.tokenize(sentences)
    dense = ragged.to_tensor()  # 0-padded
    assert [s.decode() for s in TOKENIZERS.en.detokenize(dense).numpy()] == sentences
    assert [s.decode() for s in TOKENIZERS.en.detokenize(ragged).numpy()] == sentences


def test_detokenize_stops_at_end_and_drops_reserved_tokens():
    ids = TOKENIZERS.en.tokenize(["The cat.", "The dog."]).to_tensor()
    ids = tf.concat([ids, tf.fill([2, 2], tf.constant(START_ID, tf.int64))], axis=1)
    garbage = tf.concat([ids[:1, :-2], ids[1:, 1:]], axis=1)  # words after [END]
    out = TOKENIZERS.en.detokenize(garbage).numpy().tolist()
    assert out[0] == b"The cat."


@pytest.mark.parametrize("text", ["", "你好", "😀 🚀", "Olá 😀 mundo", "x" * 5000, "\t\n  "])
def test_bad_inputs_do_not_crash(text):
    ids = TOKENIZERS.pt.tokenize([text])
    row = ids[0].numpy().tolist()
    assert row[0] == START_ID and row[-1] == END_ID
    TOKENIZERS.pt.detokenize(ids)
    if not text.strip():
        assert row == [START_ID, END_ID]
    if "你" in text or "😀" in text:
        assert UNK_ID in row


def test_invalid_utf8_is_replaced_not_fatal():
    ids = TOKENIZERS.pt.tokenize(tf.constant([b"caf\xe9 \xff\xfe bom"]))
    out = TOKENIZERS.pt.detokenize(ids).numpy()[0].decode()
    assert out.endswith("bom") and "[UNK]" in out


def test_vocab_size_path_and_reserved_tokens():
    for lang in tokenizer.LANGUAGES:
        tok = getattr(TOKENIZERS, lang)
        path = tokenizer.VOCAB_DIR / f"{lang}.txt"
        assert int(tok.get_vocab_size()) == len(path.read_text(encoding="utf-8").splitlines())
        assert tok.get_vocab_path().numpy().decode() == str(path)
        assert [t.decode() for t in tok.get_reserved_tokens().numpy()] == RESERVED_TOKENS
    assert 500 < int(TOKENIZERS.en.get_vocab_size()) < int(TOKENIZERS.pt.get_vocab_size()) < 4000


def test_tokenizers_survive_a_saved_model(tmp_path):
    tf.saved_model.save(TOKENIZERS, str(tmp_path / "tokenizers"))
    loaded = tf.saved_model.load(str(tmp_path / "tokenizers"))
    text = ["O animal não atravessou a rua porque estava muito cansado."]
    ids = loaded.pt.tokenize(text)
    assert ids.to_list() == TOKENIZERS.pt.tokenize(text).to_list()
    assert loaded.pt.detokenize(ids).numpy()[0].decode() == text[0]
    assert loaded.pt.detokenize(ids.to_tensor()).numpy()[0].decode() == text[0]
    assert int(loaded.en.get_vocab_size()) == int(TOKENIZERS.en.get_vocab_size())


def test_missing_vocab_dir_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare"):
        tokenizer.load_tokenizers(tmp_path)
