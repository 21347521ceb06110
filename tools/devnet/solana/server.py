"""The devnet process: the world in LiteSVM, the JSON-RPC endpoint, the Jupiter and Hermes stand-ins, and a clock.

The clock advances one slot (and block) every 0.4 s, as a cluster does, so
blockhashes expire after about a minute; every couple of seconds it re-publishes
the Pyth accounts and the Hermes prices with the current time and slot, so
readers that refuse prices older than 60 s keep working while the devnet runs.
The config file is written only once every server answers, and removed on exit.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path

from defai_swarm.tools.devnet.solana.hermes_standin import HermesStandIn
from defai_swarm.tools.devnet.solana.jupiter_standin import JupiterStandIn
from defai_swarm.tools.devnet.solana.litesvm_rpc import LocalSolanaRpc
from defai_swarm.tools.devnet.solana.paths import DevnetPaths
from defai_swarm.tools.devnet.solana.world import DevnetWorld
from defai_swarm.tools.solana.config import SolanaChainConfig
from defai_swarm.tools.solana.wallet import SolanaWallet

SLOT_SECONDS = 0.4
PUBLISH_SECONDS = 2.0
log = logging.getLogger("defai_swarm.tools.devnet.solana")


class Clock(threading.Thread):
    """Advances slots with wall time and keeps prices fresh; every write holds the RPC lock."""

    def __init__(self, world: DevnetWorld, rpc: LocalSolanaRpc, hermes: HermesStandIn,
                 slot_seconds: float = SLOT_SECONDS, publish_seconds: float = PUBLISH_SECONDS):
        super().__init__(name="solana-devnet-clock", daemon=True)
        self.world, self.rpc, self.hermes = world, rpc, hermes
        self.slot_seconds, self.publish_seconds = slot_seconds, publish_seconds
        self.stopped = threading.Event()

    def publish(self) -> None:
        with self.rpc.lock:
            self.publish_locked()

    def publish_locked(self) -> None:
        """Publish with the RPC lock already held (the RPC's own handlers hold it)."""
        now = int(time.time())
        slot = self.rpc.slot
        sync_clock(self.rpc, now)
        published = self.world.publish_prices(now, slot)
        for feed_id, price, conf, expo, at in published:
            self.hermes.set_price(feed_id, price, conf, expo, at, slot=slot)

    def run(self) -> None:
        last_publish = time.monotonic()
        while not self.stopped.wait(self.slot_seconds):
            self.rpc.advance(1)
            if time.monotonic() - last_publish >= self.publish_seconds:
                try:
                    self.publish()
                except Exception:  # a failed tick must not stop the clock; the next one retries
                    log.exception("publishing prices failed")
                last_publish = time.monotonic()

    def stop(self) -> None:
        self.stopped.set()


class DevnetRpc(LocalSolanaRpc):
    """The devnet's JSON-RPC plus its operator levers (like anvil's `anvil_*` methods; 127.0.0.1 only):
    `devnet_setPrice(symbol, usd)`, `devnet_align()`, `devnet_mine(n)`. Only the devnet process has them."""

    world: DevnetWorld
    clock: "Clock"

    def _moved(self, moves: list[dict]) -> list[dict]:
        self.clock.publish_locked()
        return [{k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in m.items()} for m in moves]

    def rpc_devnet_setPrice(self, symbol, usd):
        try:
            price = Decimal(str(usd))
        except ArithmeticError:
            raise ValueError(f"not a price: {usd!r}") from None
        moves = self.world.set_price(str(symbol), price)
        log.info("devnet price %s set to %s USD", symbol, price)
        return self._moved(moves)

    def rpc_devnet_align(self):
        return self._moved(self.world.align_pool())

    def rpc_devnet_mine(self, blocks=1):
        if int(blocks) < 1:
            raise ValueError(f"mine at least one block (got {blocks})")
        self.advance(int(blocks))
        return self.slot


def sync_clock(rpc: LocalSolanaRpc, unix_time: int) -> None:
    """Programs reading the Clock sysvar see the RPC's slot and the wall time."""
    clock = rpc.svm.get_clock()
    clock.slot = rpc.slot
    clock.unix_timestamp = unix_time
    rpc.svm.set_clock(clock)


def load_or_create_wallet(path: Path) -> SolanaWallet:
    """The user's devnet keypair: kept across restarts (same address), created 0600 on first start."""
    if path.exists():
        os.chmod(path, 0o600)
        return SolanaWallet.from_file(path)
    wallet = SolanaWallet.generate()
    wallet.write_keypair_file(path)
    return wallet


def serve(home: Path, port: int = 8899, jupiter_port: int = 0, hermes_port: int = 0,
          stop: threading.Event | None = None) -> int:
    """Run the devnet until SIGTERM/SIGINT (or `stop` is set); 0 on a clean stop."""
    paths = DevnetPaths.of(home)
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.pid_file.write_text(f"{os.getpid()}\n")
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    servers: list = []
    clock = None
    try:
        wallet = load_or_create_wallet(paths.wallet)
        world = DevnetWorld.build(wallet.pubkey)
        rpc = DevnetRpc(world.svm, genesis_hash=world.genesis_hash, record_calls=False, port=port, max_lifetime=None)
        rpc.world = world
        servers.append(rpc)
        jupiter = JupiterStandIn(rpc, world.pool, world.jupiter_mints(), port=jupiter_port, max_lifetime=None)
        jupiter.record_requests = False
        servers.append(jupiter)
        hermes = HermesStandIn(port=hermes_port, max_lifetime=None)
        servers.append(hermes)
        clock = Clock(world, rpc, hermes)
        rpc.clock = clock
        clock.publish()
        for server in servers:
            server.start()
        clock.start()
        config = SolanaChainConfig(cluster="localnet", rpc_url=rpc.url, jupiter_url=f"{jupiter.url}/swap/v1",
                                   hermes_url=hermes.url, genesis_hash=world.genesis_hash, tokens=world.tokens,
                                   pyth_feeds=world.pyth_feeds, wallet_path=str(paths.wallet),
                                   pid=os.getpid(), state_dir=str(paths.state_dir))
        config.save(paths.config)
        log.info("solana devnet up: rpc %s, jupiter %s, hermes %s, wallet %s, genesis %s",
                 config.rpc_url, config.jupiter_url, config.hermes_url, wallet.address, world.genesis_hash)
        stop.wait()
        log.info("solana devnet stopping")
        return 0
    finally:
        if clock is not None:
            clock.stop()
        for server in servers:
            server.close()
        _remove_own(paths.config, paths.pid_file)


def _remove_own(config_path: Path, pid_file: Path) -> None:
    """Remove this process's config and pid file, not those of a devnet started after it."""
    me = os.getpid()
    try:
        if SolanaChainConfig.load(config_path).pid == me:
            config_path.unlink(missing_ok=True)
    except ValueError:
        pass
    try:
        if int(pid_file.read_text().strip() or 0) == me:
            pid_file.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass
