import sys

from biaslab.report.cli import main

sys.exit(main())
