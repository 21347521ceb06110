"""A tiny random-weight R1-shaped GGUF, built offline, for tests and benchmarks.

The weights are random, so the model says nothing meaningful: it exists to exercise
the plumbing (chat template, reasoning split, grammars, determinism, accounting,
threading) in well under a second, with no download.  It is a `qwen2` model (the
architecture of the DeepSeek-R1 distills) with one block, a byte-level GPT-2 style BPE
tokenizer written here (all 256 byte tokens, a few merges, R1's special tokens) and
DeepSeek-R1's chat template.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .template import R1_BOS, R1_CHAT_TEMPLATE, R1_EOS, THINK_CLOSE, THINK_OPEN

if TYPE_CHECKING:
    import numpy as np

BOS, EOS = R1_BOS, R1_EOS
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"

# A few merges so the BPE path is exercised; each pair's concatenation is in the vocab.
_MERGES = [
    ("Ġ", "t"), ("h", "e"), ("i", "n"), ("e", "r"), ("Ġ", "a"), ("o", "n"),
    ("Ġt", "he"), ("r", "e"), ("Ġ", "s"), ("a", "t"), ("e", "n"), ("o", "r"),
    ('"', ":"), ("Ġ", '"'), ("Ċ", "Ċ"), ("in", "g"),
]
# (text, token type): control tokens are not rendered in output; <think> tags are.
_SPECIALS = [
    (BOS, 3), (EOS, 3), (USER, 3), (ASSISTANT, 3), (THINK_OPEN, 4), (THINK_CLOSE, 4),
]

N_EMBD, N_HEAD, N_HEAD_KV, N_FF, N_CTX = 32, 4, 2, 64, 4096


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable-unicode map (what byte-level BPE vocabularies store)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def tiny_vocab() -> tuple[list[str], list[int], list[str]]:
    """(tokens, token types, merges) of the tiny byte-level BPE tokenizer."""
    tokens = [_bytes_to_unicode()[b] for b in range(256)]
    tokens += [a + b for a, b in _MERGES]
    types = [1] * len(tokens)
    for text, kind in _SPECIALS:
        tokens.append(text)
        types.append(kind)
    assert len(set(tokens)) == len(tokens)
    return tokens, types, [f"{a} {b}" for a, b in _MERGES]


def _write(path: Path, seed: int, chat_template: str | None) -> None:
    import gguf
    import numpy as np  # here, not at import: `swarm plan` loads defai_swarm.llm and never builds a model

    tokens, types, merges = tiny_vocab()
    n_vocab, head_dim = len(tokens), N_EMBD // N_HEAD
    n_kv = N_HEAD_KV * head_dim
    rng = np.random.default_rng(seed)

    def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_name("tiny-r1-qwen2-random")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(1)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index(BOS))
    w.add_eos_token_id(tokens.index(EOS))
    w.add_pad_token_id(tokens.index(EOS))
    w.add_add_bos_token(True)
    if chat_template is not None:
        w.add_chat_template(chat_template)

    # numpy shapes are (rows, cols) = ggml's {ne0=cols, ne1=rows} reversed.
    # Weights of scale ~1/sqrt(fan_in) keep activations O(1); a larger output
    # projection makes the logits peaked, so greedy choices are far from ties.
    s = N_EMBD ** -0.5
    w.add_tensor("token_embd.weight", rand(n_vocab, N_EMBD))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor("blk.0.attn_q.weight", rand(N_EMBD, N_EMBD, scale=s))
    w.add_tensor("blk.0.attn_q.bias", rand(N_EMBD, scale=0.1))
    w.add_tensor("blk.0.attn_k.weight", rand(n_kv, N_EMBD, scale=s))
    w.add_tensor("blk.0.attn_k.bias", rand(n_kv, scale=0.1))
    w.add_tensor("blk.0.attn_v.weight", rand(n_kv, N_EMBD, scale=s))
    w.add_tensor("blk.0.attn_v.bias", rand(n_kv, scale=0.1))
    w.add_tensor("blk.0.attn_output.weight", rand(N_EMBD, N_EMBD, scale=s))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor("blk.0.ffn_gate.weight", rand(N_FF, N_EMBD, scale=s))
    w.add_tensor("blk.0.ffn_up.weight", rand(N_FF, N_EMBD, scale=s))
    w.add_tensor("blk.0.ffn_down.weight", rand(N_EMBD, N_FF, scale=N_FF ** -0.5))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor("output.weight", rand(n_vocab, N_EMBD, scale=1.0))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def build_tiny_model(
    path: str | os.PathLike[str], seed: int = 0, *, chat_template: str | None = R1_CHAT_TEMPLATE
) -> Path:
    """Write the tiny model to `path` and return it.

    `chat_template=None` leaves the template out (to test the built-in fallback).

    Idempotent: the file is built in a temporary file next to `path` and only
    replaces `path` (atomically) when the bytes differ, so an unchanged file keeps
    its mtime and any cached hash stays valid.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write(tmp, seed, chat_template)
        if path.is_file() and path.read_bytes() == tmp.read_bytes():
            return path
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
