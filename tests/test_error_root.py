"""One error root (issue 25): every error the library raises on purpose is a `defai_swarm.core.errors.SwarmError`,
and the `swarm` command's exit code follows from the error's class (`defai_swarm.cli.errors.classify`), never from
its name or message."""
from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil

import pytest

import defai_swarm
from defai_swarm.cli.errors import EXIT_CODE_BY_CLASS, UsageError, classify
from defai_swarm.core.errors import (ChainMismatch, ConfigError, EffectRefused, NotRunning, Refused, RpcUnavailable,
                                     SwarmError, UnknownRun, UnknownToken)
from defai_swarm.exitcodes import ExitCode

# Exceptions that are not errors of the library but signals inside one module, caught there and never raised to a
# caller (each checked by reading its module). Nothing else may stay outside the tree.
NOT_RAISED_OUT = {
    "defai_swarm.audit.canonical._NotPlain",  # "not plain JSON": the encoder falls back to its slow walk
    "defai_swarm.planner.language.Refuse",  # the parser's refusal, turned into a ParseFailure by the planner
    "defai_swarm.tools.solana.executor._Refused",  # a pre-send check failed: the executor returns a refused result
    "defai_swarm.tools.solana.rpc._Transient",  # a retryable read failure, for tenacity's retry predicate
}


def _library_classes() -> dict[str, type]:
    """Every class defined in a module of the library (swarm/, agents/, tools/: all under defai_swarm)."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(defai_swarm.__path__, "defai_swarm."):
        if info.name.endswith("__main__"):  # `python -m defai_swarm.cli` would run the command
            continue
        module = importlib.import_module(info.name)
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def _is_error_class(cls: type) -> bool:
    return issubclass(cls, BaseException) or cls.__name__.endswith(("Error", "Exception"))


def test_every_error_class_of_the_library_derives_from_swarm_error():
    classes = _library_classes()
    errors = {name: cls for name, cls in classes.items() if _is_error_class(cls)}
    assert len(errors) > 40  # the walk did reach the chain tools and the devnets
    assert set(NOT_RAISED_OUT) <= set(errors), "an allow-listed class is gone: drop it from the list"
    assert not [n for n in NOT_RAISED_OUT if issubclass(errors[n], SwarmError)], "joined the tree: drop it from the list"
    outside = sorted(name for name, cls in errors.items()
                     if name not in NOT_RAISED_OUT and not (isinstance(cls, type) and issubclass(cls, SwarmError)))
    assert outside == []


@pytest.mark.parametrize("name, base", [
    ("defai_swarm.llm.errors.ModelError", None),
    ("defai_swarm.planner.build.PlanBuildError", ValueError),
    ("defai_swarm.planner.slots.ModelSlotsError", ValueError),
    ("defai_swarm.starter.StarterError", ValueError),
    ("defai_swarm.audit.verify.BundleError", ValueError),
    ("defai_swarm.audit.verify.BundleFileError", ValueError),
    ("defai_swarm.audit.checkpoint.NoteError", ValueError),
    ("defai_swarm.audit.redact.SecretLeakError", ValueError),
    ("defai_swarm.audit.keys.KeyFileError", None),
    ("defai_swarm.llm.errors.ModelNotFoundError", FileNotFoundError),
    ("defai_swarm.core.errors.UnknownRun", KeyError),
])
def test_re_parented_errors_keep_the_base_their_callers_catch(name, base):
    module, _, attr = name.rpartition(".")
    cls = getattr(importlib.import_module(module), attr)
    assert issubclass(cls, SwarmError)
    if base is not None:
        assert issubclass(cls, base)


def _usage_error() -> UsageError:
    return UsageError(argparse.ArgumentParser(prog="swarm"), "unrecognized arguments: --nope")


@pytest.mark.parametrize("exc, code", [
    (Refused("the price moved"), ExitCode.REFUSED),
    (EffectRefused("no approval"), ExitCode.REFUSED),
    (_usage_error(), ExitCode.USAGE),
    (UnknownRun("no run nosuchrun in /tmp/runs.db"), ExitCode.USAGE),
    (ConfigError("policy file p.json: not valid JSON"), ExitCode.ERROR),
    (ChainMismatch("another chain answers"), ExitCode.ERROR),
    (RpcUnavailable("cannot reach the RPC"), ExitCode.ERROR),
    (NotRunning("no devnet running"), ExitCode.ERROR),
    (UnknownToken("unknown token FOO"), ExitCode.ERROR),
    (FileNotFoundError("no such file: x.json"), ExitCode.ERROR),
])
def test_classify_gives_the_documented_exit_code_by_class(exc, code):
    got, message = classify(exc)
    assert got == code
    assert message == str(exc) and not message.startswith("unexpected")


def test_the_library_errors_of_each_layer_are_classified_by_class():
    from defai_swarm.audit.keys import KeyFileError
    from defai_swarm.audit.verify import BundleFileError
    from defai_swarm.llm.errors import ModelNotFoundError
    from defai_swarm.planner.build import PlanBuildError
    from defai_swarm.runrecords import RecordNotAuthentic

    assert classify(ModelNotFoundError("no model at /m.gguf"))[0] == ExitCode.ERROR
    assert classify(PlanBuildError("not divisible"))[0] == ExitCode.ERROR
    assert classify(BundleFileError("not a bundle"))[0] == ExitCode.ERROR
    assert classify(KeyFileError("key file too widely readable"))[0] == ExitCode.ERROR
    assert classify(RecordNotAuthentic("not this wallet's seal"))[0] == ExitCode.REFUSED


def test_an_unknown_run_is_usage_but_any_other_key_error_is_unexpected():
    """No blanket `KeyError -> usage`: a KeyError from a bug is an unexpected error (exit 1, said so), and only the
    library's own `UnknownRun` (a run id this machine does not have) is the caller's mistake (exit 2)."""
    code, message = classify(KeyError("fee"))
    assert code == ExitCode.ERROR and message.startswith("unexpected KeyError")
    code, message = classify(UnknownRun("no run r1 in runs.db"))
    assert (code, message) == (ExitCode.USAGE, "no run r1 in runs.db")  # not KeyError's quoted repr


def test_every_swarm_error_of_the_library_maps_to_a_documented_code_never_unexpected():
    documented = {ExitCode.REFUSED, ExitCode.USAGE, ExitCode.ERROR}
    for name, cls in _library_classes().items():
        if not (issubclass(cls, SwarmError)):
            continue
        try:
            exc = cls("what went wrong")
        except Exception:  # a constructor that wants more than a message (UsageError's parser, ...): made bare
            exc = BaseException.__new__(cls, "what went wrong")
        code, message = classify(exc)
        assert code in documented, name
        assert not message.startswith("unexpected"), name
        assert (code == ExitCode.REFUSED) == issubclass(cls, Refused), name


def test_the_table_lists_a_subclass_before_its_base():
    classes = [cls for cls, _code in EXIT_CODE_BY_CLASS]
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, earlier) for earlier in classes[:i]), cls
