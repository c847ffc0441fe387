"""Several seeds: the spread table, and --seeds through the CLI."""

import pandas as pd
import pytest

from tfmia import cli
from tfmia.studies import seeds


def test_spread_table_by_hand():
  t = lambda auc, lo: pd.DataFrame({"model": ["a", "b"], "attack": ["x", "x"],
                                    "auc": auc, "auc_ci_low": lo})
  table = seeds.spread_table({0: t([0.6, 0.7], [0.5, 0.6]),
                              1: t([0.8, 0.7], [0.7, 0.6]),
                              2: t([0.7, 0.7], [0.6, 0.6])},
                             ["model", "attack"], ["auc"])
  a = table[table.model == "a"].iloc[0]
  assert a.num_seeds == 3
  assert a.auc_mean == pytest.approx(0.7)
  assert a.auc_std == pytest.approx(0.1)          # sample std of .6 .8 .7
  assert (a.auc_min, a.auc_max) == (0.6, 0.8)
  assert a.auc_ci_low_mean == pytest.approx(0.6)
  b = table[table.model == "b"].iloc[0]
  assert b.auc_std == pytest.approx(0.0)
  one = seeds.spread_table({5: t([0.6, 0.7], [0.5, 0.6])}, ["model"], ["auc"])
  assert one.auc_std.tolist() == [0.0, 0.0]


def test_check_seeds():
  assert seeds.check_seeds([0, 2]) == (0, 2)
  for bad in ([], [1, 1], [-1]):
    with pytest.raises(ValueError, match="seeds"):
      seeds.check_seeds(bad)


def test_cli_runs_each_seed_in_its_folder(tmp_path, monkeypatch, capsys):
  from tfmia.results import AttackResult
  from tfmia.studies import architectures
  seen = []

  class Fake:
    def __init__(self, seed):
      self.seed = seed

    def to_dataframe(self):
      r = AttackResult("threshold", "entire_dataset",
                       [0.9, 0.8 - 0.1 * self.seed, 0.1, 0.2], [1, 1, 0, 0])
      return pd.DataFrame([dict(r.summary(), model="conv")])

  def fake_run(config, out, **kwargs):
    seen.append((config.seed, out.name))
    return Fake(config.seed)
  monkeypatch.setattr(architectures, "run", fake_run)
  rc = cli.main(["case-study", "architectures", "--dataset", "digits",
                 "--quick", "--seeds", "0,1", "--out", str(tmp_path)])
  assert rc == 0
  assert seen == [(0, "seed_0"), (1, "seed_1")]
  table = pd.read_csv(tmp_path / seeds.SUMMARY_FILE)
  assert table.num_seeds.tolist() == [2]
  assert "auc_ci_low_mean" in table.columns


def test_cli_refuses_bad_seeds(capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(["case-study", "snn-mia", "--seeds", "0,0"])
  assert e.value.code == 2
  assert "argument --seeds" in capsys.readouterr().err
