"""A real anvil process on loopback, started and stopped with clear errors."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from defai_swarm.core.errors import SwarmError
from defai_swarm.tools.devnet.install import anvil_binary

log = logging.getLogger(__name__)
DEFAULT_PORT = 8545
CHAIN_ID = 31337
# anvil's public, well-known development mnemonic: its accounts are devnet-only.


class DevnetError(SwarmError):
    """The devnet could not be started, reached or stopped (a RuntimeError, through the library's root)."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc_alive(url: str, timeout: float = 1.0) -> int | None:
    """The chain id if a JSON-RPC node answers at `url`, else None."""
    try:
        r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=timeout)
        return int(r.json()["result"], 16)
    except Exception:
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


class AnvilNode:
    """One anvil process. `detach=True` lets it outlive this Python process (CLI use)."""

    def __init__(self, port: int = DEFAULT_PORT, log_path: Path | None = None, detach: bool = False,
                 block_time: float | None = None, genesis_timestamp: int | None = None):
        """`genesis_timestamp`: block 0's time (anvil's default is now; block 0's hash, the chain's identity,
        depends on it: two nodes started in the same second are the same chain to every check)."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.detach = detach
        self.block_time = block_time
        self.genesis_timestamp = genesis_timestamp
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "AnvilNode":
        if port_in_use(self.port):
            who = "a JSON-RPC node" if rpc_alive(self.url) else "another process"
            raise DevnetError(f"port {self.port} is already in use by {who}; stop it or pick another with --port")
        from defai_swarm.tools.evm.wallet import DEV_MNEMONIC  # eth_account: only to start a node, not to find a running one

        cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port),
               "--chain-id", str(CHAIN_ID), "--mnemonic", DEV_MNEMONIC,
               "--silent"]  # its start-up banner prints the dev accounts' private keys: keep them out of logs
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.genesis_timestamp is not None:
            cmd += ["--timestamp", str(self.genesis_timestamp)]
        out = open(self.log_path, "ab") if self.log_path else None
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if out is None else out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=self.detach)
        finally:
            if out is not None:
                out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-1500:] if self.log_path and self.log_path.exists() else ""
                raise DevnetError(f"anvil exited with code {self.proc.returncode} at start-up\n{tail}")
            if rpc_alive(self.url, timeout=0.5) == CHAIN_ID:
                log.info("anvil up at %s (pid %s)", self.url, self.proc.pid)
                return self
            time.sleep(0.05)
        self.stop()
        raise DevnetError(f"anvil did not answer on {self.url} within {timeout:.0f}s")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_pid(pid: int, timeout: float = 5.0) -> bool:
    """Stop a detached anvil by pid; True if it was running."""
    if not pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True
