"""DP-audit case study: the accountant's ε beside empirical ε lower bounds at
several DP-SGD noise levels.

A thin script over `tfmia case-study dp-audit`; it takes the same flags:

  python case_studies/dp_audit.py --quick
"""

import sys

from tfmia.studies.dp_audit.cli import main

if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
