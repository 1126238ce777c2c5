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
| `TransformerDecoderBlock` | `transformer.py` | masked self-attention, cross-attention, FFN | Vaswani et al. 2017 |
| `CausalSelfAttention` | `causal.py` | causal MHA/GQA/MQA, RoPE, KV cache | Vaswani et al. 2017; Ainslie et al. 2023 |
| `PositionalEmbedding` | `transformer.py` | token embedding plus sinusoidal positions | Vaswani et al. 2017 |
| `BahdanauDecoder` | `decoder.py` | a GRU decoder that attends with its previous state | Bahdanau et al. 2014 |
| `ChannelAttention` | `cbam.py` | channel weights from average- and max-pooled descriptors | Woo et al. 2018, eq. 2 |
| `SpatialAttention` | `cbam.py` | position weights from a 7x7 convolution over pooled maps | Woo et al. 2018, eq. 3 |
| `CBAM` | `cbam.py` | channel attention, then spatial attention | Woo et al. 2018, eq. 1 |
| `SqueezeExcitation` | `squeeze_excitation.py` | channel weights from the average alone | Hu et al. 2018 |

The query/value layers read like Keras's own attention layers: inputs `[query, value]` or
`[query, value, key]`, masks `[query_mask, value_mask]` by the package's one mask rule (the "Masks"
section of `attention_utils`'s docstring), `return_attention_scores` as a call argument; they share
`BaseAttention` (`_base.py`), whose `call` runs the hooks `_calculate_score_mask`, `_calculate_scores` and
`_apply_scores` that each variant overrides. Every layer is registered for serialization, so a model
using it saves to `.keras` and loads back. The feature-map layers (CBAM and its modules, SE) take
channels-last maps `(batch_size, height, width, channels)`.
"""

from attention_utils.layers.bahdanau import BahdanauAttention
from attention_utils.layers.causal import CausalSelfAttention
from attention_utils.layers.cbam import CBAM, ChannelAttention, SpatialAttention
from attention_utils.layers.coattention import ParallelCoAttention
from attention_utils.layers.decoder import BahdanauDecoder
from attention_utils.layers.hard import HardAttention, reinforce_loss
from attention_utils.layers.hierarchical import AttentionPooling
from attention_utils.layers.local import LocalAttention
from attention_utils.layers.luong import LuongAttention
from attention_utils.layers.meta_embeddings import DynamicMetaEmbedding
from attention_utils.layers.squeeze_excitation import SqueezeExcitation
from attention_utils.layers.structured import StructuredSelfAttention, frobenius_penalty
from attention_utils.layers.transformer import PositionalEmbedding, TransformerDecoderBlock, TransformerEncoderBlock

__all__ = [
    "CBAM",
    "AttentionPooling",
    "BahdanauAttention",
    "BahdanauDecoder",
    "CausalSelfAttention",
    "ChannelAttention",
    "DynamicMetaEmbedding",
    "HardAttention",
    "LocalAttention",
    "LuongAttention",
    "ParallelCoAttention",
    "PositionalEmbedding",
    "SpatialAttention",
    "SqueezeExcitation",
    "StructuredSelfAttention",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "frobenius_penalty",
    "reinforce_loss",
]
