import numpy as np
import pytest

from tfmia import data


def _toy(n_train=12, n_test=6, k=3):
  x_tr = np.arange(n_train * 4, dtype=np.uint8).reshape(n_train, 2, 2, 1)
  x_te = np.arange(n_test * 4, dtype=np.uint8).reshape(n_test, 2, 2, 1)
  return data.ClassificationData(
      name="toy", x_train=x_tr, y_train=np.arange(n_train) % k,
      x_test=x_te, y_test=np.arange(n_test) % k,
      class_names=tuple("abc"[:k]))


def test_digits_loads_offline(digits):
  assert digits.input_shape == (8, 8, 1)
  assert digits.num_classes == 10
  assert len(digits.y_train) + len(digits.y_test) == 1797
  assert digits.pixel_max == 16.0
  assert set(np.unique(digits.y_train)) == set(range(10))


def test_unknown_dataset_lists_valid_names():
  with pytest.raises(ValueError, match=r"cifar10.*Received: name='no_such_set'"):
    data.load_dataset("no_such_set", data_dir="/nonexistent")


def test_absent_dataset_without_download_raises(tmp_path):
  with pytest.raises(ValueError, match="not prepared.*download=False"):
    data.load_dataset("mnist", data_dir=str(tmp_path))


def test_non_image_dataset_rejected(tmp_path):
  with pytest.raises(ValueError, match="not an image-classification"):
    data.load_dataset("imdb_reviews", data_dir=str(tmp_path))


def test_dataset_available(tmp_path):
  assert data.dataset_available("digits")
  assert not data.dataset_available("cifar10", str(tmp_path))


def test_data_dir_env(monkeypatch, tmp_path):
  monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
  assert data.resolve_data_dir(None) == str(tmp_path)
  assert data.resolve_data_dir("/x") == "/x"


def test_truncate_first_k_reindexes():
  d = data.truncate_classes(_toy(), 2)
  assert d.class_names == ("a", "b")
  np.testing.assert_array_equal(d.y_train, [0, 1] * 4)
  # label 2 examples (indices 2, 5, 8, 11) are gone.
  np.testing.assert_array_equal(d.x_train[:, 0, 0, 0], [0, 4, 12, 16, 24, 28, 36, 40])


def test_truncate_explicit_list_reorders_labels():
  d = data.truncate_classes(_toy(), [2, 0])
  assert d.class_names == ("c", "a")
  # old label 2 -> 0, old 0 -> 1
  np.testing.assert_array_equal(d.y_train[:4], [1, 0, 1, 0])


@pytest.mark.parametrize("classes", [4, 1, [0, 0], [0, 7]])
def test_truncate_bad_classes(classes):
  with pytest.raises(ValueError, match="classes"):
    data.truncate_classes(_toy(), classes)


def test_truncate_k_larger_than_class_count_message():
  with pytest.raises(ValueError, match=r"between 2 and the class count \(3\).*classes=11"):
    data.truncate_classes(_toy(), 11)


def test_unison_shuffle_keeps_pairs_and_is_seeded():
  x = np.arange(10)
  y = np.arange(10) * 10
  a, b = data.unison_shuffle(x, y, seed=3)
  np.testing.assert_array_equal(b, a * 10)
  assert not np.array_equal(a, x)
  a2, _ = data.unison_shuffle(x, y, seed=3)
  np.testing.assert_array_equal(a, a2)
  with pytest.raises(ValueError, match="equal lengths"):
    data.unison_shuffle(x, y[:3], seed=0)


def test_shuffle_dataset_keeps_label_image_pairs():
  d = _toy()
  s = data.shuffle(d, seed=1)
  # In the toy set the label is (first pixel / 4) % 3.
  np.testing.assert_array_equal((s.x_train[:, 0, 0, 0] // 4) % 3, s.y_train)


def test_subset_sizes_and_errors():
  d = data.subset(_toy(), train_size=5, test_size=2)
  assert len(d.y_train) == 5 and len(d.x_test) == 2
  with pytest.raises(ValueError, match=r"between 1 and the split size \(12\).*train_size=13"):
    data.subset(_toy(), train_size=13)


def test_scale_pixels_modes():
  d = _toy()
  unit = data.scale_pixels(d, "unit")
  assert unit.x_train.dtype == np.float32
  assert unit.x_train.max() == pytest.approx(47 / 255)
  sym = data.scale_pixels(d, "symmetric")
  assert sym.x_train.min() == pytest.approx(-1.0)
  std = data.scale_pixels(d, "standardize")
  assert abs(std.x_train.mean()) < 1e-5
  with pytest.raises(ValueError, match="mode"):
    data.scale_pixels(d, "bogus")


def test_membership_split_members_and_save(tmp_path):
  mask = np.zeros(100, bool)
  mask[np.random.default_rng(5).choice(100, 30, replace=False)] = True
  s = data.MembershipSplit(is_member=mask, seed=5)
  assert s.is_member.dtype == bool and s.num_members == 30
  assert s.num_nonmembers == 70
  x = np.arange(100)
  (members,) = s.members(x)
  (non,) = s.nonmembers(x)
  assert set(members) | set(non) == set(range(100))
  s.save(tmp_path / "split.npz")
  loaded = data.MembershipSplit.load(tmp_path / "split.npz")
  np.testing.assert_array_equal(loaded.is_member, s.is_member)
  assert loaded.seed == 5


def test_train_test_membership_matches_pool():
  d = _toy()
  s = data.train_test_membership(d)
  assert len(d.x_train) + len(d.x_test) == len(s.is_member) == 18
  y = np.concatenate([d.y_train, d.y_test])
  np.testing.assert_array_equal(s.members(y)[0], d.y_train)


def test_prepare_data_truncates_before_subset(digits):
  cfg = data.DataConfig(dataset="digits", classes=4, train_size=300, test_size=50)
  d = data.prepare_data(cfg, raw=digits)
  assert len(d.y_train) == 300 and d.num_classes == 4
  assert d.y_train.max() == 3
  assert d.x_train.dtype == np.float32 and d.x_train.max() <= 1.0


def test_data_config_validation():
  with pytest.raises(ValueError, match="train_size"):
    data.DataConfig(train_size=0)
  with pytest.raises(ValueError, match="scaling"):
    data.DataConfig(scaling="nope")


@pytest.mark.cifar10
def test_cifar10_from_shared_tfds(cifar10_raw):
  d = cifar10_raw
  assert d.x_train.shape == (50000, 32, 32, 3)
  assert d.x_test.shape == (10000, 32, 32, 3)
  assert d.x_train.dtype == np.uint8
  assert d.class_names[:2] == ("airplane", "automobile")
  np.testing.assert_array_equal(np.bincount(d.y_test), [1000] * 10)


def test_pool_test_pools_the_splits_and_stays_out_of_old_records():
  from tfmia.infra import io
  pooled = data.prepare_data(data.DataConfig(pool_test=True))
  plain = data.prepare_data(data.DataConfig())
  assert len(pooled.y_train) == len(plain.y_train) + len(plain.y_test)
  assert len(pooled.y_test) == len(plain.y_test)
  # Every test example is in the pool.
  rows = {r.tobytes() for r in pooled.x_train}
  assert all(r.tobytes() in rows for r in plain.x_test)
  # At its default the field is left out of records, so folders written
  # before it existed keep their fingerprints.
  assert "pool_test" not in io.to_jsonable(data.DataConfig())
  assert io.to_jsonable(data.DataConfig(pool_test=True))["pool_test"] is True
