"""Predictor: FlagAI's ``predict_*`` methods over a task model and its tokenizer.

Each method needs a capability of the model's head (``generate``, ``ner``, ``classify``,
``masklm``, ``embed``); a model without it gets a :class:`CapabilityError` naming what it can do.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import torch

from .errors import CapabilityError
from .heads import get_task
from .task_model import TaskModel

# Default task for a bare backbone handed to the Predictor.
_DEFAULT_TASK = {"encoder": "masklm", "decoder": "lm", "encoder-decoder": "seq2seq", "glm": "seq2seq"}


class Predictor:
    """Inference helpers with FlagAI's method names.

    Args:
        model: a :class:`TaskModel` (from the AutoLoader) or a bare backbone (it gets the default
            task of its architecture: masklm, lm or seq2seq).
        tokenizer: the model's tokenizer.
    """

    def __init__(self, model: Any, tokenizer: Any):
        if not isinstance(model, TaskModel):
            spec = get_task(_DEFAULT_TASK.get(getattr(model, "architecture", ""), ""))
            model = TaskModel(model, spec.build(model))
        self.model, self.tokenizer = model, tokenizer

    def _need(self, capability: str, method: str):
        head = self.model.head
        if capability not in head.capabilities:
            can = sorted(_METHODS[c] for c in head.capabilities if c in _METHODS)
            raise CapabilityError(
                f"{method} needs a model that can {capability}; this {self.model.task!r} model offers {can or 'none'}"
            )
        return head

    # ------------------------------------------------------------------------ generation
    def predict_generate_beamsearch(self, text: str, out_max_length: int = 50, beam_size: int = 3,
                                    **generate_kwargs: Any) -> str:
        """Beam-search generation for one text."""
        head = self._need("generate", "predict_generate_beamsearch")
        return head.generate_text(self.model.backbone, self.tokenizer, [text], max_new_tokens=out_max_length,
                                  num_beams=beam_size, **generate_kwargs)[0]

    def predict_generate_randomsample(self, text: str, out_max_length: int = 50, top_k: int = 30, top_p: float = 1.0,
                                      repetition_penalty: float = 1.0, temperature: float = 1.0,
                                      **generate_kwargs: Any) -> str:
        """Sampling generation (top-k / top-p / temperature / repetition penalty) for one text."""
        head = self._need("generate", "predict_generate_randomsample")
        return head.generate_text(self.model.backbone, self.tokenizer, [text], max_new_tokens=out_max_length,
                                  do_sample=True, top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                                  temperature=temperature, **generate_kwargs)[0]

    def predict_generate_greedy(self, text: str, out_max_length: int = 50, **generate_kwargs: Any) -> str:
        """Greedy generation for one text."""
        head = self._need("generate", "predict_generate_greedy")
        return head.generate_text(self.model.backbone, self.tokenizer, [text], max_new_tokens=out_max_length,
                                  **generate_kwargs)[0]

    # ------------------------------------------------------------------------ understanding
    def predict_ner(self, text: str, target: Optional[Sequence[str]] = None, maxlen: int = 256) -> List[Dict[str, Any]]:
        """Entities of ``text``: ``{"type", "start", "end", "text"}`` with character offsets into ``text``.

        ``target`` (FlagAI's tag list) is accepted for compatibility; the head's own labels are used.
        """
        head = self._need("ner", "predict_ner")
        return head.extract_entities(self.model.backbone, self.tokenizer, [text], max_length=maxlen)[0]

    def predict_cls_classifier(self, text: Union[str, Sequence[str]], maxlen: int = 512) -> Dict[str, Any]:
        """Class of ``text`` (or of a ``(text_a, text_b)`` pair): ``label``, ``name`` and ``probs``."""
        head = self._need("classify", "predict_cls_classifier")
        return head.classify(self.model.backbone, self.tokenizer, [text], max_length=maxlen)[0]

    def predict_masklm(self, text: str, maxlen: int = 512) -> str:
        """``text`` with its mask tokens filled in."""
        head = self._need("masklm", "predict_masklm")
        return head.fill_mask(self.model.backbone, self.tokenizer, text, max_length=maxlen)

    def predict_embedding(self, text: Union[str, Sequence[str]], maxlen: int = 512) -> torch.Tensor:
        """Unit-length embedding ``[D]`` of one text, or ``[N, D]`` for a list."""
        head = self._need("embed", "predict_embedding")
        texts = [text] if isinstance(text, str) else list(text)
        vectors = head.embed(self.model.backbone, self.tokenizer, texts, max_length=maxlen)
        return vectors[0] if isinstance(text, str) else vectors


_METHODS = {
    "generate": "predict_generate_beamsearch / predict_generate_randomsample",
    "ner": "predict_ner",
    "classify": "predict_cls_classifier",
    "masklm": "predict_masklm",
    "embed": "predict_embedding",
}
