"""``python -m tf_transformer.data.generator``: (re)write the embedded corpus."""

from tf_transformer.data.generator.corpus import main

main()
