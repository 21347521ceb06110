"""Model inference on a cluster: a small pool of Ray actors, each holding one loaded model.

Why a pool: a GGUF loaded in every wallet actor costs its memory and load time once per wallet. N model actors
(one loaded model each, one call at a time: a `llama_cpp.Llama` is not thread-safe) serve every wallet actor of
the cluster; more actors, more plans decoded at once. An OpenAI-compatible server URL is the other way
(`SwarmPool(model="http://...")`): then every wallet actor talks to that server.

`RemoteModelBackend` is the `defai_swarm.llm.ModelBackend` a wallet actor plans with: each call goes to the next model
actor (round robin), and a plan's k model readings go out side by side (`parallel_calls`). The model actor collects the call's `CallEvent`s (what the audit log records of each model
call) and returns them with the answer; the wallet actor gives them to its own observer, so the audit log is
written where the run is, as with a model in the same process. A model actor holds no key and sees only prompts.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from pydantic import BaseModel

from defai_swarm.cluster.node import node_id
from defai_swarm.llm import notify
from defai_swarm.llm.errors import ModelError
from defai_swarm.llm.types import CallEvent, ChatMessage, Completion, ModelInfo, SamplingSettings

log = logging.getLogger(__name__)

CALLS = ("chat", "structured", "complete_prompt")


@dataclass(frozen=True)
class ModelReply:
    """One call's outcome as it crosses Ray: the answer or the model error, and every call event on the way."""

    result: Any
    events: list[CallEvent]
    error: ModelError | None = None


class ModelActor:
    """One loaded model serving calls one at a time (wrap with `ray.remote`; see `SwarmPool`)."""

    def __init__(self, model: str, options: dict | None = None):
        from defai_swarm.session import open_model

        self.backend: Any = open_model(model, **(options or {}))
        self._schemas: dict[str, type[BaseModel]] = {}
        self.served = 0

    def info(self) -> ModelInfo:
        return self.backend.info

    def where(self) -> dict:
        return {"node": node_id(), "pid": os.getpid(), "served": self.served}

    def call(self, method: str, args: tuple, kwargs: dict) -> ModelReply:
        if method not in CALLS:
            return ModelReply(None, [], ModelError(f"a model actor answers {', '.join(CALLS)}, not {method!r}"))
        kwargs = {**kwargs, "schema": self._same_schema(kwargs.get("schema"))} if "schema" in kwargs else kwargs
        events: list[CallEvent] = []
        self.served += 1
        self.backend.on_call = events.append
        try:
            result = getattr(self.backend, method)(*args, **kwargs)
        except ModelError as exc:
            return ModelReply(None, events, exc)
        except Exception as exc:  # a crash of the model library: the caller's planner records it and goes on
            log.warning("model actor: %s failed", method, exc_info=True)
            return ModelReply(None, events, ModelError(f"model actor failed: {type(exc).__name__}: {exc}"))
        finally:
            self.backend.on_call = None
        return ModelReply(result, events)

    def _same_schema(self, schema: type[BaseModel] | None) -> type[BaseModel] | None:
        """A schema class built at run time arrives as a new class on every call; the first one with the same JSON
        schema is used instead, so the backend's grammar cache (keyed by class) is hit."""
        if schema is None:
            return None
        key = json.dumps(schema.model_json_schema(), sort_keys=True)
        return self._schemas.setdefault(key, schema)


class RemoteModelBackend:
    """The wallet actor's model: calls go round robin to the cluster's model actors (see the module docstring)."""

    def __init__(self, actors: Sequence[Any], timeout: float | None = 600):
        import ray

        if not actors:
            raise ModelError("a remote model backend needs at least one model actor")
        self._ray, self._actors, self.timeout = ray, list(actors), timeout
        infos: list[ModelInfo] = ray.get([a.info.remote() for a in self._actors], timeout=timeout)
        if len({i.sha256 for i in infos}) != 1:
            raise ModelError("the cluster's model actors hold different model files: give them all the same GGUF")
        self.info: ModelInfo = infos[0]
        self.on_call: Any = None
        self.parallel_calls = len(self._actors)  # the planner sends its k readings side by side (defai_swarm.planner.got)
        self._turn = itertools.cycle(range(len(self._actors)))
        self._lock = threading.Lock()
        self._observing = threading.Lock()  # calls finish on several threads: the observer sees one event at a time

    def chat(self, messages: Sequence[ChatMessage | Mapping[str, str]],
             settings: SamplingSettings | None = None) -> Completion:
        return self._call("chat", (list(messages), settings), {})

    def structured(self, messages: Sequence[ChatMessage | Mapping[str, str]], schema: type[BaseModel],
                   settings: SamplingSettings | None = None, max_retries: int = 2) -> Any:
        return self._call("structured", (list(messages),), {"schema": schema, "settings": settings,
                                                            "max_retries": max_retries})

    def complete_prompt(self, prompt: str, settings: SamplingSettings | None = None,
                        schema: type[BaseModel] | None = None) -> Any:
        return self._call("complete_prompt", (prompt,), {"settings": settings, "schema": schema})

    def _call(self, method: str, args: tuple, kwargs: dict) -> Any:
        with self._lock:
            actor = self._actors[next(self._turn)]
        reply: ModelReply = self._ray.get(actor.call.remote(method, args, kwargs), timeout=self.timeout)
        with self._observing:
            for event in reply.events:
                notify(self.on_call, event)
        if reply.error is not None:
            raise reply.error
        return reply.result


__all__ = ["ModelActor", "ModelReply", "RemoteModelBackend"]
