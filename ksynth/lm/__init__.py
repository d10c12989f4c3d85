"""The learned model: tokenisation (tokens.py, no heavy imports), the transformers causal LM
(model.py, imports torch lazily), training data (data.py). The search uses it through
ksynth.search.lm_policy and the `seqcoder` strategy."""
