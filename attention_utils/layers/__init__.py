"""Keras 3 attention layers, a module per family.

| layer | module | what it computes | source |
| --- | --- | --- | --- |
| `BahdanauAttention` | `bahdanau.py` | `v^T tanh(W_q q + W_k k)` | Bahdanau et al. 2014 |
| `LuongAttention` | `luong.py` | `q . k`, `q^T W k` or `v^T tanh(W [q; k])` | Luong et al. 2015 |
| `HardAttention` | `hard.py` | one value, chosen by argmax or by sampling | Xu et al. 2015 |
| `LocalAttention` | `local.py` | a window around `p_t` (local-m, local-p) | Luong et al. 2015 |
| `ParallelCoAttention` | `coattention.py` | `C = tanh(Q^T W_b V)`, attention both ways | Lu et al. 2016 |
| `AttentionPooling` | `hierarchical.py` | word- or sentence-level pooling with `u_w` | Yang et al. 2016 |
| `DynamicMetaEmbedding` | `meta_embeddings.py` | attention over several embeddings of a token | Kiela et al. 2018 |
| `StructuredSelfAttention` | `structured.py` | `A = softmax(W_s2 tanh(W_s1 H^T))`, r hops | Lin et al. 2017 |
| `TransformerEncoderBlock` | `transformer.py` | self-attention, add & norm, feed-forward | Vaswani et al. 2017 |
| `PositionalEmbedding` | `transformer.py` | token embedding plus sinusoidal positions | Vaswani et al. 2017 |

The query/value layers read like Keras's own attention layers: inputs `[query, value]` or
`[query, value, key]`, boolean masks `[query_mask, value_mask]` where `True` means "attend",
`return_attention_scores` as a call argument. Every layer is registered for serialization, so a model
using it saves to `.keras` and loads back.
"""

from attention_utils.layers.bahdanau import BahdanauAttention
from attention_utils.layers.coattention import ParallelCoAttention
from attention_utils.layers.hard import HardAttention, reinforce_loss
from attention_utils.layers.hierarchical import AttentionPooling
from attention_utils.layers.local import LocalAttention
from attention_utils.layers.luong import LuongAttention
from attention_utils.layers.meta_embeddings import DynamicMetaEmbedding
from attention_utils.layers.structured import StructuredSelfAttention, frobenius_penalty
from attention_utils.layers.transformer import PositionalEmbedding, TransformerEncoderBlock

__all__ = [
    "AttentionPooling",
    "BahdanauAttention",
    "DynamicMetaEmbedding",
    "HardAttention",
    "LocalAttention",
    "LuongAttention",
    "ParallelCoAttention",
    "PositionalEmbedding",
    "StructuredSelfAttention",
    "TransformerEncoderBlock",
    "frobenius_penalty",
    "reinforce_loss",
]
