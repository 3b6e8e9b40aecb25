"""The interactive attention view: its page, its checks, its numbers, and the page in a real browser.

The HTML is checked as text first (escaping, shapes, errors, the Jupyter
frame); ``attention_weights`` against the model's ``call_with_attention``; then the saved
page is opened from a ``file://`` URL in headless Chromium (``_browser``),
clicked and read back from the DOM, with no console errors.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import html
import json
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf
from helpers.browser import Browser
from helpers.models import make_model

from tf_transformer.data import load_tokenizers
from tf_transformer.inference import Translator
from tf_transformer.serving import server as serving_server
from tf_transformer.viz import attention as viz_attention
from tf_transformer.viz import AttentionView, attention_view, attention_weights, translation_view

# Tokens that would break a page that pasted them into HTML or JavaScript.
NASTY = [
    "[START]",
    "</script><script>window.pwned = 1</script>",
    "<img src=x onerror='window.pwned=1'>",
    "[END]",
]
TARGET = ["\"quoted\" & 'single'", "${`template`}", "\u2028<!--", "</SCRIPT >"]


def softmax_weights(rng, layers, heads, queries, keys):
    scores = rng.normal(size=(layers, heads, queries, keys)) * 3
    weights = np.exp(scores)
    return weights / weights.sum(-1, keepdims=True)


@pytest.fixture
def nasty_view(rng):
    weights = {
        "encoder": softmax_weights(rng, 2, 3, 4, 4),
        "decoder": softmax_weights(rng, 2, 3, 4, 4),
        "cross": softmax_weights(rng, 2, 3, 4, 4),
    }
    view = attention_view(NASTY, TARGET, **weights, title="<b>title</b> & </script>")
    return view, weights


def page_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="attention-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


# -- the page as text ----------------------------------------------------------------------------


def test_tokens_and_title_reach_the_page_as_data_never_as_markup(nasty_view):
    view, weights = nasty_view
    page = view.html
    assert page.count("</script>") == 2 and page.lower().count("</script") == 2  # the page's own two
    assert page.count("<script") == 2 and "<img" not in page and "<b>" not in page
    assert "<title>&lt;b&gt;title&lt;/b&gt; &amp; &lt;/script&gt;</title>" in page
    data = page_data(page)
    assert data["tokens"] == {"source": NASTY, "target": TARGET}
    assert data["title"] == "<b>title</b> & </script>"
    assert [k["name"] for k in data["kinds"]] == ["encoder", "decoder", "cross"] == list(view.kinds)
    np.testing.assert_allclose(data["kinds"][2]["weights"], weights["cross"], atol=1e-4)


def test_the_page_needs_nothing_from_outside():
    page = attention_view(["a"], encoder=[[[[1.0]]]]).html
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", page), "a remote resource"
    assert "@import" not in page and "fetch(" not in page


def test_the_view_and_the_serving_page_run_the_same_viewer():
    """One viewer, package data: inlined whole into the view's page and into the page of ``serve``.

    The server reads the files by path (it never imports ``tf_transformer``), from the same folder.
    """
    folder = pathlib.Path(viz_attention.__file__).parent
    assert [path.parent for path in serving_server.VIEWER_FILES] == [folder, folder]
    view_page = attention_view(["a"], encoder=[[[[1.0]]]]).html
    serve_page = serving_server.read_page()
    for name in ("attention_viewer.js", "attention_viewer.css"):
        text = (folder / name).read_text(encoding="utf-8")
        for markup in ("</", "<!--", "<script"):  # would end, or change, the element it is inlined into
            assert markup not in text.lower(), (name, markup)
        assert view_page.count(text) == 1 and serve_page.count(text) == 1, name
        assert f"/* {name} */" not in view_page and f"/* {name} */" not in serve_page
    assert "AttentionViewer.mount(" in view_page and "AttentionViewer.mount(" in serve_page
    assert "__TITLE__" not in view_page and "__DATA__" not in view_page


def test_the_jupyter_frame_holds_the_whole_page_escaped(nasty_view):
    view, _ = nasty_view
    frame = view._repr_html_()
    assert frame.startswith("<iframe ") and frame.endswith("></iframe>")
    assert "<script" not in frame and "</script" not in frame.lower()
    srcdoc = re.fullmatch(r'<iframe srcdoc="([^"]*)" (.*)></iframe>', frame)
    assert srcdoc, frame[:200]
    assert html.unescape(srcdoc.group(1)) == view.html
    assert 'sandbox="allow-scripts"' in srcdoc.group(2)
    assert f"height: {view.height}px" in srcdoc.group(2)


def test_save_writes_the_page_atomically(nasty_view, tmp_path):
    view, _ = nasty_view
    path = view.save(tmp_path / "views" / "attention.html")
    assert path == tmp_path / "views" / "attention.html"
    assert path.read_text(encoding="utf-8") == view.html
    assert sorted(p.name for p in path.parent.iterdir()) == ["attention.html"]  # no temporary left
    view.save(str(path))  # a str path, over an existing file
    assert path.read_text(encoding="utf-8") == view.html


def test_tensors_lists_and_one_kind_at_a_time_are_accepted(rng):
    weights = softmax_weights(rng, 1, 2, 3, 2).astype(np.float32)
    view = attention_view(["x", "y"], ["a", "b", "c"], cross=tf.constant(weights))
    assert view.kinds == ("cross",) and isinstance(view, AttentionView)
    listed = attention_view(["x", "y"], ["a", "b", "c"], cross=weights.tolist())
    assert page_data(listed.html) == page_data(view.html)
    decoder_only = attention_view(target_tokens=["a", "b", "c"], decoder=softmax_weights(rng, 1, 1, 3, 3))
    assert decoder_only.kinds == ("decoder",)


BAD = {
    "no weights": (dict(source_tokens=["a"]), ValueError, "needs weights"),
    "no source tokens": (dict(target_tokens=["a"], cross=np.ones((1, 1, 1, 1))), ValueError, "source tokens"),
    "empty target": (
        dict(source_tokens=["a"], target_tokens=[], cross=np.ones((1, 1, 0, 1))),
        ValueError,
        "target",
    ),
    "three axes": (
        dict(source_tokens=["a", "b"], encoder=np.full((1, 2, 2), 0.5)),
        ValueError,
        r"shape \(1, 2, 2\)",
    ),
    "no heads": (
        dict(source_tokens=["a"], encoder=np.ones((1, 0, 1, 1))),
        ValueError,
        "one layer and one head",
    ),
    "query rows": (
        dict(source_tokens=["a", "b"], target_tokens=["x"], cross=np.full((1, 1, 2, 2), 0.5)),
        ValueError,
        "2 query rows .* 1 target tokens",
    ),
    "key columns": (
        dict(source_tokens=["a", "b", "c"], target_tokens=["x"], cross=np.full((1, 1, 1, 2), 0.5)),
        ValueError,
        "2 key columns .* 3 source tokens",
    ),
    "nan": (dict(source_tokens=["a"], encoder=[[[[np.nan]]]]), ValueError, "NaN"),
    "scores": (
        dict(source_tokens=["a", "b"], encoder=np.full((1, 1, 2, 2), 3.5)),
        ValueError,
        "not the scores",
    ),
    "bytes tokens": (dict(source_tokens=[b"a"], encoder=[[[[1.0]]]]), TypeError, "bytes"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_gets_a_clear_error(case):
    kwargs, error, message = BAD[case]
    with pytest.raises(error, match=message):
        attention_view(**kwargs)


# -- the numbers of a real model -----------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_attention_weights_are_the_models_own(norm_first, rng):
    model = make_model(norm_first=norm_first)
    source, target = rng.integers(4, 37, 7), np.r_[2, rng.integers(4, 41, 4)]
    source[-2:] = 0  # padding keys get no weight
    found = attention_weights(model, source, target)
    layers, heads = model.config.num_layers, model.config.num_heads
    assert {k: w.shape for k, w in found.items()} == {
        "encoder": (layers, heads, 7, 7),
        "decoder": (layers, heads, 5, 5),
        "cross": (layers, heads, 5, 7),
    }
    # Every kind is the model's own call_with_attention, read for the one sentence.
    _, want = model.call_with_attention((source[None], target[None]), training=False)
    for kind, per_layer in want._asdict().items():
        np.testing.assert_allclose(found[kind], np.stack([w[0] for w in per_layer]), atol=1e-6)
    for weights in found.values():
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(found["encoder"][..., -2:] < 1e-6) and np.all(found["cross"][..., -2:] < 1e-6)
    future = np.triu(np.ones((5, 5), bool), k=1)
    assert np.all(found["decoder"][..., future] < 1e-6), "the decoder saw the future"


def test_attention_weights_check_the_ids(tiny_model):
    with pytest.raises(ValueError, match="source_ids must be one sentence"):
        attention_weights(tiny_model, [[2, 3], [2, 3]], [2])
    with pytest.raises(ValueError, match="target_ids .* 1 to 32"):
        attention_weights(tiny_model, [2, 3], [2] * 33)
    with pytest.raises(ValueError, match="source_ids .* float"):
        attention_weights(tiny_model, [2.0, 3.0], [2])


@pytest.fixture(scope="module")
def translator():
    """An untrained tiny model on the real tokenizers: real tensors, rough translations."""
    tokenizers = load_tokenizers("embedded")
    model = make_model(
        input_vocab_size=int(tokenizers.source.get_vocab_size()),
        target_vocab_size=int(tokenizers.target.get_vocab_size()),
        max_length=12,
    )
    return Translator(model, tokenizers.source, tokenizers.target)


@pytest.fixture(scope="module")
def translated(translator):
    """One sentence's ``Translator.attention`` and its view (each decodes the sentence: seconds)."""
    sentence = "O gato dorme."
    return sentence, translator.attention(sentence), translation_view(translator, sentence)


def test_translation_view_shows_the_translators_attention(translated):
    sentence, found, view = translated
    data = page_data(view.html)
    assert found.source_tokens == ["[START]", "O", "gato", "dorme", ".", "[END]"]
    assert data["tokens"] == {"source": found.source_tokens, "target": found.target_tokens}
    assert data["title"] == f"{sentence} → {found.translation}"
    assert [k["name"] for k in data["kinds"]] == ["encoder", "decoder", "cross"]
    np.testing.assert_allclose(data["kinds"][2]["weights"], found.weights, atol=1e-4)
    assert np.shape(data["kinds"][1]["weights"])[2:] == (len(found.target_tokens),) * 2


def test_an_empty_sentence_gets_a_view_of_its_padding(translator):
    view = translation_view(translator, "")
    data = page_data(view.html)
    assert data["tokens"] == {"source": ["[PAD]", "[PAD]"], "target": ["[START]"]}
    assert data["title"] == " → "


# -- the page in a browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    with Browser(width=1100, height=900) as browser:
        yield browser


def open_view(browser, view, path):
    browser.errors.clear()
    browser.open(view.save(path).as_uri(), ready="document.body.dataset.ready === 'true'")


def texts(browser, selector):
    return browser.evaluate(f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.textContent)")


def choose(browser, select, value):
    """Pick ``value`` in the viewer's ``select.SELECT`` as a user would: set it, then its change event."""
    browser.evaluate(
        f"(() => {{ const s = document.querySelector('select.{select}'); s.value = '{value}';"
        "s.dispatchEvent(new Event('change')); })()"
    )


@pytest.mark.slow
def test_the_page_renders_and_answers_clicks(browser, nasty_view, tmp_path):
    view, weights = nasty_view
    open_view(browser, view, tmp_path / "nasty.html")
    assert browser.evaluate("document.title") == "<b>title</b> & </script>"
    assert texts(browser, ".queries .token .text") == NASTY == texts(browser, ".keys .token .text")
    assert (
        browser.evaluate("window.pwned") is None
        and browser.evaluate("document.querySelectorAll('img').length") == 0
    )
    assert texts(browser, ".keys .weight") == [""] * 4  # nothing chosen yet
    assert browser.evaluate("document.querySelectorAll('.matrix .cell').length") == 16

    # A click on query 2: the keys show its row of the mean over the heads (layer 1).
    browser.click(".queries .token[data-index='1']")
    expected = weights["encoder"][0].mean(0)[1]
    assert texts(browser, ".keys .weight") == [f"{w:.3f}" for w in expected]
    assert (
        browser.evaluate("document.querySelector('.queries .token[data-index=\"1\"]').className")
        == "token active"
    )
    best = int(expected.argmax())
    assert f"looks most at source token {best + 1} \u201c{NASTY[best]}\u201d" in browser.evaluate(
        "document.querySelector('.attention-viewer .status').textContent"
    )
    shade = browser.evaluate(
        f"getComputedStyle(document.querySelectorAll('.keys .token')[{best}]).backgroundColor"
    )
    assert shade == "rgb(11, 87, 208)", shade  # the largest weight gets the full colour

    # Another layer and head: the same query, other numbers.
    choose(browser, "layer", 1)
    choose(browser, "head", 2)
    assert texts(browser, ".keys .weight") == [f"{w:.3f}" for w in weights["encoder"][1, 2, 1]]

    # Cross-attention: target queries, source keys; a key shows its column.
    choose(browser, "kind", 2)
    assert texts(browser, ".queries .token .text") == TARGET and texts(browser, ".keys .token .text") == NASTY
    browser.click(".keys .token[data-index='3']")
    assert texts(browser, ".queries .weight") == [f"{w:.3f}" for w in weights["cross"][1, 2, :, 3]]
    browser.click(".keys .token[data-index='3']")  # a second click lets go
    browser.move_mouse(1090, 890)  # away from every token: no hover either
    assert texts(browser, ".queries .weight") == [""] * 4
    assert browser.errors == []


@pytest.mark.slow
def test_a_translation_view_renders_in_the_browser(browser, translated, tmp_path):
    _, found, view = translated
    open_view(browser, view, tmp_path / "translation.html")
    source = found.source_tokens
    assert texts(browser, ".queries .token .text") == source
    assert texts(browser, "select.kind option") == [
        "Encoder self-attention",
        "Decoder self-attention (masked)",
        "Cross-attention (decoder to encoder)",
    ]
    assert texts(browser, "select.head option") == ["all (mean)", "1", "2", "3", "4"]
    browser.click(".queries .token[data-index='2']")
    shown = [float(w) for w in texts(browser, ".keys .weight")]
    assert len(shown) == len(source) and abs(sum(shown) - 1) < 0.01
    assert browser.errors == []
