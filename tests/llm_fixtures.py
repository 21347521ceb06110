"""Pytest plugin: the tiny random-weight R1-shaped model, built once per session."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field, field_validator

from defai_swarm.llm.tiny import build_tiny_model


class Never(BaseModel):
    """A schema whose grammar-valid answers the validator always rejects: every structured attempt fails."""

    size: int = Field(ge=1, le=3)

    @field_validator("size")
    @classmethod
    def reject(cls, v: int) -> int:
        raise ValueError("size is never acceptable")


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a freshly built tiny qwen2 GGUF (R1 chat template, byte-level BPE vocab)."""
    return build_tiny_model(tmp_path_factory.mktemp("llm") / "tiny-r1-qwen2.gguf")
