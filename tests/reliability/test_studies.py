"""The studies' output folders: one study per folder, corrupted models
redone, other settings refused before any training."""

import shutil

import pytest

from tfmia.studies import architectures, snn_mia
from tfmia_testing import tiny_architecture_config as _tiny


def _copy(study, tmp_path):
  """A copy of the shared finished study in `tmp_path`: its result."""
  shutil.copytree(study[0], tmp_path, dirs_exist_ok=True)
  return study[1]


@pytest.mark.slow
def test_architecture_study_redoes_only_the_corrupted_model(tmp_path, digits,
                                                            monkeypatch,
                                                            caplog,
                                                            tiny_architecture_study):
  first = _copy(tiny_architecture_study, tmp_path)
  npz = tmp_path / "models" / "dense7" / "privacy" / "epoch_0001.npz"
  npz.write_bytes(npz.read_bytes()[:50])
  weights = tmp_path / "models" / "conv" / "model.weights.h5"
  weights.write_bytes(weights.read_bytes()[:1000])
  from tfmia_testing import spy_trained
  from tfmia.studies.architectures import study as arch_study
  trained = spy_trained(monkeypatch, arch_study)
  again = architectures.run(_tiny(), tmp_path, raw=digits, progress=False)
  assert trained == ["conv", "dense7"]
  assert "epoch_0001.npz differs from when it was written (truncated" \
      in caplog.text
  assert "model.weights.h5 differs" in caplog.text
  for name in ("conv", "dense7"):
    assert (again.outcomes[name].privacy[-1].get("threshold").auc
            == pytest.approx(first.outcomes[name].privacy[-1]
                             .get("threshold").auc))


@pytest.mark.slow
def test_architecture_rerun_with_other_epochs_is_refused(
    tmp_path, digits, tiny_architecture_study):
  """The stale-epochs case: a rerun with --epochs 1 in a folder of a
  2-epoch study would have reported the old second epoch; now it is
  refused, and `overwrite` starts afresh."""
  _copy(tiny_architecture_study, tmp_path)
  with pytest.raises(ValueError, match="epochs: 2 -> 1"):
    architectures.run(_tiny(epochs=1), tmp_path, raw=digits, progress=False)
  res = architectures.run(_tiny(epochs=1), tmp_path, raw=digits,
                          progress=False, overwrite=True)
  assert [h.epoch for h in res.outcomes["conv"].privacy] == [1]
  assert not (tmp_path / "models" / "conv" / "privacy" /
              "epoch_0002.npz").exists()


def test_snn_study_refuses_other_settings_before_training(tmp_path, digits,
                                                          monkeypatch):
  from tfmia import references
  from tfmia.data import prepare_data
  cfg = snn_mia.SnnMiaConfig.quick_mode(
      dataset="digits", split_sizes=(len(digits.y_train), len(digits.y_test)))
  data = prepare_data(cfg.data_config(), raw=digits)
  def no_training(*a, **k):
    raise AssertionError("training started")
  monkeypatch.setattr(references, "train_references", no_training)
  with pytest.raises(AssertionError, match="training started"):
    snn_mia.run(cfg, tmp_path, data=data, progress=False)   # claims the folder
  other = snn_mia.SnnMiaConfig.quick_mode(
      dataset="digits", split_sizes=(len(digits.y_train), len(digits.y_test)),
      epochs=3)
  with pytest.raises(ValueError, match="epochs: 15 -> 3.*--overwrite"):
    snn_mia.run(other, tmp_path, data=data, progress=False)


def test_snn_quick_pool_larger_than_digits_is_refused(tmp_path, digits):
  cfg = snn_mia.SnnMiaConfig.quick_mode(dataset="digits")   # 6,000 pool
  with pytest.raises(ValueError, match=r"`pool_size` \(--pool-size\) must "
                                       r"not exceed the 898"):
    snn_mia.run(cfg, tmp_path, raw=digits, progress=False)
  assert not (tmp_path / "config.json").exists()
