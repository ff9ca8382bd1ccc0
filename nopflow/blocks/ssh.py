"""`ssh` (docs/blocks.md): run a command on a host over SSH, with asyncssh.

asyncssh because it is asyncio-native (many hosts in parallel on one loop, no threads),
well kept, and lets nopflow decide host-key trust itself before any credential is sent:
`strict` trusts ~/.ssh/known_hosts and `host_key`; `accept-new` pins the first key seen
in this workflow's state folder and refuses a changed one.
"""

from __future__ import annotations

import asyncio
import getpass
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from nopflow.blocks.base import Block, BlockConfig
from nopflow.blocks.fields import TEXT, credential
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult

#: stdout/stderr beyond this are cut (with a note) so a chatty command cannot flood the app
MAX_OUTPUT_CHARS = 16 * 1024 * 1024


class SshConfig(BlockConfig):
    """A command on a remote host; the host's key is checked before anything is sent."""

    host: str = Field(min_length=1, description="Host name or address ({{ }} allowed)")
    port: int = Field(default=22, ge=1, le=65535, description="SSH port")
    credential: str | None = Field(
        default=None, json_schema_extra=credential("ssh_key", "basic"),
        description="ssh_key: user + private key; basic: user + password")
    command: str = Field(min_length=1, json_schema_extra=TEXT,
                         description="The command to run ({{ }} allowed)")
    timeout_s: float = Field(default=30.0, gt=0, le=86400,
                             description="Seconds for connecting and running")
    ok_codes: list[int] = Field(default_factory=lambda: [0],
                                description="Exit codes that count as success")
    known_hosts: Literal["strict", "accept-new"] = Field(
        default="strict", description="strict: the key must be in ~/.ssh/known_hosts or "
        "equal host_key; accept-new: pin the first key seen")
    host_key: str | None = Field(default=None, description="Expected key, known_hosts style "
                                 "(ssh-ed25519 AAAA…)")


def _asyncssh() -> Any:
    """asyncssh, imported on first use (it is slow to import) without the DSA deprecation
    warnings its crypto layer prints at import: nopflow never offers DSA keys."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*DSA is deprecated")
        import asyncssh
    return asyncssh


def _pin_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class _Trust:
    """Decides whether a host key is trusted (asyncssh asks before authenticating)."""

    def __init__(self, host: str, port: int, mode: str, host_key: str | None,
                 pins: Path) -> None:
        asyncssh = _asyncssh()

        self.host, self.port, self.mode, self.pins = host, port, mode, pins
        self.seen: Any = None
        self.problem = ""
        self.trusted: list[Any] = []
        if host_key:
            try:
                self.trusted.append(asyncssh.import_public_key(host_key))
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise NodeFailure(f"config.host_key: not a public key ({exc})",
                                  error_type="ValueError") from None
        self.pinned: list[Any] = []
        if mode == "strict":
            self.trusted.extend(self._from_file(Path("~/.ssh/known_hosts").expanduser()))
        else:
            self.pinned = self._from_file(pins)

    def _from_file(self, path: Path) -> list[Any]:
        asyncssh = _asyncssh()

        if not path.is_file():
            return []
        try:
            known = asyncssh.read_known_hosts(str(path))
        except (OSError, ValueError) as exc:
            raise NodeFailure(f"cannot read {path}: {exc}", error_type="KnownHostsError") \
                from None
        port = None if self.port == 22 else self.port
        return list(known.match(self.host, "", port)[0])

    def check(self, key: Any) -> bool:
        self.seen = key
        if key in self.trusted:
            return True
        if self.mode == "strict":
            self.problem = "unknown"
            return False
        if self.pinned:
            if key in self.pinned:
                return True
            self.problem = "changed"
            return False
        return True  # accept-new: first key; pinned once the login worked

    def pin(self) -> None:
        if self.mode != "accept-new" or self.pinned or self.seen is None \
                or self.seen in self.trusted:
            return
        self.pins.parent.mkdir(parents=True, exist_ok=True)
        line = f"{_pin_name(self.host, self.port)} {self.seen.export_public_key().decode()}"
        with self.pins.open("a", encoding="utf-8") as fh:
            fh.write(line.rstrip("\n") + "\n")


class SshBlock(Block):
    type = "ssh"
    title = "SSH command"
    category = "System"
    description = "Run a command on another machine over SSH; exit code, stdout, stderr."
    icon = "ssh"
    Config = SshConfig
    side_effects = True

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"host": "server.example", "command": "uptime"}

    async def run(self, ctx: NodeContext) -> NodeResult:
        asyncssh = _asyncssh()

        config = ctx.config
        assert isinstance(config, SshConfig)
        host = str(ctx.render("host")).strip()
        command = str(ctx.render("command"))
        where = f"ssh {host}" if config.port == 22 else f"ssh {host}:{config.port}"
        options = _login(ctx, config)
        trust = _Trust(host, config.port, config.known_hosts, config.host_key,
                       ctx.state_dir() / "known_hosts")
        ctx.set_inputs({"host": host, "port": config.port, "command": command,
                        "username": options.get("username")})

        class Client(asyncssh.SSHClient):
            def validate_host_public_key(self, host: str, addr: str, port: int,
                                         key: Any) -> bool:
                return trust.check(key)

        async def connect_and_run() -> Any:
            async with asyncssh.connect(host, config.port, known_hosts=([], [], []),
                                        client_factory=Client, **options) as conn:
                trust.pin()
                return await conn.run(command, check=False)

        try:
            result = await asyncio.wait_for(connect_and_run(), config.timeout_s)
        except asyncio.TimeoutError:
            raise NodeFailure(f"{where}: timed out after {config.timeout_s:g} s",
                              error_type="TimeoutError") from None
        except asyncssh.HostKeyNotVerifiable:
            raise NodeFailure(_key_problem(where, trust), error_type="HostKeyError") from None
        except asyncssh.PermissionDenied:
            raise NodeFailure(f"{where}: login refused for user "
                              f"{options.get('username')!r} (check the credential)",
                              error_type="PermissionDenied") from None
        except asyncssh.Error as exc:
            raise NodeFailure(f"{where}: {exc.reason or exc}",
                              error_type=type(exc).__name__) from None
        except OSError as exc:
            raise NodeFailure(f"{where}: cannot connect: {exc.strerror or exc}",
                              error_type="ConnectionError") from None
        stdout, stderr = _cut(result.stdout), _cut(result.stderr)
        code = result.exit_status if result.exit_status is not None else -1
        for line in stderr.splitlines():
            ctx.log(line)
        if code not in config.ok_codes:
            last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
            raise NodeFailure(f"{where}: exited with code {code}" + (f": {last}" if last else ""),
                              error_type="ExitCode", stderr_tail=stderr[-4000:] or None)
        return NodeResult({"exit_code": code, "stdout": stdout, "stderr": stderr, "host": host})


def _login(ctx: NodeContext, config: SshConfig) -> dict[str, Any]:
    asyncssh = _asyncssh()

    if not config.credential:
        return {"username": getpass.getuser()}
    cred = ctx.credential(config.credential)
    user = cred.fields.get("username") or getpass.getuser()
    if cred.type == "basic":
        return {"username": user, "password": cred.fields.get("password", ""),
                "client_keys": None, "preferred_auth": "password,keyboard-interactive"}
    if cred.type == "ssh_key":
        try:
            key = asyncssh.import_private_key(cred.fields.get("private_key", ""),
                                              cred.fields.get("passphrase") or None)
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise NodeFailure(f"credential '{cred.name}': the private key cannot be read "
                              f"({exc})", error_type="CredentialError") from None
        return {"username": user, "client_keys": [key], "preferred_auth": "publickey"}
    raise NodeFailure(f"credential '{cred.name}' is a {cred.type} credential; an ssh node "
                      "takes ssh_key or basic", error_type="CredentialError")


def _key_problem(where: str, trust: _Trust) -> str:
    if trust.problem == "changed":
        return (f"{where}: the host key changed since it was first seen (pinned in "
                f"{trust.pins}); if the change is expected, remove the host's line there")
    return (f"{where}: unknown host key: it is not in ~/.ssh/known_hosts and does not equal "
            "host_key (add it with ssh-keyscan, set host_key, or use known_hosts: accept-new)")


def _cut(text: Any) -> str:
    text = text if isinstance(text, str) else (text or b"").decode("utf-8", "replace")
    if len(text) > MAX_OUTPUT_CHARS:
        return text[:MAX_OUTPUT_CHARS] + f"\n… cut at {MAX_OUTPUT_CHARS} characters"
    return text
