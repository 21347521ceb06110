"""Starting, finding and stopping the local Solana devnet process (`python -m defai_swarm.tools.devnet.solana serve`).

`SolanaDevnet.start` launches the server as a child process (detached: its own
session, so it outlives the CLI), with its output in `<home>/solana-devnet/devnet.log`,
and returns once the server has written its config file, i.e. once every endpoint
answers. A pid is only ever signalled after checking it is still a devnet server
(pids are reused).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from defai_swarm.core.errors import SwarmError
from defai_swarm.tools.devnet.solana.paths import DevnetPaths
from defai_swarm.tools.solana.config import SolanaChainConfig

DEFAULT_PORT = 8899
START_TIMEOUT_SECONDS = 60.0
_MODULE = "defai_swarm.tools.devnet.solana"


class SolanaDevnetError(SwarmError):
    """The devnet could not be started, reached or stopped (a RuntimeError, through the library's root)."""


def _proc_state(pid: int) -> str | None:
    """The process state letter from /proc (None where /proc is missing or the pid is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def pid_alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_state(pid) != "Z"


def is_devnet_process(pid: int) -> bool:
    """True if `pid` runs this devnet's server (where /proc is missing, being alive has to do)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return False
    return _MODULE.encode() in cmdline and b"serve" in cmdline


def rpc_call(url: str, method: str, timeout: float = 2.0):
    """One JSON-RPC call with the standard library (no client loop to start): the result, or None."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return json.loads(resp.read()).get("result")
    except (OSError, ValueError):
        return None


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: init reaps it
        pass


def _terminate(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM a devnet server, SIGKILL if it lingers; True if one was running."""
    if not is_devnet_process(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    if is_devnet_process(pid):
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            _reap(pid)
            if not pid_alive(pid):
                break
            time.sleep(0.05)
    return True


def _recorded_pid(paths: DevnetPaths) -> int | None:
    try:
        return SolanaChainConfig.load(paths.config).pid
    except ValueError:
        pass
    try:
        return int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def running_config(home: str | Path) -> SolanaChainConfig | None:
    """The config of the devnet running under `home`, or None. A config left by a dead server is removed."""
    paths = DevnetPaths.of(home)
    if not paths.config.exists():
        return None
    try:
        config = SolanaChainConfig.load(paths.config)
    except ValueError:
        return None
    if config.pid is None or not is_devnet_process(config.pid):
        paths.config.unlink(missing_ok=True)
        return None
    if rpc_call(config.rpc_url, "getGenesisHash") != config.genesis_hash:
        return None  # running, but not answering (yet): not usable now
    return config


def stop_devnet(home: str | Path) -> bool:
    """Stop the devnet running under `home` (by its recorded pid); True if one was running."""
    paths = DevnetPaths.of(home)
    pid = _recorded_pid(paths)
    stopped = pid is not None and _terminate(pid)
    if pid is None or not pid_alive(pid):
        paths.config.unlink(missing_ok=True)
        paths.pid_file.unlink(missing_ok=True)
    return stopped


class SolanaDevnet:
    """A started (or found) local Solana devnet: its home, config and, when started here, its process."""

    def __init__(self, home: str | Path, config: SolanaChainConfig, process: subprocess.Popen | None = None):
        self.home, self.config, self.process = Path(home), config, process
        self.paths = DevnetPaths.of(home)

    def __repr__(self) -> str:
        return f"SolanaDevnet({self.config.rpc_url}, pid={self.config.pid})"

    @classmethod
    def start(cls, home: str | Path, port: int = DEFAULT_PORT, detach: bool = True,
              timeout: float = START_TIMEOUT_SECONDS) -> "SolanaDevnet":
        """Launch the server and wait for its config; SolanaDevnetError (with the log's tail) if it does not come up."""
        paths = DevnetPaths.of(home)
        if running_config(home) is not None:
            raise SolanaDevnetError(f"a Solana devnet is already running under {paths.state_dir}; stop it first")
        old = _recorded_pid(paths)
        if old is not None and is_devnet_process(old):
            raise SolanaDevnetError(f"a Solana devnet (pid {old}) is still starting or stopping under "
                                    f"{paths.state_dir}; stop it first")
        if not port_free(port):
            raise SolanaDevnetError(f"port {port} on 127.0.0.1 is already in use; stop what uses it or pick "
                                    f"another port")
        paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        paths.config.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", _MODULE, "serve", "--home", str(paths.state_dir.parent), "--port", str(port)]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[3])  # the checkout, in case the package is not installed
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        with open(paths.log, "ab") as log:
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=detach, env=env, cwd=paths.state_dir)
        paths.pid_file.write_text(f"{process.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SolanaDevnetError(f"the Solana devnet exited with code {process.returncode} at start-up; "
                                        f"log {paths.log}:\n{_tail(paths.log)}")
            config = _ready_config(paths, process.pid)
            if config is not None:
                return cls(home, config, process)
            time.sleep(0.1)
        _stop_process(process)
        raise SolanaDevnetError(f"the Solana devnet did not come up within {timeout:.0f}s; log {paths.log}:\n"
                                f"{_tail(paths.log)}")

    @classmethod
    def attach(cls, home: str | Path) -> "SolanaDevnet | None":
        """The devnet already running under `home`, if any."""
        config = running_config(home)
        return cls(home, config) if config else None

    def stop(self) -> bool:
        """Stop the server; True if it was running."""
        if self.process is not None:
            was_running = self.process.poll() is None
            _stop_process(self.process)
            stop_devnet(self.home)  # removes what the server could not (if it was killed)
            return was_running
        return stop_devnet(self.home)

    def status(self) -> list[str]:
        from defai_swarm.tools.devnet.solana.status import status_lines

        return status_lines(self.config)

    def __enter__(self) -> "SolanaDevnet":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _ready_config(paths: DevnetPaths, pid: int) -> SolanaChainConfig | None:
    if not paths.config.exists():
        return None
    try:
        config = SolanaChainConfig.load(paths.config)
    except ValueError:
        return None  # not fully written yet (it is replaced atomically, but be patient)
    return config if config.pid == pid else None


def _stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
