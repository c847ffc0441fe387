"""Figures a reviewer accepts: intervals where the result has them, chance
lines, legends that cover no data, and no two texts on top of each other.

Each figure is drawn from small hand-made results whose points sit where the
published figures' did (labels that collided, legends over bars)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tfmia.reporting import plots as plotting
from tfmia.results import AttackResult, AttackResults


def teardown_function():
  plt.close("all")


def _result(attack, shift, seed=0, n=200):
  rng = np.random.default_rng(seed)
  is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
  return AttackResult(attack, "entire_dataset",
                      rng.normal(size=2 * n) + shift * is_member, is_member)


def _clean(fig):
  assert plotting.overlapping_texts(fig) == []
  assert plotting.points_under_legends(fig) == 0


def test_the_checks_catch_overlaps_and_covered_data():
  fig, ax = plt.subplots()
  ax.plot([0, 1], [0, 1], "o-", label="a line")
  ax.text(0.5, 0.5, "one")
  ax.text(0.5, 0.5, "two")
  ax.legend(loc="upper left")
  assert ("one", "two") in plotting.overlapping_texts(fig)
  fig2, ax2 = plt.subplots()
  ax2.plot(np.linspace(0, 1, 50), np.full(50, 0.95), label="under")
  ax2.set_ylim(0, 1)
  ax2.legend(loc="upper center")
  assert plotting.points_under_legends(fig2) > 0


def test_label_points_keeps_close_labels_apart():
  fig, ax = plt.subplots()
  xs, ys = [0.1008, 0.1009, 0.1010], [0.502, 0.504, 0.503]
  ax.scatter(xs, ys)
  ax.set_xlim(0.05, 0.35)
  fig.tight_layout()
  plotting.label_points(ax, xs, ys, ["ε=138.2", "ε=27.6", "ε=5.0"])
  assert plotting.overlapping_texts(fig) == []


def test_per_epoch_figure_has_bands_chance_and_a_legend_off_the_data():
  hist = {m: [AttackResults(results=(_result("threshold", 0.1 * e, e),
                                     _result("rmia", 0.15 * e, e + 9)),
                            epoch=e) for e in (1, 2, 3, 4)]
          for m in ("conv", "dense4")}
  fig = plotting.plot_privacy_history(hist, title="conv vs dense")
  auc = fig.axes[0]
  assert len(auc.collections) == 4               # a 95% band per line
  assert "95%" in auc.get_ylabel()
  assert any(l.get_label() == "chance" for l in auc.lines)
  assert auc.get_legend() is None and fig.axes[1].get_legend() is not None
  _clean(fig)


def test_roc_says_when_two_attacks_draw_one_curve():
  a = _result("threshold", 1.0)
  same = AttackResult("attack_p", "entire_dataset", a.scores * 2 + 1,
                      a.is_member)
  fig = plotting.plot_roc([a, same, _result("rmia", 1.5, 3)], log_scale=True)
  texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
  assert "(on threshold's curve)" in texts[1]
  assert "curve)" not in texts[2]
  # Nearly the same (a member and a non-member of adjacent scores swap
  # ranks): still said.
  moved = a.scores.copy()
  order = np.argsort(moved)
  k = next(i for i in range(len(order) // 2, len(order) - 1)
           if a.is_member[order[i]] != a.is_member[order[i + 1]])
  i, j = order[k], order[k + 1]
  moved[i], moved[j] = moved[j], moved[i]
  near = AttackResult("attack_p", "entire_dataset", moved, a.is_member)
  fig2 = plotting.plot_roc([a, near], log_scale=True)
  assert "(on threshold's curve)" in [
      t.get_text() for t in fig2.axes[0].get_legend().get_texts()][1]
  _clean(fig)


def _pruning_summary():
  rows = []
  def row(cell, pruner, sparsity, defense, adaptive, acc, att, eps=None):
    rows.append(dict(cell=cell, adaptive=adaptive, pruner=pruner,
                     sparsity=sparsity, defense=defense, test_accuracy=acc,
                     epsilon=eps, attack_accuracy=att,
                     attack_accuracy_ci_low=att - 0.02,
                     attack_accuracy_ci_high=att + 0.02,
                     rmia_auc=att + 0.1, rmia_auc_ci_low=att + 0.08,
                     rmia_auc_ci_high=att + 0.12))
  for adaptive in (False, True):
    row("original", "none", 0.0, "none", adaptive, 0.298, 0.638)
    for p in ("l1_unstructured", "l1_structured"):
      for s in (0.5, 0.7, 0.9):
        row(f"{p}_{s}_none", p, s, "none", adaptive, 0.3, 0.6 + s / 10)
      for d, acc, att, eps in (("dp0.5", 0.1008, 0.502, 138.2),
                               ("dp1", 0.1009, 0.504, 27.6),
                               ("ppb4", 0.27, 0.621, None)):
        row(f"{p}_0.5_{d}", p, 0.5, d, adaptive, acc, att, eps)
  return pd.DataFrame(rows)


def test_pruning_figures_have_intervals_chance_and_separate_labels():
  from tfmia.studies.pruning import report
  summary = _pruning_summary()
  fig = report.plot_attack_vs_sparsity(summary)
  assert "95% CI" in fig._suptitle.get_text()
  for ax in fig.axes:
    assert any(l.get_label() == "chance" for l in ax.lines)
    assert len(ax.containers) == 4      # an errorbar per pruner and variant
  _clean(fig)
  fig = report.plot_privacy_tradeoff(summary)
  texts = [t.get_text() for t in fig.axes[0].texts]
  assert "ε=138.2" in texts and "ε=27.6" in texts
  _clean(fig)


def _snn_results(n_t=3):
  out = {}
  settings = ["ann"] + [f"snn_T{t}" for t in (1, 2, 4)] + \
      [f"snn_T{t}_ann_refs" for t in (1, 2, 4)]
  for k, s in enumerate(settings):
    out[s, False] = AttackResults(results=tuple(
        _result(a, 0.5 + 0.1 * j + 0.05 * k, 10 * k + j)
        for j, a in enumerate(("attack_p", "attack_r", "rmia"))))
  return out


def test_snn_leakage_figure_has_intervals_and_a_log_tpr_axis():
  from tfmia.studies.snn_mia import report
  fig = report.plot_leakage_vs_timesteps(
      _snn_results(), (1, 2, 4), ("attack_p", "attack_r", "rmia"),
      mixed_attacks=("attack_r", "rmia"), title="vgg11")
  auc, tpr = fig.axes[:2]
  assert tpr.get_yscale() == "log" and auc.get_yscale() == "linear"
  assert "95% CI" in fig._suptitle.get_text()
  assert len(auc.containers) == 5              # 3 SNN-ref + 2 ANN-ref lines
  assert any(l.get_label() == "chance" and np.allclose(l.get_ydata(), 0.01)
             for l in tpr.lines)
  _clean(fig)


def test_snn_robustness_figures_keep_legends_and_labels_clear():
  from tfmia.studies.snn_robustness import report
  table = pd.DataFrame([dict(model=m, attack=a, auc=auc, auc_ci_low=auc - .02,
                             auc_ci_high=auc + .02, **{
                                 "tpr_at_1%_fpr": t,
                                 "tpr_at_1%_fpr_ci_low": t / 2,
                                 "tpr_at_1%_fpr_ci_high": t * 1.5})
                        for m, auc, t in (("ann", 0.55, 0.01),
                                          ("snn", 0.72, 0.04),
                                          ("hire_snn", 0.53, 0.0))
                        for a in ("rmia", "threshold", "label_gap")])
  fig = report.plot_privacy_models(table)
  assert all(any(l.get_label() == "chance" for l in ax.lines)
             for ax in fig.axes)
  assert fig.axes[1].get_yscale() == "log"     # TPR at 1% FPR
  assert "95% CI" in fig._suptitle.get_text()
  _clean(fig)
  # The published sweep: points at nearly the same place.
  sweep = pd.DataFrame([
      dict(pooling=p, encoder=e, zero_input_gradient=z, clean=c, pgd=g,
           square_beats_pgd=1.0)
      for p, e, z, c, g in (("max", "direct", 0.025, 0.39, 0.14),
                            ("avg", "direct", 0.025, 0.385, 0.10),
                            ("avg", "poisson", 0.02, 0.32, 0.12),
                            ("avg", "latency", 1.0, 0.38, 0.38),
                            ("avg", "phase", 1.0, 0.35, 0.37))])
  fig = report.plot_gradient_sparsity(sweep)
  assert len(fig.axes[0].texts) == 5 and len(fig.axes[1].texts) == 5
  _clean(fig)


def test_robustness_bars_keep_the_legend_off_the_bars():
  table = pd.DataFrame([dict(model=m, setting=s, attack=a, accuracy=v,
                             ci_low=v - 0.05, ci_high=v + 0.05)
                        for m, v in (("ann", 0.9), ("snn", 0.85))
                        for s, a in (("clean", "none"), ("white-box", "pgd"),
                                     ("black-box", "pgd"))])
  fig = plotting.plot_robustness_models(table)
  _clean(fig)


def test_dp_audit_figures_name_the_confidence_and_keep_clear():
  from tfmia.studies.dp_audit import report
  table = pd.DataFrame({"model": ["nondp", "eps4", "eps1"],
                        "accountant_epsilon": [None, 4.0, 1.0],
                        "one_run_natural": [2.5, 0.5, 0.1],
                        "rmia_roc_epsilon": [1.0, 0.0, 0.0]})
  fig = report.plot_dp_audit(table, confidence=0.9)
  assert "90% confidence" in fig.axes[0].get_ylabel()
  _clean(fig)

