"""Open a Swarm from what a person or a deployment gives: the one way every front door builds one.

The `swarm` command, the MCP server (`swarm mcp`), the LangChain tools' callers, the bot helpers
(`defai_swarm.bot`) and the cluster's wallet actors all open their swarm here, so a flag means the same
everywhere:

    from defai_swarm.session import SessionOptions, open_swarm

    swarm = open_swarm(SessionOptions(config="~/chains/base.json", policy="policy.json", model="http://127.0.0.1:8080"))
    swarm = open_swarm(SessionOptions())                      # the running local EVM devnet, $SWARM_MODEL if set
    swarm = open_swarm(SessionOptions.from_args(args))        # an argparse namespace with the `swarm run` flags

What is decided here, once:
  * the chain configuration (`chain_config_path`): `config` (any chain: its "family" picks the adapter) or
    `manifest` (an EVM devnet manifest), else the running local devnet of `chain`; none running is `NotRunning`;
  * the wallet: the configuration's own rule (SWARM_PRIVATE_KEY, a Solana keypair file, a devnet's dev account);
  * the risk policy: a JSON file read strictly (`load_policy`: a misspelt field is an error, never ignored), read
    before any model is loaded or node contacted;
  * the model (`open_model`): a GGUF file or an OpenAI-compatible server URL, from `model` or $SWARM_MODEL;
  * a devnet started with `--keep-pools-aligned`: its pools are re-aligned before each run.

Hooks, for a front door that shows progress: `on_task(task_id, result)` (a task finished; also logged here),
`on_progress` (a task's progress, `defai_swarm.plugins.TaskProgress`), `loading(text)` (a context manager around
the model's load, e.g. a spinner). Nothing here prints: output is the front door's.

Importing this module is cheap (no web3, pydantic or rich): the command line imports it for `--help`.
"""
from __future__ import annotations

import json
import logging
import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from defai_swarm.config import user_path
from defai_swarm.core.errors import ConfigError, NotRunning, RpcUnavailable
from defai_swarm.tools.devnet.local import DEFAULT_FAMILY

if TYPE_CHECKING:
    from defai_swarm.api import Swarm

log = logging.getLogger(__name__)

MODEL_ENV = "SWARM_MODEL"


@dataclass(frozen=True)
class SessionOptions:
    """What a swarm is opened from. Every field has the default `swarm run` has without the flag."""

    config: str | Path | None = None  # chain configuration JSON (any family)
    manifest: str | Path | None = None  # EVM devnet manifest (`config` wins when both are given)
    chain: str = DEFAULT_FAMILY  # which running local devnet, when neither is given (tools.devnet.local.names())
    policy: str | Path | None = None  # risk policy JSON file (None: the chain's default policy)
    model: str | None = None  # GGUF file or http(s) model server (None: $SWARM_MODEL when `model_from_env`)
    model_from_env: bool = True
    k: int = 3  # model readings per intent
    anchor: bool = True  # anchor audit checkpoints on-chain
    home: str | Path | None = None  # state directory (None: $SWARM_HOME, default ~/.swarm)
    align_devnet_pools: bool = True  # honour a local devnet's `keep_pools_aligned`

    @classmethod
    def from_args(cls, args: Any, **overrides: Any) -> "SessionOptions":
        """The options from an argparse namespace with (some of) the `swarm run` flags: --config, --manifest,
        --chain, --policy, --model, --k, --no-anchor, --home. A missing attribute keeps its default."""
        values: dict[str, Any] = {
            "config": getattr(args, "config", None), "manifest": getattr(args, "manifest", None),
            "chain": getattr(args, "chain", None) or DEFAULT_FAMILY, "policy": getattr(args, "policy", None),
            "model": getattr(args, "model", None), "k": getattr(args, "k", None) or 3,
            "anchor": not getattr(args, "no_anchor", False), "home": getattr(args, "home", None)}
        return cls(**{**values, **overrides})

    def model_spec(self) -> str | None:
        """The model to load: `model`, else $SWARM_MODEL (when allowed), else None (the deterministic parser)."""
        return self.model or (os.environ.get(MODEL_ENV) or None if self.model_from_env else None)


def chain_config_path(config: str | Path | None = None, manifest: str | Path | None = None,
                      chain: str = DEFAULT_FAMILY) -> tuple[Path, str]:
    """The chain configuration in use and its family: `config` or `manifest` (`~` expanded), else the running
    local devnet of `chain`. `NotRunning` when no path is given and that devnet is not running."""
    from defai_swarm.chains import read_config
    from defai_swarm.config import swarm_home
    from defai_swarm.tools.devnet.local import local_devnet, names

    if given := config or manifest:
        path = user_path(given)  # `~/...` as a shell would have expanded it
        return path, read_config(path)["family"]
    devnet = local_devnet(chain)
    if devnet is None:
        raise ConfigError(f"no local devnet for chain {chain!r}; choose one of {', '.join(names())} or pass --config")
    path = devnet.running_config_path(swarm_home())
    if path is None:
        raise NotRunning(devnet.not_running())
    return path, devnet.family


def load_policy(path: str | Path, model: Any) -> Any:
    """The policy file (`~` is the home directory) as the chain's policy model. Every problem is one line
    (ConfigError) naming the file, the field and what is wrong with it: a missing or unreadable file, malformed
    JSON, a field the policy does not have (a typo such as `max_tradeusd` must never be ignored), or a value of
    the wrong type."""
    import difflib

    from pydantic import ValidationError

    path = user_path(path)

    def fail(message: str) -> ConfigError:
        return ConfigError(f"policy file {path}: {message}")

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail("no such file; check the --policy path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot be read ({getattr(exc, 'strerror', None) or exc}); give a readable JSON file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); fix the syntax: "
                   f"a policy is one JSON object of fields") from None
    if not isinstance(data, dict):
        raise fail(f"a policy is a JSON object of fields, not a {type(data).__name__}; "
                   f"write it as {{\"field\": value, ...}}")
    known = sorted(model.model_fields)
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "(the whole policy)"
            if error["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(error["loc"][0]), known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "known fields: " + ", ".join(known)
                problems.append(f"unknown field '{field}' ({hint}); remove or rename it")
            else:
                got = json.dumps(error.get("input"), default=str)
                got = got if len(got) <= 60 else got[:57] + "..."
                problems.append(f"field '{field}': {error['msg']} (got {got}); fix its value")
        raise fail("; ".join(problems)) from None


def open_model(spec: str | None, loading: Callable[[str], AbstractContextManager] | None = None,
               **options: Any) -> Any:
    """The model backend for `spec` (a GGUF file or an http(s) server URL), or None without one. `loading(text)`
    wraps the load (a spinner); the text and the log name a server URL without its credentials."""
    if not spec:
        return None
    from defai_swarm.core.urls import redact_url
    from defai_swarm.llm import load_backend

    shown = redact_url(spec) if "://" in spec else spec  # a server URL's credentials are never shown
    with (loading or (lambda _text: nullcontext()))(f"loading model {shown}..."):
        backend = load_backend(spec, **options)
    log.info("model loaded: %s", shown)
    return backend


def open_swarm(options: SessionOptions | None = None, *, on_task: Callable[[str, dict], None] | None = None,
               on_progress: Callable[[Any], None] | None = None,
               loading: Callable[[str], AbstractContextManager] | None = None, **swarm_kwargs: Any) -> "Swarm":
    """A Swarm as `options` say (see the module docstring). `swarm_kwargs` go to `Swarm` as they are and win over
    what the options would give (e.g. `backend=`, `policy=` a policy object, `store=`)."""
    options = options or SessionOptions()
    from defai_swarm.chains import adapter_class, read_config

    path, family = chain_config_path(options.config, options.manifest, options.chain)
    # The policy file first: a mistake in it is reported before any model is loaded or node contacted.
    if "policy" not in swarm_kwargs and options.policy:
        swarm_kwargs["policy"] = load_policy(options.policy, adapter_class(family).policy_model)
    if "backend" not in swarm_kwargs:
        swarm_kwargs["backend"] = open_model(options.model_spec(), loading)
    swarm_kwargs.setdefault("anchor", options.anchor)
    swarm_kwargs.setdefault("k", options.k)
    if options.home is not None:
        swarm_kwargs.setdefault("home", user_path(options.home))

    def task_done(task_id: str, result: dict) -> None:
        log.info("task %s: %s", task_id, result.get("status"))
        if on_task is not None:
            on_task(task_id, result)

    from defai_swarm.api import Swarm
    try:
        swarm = Swarm.from_config(path, on_task=task_done, on_progress=on_progress, **swarm_kwargs)
    except RpcUnavailable as exc:
        raise RpcUnavailable(unreachable(path, family, exc)) from None
    if options.align_devnet_pools and not swarm.before_run:
        from defai_swarm.tools.devnet.local import local_devnet

        devnet = local_devnet(family)
        if devnet is not None and (hook := devnet.before_run(path, read_config(path))) is not None:
            swarm.before_run.append(hook)  # `swarm devnet up --keep-pools-aligned`
    return swarm


def unreachable(path: Path, family: str, exc: Exception) -> str:
    """One line for a node that does not answer: where we looked, and what to do about it."""
    from urllib.parse import urlparse

    from defai_swarm.chains import read_config

    url = str(read_config(path).get("rpc_url") or "?")
    host = urlparse(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        from defai_swarm.tools.devnet.local import local_devnet

        devnet = local_devnet(family)
        up = devnet.up_command if devnet is not None else "swarm devnet up"
        return f"cannot reach the RPC at {url}; is the devnet running? `{up}` ({exc}; chain configuration: {path})"
    return f"cannot reach the RPC at {url} ({exc}); check `rpc_url` in {path} and the network"


__all__ = ["MODEL_ENV", "SessionOptions", "chain_config_path", "load_policy", "open_model", "open_swarm", "unreachable"]
