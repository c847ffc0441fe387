"""SNN membership-inference case study: ANN vs converted SNNs at T = 1, 2, 4.

A thin script over `tfmia case-study snn-mia`; it takes the same flags:

  python case_studies/snn_mia.py --quick --dataset cifar10 --data-dir DIR
"""

import sys

from tfmia.studies.snn_mia.cli import main

if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
