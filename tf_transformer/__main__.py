import sys

from tf_transformer.cli import main

sys.exit(main())
