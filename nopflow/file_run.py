"""A run of a workflow file exactly as `nopflow run` makes it (docs/cli.md, docs/triggers.md).

One path for `nopflow run` and the scheduler's fires: load, executor choice, compile,
credentials, history. Front ends add their own printing and signal handling around it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nopflow.errors import NopflowError


class RunRefused(NopflowError):
    """The file cannot run: ``lines`` are the problems to print, ``str()`` the summary."""

    def __init__(self, summary: str, lines: list[str] | None = None) -> None:
        self.lines = lines or []
        super().__init__(summary)


class PackagesNotInstalled(RunRefused):
    """The scripts' packages could not be installed (lines: one per node and cause)."""


@dataclass
class FileRun:
    """A prepared run of a file: the engine's run, its history recorder and its executor."""

    file: str
    run: Any
    recorder: Any
    executor: Any = None
    workflow: Any = field(default=None, repr=False)
    #: keeps the run's outputs in the output store when it ends (docs/partial-runs.md)
    kept: Any = None

    async def execute(self, say: Callable[[str], None] | None = None,
                      warn: Callable[[str], None] | None = None,
                      start_executor: bool = True) -> Any:
        """Connect the executor (if one), run to the end, wait for the history record.

        ``say`` gets progress lines (None: quiet), ``warn`` an executor that cannot connect.
        """
        try:
            if self.executor is not None and start_executor:
                await _start_executor(self.executor, say, warn)
            await self.run.execute()
            await self.recorder.wait()
            if self.kept is not None:
                await self.kept.wait(quiet=self.recorder.error is not None)
        finally:
            if self.executor is not None:  # the run does not own an executor it was given
                await self.executor.aclose()
        return self.run


async def _start_executor(executor: Any, say: Callable[[str], None] | None,
                          warn: Callable[[str], None] | None) -> None:
    """Connect before the run starts, so start-up is not counted in the first node's time.

    A failure is not fatal here: the executor remembers it and every script node fails
    with it, so the run is recorded like any failed run.
    """
    from nopflow.engine.executor import ExecutorUnavailable

    if say is not None:
        say(f"  {executor.kind}: connecting to {executor.describe()} …")
    try:
        await executor.start()
    except ExecutorUnavailable as exc:
        if warn is not None:
            warn(str(exc))
        return
    if say is not None:
        say(f"  {executor.kind}: running scripts on {executor.describe()}")


def choose_executor(wf: Any, kind: str | None, address: str | None) -> tuple[Any, Any]:
    """Apply ``--executor``/``--address`` to the workflow; make the executor if it connects.

    Returns the (maybe copied) workflow and the executor started up front (None: the run
    makes its own, through the same registry, when it has script work). Raises ValueError
    with the message for a wrong flag or a missing extra.
    """
    from nopflow.executors import create, kinds
    from nopflow.executors import kind as executor_kind
    from nopflow.model import ExecutorSettings

    if kind or address:
        with_address = [k for k, info in kinds().items() if info.takes_address]
        chosen = executor_kind(kind) if kind else None
        if address and chosen is not None and not chosen.takes_address:
            names = " / ".join(with_address)
            raise ValueError(f"--address is for the {names} executor; use it with "
                             f"--executor {with_address[0]}")
        if kind is None:  # --address alone means: run on that scheduler
            current = wf.settings.executor.kind
            kind = current if current in with_address else with_address[0]
            chosen = executor_kind(kind)
        if chosen is not None and chosen.takes_address:
            address = address or wf.settings.executor.address
        wf = wf.model_copy(deep=True)
        wf.settings.executor = ExecutorSettings(kind=kind, address=address)
    info = executor_kind(wf.settings.executor.kind)
    if info is None or not info.connects:
        return wf, None
    reason = info.unavailable()
    if reason is not None:
        raise ValueError(reason)
    return wf, create(wf.settings.executor)


def run_error(run: Any) -> str | None:
    """Why a run failed, redacted: its first failed node's error, else the run's own."""
    first = next((f"node {r.node_id}: {r.error}" for r in run.nodes.values()
                  if r.state.value == "error" and r.error), run.error)
    return run.redactor.text(first).strip().splitlines()[0] if first else None


def prepare(file: str, inputs: Mapping[str, Any], *, trigger: Mapping[str, Any] | None = None,
            executor_kind: str | None = None, address: str | None = None,
            warn: Callable[[str], None] | None = None, store: Any = None,
            run_id: str | None = None,
            progress: Callable[[str], None] | None = None,
            reuse: Any = None) -> FileRun:
    """Load and compile ``file`` into a run with history; raises `RunRefused` if it cannot run.

    ``trigger`` is the run's `$trigger` (None: a manual run); ``warn`` gets warnings such
    as inputs the workflow does not declare; ``progress`` a line per step of building the
    scripts' package environments (docs/script-packages.md), done before the run exists.
    """
    from nopflow.blocks import get_block
    from nopflow.engine.compiler import CompileError, compile_workflow
    from nopflow.engine.reuse import NotKeptError
    from nopflow.engine.runner import Run
    from nopflow.envs.prepare import EnvironmentError_, prepare_environments
    from nopflow.model import load_workflow
    from nopflow.partial_runs import ReuseOptions, output_recorder, reuse_for
    from nopflow.storage.credentials import catalog as credential_catalog
    from nopflow.storage.credentials import resolve as resolve_credentials
    from nopflow.storage.history import HistoryRecorder, HistoryStore
    from nopflow.storage.outputs import OutputStore

    try:
        wf = load_workflow(file, blocks=get_block)
    except NopflowError as exc:
        raise RunRefused(str(exc)) from None
    try:
        wf, executor = choose_executor(wf, executor_kind, address)
    except ValueError as exc:
        raise RunRefused(str(exc)) from None
    unknown = sorted(set(inputs) - set(wf.inputs))
    if unknown and warn is not None:
        warn(f"warning: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not "
             f"declared in the workflow's inputs (passed on as $input anyway)")
    try:
        project_dir = Path(file).resolve().parent
        plan = compile_workflow(wf, project_dir, credentials=credential_catalog(),
                                workflow_file=file)
        history = store or HistoryStore()
        outputs = OutputStore()
        reused = reuse_for(plan, outputs, history, **vars(reuse or ReuseOptions()))
        for note in reused.notes:
            if warn is not None:
                warn(note)
        credentials = resolve_credentials(plan.credential_names)
        try:
            environments = prepare_environments(plan, file, wf.settings.python, project_dir,
                                                progress or (lambda _line: None))
        except EnvironmentError_ as exc:
            raise PackagesNotInstalled(f"{file}: the scripts' packages could not be "
                                       "installed; nothing was run", exc.problems) from None
        run = Run(plan, inputs=inputs, project_dir=project_dir, executor=executor,
                  credentials=credentials, trigger=trigger, run_id=run_id,
                  environments=environments,
                  seeds=reused.seeds, pins=reused.pins, cache=reused.cache)
    except NotKeptError as exc:
        n = len(exc.node_ids)
        raise RunRefused(f"{file}: {n} needed output{'' if n == 1 else 's'} not kept; "
                         "nothing was run", str(exc).splitlines()) from None
    except CompileError as exc:
        n = len(exc.problems)
        raise RunRefused(f"{file}: {n} problem{'' if n == 1 else 's'}; nothing was run",
                         [str(p) for p in exc.problems]) from None
    except PackagesNotInstalled:
        raise
    except NopflowError as exc:
        raise RunRefused(str(exc)) from None
    recorder = HistoryRecorder(run, history, workflow_file=file)
    kept = output_recorder(run, plan, project_dir, outputs, history)
    return FileRun(file, run, recorder, executor, wf, kept)
