"""SNN membership-inference case study: ANN vs converted SNNs at T = 1, 2, 4.

A thin script over `tfmia case-study snn-mia`; it takes the same flags:

  python case_studies/snn_mia.py --quick --dataset cifar10 --data-dir DIR
"""

import sys

from tfmia import cli

if __name__ == "__main__":
  sys.exit(cli.main(["case-study", "snn-mia", *sys.argv[1:]]))
