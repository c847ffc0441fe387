"""Architecture case study: conv vs dense, depth 7 vs 4, and 4 classes.

A thin script over `tfmia case-study architectures`; it takes the same flags:

  python case_studies/architectures.py --quick --dataset cifar10 --data-dir DIR
"""

import sys

from tfmia.studies.architectures.cli import main

if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
