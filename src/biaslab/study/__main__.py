import sys

from biaslab.study.cli import main

sys.exit(main())
