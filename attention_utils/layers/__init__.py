"""Keras 3 attention layers, a module per family.

| layer               | module        | score                                      | source               |
|---------------------|---------------|--------------------------------------------|----------------------|
| `BahdanauAttention` | `bahdanau.py` | `v^T tanh(W_q q + W_k k)`                  | Bahdanau et al. 2014 |
| `LuongAttention`    | `luong.py`    | `q . k`, `q^T W k` or `v^T tanh(W [q; k])` | Luong et al. 2015    |

Both read like Keras's own attention layers: inputs `[query, value]` or `[query, value, key]`, boolean
masks `[query_mask, value_mask]` where `True` means "attend", `return_attention_scores` as a call
argument, and registered for serialization, so a model using them saves to `.keras` and loads back.
"""

from attention_utils.layers.bahdanau import BahdanauAttention
from attention_utils.layers.luong import LuongAttention

__all__ = ["BahdanauAttention", "LuongAttention"]
