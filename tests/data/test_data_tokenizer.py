"""WordPiece tokenizers: fixed reserved ids, reproducible vocab, clean text back, any script."""

import keras
import pytest
import tensorflow as tf

from tf_transformer.constants import EMBEDDED_LANGUAGES, END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID
from tf_transformer.corpus import corpus
from tf_transformer.data import DatasetSpec, Tokenizer, build_vocab, load_tokenizers, tokenizer, vocab_files

TOKENIZERS = load_tokenizers()
SHIPPED = vocab_files("embedded")


def round_trip_rate(tok, sentences):
    back = [s.decode() for s in tok.detokenize(tok.tokenize(sentences)).numpy()]
    return sum(a == b for a, b in zip(sentences, back)) / len(sentences), back


def test_vocab_files_start_with_reserved_tokens():
    for path in SHIPPED.values():
        vocab = path.read_text(encoding="utf-8").splitlines()
        assert vocab[:4] == ["[PAD]", "[UNK]", "[START]", "[END]"] == list(RESERVED_TOKENS)
        assert len(vocab) == len(set(vocab))
    assert (PAD_ID, UNK_ID, START_ID, END_ID) == (0, 1, 2, 3)


def test_embedded_tokenizers_speak_source_and_target_and_language_codes():
    assert (TOKENIZERS.source_language, TOKENIZERS.target_language) == EMBEDDED_LANGUAGES
    assert TOKENIZERS.pt is TOKENIZERS.source and TOKENIZERS.en is TOKENIZERS.target
    assert [p.name for p in SHIPPED.values()] == ["pt.txt", "en.txt"]
    reverse = DatasetSpec.parse("embedded", reverse=True)
    assert [p.name for p in vocab_files(reverse).values()] == ["en.txt", "pt.txt"]
    en_pt = load_tokenizers(reverse)
    assert (en_pt.source_language, en_pt.target_language) == ("en", "pt")
    assert en_pt.en is en_pt.source
    assert int(en_pt.source.get_vocab_size()) == int(TOKENIZERS.target.get_vocab_size())


def test_rebuilding_the_vocab_gives_the_committed_files(tmp_path):
    train = corpus.read("train")
    pairs = tf.data.Dataset.from_tensor_slices(([p for p, _ in train], [e for _, e in train]))
    paths = tokenizer.build_vocab_files(pairs, tmp_path, languages=EMBEDDED_LANGUAGES)
    for side, path in paths.items():
        assert path.name == SHIPPED[side].name
        assert path.read_bytes() == SHIPPED[side].read_bytes(), side


@pytest.mark.parametrize("side,column", [("target", 1), ("source", 0)])
def test_round_trip_of_test_split(side, column):
    sentences = [pair[column] for pair in corpus.read("test")]
    rate, _ = round_trip_rate(getattr(TOKENIZERS, side), sentences)
    print(f"{side} round trip: {rate:.2%} of {len(sentences)} test sentences")
    assert rate >= 0.99


def test_tokenize_adds_start_and_end_and_keeps_case():
    ids = TOKENIZERS.en.tokenize(["The animal didn't cross the street."])
    assert ids.dtype == tf.int64 and isinstance(ids, tf.RaggedTensor)
    row = ids[0].numpy().tolist()
    assert row[0] == START_ID and row[-1] == END_ID and UNK_ID not in row
    tokens = [t.decode() for t in TOKENIZERS.en.lookup(ids)[0].numpy()]
    assert tokens[1] == "The" and "didn" in tokens and "'" in tokens


def test_detokenize_dense_padded_and_ragged_agree():
    sentences = [
        "The animal didn't cross the street because it was too tired.",
        "Why isn't João's cat eating?",
        "Yes.",
    ]
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
    for side, path in SHIPPED.items():
        tok = getattr(TOKENIZERS, side)
        assert int(tok.get_vocab_size()) == len(path.read_text(encoding="utf-8").splitlines())
        assert tok.get_vocab_path().numpy().decode() == str(path)
        assert [t.decode() for t in tok.get_reserved_tokens().numpy()] == list(RESERVED_TOKENS)
    assert 500 < int(TOKENIZERS.en.get_vocab_size()) < int(TOKENIZERS.pt.get_vocab_size()) < 4000


def test_tokenizers_survive_a_saved_model(tmp_path):
    tf.saved_model.save(TOKENIZERS, str(tmp_path / "tokenizers"))
    loaded = tf.saved_model.load(str(tmp_path / "tokenizers"))
    text = ["O animal não atravessou a rua porque estava muito cansado."]
    ids = loaded.source.tokenize(text)
    assert ids.to_list() == TOKENIZERS.pt.tokenize(text).to_list()
    assert loaded.pt.detokenize(ids).numpy()[0].decode() == text[0]
    assert loaded.source.detokenize(ids.to_tensor()).numpy()[0].decode() == text[0]
    assert int(loaded.en.get_vocab_size()) == int(TOKENIZERS.target.get_vocab_size())


def test_unprepared_corpus_says_how_to_learn_its_vocabularies(tmp_path):
    corpus_file = tmp_path / "pairs.tsv"
    corpus_file.write_text("Hello.\tOlá.\n", encoding="utf-8")
    spec = DatasetSpec.parse(f"tsv:{corpus_file}", source_column=1, target_column=0)
    with pytest.raises(FileNotFoundError, match="tf-transformer prepare --dataset tsv:.*--source-column 1"):
        vocab_files(spec, data_dir=tmp_path / "tfds")
    with pytest.raises(FileNotFoundError, match="prepare"):
        load_tokenizers(spec, data_dir=tmp_path / "tfds")


# Scripts without spaces between words. tensorflow-text's BertTokenizer makes every Han
# character a word of its own (and punctuation too), so the detokenizer must not put the
# joining spaces back between them; kana runs stay words, split into ## pieces.
CHINESE = [
    "我喜欢猫。",
    "你喜欢喝茶吗？",
    "他们不喜欢咖啡，但是喜欢水果。",
    "今天天气很好！",
    "我用Python写程序。",
    "这本书有300页。",
]
JAPANESE = [
    "私は猫が好きです。",
    "これはペンです。",
    "東京に行きました。",
    "コーヒーを飲みますか？",
    "日本語を話すのは難しいです。",
]


@pytest.mark.parametrize("sentences", [CHINESE, JAPANESE], ids=["chinese", "japanese"])
def test_text_without_spaces_round_trips(tmp_path, sentences):
    vocab = build_vocab(tf.data.Dataset.from_tensor_slices(sentences), vocab_size=300)
    tok = Tokenizer(tokenizer.write_vocab(vocab, tmp_path / "vocab.txt"))
    tokens = [t.decode() for t in tok.lookup(tok.tokenize(sentences[:1]))[0].numpy()]
    print(tokens)
    assert UNK_ID not in tok.tokenize(sentences).flat_values.numpy()
    rate, back = round_trip_rate(tok, sentences)
    assert back == sentences and rate == 1.0


def test_mixed_scripts_keep_their_spaces_where_latin_text_has_them(tmp_path):
    sentences = ["Ele disse 你好 e saiu.", "The word 猫 means cat."]
    vocab = build_vocab(tf.data.Dataset.from_tensor_slices(sentences), vocab_size=300)
    tok = Tokenizer(tokenizer.write_vocab(vocab, tmp_path / "vocab.txt"))
    _, back = round_trip_rate(tok, sentences)
    # Between Latin words the spaces stay; next to a Han character they go (Chinese
    # writes none): the one place where a mixed sentence cannot come back exactly.
    assert back == ["Ele disse你好e saiu.", "The word猫means cat."]


# -- SentencePiece: real text back exactly --------------------------------------------------------

# Strings from real gettext catalogs that WordPiece's detokenizer gave back with invented spaces.
REAL_TEXT = [
    "'%s'",
    "(%d minutes left to unlock)",
    "Creating directory '%s'.",
    "pam_*_item()",
    "Could not connect to the server: %s",
    "Não foi possível conectar ao servidor: %s",
    "%-20s  --help  (100%)",  # (two spaces; a corpus's sentences start with none: see prepare)
    "<b>Aviso:</b> %(name)s é {0}",
    "无法连接到服务器：%s",
    "ファイル「%s」を開けません",
]


@pytest.fixture(scope="module")
def sentencepiece_tokenizer(tmp_path_factory):
    from tf_transformer.data.sentencepiece_tokenizer import SentencePieceTokenizer, learn_model

    path = learn_model(REAL_TEXT * 20 + CHINESE * 5, tmp_path_factory.mktemp("sp") / "mixed.model", 400)
    return SentencePieceTokenizer(path, name="mixed")


def test_sentencepiece_gives_real_text_back_exactly_where_wordpiece_invents_spaces(
    sentencepiece_tokenizer, tmp_path
):
    rate, back = round_trip_rate(sentencepiece_tokenizer, REAL_TEXT)
    assert back == REAL_TEXT and rate == 1.0
    wordpiece = Tokenizer(
        tokenizer.write_vocab(
            build_vocab(tf.data.Dataset.from_tensor_slices(REAL_TEXT * 20), 400), tmp_path / "v.txt"
        )
    )
    wordpiece_rate, wordpiece_back = round_trip_rate(wordpiece, REAL_TEXT)
    assert wordpiece_rate < 0.5 and wordpiece_back[0] == "' % s '"  # spaces it invents
    # Characters it never saw come back through byte fallback, not as [UNK].
    unseen = ["emoji 😀🐈, Ελληνικά, עברית", "Größe: 42 µm"]
    ids = sentencepiece_tokenizer.tokenize(unseen)
    assert UNK_ID not in ids.flat_values.numpy()
    assert round_trip_rate(sentencepiece_tokenizer, unseen) == (1.0, unseen)


def test_sentencepiece_keeps_the_tokenizer_contract(sentencepiece_tokenizer):
    tok = sentencepiece_tokenizer
    assert [t.decode() for t in tok.vocab.numpy()[:4]] == list(RESERVED_TOKENS)
    assert int(tok.get_vocab_size()) == len(tok.vocab.numpy())
    ids = tok.tokenize(["(%d minutes)", ""])
    rows = ids.to_list()
    assert rows[0][0] == START_ID and rows[0][-1] == END_ID and rows[1] == [START_ID, END_ID]
    assert tok.detokenize(ids).numpy().tolist() == tok.detokenize(ids.to_tensor()).numpy().tolist()
    # Up to the first [END]; padding and reserved tokens dropped.
    padded = tf.constant([[START_ID, *rows[0][1:-1], END_ID, 9, PAD_ID]], tf.int64)
    assert tok.detokenize(padded).numpy()[0].decode() == "(%d minutes)"
    pieces = [p.decode() for p in tok.lookup(ids)[0].numpy()]
    assert pieces[0] == "[START]" and "".join(pieces[1:-1]).replace("\u2581", " ").strip() == "(%d minutes)"
    assert tok.detokenize(tok.tokenize([b"O gato \xff dorme."])).numpy()[0].decode() == "O gato \ufffd dorme."


def test_make_tokenizer_reads_the_kind_from_the_suffix(sentencepiece_tokenizer):
    from tf_transformer.data import SentencePieceTokenizer, default_tokenizer, make_tokenizer, tokenizer_kind

    model = sentencepiece_tokenizer.get_vocab_path().numpy().decode()
    assert tokenizer_kind(model) == "sentencepiece" and isinstance(
        make_tokenizer(model), SentencePieceTokenizer
    )
    wordpiece = vocab_files("embedded")["source"]
    assert tokenizer_kind(wordpiece) == "wordpiece" and isinstance(make_tokenizer(wordpiece), Tokenizer)
    assert (
        default_tokenizer("embedded") == "wordpiece" and default_tokenizer("gettext:pt_BR") == "sentencepiece"
    )
    with pytest.raises(ValueError, match="tokenizer must be one of wordpiece, sentencepiece"):
        vocab_files("embedded", tokenizer="bpe")
    with pytest.raises(
        FileNotFoundError, match="no sentencepiece vocabularies for embedded.*--tokenizer sentencepiece"
    ):
        vocab_files("embedded", tokenizer="sentencepiece", data_dir="/nonexistent")


def test_a_sentencepiece_tokenizer_survives_a_saved_model(sentencepiece_tokenizer, tmp_path):
    tf.saved_model.save(sentencepiece_tokenizer, str(tmp_path / "sp"))
    loaded = tf.saved_model.load(str(tmp_path / "sp"))
    ids = loaded.tokenize(REAL_TEXT)
    assert ids.to_list() == sentencepiece_tokenizer.tokenize(REAL_TEXT).to_list()
    assert [t.decode() for t in loaded.detokenize(ids.to_tensor()).numpy()] == REAL_TEXT


def test_two_sentencepiece_models_in_one_process_survive_clear_session(sentencepiece_tokenizer, tmp_path):
    # TensorFlow Text keeps a model in its kernel: clear_session used to lose it (NotFoundError),
    # and two models' graphs could read one of them (ids out of range).
    from tf_transformer.data.sentencepiece_tokenizer import SentencePieceTokenizer, learn_model

    other = SentencePieceTokenizer(learn_model(CHINESE * 30, tmp_path / "zh.model", 300), name="zh")
    for _ in range(2):
        assert round_trip_rate(other, CHINESE) == (1.0, CHINESE)
        assert round_trip_rate(sentencepiece_tokenizer, REAL_TEXT) == (1.0, REAL_TEXT)
        keras.backend.clear_session()
