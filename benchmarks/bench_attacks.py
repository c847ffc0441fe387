"""Attack benchmarks, measured side by side in one run.

1. RMIA scoring speed: N = 100,000 targets, Z = 50,000 population points,
   K = 8 reference models. tfmia's sorted RMIA (sort once, binary search) is
   timed at full size; the straightforward (N, Z) broadcast is timed on the
   first 2,000 targets (what memory allows) and scaled linearly to N. Both
   give identical scores on the 2,000 (checked).
2. Attack power: a CIFAR-10 subset (pool of 10,000 train images, population
   of 10,000 test images), the conv target trained on its half of the pool,
   and K = 2 and K = 4 reference models (the first 2 of the 4). Prints AUC
   and TPR@1%FPR of RMIA (plain, and at its authors' settings), LiRA offline
   and online, Attack-R, Attack-P and the threshold attack. The trained models are kept in .bench/ (resumable).

3. Bootstrap confidence intervals: 1,000 resamples of 100,000 member and
   100,000 non-member scores (`tfmia.results.bootstrap`: sort once, then
   cumulative sums of draw counts) against one scikit-learn
   `roc_auc_score` on the same scores. Target: at most 50x.

Usage: python benchmarks/bench_attacks.py [--data-dir DIR] [--skip-power]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top

from tfmia.attacks import scores

POWER_ATTACKS = ("rmia", "rmia_authors", "lira_offline", "lira", "attack_r",
                 "attack_p", "threshold")


def _best_of(fn, repeats=3):
  best = np.inf
  for _ in range(repeats):
    start = time.perf_counter()
    out = fn()
    best = min(best, time.perf_counter() - start)
  return best, out


def bench_rmia_speed(n=100_000, z=50_000, k=8, n_broadcast=2_000):
  from tfmia.references import membership_matrix
  rng = np.random.default_rng(0)
  ref_is_member = membership_matrix(n, k, 0)
  tx, rx = rng.uniform(0.01, 1, n), rng.uniform(0.01, 1, (k, n))
  tz, rz = rng.uniform(0.01, 1, z), rng.uniform(0.01, 1, (k, z))
  sorted_s, fast = _best_of(lambda: scores.rmia_scores(tx, rx, ref_is_member, tz, rz))
  m = n_broadcast
  args = (tx[:m], rx[:, :m], ref_is_member[:, :m], tz, rz)

  def literal():
    # The definition as written (and as ML Privacy Meter computes it):
    # an (N, Z) matrix of ratio_x / ratio_z, compared with γ, averaged.
    ratio_x, ratio_z = scores.rmia_ratios(*args)
    return np.mean(ratio_x[:, None] / ratio_z[None, :] >= 1.0, axis=1)

  literal_s, lit = _best_of(literal, repeats=2)
  tight_s, slow = _best_of(
      lambda: scores.rmia_scores_bruteforce(*args), repeats=2)
  # Offline Pr(x) is per example, so the first m scores equal the full run's.
  assert np.array_equal(fast[:m], slow), "sorted and broadcast RMIA differ"
  mismatch = int(np.sum(lit != slow))
  print(f"RMIA scoring, N={n:,} targets, Z={z:,} population, K={k} "
        "(best of runs; broadcasts on the first "
        f"{m:,} targets, scaled x{n // m} to N={n:,}):")
  rows = [("sorted + binary search (tfmia)", sorted_s, None),
          ("broadcast ratio_x/ratio_z >= γ (literal)", literal_s * n / m,
           literal_s),
          ("broadcast ratio_x >= γ·ratio_z (no division)", tight_s * n / m,
           tight_s)]
  for name, secs, measured in rows:
    extra = "" if measured is None else f"   (measured {measured * 1e3:.1f} ms)"
    speed = "" if measured is None else f"   sorted is {secs / sorted_s:,.0f}x faster"
    print(f"  {name:<46}{secs * 1e3:10.1f} ms{speed}{extra}")
  print(f"  target: >= 500x against the straightforward broadcast. The two "
        f"broadcast forms disagree on {mismatch} of {m * 1:,} scores "
        "(floating-point rounding of the division).")
  return (literal_s * n / m) / sorted_s


def bench_bootstrap(n=100_000, num_resamples=1000):
  from sklearn import metrics
  from tfmia.results import bootstrap
  rng = np.random.default_rng(0)
  is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
  s = rng.normal(size=2 * n) + 0.3 * is_member
  one_s, auc = _best_of(lambda: metrics.roc_auc_score(is_member, s))
  start = time.perf_counter()
  b = bootstrap(s, is_member, num_resamples=num_resamples, seed=0)
  boot_s = time.perf_counter() - start
  lo, hi = b.intervals()["auc"]
  ratio = boot_s / one_s
  print(f"Bootstrap CIs, {n:,} + {n:,} scores: {num_resamples:,} resamples "
        f"{boot_s:.2f} s; one roc_auc_score {one_s * 1e3:.1f} ms "
        f"(best of 3): {ratio:.0f}x (target: <= 50x). AUC {auc:.4f}, 95% CI "
        f"[{lo:.4f}, {hi:.4f}].")
  return ratio


def bench_power(data_dir, workdir: Path):
  from tfmia.audits import audit
  from tfmia import data as tfdata, references
  from tfmia.attacks.inputs import AttackConfig
  from tfmia.training import TrainConfig
  dataset = "cifar10"
  if not tfdata.dataset_available(dataset, data_dir):
    print(f"CIFAR-10 not found (data_dir={data_dir!r}); attack power on "
          "digits instead.")
    dataset = "digits"
  size = dict(train_size=10_000, test_size=10_000) if dataset == "cifar10" \
      else dict(train_size=1_000, test_size=500)
  config = references.ReferenceConfig(
      data=tfdata.DataConfig(dataset=dataset, data_dir=data_dir, **size),
      model="conv", train=TrainConfig(epochs=20, batch_size=50),
      num_models=4, reference_dir=str(workdir / f"refs_{dataset}"))
  data = tfdata.prepare_data(config.data)
  start = time.perf_counter()
  out = references.train_references(config, data=data, progress=True)
  print(f"Trained {out['trained'] or 'nothing'} "
        f"({time.perf_counter() - start:.0f} s); reused {out['skipped']}.")
  rows = {}
  for k in (2, 4):
    rows[k] = audit.audit_reference_folder(
        config.replace(num_models=k),
        audit.AuditConfig(attacks=POWER_ATTACKS,
                          attack=AttackConfig(seed=0)),
        data=data, progress=False,
        out_dir=workdir / f"audit_{dataset}_k{k}")
  tuned = audit.audit_reference_folder(
      config, audit.AuditConfig(attacks=("rmia",),
                                attack=AttackConfig(rmia_a=None, seed=0)),
      data=data, progress=False).get("rmia")
  print(f"\nAttack power: conv on {dataset}, pool {size['train_size']:,} "
        f"(target members {size['train_size'] // 2:,}), population "
        f"{size['test_size']:,}. Target train accuracy "
        f"{rows[4].member_accuracy:.3f}, held-out {rows[4].nonmember_accuracy:.3f}.")
  print("  (95% bootstrap intervals in brackets)")
  print(f"  {'attack':<22}{'AUC K=2':>24}{'AUC K=4':>24}"
        f"{'TPR@1% K=2':>24}{'TPR@1% K=4':>24}")

  def cell(r, metric):
    value = r.auc if metric == "auc" else r.tpr_at_fpr(0.01)
    lo, hi = r.confidence_intervals[metric]
    return f"{value:.4f} [{lo:.3f},{hi:.3f}]".rjust(24)

  for name in POWER_ATTACKS:
    a2, a4 = rows[2].get(name), rows[4].get(name)
    label = name + (" (a=0.3)" if name == "rmia" else "")
    print(f"  {label:<22}{cell(a2, 'auc')}{cell(a4, 'auc')}"
          f"{cell(a2, 'tpr_at_1%_fpr')}{cell(a4, 'tpr_at_1%_fpr')}")
  print(f"  {'rmia (a tuned, K>=4)':<22}{'n/a':>24}{cell(tuned, 'auc')}"
        f"{'n/a':>24}{cell(tuned, 'tpr_at_1%_fpr')}")
  print(f"  Reports: {workdir}/audit_{dataset}_k2/ and _k4/")
  return rows


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--data-dir", default=os.environ.get("TFMIA_DATA_DIR"))
  p.add_argument("--workdir", type=Path, default=Path(".bench"))
  p.add_argument("--skip-power", action="store_true")
  args = p.parse_args()
  bench_rmia_speed()
  print()
  bench_bootstrap()
  if not args.skip_power:
    print()
    bench_power(args.data_dir, args.workdir)


if __name__ == "__main__":
  main()
