"""GLM-1 (FlagAI's GLM-large-ch, GLM-large-en, GLM-10b-ch): config, presets, model, task models, key map.

GLM (Du et al. 2022) is one pre-LayerNorm transformer trained by autoregressive blank infilling:

* 2-D positions ``position_ids [B, 2, L]``: row 0 the absolute position (a generated span repeats
  the position of its mask token), row 1 the block position (0 in the context, 1..n in a span).
* The attention mask is a separator index per sample (``[B]``, or ``[1]`` for all): query i sees
  key j iff ``j < sep`` or ``j <= i`` -- bidirectional over the context, causal over the spans.
* The output projection is the word embedding matrix (tied, no bias).

Blank-infilling input preparation lives in :mod:`flagai_lite.model.glm_blank`.
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..block import GLMBlock, GLMClassificationHead
from ..block.glm import POOL_TOKENS
from ..errors import ConfigError, InputError
from ..generation.mixins import GenerationMixin
from ..layer import KVCache, TextEmbeddings
from .base import BaseModel
from .config import ModelConfig
# Re-exported: the blank-infilling helpers belong with the model they feed.
from .glm_blank import build_blank_infilling_inputs, build_seq2seq_inputs, step_position_ids  # noqa: F401

Tensor = torch.Tensor


@dataclass
class GLMConfig(ModelConfig):
    """GLM hyper-parameters, named exactly as in FlagAI's GLM config.json (which has no ``model_type``)."""

    family = "glm"
    model_types = ("glm1", "glm")  # "glm1" written on save; "glm" in older saves (HF "glm" is GLM-4)

    # sizes
    num_layers: int
    vocab_size: int
    hidden_size: int
    num_attention_heads: int
    max_sequence_length: int  # position tables hold max_sequence_length + 1 rows with block positions
    # behaviour
    block_position_encoding: bool = True
    relative_encoding: bool = False  # Transformer-XL positions: not supported
    output_predict: bool = True  # False: "logits" are the final hidden states
    attention_scale: float = 1.0  # an fp16 overflow guard in FlagAI; it does not change the math
    max_memory_length: int = 0  # only trims FlagAI's returned mems; unused here
    parallel_output: bool = True  # model parallelism only; unused here
    spell_length: Optional[int] = None  # P-tuning prompt encoder: not supported
    spell_func: str = "lstm"
    # training
    embedding_dropout_prob: float = 0.1
    attention_dropout_prob: float = 0.1
    output_dropout_prob: float = 0.1
    checkpoint_activations: bool = False
    checkpoint_num_layers: int = 1
    initializer_range: float = 0.02
    # task heads (FlagAI passes these to the task class rather than writing them in config.json)
    class_num: Optional[int] = None  # GLMForSequenceClassification outputs
    pool_token: str = "cls"  # GLMForSequenceClassification pooling: "cls", "start" or "pad"

    def validate(self) -> None:
        self.require_positive(
            "num_layers", "vocab_size", "hidden_size", "num_attention_heads", "max_sequence_length",
            "attention_scale", "checkpoint_num_layers", "class_num",
        )
        self.require_divides("num_attention_heads", "hidden_size")
        if self.relative_encoding:
            raise ConfigError("field 'relative_encoding' = true (Transformer-XL positions) is not supported; set false")
        if self.spell_length is not None:
            raise ConfigError(f"field 'spell_length' = {self.spell_length} (P-tuning) is not supported; use null")
        if self.pool_token not in POOL_TOKENS:
            raise ConfigError(f"field 'pool_token' must be one of {list(POOL_TOKENS)}, got {self.pool_token!r}")


GLMConfig.presets = {
    # FlagAI GLM-large-ch = THUDM blocklm-large-chinese (GLM repo config_tasks/model_blocklm_large_chinese.sh:
    # 24 x 1024, 16 heads; sentencepiece cog-pretrain vocab 50000 + GLM command tokens padded to 50048);
    # max_sequence_length 1024 as in FlagAI's GLM-large-ch config.json (and THUDM/glm-large-chinese).
    "GLM-large-ch": dict(num_layers=24, vocab_size=50048, hidden_size=1024, num_attention_heads=16,
                         max_sequence_length=1024),
    # FlagAI GLM-large-en = THUDM blocklm-large-blank (GLM repo config_tasks/model_blocklm_large.sh:
    # 24 x 1024, 16 heads, --max-position-embeddings 512; bert-large-uncased vocab padded to 30592).
    "GLM-large-en": dict(num_layers=24, vocab_size=30592, hidden_size=1024, num_attention_heads=16,
                         max_sequence_length=512),
    # FlagAI GLM-10b-ch = THUDM glm-10b-chinese (GLM repo config_tasks/model_blocklm_10B_chinese.sh:
    # 48 x 4096, 64 heads, --max-position-embeddings 1024; vocab 50048 as GLM-large-ch).
    "GLM-10b-ch": dict(num_layers=48, vocab_size=50048, hidden_size=4096, num_attention_heads=64,
                       max_sequence_length=1024),
}


def glm_attention_bias(
    attention_mask: Union[Tensor, int, None],
    *,
    batch: int,
    query_length: int,
    past_length: int,
    dtype: torch.dtype,
    device: torch.device,
) -> Optional[Tensor]:
    """GLM's attention mask as an additive bias ``[B or 1, 1, Lq, past + Lq]`` (None: everything visible).

    Args:
        attention_mask: separator index(es) ``[B]`` / ``[1]`` / int over the new tokens (query i sees new
            key j iff ``j < sep`` or ``j <= i``; cached keys are all visible), or an explicit 0/1 matrix
            ``[B, 1, Lq, Lk]`` whose last ``past + Lq`` columns are used; None for no mask.

    Raises:
        InputError: the mask has a shape that fits neither form.
    """
    if attention_mask is None or (query_length == 1 and not _is_matrix(attention_mask)):
        return None  # a single new token may see itself and every cached key
    key_length = past_length + query_length
    if _is_matrix(attention_mask):
        keep = attention_mask[..., -key_length:].to(device)  # (B, 1, Lq, Lk)
        if keep.shape[-2] != query_length or keep.shape[-1] != key_length:
            raise InputError(
                f"attention_mask matrix {tuple(attention_mask.shape)} must end in ({query_length}, >= {key_length})"
            )
        zero = torch.zeros((), dtype=dtype, device=device)
        return torch.where(keep != 0, zero, torch.finfo(dtype).min)  # (B, 1, Lq, Lk)
    sep = torch.as_tensor(attention_mask, device=device).reshape(-1)
    if sep.numel() not in (1, batch):
        raise InputError(
            f"attention_mask has {sep.numel()} separator indexes for a batch of {batch}; give one per sample "
            "[B], a single one [1], or a 0/1 matrix [B, 1, Lq, Lk]"
        )
    query = torch.arange(query_length, device=device)[:, None]  # (Lq, 1)
    key = torch.arange(query_length, device=device)[None, :]  # (1, Lq)
    allowed = (key <= query) | (key < sep.view(-1, 1, 1))  # (B or 1, Lq, Lq)
    if past_length:
        cached = torch.ones(allowed.shape[0], query_length, past_length, dtype=torch.bool, device=device)
        allowed = torch.cat([cached, allowed], dim=-1)  # (B or 1, Lq, past + Lq)
    bias = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(~allowed, torch.finfo(dtype).min)
    return bias[:, None]  # (B or 1, 1, Lq, past + Lq)


def _is_matrix(attention_mask: Any) -> bool:
    return torch.is_tensor(attention_mask) and attention_mask.dim() == 4


def seq2seq_loss(logits: Tensor, target_ids: Tensor, loss_mask: Tensor) -> Tensor:
    """FlagAI GLMForSeq2Seq's loss: ``sum(CE(logits, target, ignore_index=0) * loss_mask) / sum(loss_mask)``."""
    per_token = F.cross_entropy(logits.flatten(0, -2).float(), target_ids.flatten(), ignore_index=0, reduction="none")
    loss_mask = loss_mask.flatten().float()
    return (per_token * loss_mask).sum() / loss_mask.sum()


class GLMModel(BaseModel, GenerationMixin):
    """GLM backbone with its tied output projection.

    ``forward`` returns ``logits`` ``[B, L, V]`` (the final hidden states when ``output_predict`` is
    false), ``hidden_states`` (after the final LayerNorm, ``[B, L, H]``), ``past_key_values`` when
    caching, ``mems`` when ``return_memory`` and ``loss`` when ``labels`` are given.
    """

    config_class = GLMConfig
    architecture = "glm"

    def __init__(self, config: GLMConfig):
        super().__init__(config)
        rows = config.max_sequence_length + 1 if config.block_position_encoding else config.max_sequence_length
        self.embeddings = TextEmbeddings(
            vocab_size=config.vocab_size, hidden_size=config.hidden_size, max_positions=rows
        )
        self.block_position = nn.Embedding(rows, config.hidden_size) if config.block_position_encoding else None
        self.embedding_dropout = nn.Dropout(config.embedding_dropout_prob)
        self.layers = nn.ModuleList(
            GLMBlock(
                hidden_size=config.hidden_size,
                num_heads=config.num_attention_heads,
                dropout=config.output_dropout_prob,
                attention_dropout=config.attention_dropout_prob,
            )
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=1e-5)

    # ------------------------------------------------------------------------ backbone
    def embed(self, input_ids: Tensor, position_ids: Tensor) -> Tensor:
        """``word[ids] + position[pos[:, 0]] + block_position[pos[:, 1]]`` ``[B, L, H]`` (no LayerNorm)."""
        if self.block_position is None:
            positions = position_ids if position_ids.dim() == 2 else position_ids[:, 0]
            return self.embedding_dropout(self.embeddings(input_ids, positions))
        x = self.embeddings(input_ids, position_ids[:, 0]) + self.block_position(position_ids[:, 1])
        return self.embedding_dropout(x)

    def decode(
        self,
        *,
        input_ids: Tensor,
        position_ids: Optional[Tensor] = None,
        attention_mask: Union[Tensor, int, None] = None,
        cache: Optional[KVCache] = None,
    ) -> Tensor:
        """Final hidden states ``[B, L, H]``, appending this call's keys/values to ``cache``.

        Arguments as :meth:`forward`; the generation sessions call this with ``lm_logits``.
        """
        return self._decode(input_ids, position_ids, attention_mask, cache, keep_layer_inputs=False)[0]

    def _decode(
        self, input_ids: Tensor, position_ids: Optional[Tensor], attention_mask: Union[Tensor, int, None],
        cache: Optional[KVCache], *, keep_layer_inputs: bool,
    ) -> Tuple[Tensor, Optional[List[Tensor]]]:
        """Final hidden states and, if asked, FlagAI's mems: the embedding sum and every layer's output."""
        batch, length = input_ids.shape
        past = cache.seq_length if cache is not None else 0
        position_ids = self._position_ids(position_ids, batch, length, past, input_ids.device)
        x = self.embed(input_ids, position_ids)  # (B, L, H)
        bias = glm_attention_bias(
            attention_mask, batch=batch, query_length=length, past_length=past, dtype=x.dtype, device=x.device
        )
        states = [x] if keep_layer_inputs else None
        recompute = self.config.checkpoint_activations and self.training and cache is None and torch.is_grad_enabled()
        for i, layer in enumerate(self.layers):
            if recompute:
                x = checkpoint(layer, x, attn_bias=bias, use_reentrant=False)
            else:
                x = layer(x, attn_bias=bias, cache=cache, layer_idx=i)
            if states is not None:
                states.append(x)
        return self.final_norm(x), states

    def _position_ids(self, position_ids: Optional[Tensor], batch: int, length: int, past: int, device) -> Tensor:
        if position_ids is None:  # plain positions after the cache, block position 0
            positions = torch.arange(past, past + length, device=device).expand(batch, length)
            return torch.stack([positions, torch.zeros_like(positions)], dim=1)  # (B, 2, L)
        expected = (batch, 2, length) if self.block_position is not None else None
        if expected is not None and tuple(position_ids.shape) != expected:
            raise InputError(
                f"position_ids has shape {tuple(position_ids.shape)}; GLM needs (batch, 2, length) = {expected}: "
                "row 0 positions, row 1 block positions"
            )
        return position_ids

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def features(self, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                 token_type_ids: Optional[Tensor] = None) -> Tensor:
        """Bidirectional hidden states over the whole input; padding keys masked when ``attention_mask`` has 0s."""
        batch, length = input_ids.shape
        if attention_mask is None or bool(attention_mask.all()):
            return self.decode(input_ids=input_ids, attention_mask=length)
        keys = attention_mask[:, None, None, :].expand(batch, 1, length, length)  # (B, 1, L, L)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)
        position_ids = torch.stack([positions, torch.zeros_like(positions)], dim=1)  # (B, 2, L)
        return self.decode(input_ids=input_ids, position_ids=position_ids, attention_mask=keys)

    @property
    def num_cache_layers(self) -> int:
        """Layers that write to a :class:`KVCache` (what ``KVCache(num_layers)`` needs)."""
        return len(self.layers)

    def lm_logits(self, hidden_states: Tensor) -> Tensor:
        """Vocabulary logits ``[B, L, V]`` through the tied word embeddings (no bias)."""
        if not self.config.output_predict:
            return hidden_states
        return F.linear(hidden_states, self.embeddings.word.weight)

    # ------------------------------------------------------------------------ generation
    def generation_prompt_length(self, input_ids: Tensor) -> int:
        return input_ids.shape[1] + 1  # the context and the sop token that opens the span

    def start_generation(
        self, *, input_ids: Tensor, attention_mask: Optional[Tensor], capacity: int,
        mask_positions: Any = None, sop_token_id: Optional[int] = None,
    ) -> Tuple[Any, Tensor]:
        """Context pass and ``sop`` (see :class:`~flagai_lite.generation.session.GLMSession`).

        Args:
            mask_positions: position id of the blank each row fills ``[B]`` (or one int).
            sop_token_id: the tokenizer's ``sop`` command id.
        """
        from ..generation.session import GLMSession

        if mask_positions is None or sop_token_id is None:
            raise InputError("GLM generation needs mask_positions and sop_token_id (see build_blank_infilling_inputs)")
        mask_positions = torch.as_tensor(mask_positions, dtype=torch.long, device=input_ids.device)
        session = GLMSession(self, input_ids, attention_mask, mask_positions, sop_token_id, capacity)
        start = torch.cat([input_ids, input_ids.new_full((input_ids.shape[0], 1), sop_token_id)], dim=1)
        return session, start

    def generation_eos_ids(self) -> None:
        return None  # GLM ids are the tokenizer's: pass eos_token_id=tokenizer.get_command_id("eop")

    def _cache_from_mems(self, mems: Sequence[Tensor]) -> KVCache:
        """A KV cache equivalent to FlagAI mems (layer inputs; K/V are computed from LN_in(mem))."""
        if len(mems) < len(self.layers):
            raise InputError(f"mems holds {len(mems)} tensors; GLM needs one per layer ({len(self.layers)}) or N + 1")
        cache = KVCache(len(self.layers))
        for i, layer in enumerate(self.layers):
            k, v = layer.memory_kv(mems[i])
            cache.update(i, k, v)
        return cache

    # ------------------------------------------------------------------------ forward
    def forward(
        self,
        *,
        input_ids: Tensor,
        position_ids: Optional[Tensor] = None,
        attention_mask: Union[Tensor, int, None] = None,
        past_key_values: Optional[KVCache] = None,
        use_cache: bool = False,
        labels: Optional[Tensor] = None,
        loss_mask: Optional[Tensor] = None,
        mems: Optional[Sequence[Tensor]] = None,
        return_memory: bool = False,
    ) -> Dict[str, Any]:
        """Logits over the vocabulary for every position.

        Args:
            input_ids: ``[B, L]`` (no id is treated specially).
            position_ids: ``[B, 2, L]`` positions and block positions; None for ``past .. past + L - 1``
                and block position 0.
            attention_mask: separator index(es) ``[B]`` / ``[1]`` over these L tokens, or a 0/1 matrix
                ``[B, 1, L, Lk]``; None lets every token see every token (fine for one new token).
            past_key_values: a :class:`KVCache` from an earlier call: all cached keys stay visible.
            use_cache: start a cache (returned as ``past_key_values``) when none is given.
            labels: targets ``[B, L]`` aligned with the inputs (no shift). With ``loss_mask`` the loss is
                FlagAI's seq2seq loss (:func:`seq2seq_loss`, 0 = ignore); without, plain cross-entropy
                over all positions (-100 = ignore), as FlagAI's GLMModel.
            loss_mask: ``[B, L]`` weights of the seq2seq loss.
            mems: FlagAI-style memories (N + 1 tensors ``[B, M, H]``), turned into a cache.
            return_memory: also return FlagAI's ``mems`` (old mems followed by this call's layer inputs).

        Raises:
            InputError: shapes that do not fit, or both ``mems`` and ``past_key_values``.
        """
        cache = self._resolve_cache(past_key_values, use_cache, mems)
        hidden, states = self._decode(
            input_ids, position_ids, attention_mask, cache, keep_layer_inputs=return_memory
        )
        logits = self.lm_logits(hidden)  # (B, L, V)
        out: Dict[str, Any] = {"logits": logits, "hidden_states": hidden}
        if cache is not None and (use_cache or past_key_values is not None):
            out["past_key_values"] = cache
        if return_memory:
            new = [s.detach() for s in states]
            out["mems"] = [torch.cat([m, s], dim=1) for m, s in zip(mems, new)] if mems else new
        if labels is not None:
            out["loss"] = self._loss(logits, labels, loss_mask)
        return out

    @staticmethod
    def _loss(logits: Tensor, labels: Tensor, loss_mask: Optional[Tensor]) -> Tensor:
        """Seq2seq loss with ``loss_mask``; else cross-entropy over every position (-100 ignored)."""
        if loss_mask is not None:
            return seq2seq_loss(logits, labels, loss_mask)
        return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)

    def _resolve_cache(self, past_key_values, use_cache: bool, mems) -> Optional[KVCache]:
        if mems is not None and past_key_values is not None:
            raise InputError("give either mems (FlagAI style) or past_key_values (a KVCache), not both")
        if mems:
            return self._cache_from_mems(mems)
        if past_key_values is None and use_cache:
            return KVCache(len(self.layers))
        return past_key_values


class GLMForSeq2Seq(GLMModel):
    """GLM trained on blank infilling / seq2seq: FlagAI's ``GLMForSeq2Seq``.

    It adds no weights: its state dict is GLMModel's, key for key (FlagAI's class does the same), so
    either loads the other's checkpoints. Samples are laid out as FlagAI's collate does
    (:func:`flagai_lite.model.glm_blank.build_seq2seq_inputs`): ``source + [sop] + target[:-1]`` with
    ``target_ids`` 0 over the source and ``target + [eop]`` over the span.
    """

    def forward(
        self,
        *,
        input_ids: Tensor,
        position_ids: Optional[Tensor] = None,
        attention_mask: Union[Tensor, int, None] = None,
        past_key_values: Optional[KVCache] = None,
        use_cache: bool = False,
        labels: Optional[Tensor] = None,
        loss_mask: Optional[Tensor] = None,
        target_ids: Optional[Tensor] = None,
        mems: Optional[Sequence[Tensor]] = None,
        return_memory: bool = False,
    ) -> Dict[str, Any]:
        """As :meth:`GLMModel.forward`; the loss is always :func:`seq2seq_loss`.

        Args:
            target_ids: FlagAI's name for ``labels`` (what its collate returns).
            loss_mask: defaults to ``labels != 0`` when not given.
        """
        labels = labels if labels is not None else target_ids
        if labels is not None and loss_mask is None:
            loss_mask = labels.ne(0)
        return super().forward(
            input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask,
            past_key_values=past_key_values, use_cache=use_cache, labels=labels, loss_mask=loss_mask,
            mems=mems, return_memory=return_memory,
        )


class GLMForSequenceClassification(GLMModel):
    """The GLM backbone plus :class:`GLMClassificationHead` (FlagAI's ``GLMForSequenceClassification``).

    Backbone keys are GLMModel's; the head lives under ``head.`` and is initialised (with a warning)
    when a checkpoint lacks it. ``config.class_num`` sets the outputs, ``config.pool_token`` the pooled
    position. Inputs ``[B, C, L]`` (with ``class_num`` 1) score C choices each: logits ``[B, C]``.
    """

    head_prefixes = ("head.",)

    def __init__(self, config: GLMConfig):
        super().__init__(config)
        if config.class_num is None:
            raise ConfigError("field 'class_num' must be set for GLMForSequenceClassification (e.g. class_num=2)")
        self.head = GLMClassificationHead(
            hidden_size=config.hidden_size,
            num_classes=config.class_num,
            dropout=config.output_dropout_prob,
            pool_token=config.pool_token,
        )

    def forward(
        self,
        *,
        input_ids: Tensor,
        position_ids: Optional[Tensor] = None,
        attention_mask: Union[Tensor, int, None] = None,
        labels: Optional[Tensor] = None,
    ) -> Dict[str, Any]:
        """Class logits ``[B, class_num]`` (or ``[B, C]`` for choices) and final hidden states.

        ``loss`` with ``labels``: cross-entropy, or binary cross-entropy when there is one output.
        """
        num_choices = None
        if input_ids.dim() == 3:  # (B, C, L): one sequence per choice, flattened as FlagAI does
            num_choices = input_ids.shape[1]
            input_ids = input_ids.flatten(0, 1)
            position_ids = position_ids.flatten(0, 1) if position_ids is not None else None
            if torch.is_tensor(attention_mask) and attention_mask.dim() in (2, 5):
                attention_mask = attention_mask.flatten(0, 1)
        hidden = self.decode(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask)
        sep = None if attention_mask is None or _is_matrix(attention_mask) else torch.as_tensor(attention_mask)
        logits = self.head(hidden, sep)  # (B or B*C, class_num)
        if num_choices is not None:
            logits = logits.view(-1, num_choices)  # (B, C)
        out: Dict[str, Any] = {"logits": logits, "hidden_states": hidden}
        if labels is not None:
            if logits.shape[-1] == 1:
                out["loss"] = F.binary_cross_entropy_with_logits(logits.squeeze(-1).float(), labels.float())
            else:
                out["loss"] = F.cross_entropy(logits.float(), labels.long())
        return out


# FlagAI / THUDM names -> ours. FlagAI's task classes save the backbone as is (GLMForSeq2Seq) or under
# "model." (GLMForSequenceClassification); a DeepSpeed save wraps it in {"module": ...}. Both wrappers
# are removed by the loader (checkpoint_prefixes, checkpoint.io), as FlagAI's load_weights_glm does.
# query_key_value rows are [Q; K; V] with heads contiguous inside each: our fused qkv_proj layout.
GLMModel.key_map = {
    "word_embeddings.weight": "embeddings.word.weight",
    "transformer.position_embeddings.weight": "embeddings.position.weight",
    "transformer.block_position_embeddings.weight": "block_position.weight",
    "transformer.layers.{}.input_layernorm.weight": "layers.{}.norm1.weight",
    "transformer.layers.{}.input_layernorm.bias": "layers.{}.norm1.bias",
    "transformer.layers.{}.attention.query_key_value.weight": "layers.{}.attn.qkv_proj.weight",
    "transformer.layers.{}.attention.query_key_value.bias": "layers.{}.attn.qkv_proj.bias",
    "transformer.layers.{}.attention.dense.weight": "layers.{}.attn.out_proj.weight",
    "transformer.layers.{}.attention.dense.bias": "layers.{}.attn.out_proj.bias",
    "transformer.layers.{}.post_attention_layernorm.weight": "layers.{}.norm2.weight",
    "transformer.layers.{}.post_attention_layernorm.bias": "layers.{}.norm2.bias",
    "transformer.layers.{}.mlp.dense_h_to_4h.weight": "layers.{}.mlp.up_proj.weight",
    "transformer.layers.{}.mlp.dense_h_to_4h.bias": "layers.{}.mlp.up_proj.bias",
    "transformer.layers.{}.mlp.dense_4h_to_h.weight": "layers.{}.mlp.down_proj.weight",
    "transformer.layers.{}.mlp.dense_4h_to_h.bias": "layers.{}.mlp.down_proj.bias",
    "transformer.final_layernorm.weight": "final_norm.weight",
    "transformer.final_layernorm.bias": "final_norm.bias",
}
GLMForSequenceClassification.key_map = {
    **GLMModel.key_map,
    "pool_layer.weight": "head.pool_proj.weight",
    "pool_layer.bias": "head.pool_proj.bias",
    "multichoice_head.weight": "head.classifier.weight",
    "multichoice_head.bias": "head.classifier.bias",
}
