"""``python -m tf_transformer.corpus``: (re)write the embedded corpus."""

from tf_transformer.corpus.corpus import main

main()
