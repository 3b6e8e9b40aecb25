"""The generator of the embedded Portuguese→English corpus: a maintainer's tool.

Nothing imports it at run time: training reads the files it wrote
(``data/embedded_pt_en``). It lives apart from the runtime data code so that
:mod:`tf_transformer.data` reads as the pipeline it is.

- :mod:`~tf_transformer.corpus.lexicon`: the words, and Portuguese conjugation.
- :mod:`~tf_transformer.corpus.grammar`: a synchronous grammar that
  builds each Portuguese sentence and its English translation together, from
  :mod:`~tf_transformer.corpus.tables` (closed word tables),
  :mod:`~tf_transformer.corpus.phrases` (referents, clauses, finishing a pair),
  :mod:`~tf_transformer.corpus.noun_phrases` and
  :mod:`~tf_transformer.corpus.clauses`.
- :mod:`~tf_transformer.corpus.templates`, :mod:`~tf_transformer.corpus.family`
  and :mod:`~tf_transformer.corpus.sentences`: the sentence templates, the
  "animal / street" family and its variants, and drawing them.
- :mod:`~tf_transformer.corpus.splits`: the splits, written reproducibly;
  :mod:`~tf_transformer.corpus.data_card`: the data card's statistics.
- :mod:`~tf_transformer.corpus.corpus`: the command line, and the generator's
  names in one place.

Run ``python -m tf_transformer.corpus --help``.
"""
