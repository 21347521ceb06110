"""Choosing the next token: llama.cpp's samplers, with top-k applied before the grammar.

llama-cpp-python chains its samplers as grammar -> top-k -> typical -> top-p -> min-p ->
temperature -> dist (or grammar -> greedy).  The grammar therefore checks every token
of the vocabulary at every step: with Gemma 3's 262k tokens and the planner's grammar
that ran at 0.45 tokens/s.  `TokenSampler` turns the order around:

* greedy: tokens are checked in descending-logit order (a window of 64, widened x8
  only if none passes), and the first valid one wins: exactly the token grammar-first
  greedy picks (ties to the lower id, like llama.cpp), so greedy output is unchanged.
* sampling: the grammar keeps the valid tokens among the `top_k` most likely ones,
  then typical -> top-p -> min-p -> temperature -> dist run on them as usual.  Only if
  none of the top k is valid is the window widened (x8) until one is.  Valid tokens
  outside the top k (by construction improbable) are no longer candidates; `top_k=0`
  keeps the full grammar-first behaviour (every token checked, slow on big vocabularies).

Free text uses llama-cpp-python's own chain unchanged, so a backend call and a raw
`create_completion` with the same settings decode the same tokens.
"""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

from .errors import ModelError
from .types import SamplingSettings

if TYPE_CHECKING:
    import numpy as np

    _TOKEN_DATA: np.dtype
FIRST_WINDOW = 64  # tokens checked against the grammar before widening (x8 each time)


def _load_numpy() -> None:
    """Import numpy on first sampler use: importing the backend (as planning without a model does) stays light."""
    global np, _TOKEN_DATA
    import numpy as np
    # llama_token_data {int32 id; float logit; float p;}: 12 bytes, no padding.
    _TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class GrammarSampler:
    """A llama.cpp grammar sampler for one grammar text, reset before each decode (parsed once)."""

    def __init__(self, llama: Any, grammar: Any):
        import llama_cpp

        lib: Any = llama_cpp  # C bindings: typed loosely on purpose (ctypes pointers and byref)
        self._lib = lib
        vocab = lib.llama_model_get_vocab(llama.model)
        self.ptr: Any = lib.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self.ptr:
            raise ModelError("llama.cpp rejected the grammar (see grammar_for, which checks it first)")

    def reset(self) -> None:
        self._lib.llama_sampler_reset(self.ptr)

    def close(self) -> None:
        if self.ptr:
            self._lib.llama_sampler_free(self.ptr)
            self.ptr = None


class TokenSampler:
    """Samples from the logits of the last evaluated token; `grammar` (reset by the caller) constrains it."""

    def __init__(self, llama: Any, settings: SamplingSettings, seed: int, grammar: GrammarSampler | None = None):
        import llama_cpp

        _load_numpy()

        lib: Any = llama_cpp
        self._lib = lib
        self._ctx = llama.ctx
        self._n_vocab = llama.n_vocab()
        self._eos = llama.token_eos()
        self._grammar = grammar
        self._greedy = settings.temperature <= 0.0
        # tokens checked against the grammar first: greedy needs one valid token, sampling the valid top-k
        self._window = FIRST_WINDOW if self._greedy else (settings.top_k if settings.top_k > 0 else self._n_vocab)
        # free text: exactly llama-cpp-python's chain (Llama._init_sampler) without its no-op penalties;
        # under a grammar the same chain runs after the lazily found top-k valid candidates
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        add = lib.llama_sampler_chain_add
        if self._greedy:
            add(chain, lib.llama_sampler_init_greedy())
        else:
            if grammar is None:
                add(chain, lib.llama_sampler_init_top_k(settings.top_k))
            add(chain, lib.llama_sampler_init_typical(1.0, 1))
            add(chain, lib.llama_sampler_init_top_p(settings.top_p, 1))
            add(chain, lib.llama_sampler_init_min_p(settings.min_p, 1))
            add(chain, lib.llama_sampler_init_temp(settings.temperature))
            add(chain, lib.llama_sampler_init_dist(seed))
        self._chain: Any = chain
        self._top_k: dict[int, Any] = {}  # window -> llama.cpp top-k sampler (finds the window in C)
        self._all: np.ndarray | None = None  # the whole vocabulary as llama_token_data, for those samplers
        self._ids = np.zeros(0, np.int32)

    def close(self) -> None:
        for ptr in self._top_k.values():
            self._lib.llama_sampler_free(ptr)
        self._top_k.clear()
        if self._chain:
            self._lib.llama_sampler_free(self._chain)
            self._chain = None

    def sample(self) -> int:
        """The next token, already accepted by the sampler state (grammar included)."""
        lib = self._lib
        if self._grammar is None:
            return int(lib.llama_sampler_sample(self._chain, self._ctx, -1))
        ptr = lib.llama_get_logits_ith(self._ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
        ids, cand_logits = self._valid_candidates(logits)
        if self._greedy:
            token = int(ids[0])
        else:
            buf = np.zeros(len(ids), _TOKEN_DATA)
            buf["id"], buf["logit"] = ids, cand_logits
            arr = self._array(buf, is_sorted=True)
            lib.llama_sampler_apply(self._chain, ctypes.byref(arr))
            token = int(buf["id"][arr.selected])
        lib.llama_sampler_accept(self._chain, token)
        lib.llama_sampler_accept(self._grammar.ptr, token)
        return token

    def grammar_complete(self) -> bool:
        """True once the grammar accepts end of text (a JSON object's closing brace was written)."""
        if self._grammar is None:
            return False
        buf = np.zeros(1, _TOKEN_DATA)
        buf["id"] = self._eos
        self._lib.llama_sampler_apply(self._grammar.ptr, ctypes.byref(self._array(buf)))
        return bool(np.isfinite(buf["logit"][0]))

    # -- internals --

    def _array(self, buf: np.ndarray, is_sorted: bool = False) -> Any:
        return self._lib.llama_token_data_array(
            data=buf.ctypes.data_as(self._lib.llama_token_data_p), size=len(buf), selected=-1, sorted=is_sorted)

    def _top(self, logits: np.ndarray, window: int) -> np.ndarray:
        """Ids of the `window` highest logits, best first, ties to the lower id (llama.cpp's top-k does the
        selection in C: about 20x faster than numpy's argpartition over 262k logits)."""
        if self._all is None:
            self._all, self._ids = np.zeros(self._n_vocab, _TOKEN_DATA), np.arange(self._n_vocab, dtype=np.int32)
        buf = self._all
        buf["id"] = self._ids  # top-k reorders the array in place: refill it every time
        buf["logit"] = logits
        if window not in self._top_k:
            self._top_k[window] = self._lib.llama_sampler_init_top_k(window)
        arr = self._array(buf)
        self._lib.llama_sampler_apply(self._top_k[window], ctypes.byref(arr))
        top = buf[: arr.size]
        return top["id"][np.lexsort((top["id"], -top["logit"]))]

    def _valid_candidates(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The grammar-valid tokens of the smallest window (top-`window` by logit, widened x8) that has any,
        best first (ties: lower id first, like llama.cpp)."""
        assert self._grammar is not None
        n_vocab = self._n_vocab
        window = min(n_vocab, self._window)
        known = np.zeros(0, np.int32)  # ids already checked
        known_ok = np.zeros(0, bool)
        while True:
            whole = window >= n_vocab  # the whole vocabulary: no need to sort it, only its valid tokens
            order = np.arange(n_vocab, dtype=np.int32) if whole else self._top(logits, window)
            fresh = order[~np.isin(order, known)]
            buf = np.zeros(len(fresh), _TOKEN_DATA)
            buf["id"], buf["logit"] = fresh, logits[fresh]
            self._lib.llama_sampler_apply(self._grammar.ptr, ctypes.byref(self._array(buf)))
            known = np.concatenate([known, fresh])
            known_ok = np.concatenate([known_ok, np.isfinite(buf["logit"])])
            valid = order[np.isin(order, known[known_ok])]
            if whole:
                valid = valid[np.lexsort((valid, -logits[valid]))]
            if len(valid) or whole:
                break
            window = min(n_vocab, window * 8)
        if len(valid) == 0:
            raise ModelError("the grammar allows no next token (the answer cannot be completed)")
        if self._greedy:
            valid = valid[:1]
        return valid, logits[valid].astype(np.float32)
