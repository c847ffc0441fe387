"""Attack-budget case study: every attack at K = 0, 1, 2, 4, 8, 16 reference
models, trained together: which attack to run at which budget.

A thin script over `tfmia case-study attack-budget`; it takes the same flags:

  python case_studies/attack_budget.py --quick --data-dir DIR
"""

import sys

from tfmia.studies.attack_budget.cli import main

if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
