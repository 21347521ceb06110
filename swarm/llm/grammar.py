"""JSON schema -> GBNF grammar, failing loudly.

llama-cpp-python's `response_format` silently decodes free JSON when a schema cannot
be converted; here any failure raises `SchemaGrammarError`.  The grammar text is also
parsed by llama.cpp itself before use, because a grammar llama.cpp rejects would
otherwise only fail (or crash) in the middle of sampling.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel

from .errors import SchemaGrammarError

# llama-cpp-python's converter ignores minimum/maximum on integers; small ranges are
# rewritten as an enum so the grammar enforces them (larger ones rely on validation).
MAX_ENUM_RANGE = 256


def json_schema_of(schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema, dict):
        return copy.deepcopy(schema)
    try:
        return schema.model_json_schema()
    except Exception as e:  # pydantic cannot describe it (e.g. arbitrary types)
        raise SchemaGrammarError(f"no JSON schema for {schema!r}: {e}") from e


def int_range_as_enum(node: Any) -> Any:
    if isinstance(node, list):
        return [int_range_as_enum(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: int_range_as_enum(v) for k, v in node.items()}
    if node.get("type") == "integer" and "enum" not in node and "const" not in node:
        lo = node.get("minimum", node["exclusiveMinimum"] + 1 if "exclusiveMinimum" in node else None)
        hi = node.get("maximum", node["exclusiveMaximum"] - 1 if "exclusiveMaximum" in node else None)
        if isinstance(lo, int) and isinstance(hi, int) and 0 <= hi - lo < MAX_ENUM_RANGE:
            step = node.get("multipleOf", 1)
            node["enum"] = [v for v in range(lo, hi + 1) if isinstance(step, int) and v % step == 0]
    return node


def grammar_for(schema: type[BaseModel] | dict[str, Any], llama: Any = None):
    """A `LlamaGrammar` for `schema` (a pydantic model class or a JSON schema dict).

    With `llama` (a `llama_cpp.Llama`), the grammar is also parsed by llama.cpp.
    """
    import llama_cpp
    from llama_cpp import LlamaGrammar

    js = int_range_as_enum(json_schema_of(schema))
    name = getattr(schema, "__name__", "schema")
    try:
        grammar = LlamaGrammar.from_json_schema(json.dumps(js), verbose=False)
    except Exception as e:  # the converter signals unsupported schemas with asserts/ValueError
        raise SchemaGrammarError(f"cannot turn the JSON schema of {name} into a grammar: {e!r}") from e
    text = getattr(grammar, "_grammar", None)
    if llama is not None and text is not None:
        vocab = llama_cpp.llama_model_get_vocab(llama.model)
        if vocab is None:
            raise SchemaGrammarError(f"llama.cpp model has no vocabulary to check the grammar for {name} against")
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
        if not sampler:
            raise SchemaGrammarError(f"llama.cpp rejected the grammar built for {name}:\n{text}")
        llama_cpp.llama_sampler_free(sampler)
    return grammar
