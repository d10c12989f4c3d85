"""The policy LM (ksynth/lm) as a search Policy; torch and transformers are imported on first use.

Per target, one recognition pass: the prompt's KV cache, a greedy grammar-constrained decode
(the SeqCoder-style answer, kept as `greedy`), and one forward pass over that answer whose
next-token distributions at every line start, averaged and mixed with a little of the uniform
prior, give the op weights the whole search uses (DeepCoder-style op presence, conditioned on the
target). Batched calls on top of the cached prompt: `program_bits` (scoring) and `sample`
(best-of-k proposals). Model time is spent inside the calling strategy, so it counts against the
search budget like any other work.
"""
from __future__ import annotations

import math
import os

from ksynth.dsl.ops import FUNCTION_BITS, KT_OPS
from ksynth.search.policy import OpWeights

UNIFORM_MIX = 0.1          # share of the uniform op prior mixed into the LM's op weights
_LN2 = math.log(2.0)


class LMTarget(OpWeights):
    """One target under the LM: op weights, the greedy program, batched scoring and sampling.
    The prompt is encoded at once; the recognition pass (greedy decode + op weights) runs on
    first use of `greedy` / `op_bits`, so pure scoring never pays for it."""

    def __init__(self, policy: "LMPolicy", target):
        import time

        from ksynth.lm import decode

        t0 = time.monotonic()
        self.policy, self.model = policy, policy.model
        self.enc = decode.encode_target(self.model, target)
        self._greedy, self._recognised, self._op_weights = None, False, None
        self.seconds = time.monotonic() - t0          # model time so far (prompt, recognition)

    def _recognise(self) -> None:
        import time

        from ksynth.lm import decode

        t0 = time.monotonic()
        self._recognised = True
        if self.enc is None:                  # too long for the context: the uniform prior
            self._op_weights = {op: FUNCTION_BITS for op in KT_OPS}
        else:
            (self._greedy, self.greedy_log2p), = decode.decode(self.model, self.enc, greedy=True)
            self._op_weights = self._op_bits()
        self.seconds += time.monotonic() - t0

    @property
    def greedy(self):
        if not self._recognised:
            self._recognise()
        return self._greedy

    @property
    def op_bits(self) -> dict[str, float]:
        if not self._recognised:
            self._recognise()
        return self._op_weights

    def _op_bits(self) -> dict[str, float]:
        import torch

        from ksynth.lm import tokens as T

        toks = T.program_tokens(self._greedy) if self._greedy is not None else [T.EOS]
        op_ids = torch.tensor([T.OP_TOKEN[op] for op in KT_OPS])
        dists = [self.enc.logp[0]]            # the first line's distribution
        if len(toks) > 1:
            dev = self.enc.logp.device
            import copy

            cache = copy.deepcopy(self.enc.cache)
            with torch.no_grad():
                out = self.model(input_ids=torch.tensor([toks[:-1]], device=dev), cache=cache,
                                 use_cache=True)
            lp = torch.log_softmax(out.logits[0].float(), -1)
            dists += [lp[j] for j in range(len(toks) - 1) if toks[j + 1] in T.TOKEN_OP]
        probs = torch.stack([torch.softmax(d[op_ids], -1) for d in dists]).mean(0)
        probs = (1 - UNIFORM_MIX) * probs + UNIFORM_MIX / len(KT_OPS)
        return {op: -math.log2(float(p)) for op, p in zip(KT_OPS, probs)}

    def program_bits(self, programs) -> list[float]:
        """-log2 p(program | target) under the LM; KT's prior where the prompt does not fit."""
        if self.enc is None:
            return super().program_bits(programs)
        from ksynth.lm import decode, tokens as T

        return decode.score(self.model, self.enc, [T.program_tokens(p) for p in programs])

    def sample(self, k: int, temperature: float = 1.0, seed: int = 0,
               deadline: float | None = None) -> list:
        """k grammar-constrained samples: [(Program or None, log2 p)]."""
        if self.enc is None:
            return []
        from ksynth.lm import decode

        return decode.decode(self.model, self.enc, k=k, greedy=False, temperature=temperature,
                             seed=seed, deadline=deadline)


    def beam(self, width: int, deadline: float | None = None) -> list:
        """Token-level beam search: up to `width` programs, most probable first."""
        if self.enc is None:
            return []
        from ksynth.lm import decode

        return decode.decode_beam(self.model, self.enc, width=width, deadline=deadline)


class LMPolicy:
    """A saved causal LM with ksynth's prompt format; `path` None = the shipped checkpoint."""

    name = "lm"

    def __init__(self, path=None):
        self.path = path
        self._model = None

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch

            from ksynth.errors import UsageError
            from ksynth.lm import model as lm_model

            if self.path is None and not lm_model.has_default():
                raise UsageError(f"no shipped policy checkpoint in {lm_model.DEFAULT_CHECKPOINT}; "
                                 f"train one with experiments/train_policy.py --ship")
            if os.environ.get("OMP_NUM_THREADS") is None:
                torch.set_num_threads(1)      # ENV-NOTES: more threads on a busy core crawl
            self._model = lm_model.load(self.path or lm_model.DEFAULT_CHECKPOINT)
        return self._model

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def for_target(self, target, deadline=None) -> LMTarget:
        return LMTarget(self, target)
