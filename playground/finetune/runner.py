"""Starts fine-tuning workers as separate processes and reads their run folders.

The runner holds no state a restart would lose: a run is its folder (config.json, events.jsonl,
worker.pid, checkpoints, adapter), so a new runner over the same folder re-attaches to a
running job and lists every past one. One job at a time: a second start is refused with a
message naming the running job. Pre-training runs (``kind`` in their config, see
:mod:`playground.finetune.run_kinds`) live in the same folder and go through the same start, stop and resume.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from playground.core.errors import InvalidInputError
from playground.core.settings import Limits
from playground.finetune.config import FinetuneConfig
from playground.finetune.data import load_pairs, names_server_file, refuse_full_prompts, with_default_probes
from playground.finetune.event_log import EventLog
from playground.finetune.events import TERMINAL, RunSummary, append_event
from playground.finetune.preference import load_triples
from playground.finetune.prompt_rows import load_prompt_rows
from playground.finetune.run_kinds import PRETRAIN_KINDS, load_run_config, prepare_resume, resume_note, run_kind
from playground.finetune.train import STOP_FILE, complete_checkpoints

RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[A-Za-z0-9_.-]{1,64}")
PID_FILE = "worker.pid"
GRACE_SECONDS = 60.0
REPO_ROOT = Path(__file__).resolve().parents[2]


INTERRUPTED = "interrupted"
"""A run whose worker died without a last word (killed, or the app or machine restarted mid-run)."""
ENDED = (*TERMINAL, INTERRUPTED)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_alive(pid: int, run_id: str) -> bool:
    """Whether ``pid`` is still this run's worker.

    After a machine or container restart a run's old pid may belong to an unrelated process;
    where ``/proc`` exists its command line must name this run's config, so a recycled pid is
    not mistaken for a live job.
    """
    if not pid_alive(pid):
        return False
    if not Path("/proc/self").exists():  # no /proc (macOS): the pid is all there is to go on
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return False
    except OSError:  # /proc mounted with hidepid: cannot tell, so trust the pid
        return True
    return "playground.finetune" in command and run_id in command


class JobRunner:
    """Start, stop and list fine-tuning runs under ``runs_dir``."""

    def __init__(self, runs_dir: Path, tokenizer_of: Any = None, limits: Limits | None = None,
                 local_paths: bool = True, device: str | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self.tokenizer_of = tokenizer_of
        self.limits = limits or Limits()
        self.local_paths = local_paths
        self.device = device  # the app's Settings.device for every worker; None: it decides as the app would
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen] = {}
        self._events = EventLog()
        self._pretraining: dict[str, bool] = {}
        """Each run's kind once read (it never changes): the run pages list the runs at every 2 s poll."""

    def run_dir(self, run_id: str) -> Path:
        """The folder of ``run_id``; a name that is not a run id can never reach outside ``runs_dir``."""
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            raise InvalidInputError(f"'{run_id}' is not a run id (like 20261123-101500-my-run).")
        folder = (self.runs_dir / run_id).resolve()
        if folder.parent != self.runs_dir.resolve() or not folder.is_dir():
            raise InvalidInputError(f"No run '{run_id}'.")
        return folder

    def check_allowed(self, config: FinetuneConfig, uploaded: bool = False) -> None:
        """What a shared server refuses before anything starts: too many steps, its own files as data."""
        self.check_steps(config.max_steps)
        if not uploaded and not self.local_paths and names_server_file(config.dataset):
            raise InvalidInputError(f"'{config.dataset}' names a file on the server, and this shared server does "
                                    "not read its own files: upload the file, or use a shipped or Hub dataset.")

    def check_steps(self, steps: int) -> None:
        if steps > self.limits.train_steps:
            raise InvalidInputError(f"This server caps a job at {self.limits.train_steps} steps (demo mode); "
                                    f"{steps} were asked for.")

    def start(self, config: FinetuneConfig, resume: str | None = None, dataset_file: str | Path | None = None) -> str:
        """Validate the data, create the run folder, spawn the worker; returns the run id.

        ``dataset_file`` is a file the user uploaded: it is copied into the run folder, so the run
        (and a later resume) never depends on an upload cache that may be cleaned. The data is
        checked before the start lock is taken: a big upload being checked holds up no one else's
        start, resume or run list; the lock covers only "is a job running, claim the slot, spawn".
        """
        if resume:
            return self._resume(resume)
        if dataset_file is not None:
            config = config.with_changes(dataset=str(dataset_file))
        self.check_allowed(config, uploaded=dataset_file is not None)
        self._refuse_while_running()  # no need to read a dataset that cannot start now
        return self._launch(self._validated(config), dataset_file)

    def start_job(self, config: Any) -> str:
        """Start a run whose config checked itself on creation (a pre-training run or sweep: ``kind`` says which
        the worker trains); the step cap, the one-job rule and the run folder are the fine-tuning runs' own."""
        self.check_steps(config.max_steps)
        return self._launch(config, None)

    def _launch(self, config: Any, dataset_file: str | Path | None) -> str:
        with self._lock:
            self._refuse_while_running()
            run_id, folder = self._create(config, dataset_file)
            self._spawn(run_id, folder, resume=False)
        return run_id

    def _validated(self, config: FinetuneConfig) -> FinetuneConfig:
        """A malformed dataset is refused here, with line numbers, before any process starts; a teacher
        named by run id becomes that run's folder (the worker reads folders, not this runner)."""
        if config.training_method.data == "preferences":
            load_triples(config)  # prompt, chosen, rejected: missing columns, empty cells, identical answers
        elif config.training_method.data == "prompts":
            load_prompt_rows(config)  # prompts, and answers where an exact_match reward needs them
            self._check_reward_runs(config)
        else:
            pairs = load_pairs(config)  # missing columns and empty cells, before any tokenizer loads
            if self.tokenizer_of is not None:
                refuse_full_prompts(pairs, config, self.tokenizer_of(config.base_model))
        if config.training_method.teacher and RUN_ID.fullmatch(config.teacher.strip()):
            config = config.with_changes(teacher=str(self.run_dir(config.teacher.strip())))
        return with_default_probes(config)

    def _check_reward_runs(self, config: FinetuneConfig) -> None:
        """A ``reward_model`` reward names a finished reward run here, before the worker would fail on it."""
        for index, spec in enumerate(config.rewards):
            if spec.get("kind") != "reward_model":
                continue
            where = f"rewards[{index}].run"
            try:
                folder = self.run_dir(spec["run"])
            except InvalidInputError as error:
                raise InvalidInputError(f"{where}: {error} Name a finished reward run's id.") from error
            if not FinetuneConfig.load(folder / "config.json").training_method.scorer:
                raise InvalidInputError(f"{where}: run {spec['run']} did not train a reward model.")
            saved = (folder / "adapter" / "adapter_config.json", folder / "model" / "config.json")
            if not any(path.is_file() for path in saved):
                raise InvalidInputError(f"{where}: run {spec['run']} has no saved reward model yet.")

    def _refuse_while_running(self) -> None:
        running = self.active()
        if running:
            summary = self.status(running)
            raise InvalidInputError(f"A job is already running ({running}, step {summary.step} of "
                                    f"{summary.max_steps}): wait for it or stop it first.")

    def _create(self, config: Any, dataset_file: str | Path | None) -> tuple[str, Path]:
        """The new run's folder with its config (and its copy of an uploaded dataset)."""
        run_id = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{config.run_name or 'run'}"
        folder = self.runs_dir / run_id
        folder.mkdir()
        if dataset_file is not None:
            copy = folder / f"dataset{Path(dataset_file).suffix.lower()}"
            shutil.copyfile(dataset_file, copy)
            config = config.with_changes(dataset=str(copy))
        config.save(folder / "config.json")
        return run_id, folder

    def resume(self, run_id: str) -> str:
        """Continue ``run_id`` (whatever its kind) from where its worker can; its own config says how."""
        return self._resume(run_id)

    def _resume(self, run_id: str) -> str:
        """Spawn a worker that continues ``run_id`` from its last complete checkpoint (a pre-training run
        without one starts again; a sweep continues from its next unfinished point)."""
        folder = self.run_dir(run_id)
        config = load_run_config(folder / "config.json")  # an unreadable config is refused before anything starts
        if isinstance(config, FinetuneConfig) and not complete_checkpoints(folder):
            raise InvalidInputError(f"Run {run_id} has no checkpoint to resume from.")
        with self._lock:
            self._refuse_while_running()
            (folder / STOP_FILE).unlink(missing_ok=True)
            prepare_resume(folder / "config.json")
            self._spawn(run_id, folder, resume=True)
        return run_id

    def _spawn(self, run_id: str, folder: Path, resume: bool) -> None:
        command = [sys.executable, "-m", "playground.finetune", "--config", str(folder / "config.json")]
        if resume:
            command.append("--resume")
        log = open(folder / "worker.log", "ab")  # noqa: SIM115 - handed to the child process
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env=self.worker_environment(), start_new_session=True)
        log.close()
        (folder / PID_FILE).write_text(str(process.pid), encoding="utf-8")
        self._children[run_id] = process

    def worker_environment(self) -> dict[str, str]:
        """The worker's environment: this one, the repository importable, the app's device, no token.

        ``PLAYGROUND_DEVICE`` carries the app's decision, so a worker trains where the app runs its
        models even when that was chosen in code (``Settings(device=...)``) rather than inherited.
        """
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        environment.pop("HF_TOKEN", None)  # the worker needs no token; it must never see or log one
        if self.device:
            environment["PLAYGROUND_DEVICE"] = self.device
        return environment

    def _worker_alive(self, run_id: str, folder: Path) -> bool:
        child = self._children.get(run_id)
        if child is not None:
            return child.poll() is None  # poll also reaps a finished child
        try:
            return worker_alive(int((folder / PID_FILE).read_text(encoding="utf-8")), run_id)
        except (OSError, ValueError):
            return False

    def _summary(self, run_id: str, folder: Path) -> RunSummary:
        """The run's events summarized, reading only the lines written since the last look.

        Every open fine-tuning page polls every run each 2 s; a class of 30 would otherwise re-parse every
        event file 15 times a second, and a long run's file grows by a line per step (:mod:`event_log`).
        """
        return self._events.summary(run_id, folder)

    def status(self, run_id: str) -> RunSummary:
        folder = self.run_dir(run_id)
        summary = self._summary(run_id, folder)
        if not summary.max_steps:  # before the worker's "started" event (the page polls this often)
            try:
                summary.max_steps = load_run_config(folder / "config.json").max_steps
            except InvalidInputError as error:  # one damaged folder must not fail every list of runs
                summary.status, summary.message = "failed", str(error)
                return summary
        if summary.status not in TERMINAL and not self._worker_alive(run_id, folder):
            if (folder / PID_FILE).exists() and time.time() - (folder / PID_FILE).stat().st_mtime > 2:
                summary.status = INTERRUPTED
                kept = summary.checkpoints[-1] if summary.checkpoints else None
                summary.message = ("Interrupted: the worker stopped without finishing (killed, or the app or "
                                   "machine restarted mid-run). " +
                                   (resume_note(folder / "config.json") or
                                    (f"Last checkpoint: {Path(kept).name}; Resume continues from it." if kept else
                                     "No checkpoint was saved yet: start it again.")))
        return summary

    def cancel(self, run_id: str) -> RunSummary:
        """Ask the worker to stop at its next step (it saves the adapter); kill it after a grace period."""
        folder = self.run_dir(run_id)
        summary = self.status(run_id)
        if summary.status in ENDED:
            return summary
        (folder / STOP_FILE).write_text("stop requested\n", encoding="utf-8")
        threading.Thread(target=self._kill_after_grace, args=(run_id, folder), daemon=True).start()
        return self.status(run_id)

    def _kill_after_grace(self, run_id: str, folder: Path) -> None:
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline:
            if not self._worker_alive(run_id, folder):
                return
            time.sleep(0.5)
        try:
            os.killpg(int((folder / PID_FILE).read_text(encoding="utf-8")), signal.SIGKILL)
            append_event(folder, "cancelled", message=f"Did not stop within {GRACE_SECONDS:.0f} s: killed. "
                         "The last checkpoint is kept.")
        except (OSError, ValueError):
            pass

    def active(self) -> str | None:
        for summary in self.runs():
            if summary.status in ("queued", "running") and self._worker_alive(summary.run_id,
                                                                                self.runs_dir / summary.run_id):
                return summary.run_id
        return None

    def runs(self) -> list[RunSummary]:
        """Every run, newest first."""
        found = []
        for folder in sorted(self.runs_dir.iterdir(), reverse=True):
            if folder.is_dir() and RUN_ID.fullmatch(folder.name) and (folder / "config.json").exists():
                found.append(self.status(folder.name))
        return found

    def runs_where(self, pretraining: bool) -> list[RunSummary]:
        """The pre-training runs and sweeps, or the fine-tuning runs, newest first: what each tab lists (the
        Fine-tuning tab offered pre-training runs that its evaluation, chat and export then refused)."""
        return [summary for summary in self.runs() if self._is_pretraining(summary.run_id) == pretraining]

    def _is_pretraining(self, run_id: str) -> bool:
        """A pre-training run or sweep. An unreadable config is not, so its run stays in the Fine-tuning tab's
        list, whose runs table says what is wrong with it; it is read again next time, not remembered."""
        known = self._pretraining.get(run_id)
        if known is None:
            try:
                known = run_kind(self.runs_dir / run_id / "config.json") in PRETRAIN_KINDS
            except InvalidInputError:
                return False
            self._pretraining[run_id] = known
        return known

    def adapter(self, run_id: str) -> Path:
        """The run's saved LoRA adapter folder, or a clear error while there is none yet."""
        folder = self.run_dir(run_id) / "adapter"
        if (folder.parent / "model" / "config.json").is_file():
            raise InvalidInputError(f"Run {run_id} trained whole weights (full or distill), saved in its model/ "
                                    "folder: there is no adapter to download, merge or push; load that folder as "
                                    "a model instead.")
        if not (folder / "adapter_config.json").is_file():
            raise InvalidInputError(f"Run {run_id} has no saved adapter yet: it is saved when the run finishes "
                                    "or is stopped.")
        return folder

    def trained_folder(self, run_id: str) -> Path:
        """What the run trained, ready to download or push: its whole weights (full, distill: ``model/``)
        or its LoRA adapter (lora, qlora, dpo), or a clear error while neither is saved."""
        whole = self.run_dir(run_id) / "model"
        return whole if (whole / "config.json").is_file() else self.adapter(run_id)

    def config(self, run_id: str) -> dict[str, Any]:
        return load_run_config(self.run_dir(run_id) / "config.json").to_dict()

    def wait(self, run_id: str, timeout: float) -> RunSummary:
        """Block until the run ends (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            summary = self.status(run_id)
            if summary.status in ENDED:
                return summary
            time.sleep(0.5)
        return self.status(run_id)
