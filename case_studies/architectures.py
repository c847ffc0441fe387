"""Architecture case study: conv vs dense, depth 7 vs 4, and 4 classes.

A thin script over `tfmia case-study architectures`; it takes the same flags:

  python case_studies/architectures.py --quick --dataset cifar10 --data-dir DIR
"""

import sys

from tfmia import cli

if __name__ == "__main__":
  sys.exit(cli.main(["case-study", "architectures", *sys.argv[1:]]))
