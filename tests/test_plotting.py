import matplotlib.pyplot as plt
import numpy as np
import pytest

from tfmia.reporting import plots as plotting
from tfmia.results import AttackResult, AttackResults
from tfmia.training import TrainingHistory


def _r(attack="threshold", auc_shift=0.0):
  scores = np.array([4, 3, 1, 2, 0], float) + auc_shift
  return AttackResult(attack=attack, slice="entire_dataset", scores=scores,
                      is_member=np.array([1, 1, 1, 0, 0], bool))


def _hist():
  return TrainingHistory(metrics={"accuracy": (0.5, 0.7), "val_accuracy": (0.4, 0.5),
                                  "loss": (1.0, 0.6), "val_loss": (1.2, 1.0)})


def teardown_function():
  plt.close("all")


def test_training_curve_draws_train_and_validation():
  fig = plotting.plot_training_curve({"a": _hist(), "b": _hist()})
  ax = fig.axes[0]
  assert len(ax.lines) == 4
  x, y = ax.lines[1].get_data()
  np.testing.assert_array_equal(x, [1, 2])
  np.testing.assert_array_equal(y, [0.4, 0.5])
  assert ax.lines[1].get_linestyle() == "--"


def test_training_history_two_panels_on_given_axes():
  fig, axes = plt.subplots(1, 2)
  out = plotting.plot_training_history({"a": _hist()}, axes=axes)
  assert out is fig
  np.testing.assert_array_equal(axes[1].lines[0].get_data()[1], [1.0, 0.6])


def test_privacy_over_epochs_one_line_per_model_and_attack():
  hist = [AttackResults(results=(_r(), _r("logistic_regression")), epoch=e)
          for e in (2, 4)]
  fig = plotting.plot_privacy_over_epochs({"m1": hist, "m2": hist},
                                          metric="advantage")
  ax = fig.axes[0]
  assert len([l for l in ax.lines if l.get_label() != "chance"]) == 4
  x, y = ax.lines[0].get_data()
  np.testing.assert_array_equal(x, [2, 4])
  np.testing.assert_allclose(y, [2 / 3, 2 / 3])
  with pytest.raises(ValueError, match="metric"):
    plotting.plot_privacy_over_epochs({"m": hist}, metric="ppv")


def test_privacy_history_auc_has_chance_line():
  hist = [AttackResults(results=(_r(),), epoch=1)]
  fig = plotting.plot_privacy_history({"m": hist})
  auc_ax = fig.axes[0]
  assert any(np.allclose(l.get_data()[1], 0.5) for l in auc_ax.lines)


@pytest.mark.parametrize("log_scale", [False, True])
def test_roc_curve_and_diagonal(log_scale):
  r = _r()
  fig, ax = plt.subplots()
  plotting.plot_roc(r, log_scale=log_scale, ax=ax)
  x, y = ax.lines[0].get_data()
  np.testing.assert_array_equal(x, r.roc.fpr)
  np.testing.assert_array_equal(y, r.roc.tpr)
  dx, dy = ax.lines[1].get_data()
  np.testing.assert_array_equal(dx, dy)  # the diagonal
  assert ax.get_xscale() == ("log" if log_scale else "linear")
  texts = [t.get_text() for t in ax.get_legend().get_texts()]
  assert "AUC=0.833" in texts[0] and texts[-1] == "chance"
  # Log-log axes are read at low FPR: the legend names those TPRs.
  low = f"TPR@0.1%={r.tpr_at_fpr(0.001):.3f}, @1%={r.tpr_at_fpr(0.01):.3f}"
  assert (low in texts[0]) == log_scale


def test_roc_pair_linear_and_loglog():
  fig = plotting.plot_roc_pair({"x": _r()})
  assert [a.get_xscale() for a in fig.axes[:2]] == ["linear", "log"]


def test_sample_images_titles():
  imgs = np.zeros((5, 4, 4, 3), np.uint8)
  fig = plotting.plot_sample_images(imgs, np.array([0, 1, 0, 1, 1]),
                                    ("cat", "dog"), ncols=3, nrows=2)
  titles = [a.get_title() for a in fig.axes]
  assert titles == ["cat", "dog", "cat", "dog", "dog", ""]


def test_save_figure(tmp_path):
  fig = plotting.plot_roc(_r())
  plotting.save_figure(fig, tmp_path / "roc.png")
  assert (tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG"
