"""The generator of the embedded Portuguese→English corpus: a maintainer's tool.

Nothing imports it at run time: training reads the files it wrote
(``data/embedded_pt_en``). It lives apart from the runtime data code so that
:mod:`tf_transformer.data` reads as the pipeline it is.

- :mod:`~tf_transformer.corpus.lexicon`: the words, and Portuguese conjugation.
- :mod:`~tf_transformer.corpus.grammar`: a synchronous grammar that
  builds each Portuguese sentence and its English translation together.
- :mod:`~tf_transformer.corpus.corpus`: the splits, written
  reproducibly, and the data card's statistics.

Run ``python -m tf_transformer.corpus --help``.
"""
