"""Executors: where independent units of long work run.

A *unit* is one resumable piece of work of the store (`tfmia.infra.store`): a
reference model, a variant of a model, a signals computation, a study cell.
It is a module-level function with its arguments, a name, and the resources
it needs. An executor runs a list of units and reports, per unit, its value
or its error:

- `LocalExecutor` (the default): one after another, in this process, as
  tfmia always has. Nothing needs a cluster.
- `RayExecutor`: each unit is a Ray task requesting its CPUs and GPUs, on
  the cluster at `address` ("auto": the one this machine belongs to; None:
  a local one started here). Units write to a shared folder through the
  store's atomic writes, so a unit killed half-way leaves no done marker
  and is redone, and a restarted driver skips every finished unit.

A unit that raises is retried up to `max_retries` times; then its error is
reported with its name, and the other units still finish (`Report`).
Determinism does not depend on the executor: a unit's seeds come from its
name and config (e.g. `reference._init_seed`), never from the worker or the
order of execution.

Slurm job arrays need no executor: `reference.parse_shard("auto")` reads
the array task's index, and `slurm_script` writes the job script.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
import traceback
from typing import Any, Callable, Optional, Sequence

from tfmia.infra import progress

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")


@dataclasses.dataclass(frozen=True)
class Resources:
  """What one unit needs: CPUs and GPUs (fractions allowed, as in Ray)."""

  cpus: float = 1.0
  gpus: float = 0.0

  def __post_init__(self):
    for name in ("cpus", "gpus"):
      v = getattr(self, name)
      if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ValueError(f"`{name}` per unit must be a number >= 0. "
                         f"Received: {name}={v!r}")


@dataclasses.dataclass(frozen=True, eq=False)
class Shared:
  """An argument many units share (e.g. a dataset): the Ray executor puts
  it in the object store once, instead of copying it into every task."""

  value: Any


def _unwrap(args, kwargs, get=lambda s: s.value):
  return (tuple(get(a) if isinstance(a, Shared) else a for a in args),
          {k: get(v) if isinstance(v, Shared) else v
           for k, v in kwargs.items()})


@dataclasses.dataclass(frozen=True)
class Unit:
  """One unit of work: `fn(*args, **kwargs)`, named for reports.

  `fn` must be importable by name (a module-level function), so that a Ray
  worker can run it.
  """

  name: str
  fn: Callable
  args: tuple = ()
  kwargs: dict = dataclasses.field(default_factory=dict)
  resources: Resources = Resources()


@dataclasses.dataclass(frozen=True)
class UnitFailure:
  """A unit that failed on every attempt."""

  name: str
  error: str
  attempts: int


@dataclasses.dataclass(frozen=True)
class Report:
  """What an executor ran: values of the units that finished, in the
  units' order, and the failures."""

  values: dict
  failures: tuple = ()

  @property
  def ok(self) -> bool:
    return not self.failures

  def raise_failures(self) -> None:
    """Raises one error naming every failed unit, with its last error."""
    if self.failures:
      lines = [f"- {f.name} (after {f.attempts} attempts): {f.error}"
               for f in self.failures]
      raise RuntimeError(f"{len(self.failures)} of "
                         f"{len(self.failures) + len(self.values)} units "
                         "failed:\n" + "\n".join(lines))


def _check_units(units: Sequence[Unit]) -> list[Unit]:
  units = list(units)
  names = [u.name for u in units]
  if len(set(names)) != len(names):
    raise ValueError(f"Unit names must be unique. Received: {names}")
  for u in units:
    if not isinstance(u, Unit):
      raise TypeError(f"Executors run Units. Received: {type(u).__name__}")
  return units


def _check_retries(max_retries) -> int:
  if isinstance(max_retries, bool) or not isinstance(max_retries, int) or \
      max_retries < 0:
    raise ValueError("`max_retries` must be an int >= 0. "
                     f"Received: max_retries={max_retries!r}")
  return max_retries


def _short(e: BaseException) -> str:
  return f"{type(e).__name__}: {e}"


class LocalExecutor:
  """Runs units one after another in this process."""

  name = "local"

  def __init__(self, max_retries: int = 0, progress: bool = False):
    self.max_retries = _check_retries(max_retries)
    self.progress = progress

  def run(self, units: Sequence[Unit]) -> Report:
    units = _check_units(units)
    values, failures = {}, []
    for i, u in enumerate(units):
      args, kwargs = _unwrap(u.args, u.kwargs)
      for attempt in range(1, self.max_retries + 2):
        try:
          values[u.name] = u.fn(*args, **kwargs)
          break
        except Exception as e:  # pylint: disable=broad-except
          logger.warning("Unit %s failed (attempt %d): %s", u.name, attempt,
                         _short(e))
          if attempt > self.max_retries:
            failures.append(UnitFailure(u.name, _short(e), attempt))
      if self.progress:
        progress.say(f"[{i + 1}/{len(units)}] {u.name}")
    return Report(values, tuple(failures))


@dataclasses.dataclass(frozen=True)
class _Stored:
  ref: Any


def _ray_call(fn, args, kwargs):
  """What a Ray worker runs: the unit, with TensorFlow's start-up quiet and
  its shared arguments fetched from the object store."""
  import ray  # pylint: disable=g-import-not-at-top
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  args = tuple(ray.get(a.ref) if isinstance(a, _Stored) else a for a in args)
  kwargs = {k: ray.get(v.ref) if isinstance(v, _Stored) else v
            for k, v in kwargs.items()}
  return fn(*args, **kwargs)


class RayExecutor:
  """Runs each unit as a Ray task requesting its resources.

  Args:
    address: a Ray cluster's address; "auto" for the one this machine is in;
      None starts a local one (with `num_cpus` CPUs) for this process.
    max_retries: further attempts of a unit that raises, or whose worker
      dies (Ray's `max_retries` with `retry_exceptions=True`).
    num_cpus: the local cluster's CPUs (address None only).
    progress: print each unit as it finishes.
  """

  name = "ray"

  def __init__(self, address: Optional[str] = None, max_retries: int = 2,
               num_cpus: Optional[int] = None, progress: bool = False):
    from tfmia.infra import extras  # pylint: disable=g-import-not-at-top
    extras.require("ray", "The Ray executor")
    self.address = address
    self.max_retries = _check_retries(max_retries)
    self.num_cpus = num_cpus
    self.progress = progress

  def connect(self) -> None:
    """Starts or joins the cluster now. A command calls it before writing
    anything, so an unreachable `address` is one line naming it, not a
    minute of retries and a folder left behind."""
    import ray  # pylint: disable=g-import-not-at-top
    if ray.is_initialized():
      return
    kw = dict(ignore_reinit_error=True, include_dashboard=False,
              log_to_driver=False, configure_logging=False)
    if self.address is None:
      ray.init(num_cpus=self.num_cpus, **kw)
      return
    check_reachable(self.address)
    try:
      ray.init(address=self.address, **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
      raise ConnectionError(
          f"no Ray cluster answered at --address {self.address} "
          f"({_short(e)}); start one with `ray start --head`, or check the "
          "address") from None

  _init = connect

  def run(self, units: Sequence[Unit]) -> Report:
    import ray  # pylint: disable=g-import-not-at-top
    units = _check_units(units)
    if not units:
      return Report({})
    self._init()
    remote = ray.remote(_ray_call)
    stored = {}

    def put(shared):
      if id(shared.value) not in stored:
        stored[id(shared.value)] = _Stored(ray.put(shared.value))
      return stored[id(shared.value)]

    refs = {}
    for u in units:
      args, kwargs = _unwrap(u.args, u.kwargs, put)
      ref = remote.options(
          num_cpus=u.resources.cpus, num_gpus=u.resources.gpus,
          max_retries=self.max_retries, retry_exceptions=True,
          name=u.name).remote(u.fn, args, kwargs)
      refs[ref] = u
    values, failures, pending = {}, [], list(refs)
    start = time.perf_counter()
    while pending:
      done, pending = ray.wait(pending, num_returns=1)
      u = refs[done[0]]
      try:
        values[u.name] = ray.get(done[0])
        status = "done"
      except Exception as e:  # pylint: disable=broad-except
        cause = getattr(e, "cause", None) or e
        failures.append(UnitFailure(u.name, _short(cause),
                                    self.max_retries + 1))
        status = f"FAILED: {_short(cause)}"
        logger.debug("Unit %s failed:\n%s", u.name, traceback.format_exc())
      if self.progress:
        progress.say(f"[{len(values) + len(failures)}/{len(units)}] {u.name} "
                     f"{status} ({time.perf_counter() - start:.0f} s)")
    order = [u.name for u in units]
    return Report({n: values[n] for n in order if n in values},
                  tuple(sorted(failures, key=lambda f: order.index(f.name))))


def check_reachable(address: str, timeout: float = 5.0) -> None:
  """Raises `ConnectionError` naming `address` ("host:port" or
  "ray://host:port"; "auto" is not checked) when nothing listens there
  within `timeout` seconds."""
  import socket  # pylint: disable=g-import-not-at-top
  if address == "auto":
    return
  rest = address.split("://", 1)[-1]
  host, _, port = rest.rpartition(":")
  if not host:
    host, port = rest, "6379"
  try:
    port_number = int(port)
  except ValueError:
    raise ValueError("--address must be host:port, ray://host:port or auto. "
                     f"Received: {address!r}") from None
  try:
    socket.create_connection((host, port_number), timeout=timeout).close()
  except OSError as e:
    raise ConnectionError(
        f"cannot reach the Ray cluster at --address {address} "
        f"({e.strerror or type(e).__name__} within {timeout:g} s); start "
        "one with `ray start --head`, or check the address") from None


def make_executor(name: str = "local", *, address: Optional[str] = None,
                  max_retries: Optional[int] = None,
                  num_cpus: Optional[int] = None, progress: bool = False):
  """An executor by name: "local" or "ray"."""
  if name not in EXECUTORS:
    raise ValueError(f"`executor` must be one of {EXECUTORS}. "
                     f"Received: executor={name!r}")
  if name == "local":
    if address is not None:
      raise ValueError("`address` is for the Ray executor. "
                       f"Received: address={address!r} with executor 'local'")
    return LocalExecutor(max_retries or 0, progress=progress)
  return RayExecutor(address, 2 if max_retries is None else max_retries,
                     num_cpus=num_cpus, progress=progress)


# ---------------------------------------------------------------------------
# Slurm job arrays

SLURM_VARS = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN",
              "SLURM_ARRAY_TASK_COUNT")


def slurm_shard(environ: Optional[dict] = None) -> tuple[int, int]:
  """(i, N) of this Slurm array task, 1-based: i = task id − min + 1, N =
  the array's task count. Raises, naming what is missing, outside an array
  job."""
  env = os.environ if environ is None else environ
  missing = [v for v in SLURM_VARS if v not in env]
  if missing:
    raise ValueError("`--shard auto` reads the Slurm array task from "
                     f"{', '.join(SLURM_VARS)}; missing: {', '.join(missing)}."
                     " Run it inside `sbatch --array=...` (see `tfmia "
                     "reference sbatch`), or pass --shard i/N.")
  try:
    task, low, count = (int(env[v]) for v in SLURM_VARS)
  except ValueError:
    raise ValueError("The Slurm array variables must be integers. Received: "
                     + ", ".join(f"{v}={env[v]!r}" for v in SLURM_VARS)
                     ) from None
  i = task - low + 1
  if not 1 <= i <= count:
    raise ValueError(f"SLURM_ARRAY_TASK_ID={task} is outside the array "
                     f"(min {low}, {count} tasks). `--shard auto` needs a "
                     "contiguous array such as --array=1-N.")
  return i, count


# Slurm's formats (sbatch(1)): --time as minutes, minutes:seconds,
# hours:minutes:seconds, days-hours, days-hours:minutes or
# days-hours:minutes:seconds (or UNLIMITED); --mem as an integer with an
# optional K, M, G or T unit; --partition as comma-separated names.
_SLURM_TIME = re.compile(r"^(\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}"
                         r"|UNLIMITED|INFINITE)$", re.IGNORECASE)
_SLURM_MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)
_SLURM_PARTITION = re.compile(r"^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$")


def check_slurm_settings(*, time_limit: str = "24:00:00",
                         mem: Optional[str] = None,
                         partition: Optional[str] = None,
                         cpus_per_task: int = 1,
                         gpus_per_task: int = 0) -> None:
  """Refuses settings `sbatch` would reject, naming the flag, before a
  script is written."""
  if not _SLURM_TIME.match(str(time_limit)):
    raise ValueError("--time must be a Slurm time: minutes, MM:SS, HH:MM:SS, "
                     "D-HH, D-HH:MM or D-HH:MM:SS (e.g. 24:00:00 or "
                     f"1-12:00:00). Received: {time_limit!r}")
  if mem is not None and not _SLURM_MEM.match(str(mem)):
    raise ValueError("--mem must be a Slurm memory size: an integer with an "
                     f"optional K, M, G or T unit (e.g. 16G). Received: "
                     f"{mem!r}")
  if partition is not None and not _SLURM_PARTITION.match(str(partition)):
    raise ValueError("--partition must be one or more Slurm partition "
                     "names, comma-separated (letters, digits, _ . -). "
                     f"Received: {partition!r}")
  for name, v, low in (("--cpus-per-task", cpus_per_task, 1),
                       ("--gpus-per-task", gpus_per_task, 0)):
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
      raise ValueError(f"{name} must be an integer >= {low}. Received: {v!r}")


def slurm_script(config_path: str, num_tasks: int, *, job_name: str = "tfmia",
                 cpus_per_task: int = 4, gpus_per_task: int = 0,
                 time_limit: str = "24:00:00", log_dir: str = "slurm_logs",
                 command: str = "tfmia reference train",
                 mem: Optional[str] = None,
                 partition: Optional[str] = None) -> str:
  """A Slurm job-array script: task i of `num_tasks` trains its shard of
  the models named in `config_path` (`--shard auto`). The settings are
  checked first (`check_slurm_settings`)."""
  if not isinstance(num_tasks, int) or num_tasks < 1:
    raise ValueError(f"`num_tasks` must be a positive int. "
                     f"Received: {num_tasks!r}")
  check_slurm_settings(time_limit=time_limit, mem=mem, partition=partition,
                       cpus_per_task=cpus_per_task,
                       gpus_per_task=gpus_per_task)
  import shlex  # pylint: disable=g-import-not-at-top
  lines = ["#!/bin/bash",
           f"#SBATCH --job-name={job_name}",
           f"#SBATCH --array=1-{num_tasks}",
           f"#SBATCH --cpus-per-task={cpus_per_task}",
           f"#SBATCH --time={time_limit}",
           f"#SBATCH --output={log_dir}/%x_%A_%a.out"]
  if gpus_per_task:
    lines.append(f"#SBATCH --gres=gpu:{gpus_per_task}")
  if mem is not None:
    lines.append(f"#SBATCH --mem={mem}")
  if partition is not None:
    lines.append(f"#SBATCH --partition={partition}")
  lines += ["set -euo pipefail",
            f"mkdir -p {shlex.quote(log_dir)}",
            "# Each array task trains every N-th model; finished models are "
            "skipped,",
            "# so a failed or requeued task can simply run again.",
            f"{command} --config {shlex.quote(config_path)} --shard auto", ""]
  return "\n".join(lines)
