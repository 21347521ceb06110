"""Errors of the model layer: one base class, so callers can catch `ModelError`."""
from __future__ import annotations

from typing import Any

from defai_swarm.core.errors import SwarmError

HOW_TO_GET_A_MODEL = (
    "No model is downloaded at run time. Download a DeepSeek-R1 distill GGUF yourself, "
    "e.g. DeepSeek-R1-Distill-Qwen-1.5B Q4_K_M (about 1.1 GB), "
    "and set SWARM_MODEL=/path/to/file.gguf (or pass the path explicitly)."
)


class ModelError(SwarmError):
    """Base class of every error raised by defai_swarm.llm."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """No model path was given, or the file does not exist."""


class ModelLoadError(ModelError):
    """The file exists but is not a loadable GGUF model."""


class PromptFormatError(ModelError):
    """The model's prompt format is unknown: no chat template in the GGUF and no (known) declared family.

    Raised instead of silently formatting the prompt for another model (e.g. DeepSeek-R1's
    markers, which other models read as plain text).
    """


class SchemaGrammarError(ModelError):
    """A JSON schema could not be turned into a GBNF grammar.

    Raised instead of silently decoding free-form JSON (what llama-cpp-python's
    `response_format` does when conversion fails).
    """


class StructuredOutputError(ModelError):
    """No attempt produced a valid instance; `attempts` holds every try (answer + error)."""

    def __init__(self, message: str, attempts: list[Any]):
        super().__init__(message)
        self.attempts = attempts

    def __reduce__(self):  # pickled with its attempts (it crosses processes from a cluster's model actor)
        return (type(self), (str(self), self.attempts))
