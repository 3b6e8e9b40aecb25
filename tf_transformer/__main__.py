from tf_transformer.cli import run

run()
