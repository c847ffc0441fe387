"""Executors: local and Ray give the same reference models; a failing unit
is retried, then reported by name while the others finish; a killed Ray
driver resumes; Slurm array shards partition the models; the sbatch script
is valid bash. Every Ray test starts its own local 2-CPU cluster."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tfmia import cli, references

from tfmia.infra import executors

from tfmia_testing import assert_same_weights, tiny_reference_config

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def _ray_for_this_module():
  """One local cluster for the module's Ray tests (started by the first
  that needs it; its workers, TensorFlow loaded, serve the next ones)."""
  yield
  if ray.is_initialized():
    ray.shutdown()


@pytest.fixture()
def ray_cluster(_ray_for_this_module, monkeypatch):
  if not ray.is_initialized():
    # Ray's workers import this module (for `_attempt`) by name; they take
    # the environment of the cluster's start.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    ray.init(num_cpus=2, object_store_memory=150 * 1024 * 1024,
             include_dashboard=False, log_to_driver=False,
             configure_logging=False)
  yield


def _attempt(directory, name, fail_times):
  """A unit that fails its first `fail_times` attempts (counted on disk:
  Ray retries in other processes)."""
  marks = Path(directory) / name
  marks.mkdir(parents=True, exist_ok=True)
  n = len(list(marks.iterdir())) + 1
  (marks / str(n)).touch()
  if n <= fail_times:
    raise RuntimeError(f"{name} failed on attempt {n}")
  return n


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "ray"])
def test_failing_unit_is_retried_then_reported_and_others_finish(
    kind, tmp_path, request):
  if kind == "ray":
    request.getfixturevalue("ray_cluster")
  ex = executors.make_executor(kind, max_retries=1)
  units = [executors.Unit("flaky", _attempt, (tmp_path, "flaky", 1)),
           executors.Unit("broken", _attempt, (tmp_path, "broken", 99)),
           executors.Unit("fine", _attempt, (tmp_path, "fine", 0))]
  report = ex.run(units)
  assert report.values == {"flaky": 2, "fine": 1}
  assert [f.name for f in report.failures] == ["broken"]
  assert "broken failed on attempt 2" in report.failures[0].error
  assert len(list((tmp_path / "broken").iterdir())) == 2   # 1 + 1 retry
  with pytest.raises(RuntimeError, match=r"1 of 3 units failed:\n- broken"):
    report.raise_failures()


@pytest.mark.slow
def test_ray_and_local_train_bit_identical_reference_models(tmp_path,
                                                            ray_cluster):
  config = tiny_reference_config(tmp_path / "local", num_models=4, epochs=3)
  local = references.train_references(config, progress=False)
  remote = references.train_references(
      config, directory=tmp_path / "ray", progress=False,
      executor=executors.RayExecutor(max_retries=0))
  names = references.job_names(4)
  assert sorted(local["trained"]) == sorted(remote["trained"]) == sorted(names)
  assert_same_weights(tmp_path / "local", tmp_path / "ray", names)
  # A rerun through Ray trains nothing.
  again = references.train_references(
      config, directory=tmp_path / "ray", progress=False,
      executor=executors.RayExecutor())
  assert again["trained"] == [] and sorted(again["skipped"]) == sorted(names)


def test_shard_auto_reads_the_slurm_array_and_partitions_the_models(
    monkeypatch):
  names = references.job_names(6)          # 7 models
  parts = []
  for task in range(5, 5 + 3):            # --array=5-7: 3 tasks
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    parts.append(references.shard_jobs(6, references.parse_shard("auto")))
  flat = [n for p in parts for n in p]
  assert sorted(flat) == sorted(names) and len(flat) == len(set(flat))
  assert parts[0] == ["target", "ref_002", "ref_005"]
  monkeypatch.delenv("SLURM_ARRAY_TASK_MIN")
  with pytest.raises(ValueError, match="missing: SLURM_ARRAY_TASK_MIN"):
    references.parse_shard("auto")
  monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "9")
  with pytest.raises(ValueError, match="outside the array"):
    references.parse_shard("auto")


def test_sbatch_script_is_valid_bash_naming_config_and_array(tmp_path):
  config = tiny_reference_config(tmp_path / "refs", num_models=6)
  from tfmia.infra import io
  io.atomic_write_json(tmp_path / "cfg.json", config)
  out = tmp_path / "job.sh"
  assert cli.main(["reference", "sbatch", "--config",
                   str(tmp_path / "cfg.json"), "--out", str(out),
                   "--gpus-per-task", "1"]) == 0
  text = out.read_text()
  assert "#SBATCH --array=1-7" in text          # target + 6 references
  assert "#SBATCH --gres=gpu:1" in text
  assert f"--config {tmp_path / 'cfg.json'} --shard auto" in text
  subprocess.run(["bash", "-n", str(out)], check=True)


def test_bad_executor_settings_are_refused():
  with pytest.raises(ValueError, match="`executor` must be one of"):
    executors.make_executor("dask")
  with pytest.raises(ValueError, match="`address` is for the Ray executor"):
    executors.make_executor("local", address="auto")
  with pytest.raises(ValueError, match="max_retries"):
    executors.LocalExecutor(max_retries=-1)
  with pytest.raises(ValueError, match="cpus"):
    executors.Resources(cpus=-1)
  with pytest.raises(ValueError, match="unique"):
    executors.LocalExecutor().run([executors.Unit("a", len, ((),)),
                                   executors.Unit("a", len, ((),))])


@pytest.mark.slow
def test_variants_and_cells_through_ray_equal_local(tmp_path, ray_cluster):
  import shutil
  from tfmia.audits import audit
  from tfmia import variants
  from tfmia.data import prepare_data
  from tfmia.training.calibration import CalibrationConfig
  config = tiny_reference_config(tmp_path / "a", num_models=2, epochs=3)
  data = prepare_data(config.data)
  references.train_references(config, data=data, progress=False)
  shutil.copytree(tmp_path / "a", tmp_path / "b")
  snn = variants.SnnVariant(timesteps=2, calibration_samples=64,
                            calibration=CalibrationConfig(epochs=0))
  cells = {"ann": audit.Cell(None, None, name="ann"),
           "snn": audit.Cell(snn, snn, name="snn"),
           "snn_ann_refs": audit.Cell(snn, None, name="snn_ann_refs")}
  out = {}
  for folder, ex in (("a", None), ("b", executors.RayExecutor(max_retries=0))):
    refs = references.ReferenceSet.load(tmp_path / folder)
    assert variants.make_variants(refs, data, [snn], executor=ex) == \
        refs.model_names()
    out[folder] = audit.audit_cells(refs, data, cells, ("rmia", "threshold"),
                                    executor=ex, progress=False)
  assert list(out["b"]) == list(cells)
  for key in cells:
    for attack in ("rmia", "threshold"):
      np.testing.assert_array_equal(out["a"][key].get(attack).scores,
                                    out["b"][key].get(attack).scores)


@pytest.mark.slow
def test_dp_audit_study_through_ray_equals_local(tmp_path, ray_cluster):
  import pandas as pd
  from tfmia.studies import dp_audit as study
  config = study.DpAuditStudyConfig.quick_mode(
      epochs=2, num_canaries=100, epsilons=(4.0,), references=2,
      canary_kinds=("natural",))
  local = study.run(config, tmp_path / "local", progress=False)
  remote = study.run(config, tmp_path / "ray", progress=False,
                     executor=executors.RayExecutor(max_retries=0))
  pd.testing.assert_frame_equal(local.table(), remote.table())


@pytest.mark.slow
def test_snn_robustness_sweep_through_ray_equals_local(tmp_path, ray_cluster):
  from tfmia.data import prepare_data
  from tfmia.studies import snn_robustness as study
  config = study.SnnRobustnessConfig.quick_mode(
      split_sizes=(898, 899), dataset="digits", pool_size=120,
      population_size=40, hidden=32, timesteps=1, hire_periods=1, epochs=1,
      sweep_encoders=("poisson",), sweep_pooling=("max",),
      sweep_examples=8, square_queries=5, eot_samples=2)
  data = prepare_data(config.data_config())
  members = np.arange(120) < 60
  local = study.sweep(config, data, members, tmp_path / "a", progress=False)
  remote = study.sweep(config, data, members, tmp_path / "b", progress=False,
                       executor=executors.RayExecutor(max_retries=0))
  assert [(r["pooling"], r["encoder"]) for r in remote] == [
      ("max", "poisson")]
  for a, b in zip(local, remote):
    assert a == b


# Last in the module: it stops the module's cluster (its driver makes its
# own), so the tests before it share one cluster and its warm workers.
@pytest.mark.slow
def test_killed_ray_driver_resumes_with_only_the_rest(tmp_path):
  if ray.is_initialized():   # the module's cluster: the driver makes its own
    ray.shutdown()
  config = tiny_reference_config(tmp_path / "refs", num_models=4, epochs=3)
  from tfmia.infra import io
  io.atomic_write_json(tmp_path / "cfg.json", config)
  driver = textwrap.dedent(f"""
      from tfmia.infra import executors
      from tfmia import references
      config = references.ReferenceConfig.load({str(tmp_path / 'cfg.json')!r})
      references.train_references(config, progress=False,
          executor=executors.RayExecutor(num_cpus=1, max_retries=0))
  """)
  proc = subprocess.Popen([sys.executable, "-c", driver], cwd=ROOT,
                          start_new_session=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  names = references.job_names(4)
  deadline = time.time() + 240
  try:
    while time.time() < deadline:
      done = [n for n in names
              if (tmp_path / "refs" / n / references.DONE_FILE).exists()]
      if done:
        break
      assert proc.poll() is None, "the driver exited before any model"
      time.sleep(0.2)
    assert done, "no model finished in time"
  finally:
    os.killpg(proc.pid, signal.SIGKILL)   # the driver and its local cluster
    proc.wait()
  done = [n for n in names
          if (tmp_path / "refs" / n / references.DONE_FILE).exists()]
  assert 1 <= len(done) < len(names)
  ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
           configure_logging=False)
  try:
    out = references.train_references(config, progress=False,
                                     executor=executors.RayExecutor())
  finally:
    ray.shutdown()
  assert sorted(out["skipped"]) == sorted(done)
  assert sorted(out["trained"]) == sorted(set(names) - set(done))
