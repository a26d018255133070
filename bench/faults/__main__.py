import sys

from bench.faults.runner import main

sys.exit(main())
