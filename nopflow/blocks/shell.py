"""`shell` (docs/blocks.md): run a command in the same sandbox as `python` blocks.

The command is started by a small launcher that runs as an ordinary sandboxed script, so
everything §6/§14 give a script holds for the command and all it starts: cwd = the project
folder, writes confined, limits, the environment allow-list, the whole tree killed on
timeout or cancel. stderr streams live to the node's log.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, model_validator

from nopflow.blocks.base import Block, BlockConfig
from nopflow.blocks.fields import JSON, TEXT
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.engine.executor import ScriptRequest

#: runs inside the sandbox: starts the command, relays its stderr live, reports the result
LAUNCHER = r'''
import json, os, subprocess, sys, threading
job = json.load(sys.stdin)
argv = [os.environ.pop("NOPFLOW_SHELL_PROGRAM"), *job["args"]]
try:
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if job["stdin"] is not None
                            else subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
except OSError as exc:
    print(json.dumps({"start_error": f"{exc.strerror or exc}: {argv[0]}"}))
    raise SystemExit(0)
err = []
def relay():
    for raw in proc.stderr:
        line = raw.decode("utf-8", "replace")
        err.append(line)
        sys.stderr.write(line)
        sys.stderr.flush()
t = threading.Thread(target=relay, daemon=True)
t.start()
def feed(data):
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass
if job["stdin"] is not None:
    threading.Thread(target=feed, args=(job["stdin"].encode("utf-8"),), daemon=True).start()
out = proc.stdout.read()
proc.wait()
t.join()
print(json.dumps({"exit_code": proc.returncode, "stdout": out.decode("utf-8", "replace"),
                  "stderr": "".join(err)}))
'''


class ShellConfig(BlockConfig):
    """A command: a list of arguments (no shell), or one string with `shell: true`."""

    command: list[str] | str = Field(
        json_schema_extra=TEXT, description='Arguments, e.g. ["ls", "-l"] ({{ }} allowed); '
        "a string needs shell: true")
    shell: bool = Field(default=False, description="Run the command string with /bin/sh -c")
    stdin: str | None = Field(default=None, json_schema_extra=TEXT,
                              description="Text for the command's stdin ({{ }} allowed)")
    env: dict[str, str] = Field(default_factory=dict, json_schema_extra=JSON,
                                description="Extra environment variables ({{ }} allowed)")
    timeout_s: float = Field(default=30.0, gt=0, le=86400,
                             description="Seconds before the command is killed")
    ok_codes: list[int] = Field(default_factory=lambda: [0],
                                description="Exit codes that count as success")
    parse_json: bool = Field(default=False, description="Parse stdout as JSON")
    memory_mb: int = Field(default=2048, ge=16, le=1024 * 1024,
                           description="Memory limit (MB)")

    @model_validator(mode="after")
    def _command(self) -> ShellConfig:
        if isinstance(self.command, str) and not self.shell:
            raise ValueError("a command string needs \"shell\": true (or give a list of "
                             "arguments, which runs without a shell)")
        if isinstance(self.command, list) and not self.command:
            raise ValueError("'command' is empty")
        if isinstance(self.command, list) and self.shell:
            raise ValueError("with \"shell\": true give the command as one string")
        return self


class ShellBlock(Block):
    type = "shell"
    title = "Shell command"
    category = "System"
    description = "Run a command (sandboxed like Python blocks); exit code, stdout, stderr."
    icon = "shell"
    Config = ShellConfig
    needs_executor = True
    side_effects = True

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"command": ["echo", "hello"]}

    async def run(self, ctx: NodeContext) -> NodeResult:
        config = ctx.config
        assert isinstance(config, ShellConfig)
        command = ctx.render("command")
        if config.shell:
            argv = ["/bin/sh", "-c", str(command)]
        else:
            argv = [_arg(a) for a in (command if isinstance(command, list) else [command])]
        stdin = ctx.render("stdin")
        env = {str(k): "" if v is None else str(v) for k, v in (ctx.render("env") or {}).items()}
        # The program travels beside the job: it is what runs, not a data path, so the
        # sandbox's check of paths in inputs applies to the arguments only.
        env["NOPFLOW_SHELL_PROGRAM"] = argv[0]
        job = {"args": argv[1:], "stdin": None if stdin is None else _arg(stdin)}
        ctx.set_inputs({"argv": argv, "stdin": job["stdin"]})
        result = await ctx.run_script(ScriptRequest(
            project_dir=ctx.project_dir, code=LAUNCHER, script=None, input=job,
            timeout_s=config.timeout_s, memory_mb=config.memory_mb, python=None,
            env=env,
            temp_dir=ctx.temp_dir(),
            label=f"{ctx.node_id} ({ctx.node.label})" if ctx.node.title else ctx.node_id))
        if not result.ok:
            raise NodeFailure(result.error or "the command failed",
                              error_type=result.error_type or "ShellError",
                              stderr_tail=result.stderr_tail)
        report = result.output if isinstance(result.output, dict) else {}
        if "start_error" in report:
            raise NodeFailure(f"cannot start the command: {report['start_error']}",
                              error_type="CommandNotFound")
        code = report.get("exit_code")
        stderr = str(report.get("stderr") or "")
        stdout: Any = str(report.get("stdout") or "")
        if code not in config.ok_codes:
            last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
            what = (f"killed by signal {-code}" if isinstance(code, int) and code < 0
                    else f"exited with code {code}")
            raise NodeFailure(what + (f": {last}" if last else ""), error_type="ExitCode",
                              stderr_tail=stderr[-4000:] or None)
        if config.parse_json:
            try:
                stdout = json.loads(stdout) if stdout.strip() else None
            except ValueError as exc:
                raise NodeFailure(f"stdout is not valid JSON: {exc}",
                                  error_type="JSONDecodeError") from None
        return NodeResult({"exit_code": code, "stdout": stdout, "stderr": stderr})


def _arg(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
