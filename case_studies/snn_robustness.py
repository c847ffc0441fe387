"""SNN-robustness case study: an ANN, a BPTT-trained SNN and a HIRE-SNN under
FGSM and PGD, their membership leakage, and the pooling and encoder sweep.

A thin script over `tfmia case-study snn-robustness`; it takes the same flags:

  python case_studies/snn_robustness.py --quick --dataset cifar10 --data-dir DIR
"""

import sys

from tfmia.studies.snn_robustness.cli import main

if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
