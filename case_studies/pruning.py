"""Pruning case study: membership leakage of pruned models, with defenses
(Yuan & Zhang, mia_prune).

A thin script over `tfmia case-study pruning`; it takes the same flags:

  python case_studies/pruning.py --quick --dataset cifar10 --data-dir DIR
"""

import sys

from tfmia.studies.pruning.cli import main

if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
