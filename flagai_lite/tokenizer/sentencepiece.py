"""SentencePiece models (T5's spiece.model, GLM-large-ch's cog-pretrain.model) via ``sentencepiece``.

``sentencepiece`` tokenizes plain text; this engine adds what it lacks: tokens past the model
(T5's ``<extra_id_N>`` sentinels, GLM's command tokens) matched in raw text, the ``</s>`` T5
appends, pair truncation, and character offsets.
"""
import logging
import re
import unicodedata
from typing import Dict, List, Optional, Sequence, Set, Tuple

from flagai_lite.errors import TokenizerError
from flagai_lite.tokenizer.engine import EncodedBatch, Offsets

logger = logging.getLogger(__name__)

_NO_OFFSET = (0, 0)


def longest_first(n1: int, n2: int, budget: int) -> Tuple[int, int]:
    """Lengths after dropping tokens one by one from the longer sequence (ties: the second).

    The closed form of the ``tokenizers`` "longest_first" loop, so both engines truncate alike.
    """
    if n1 + n2 <= budget:
        return n1, n2
    small = min(n1, n2)
    if 2 * small <= budget:
        return (n1, budget - n1) if n1 == small else (budget - n2, n2)
    return (budget + 1) // 2, budget // 2


class SentencePieceEngine:
    """An engine over a ``sentencepiece.SentencePieceProcessor``.

    Args:
        model: the serialized model (the .model file's bytes).
        filename: its file name, kept for save_pretrained.
        suffix: ids appended after each sequence when special tokens are added (T5: ``[eos]``).
        pair_type_id: token type id of the second sequence (T5: 0, as Hugging Face's T5 gives).

    Raises:
        TokenizerError: ``model`` is not a SentencePiece model.
    """

    name = "sentencepiece"

    def __init__(self, model: bytes, filename: str, *, suffix: Sequence[int] = (),
                 pair_type_id: int = 1) -> None:
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(model)
        except Exception as err:  # sentencepiece raises RuntimeError/OSError with its own message
            raise TokenizerError(f"{filename} is not a SentencePiece model ({err})") from None
        self.files = {filename: model}
        self._size = self._sp.get_piece_size()
        self._suffix = list(suffix)
        self._pair_type_id = pair_type_id
        self._added: Dict[str, int] = {}  # tokens matched in raw text -> id
        self._added_by_id: Dict[int, str] = {}
        # ids sentencepiece cannot decode itself: control pieces, unk, tokens past the model
        self._special: Set[int] = {i for i in range(self._size)
                                   if self._sp.is_control(i) or self._sp.is_unknown(i)}
        self._not_plain: Set[int] = set(self._special)
        space_id = self._sp.piece_to_id("\u2581")  # unk id when the model has no lone "▁"
        self._space_id = space_id if self._sp.id_to_piece(space_id) == "\u2581" else -1
        self._split: Optional[re.Pattern] = None
        self._first_chars = ""

    def set_template(self, suffix: Sequence[int], pair_type_id: int) -> None:
        """Ids appended after each sequence, and the second sequence's token type id."""
        self._suffix = list(suffix)
        self._pair_type_id = pair_type_id

    @property
    def processor(self):
        """The underlying ``sentencepiece.SentencePieceProcessor``."""
        return self._sp

    # --- encoding -------------------------------------------------------------------------------

    def _segments(self, text: str) -> List[Tuple[object, int]]:
        # (str segment or added-token id, char start); only called when an added token may occur
        parts: List[Tuple[object, int]] = []
        last = 0
        for match in self._split.finditer(text):
            if match.start() > last:
                parts.append((text[last:match.start()], last))
            parts.append((self._added[match.group()], match.start()))
            last = match.end()
        if last < len(text) or not parts:
            parts.append((text[last:], last))
        return parts

    def _may_hold_added(self, text: str) -> bool:
        return self._split is not None and any(c in text for c in self._first_chars)

    def _encode_texts(self, texts: List[str], with_offsets: bool) -> Tuple[List[List[int]],
                                                                           Optional[List[Offsets]]]:
        # Every plain-text segment of every text goes to sentencepiece in one batch call.
        plans: List[Optional[List[Tuple[object, int]]]] = []
        segments: List[str] = []
        for text in texts:
            if self._may_hold_added(text):
                plan = self._segments(text)
                for part, _ in plan:
                    if isinstance(part, str):
                        segments.append(part)
                plans.append(plan)
            else:
                segments.append(text)
                plans.append(None)
        if with_offsets:
            try:
                encoded = self._sp.encode(segments, return_type="offset_mapping")
            except (TypeError, ValueError) as err:  # the API arrived in sentencepiece 0.2.x
                import sentencepiece

                raise TokenizerError("character offsets need sentencepiece's offset_mapping "
                                     f"(sentencepiece>=0.2.3; found {sentencepiece.__version__})"
                                     ) from err
            seg_ids = [e["ids"] for e in encoded]
            seg_offsets = [_char_spans(e["offsets"], e["ids"], seg, self._space_id)
                           for e, seg in zip(encoded, segments)]
        else:
            seg_ids, seg_offsets = self._sp.encode(segments), None
        if all(plan is None for plan in plans):
            return seg_ids, seg_offsets
        ids, offsets, k = [], [] if with_offsets else None, 0
        for plan in plans:
            if plan is None:
                ids.append(seg_ids[k])
                if with_offsets:
                    offsets.append(seg_offsets[k])
                k += 1
                continue
            row, row_offsets = [], []
            for part, start in plan:
                if isinstance(part, str):
                    row.extend(seg_ids[k])
                    if with_offsets:
                        row_offsets.extend((s + start, e + start) for s, e in seg_offsets[k])
                    k += 1
                else:
                    row.append(part)
                    if with_offsets:
                        row_offsets.append((start, start + len(self._added_by_id[part])))
            ids.append(row)
            if with_offsets:
                offsets.append(row_offsets)
        return ids, offsets

    def encode_batch(self, texts: List[str], pairs: Optional[List[str]], *, add_special_tokens: bool,
                     max_length: Optional[int], offsets: bool) -> EncodedBatch:
        """Encode texts (and optional second texts); truncation is longest-first."""
        first_ids, first_offsets = self._encode_texts(texts, offsets)
        if pairs is None:
            second_ids, second_offsets = None, None
        else:
            second_ids, second_offsets = self._encode_texts(pairs, offsets)
        suffix = self._suffix if add_special_tokens else []
        suffix_offsets = [_NO_OFFSET] * len(suffix)
        budget = None
        if max_length is not None:
            budget = max_length - len(suffix) * (1 if pairs is None else 2)
        out_ids, out_types, out_offsets = [], [], [] if offsets else None
        for i, a in enumerate(first_ids):
            b = second_ids[i] if second_ids is not None else None
            n1, n2 = len(a), len(b) if b is not None else 0
            if budget is not None:
                n1, n2 = longest_first(n1, n2, budget) if b is not None else (min(n1, budget), 0)
            row = a[:n1] + suffix
            types = [0] * len(row)
            if b is not None:
                tail = b[:n2] + suffix
                row += tail
                types += [self._pair_type_id] * len(tail)
            out_ids.append(row)
            out_types.append(types)
            if offsets:
                row_offsets = first_offsets[i][:n1] + suffix_offsets
                if b is not None:
                    row_offsets += second_offsets[i][:n2] + suffix_offsets
                out_offsets.append(row_offsets)
        return EncodedBatch(out_ids, out_types, out_offsets)

    def tokenize(self, text: str) -> List[str]:
        """Pieces of ``text`` (added tokens kept whole), without special tokens."""
        plan = self._segments(text) if self._may_hold_added(text) else [(text, 0)]
        pieces: List[str] = []
        for part, _ in plan:
            if isinstance(part, str):
                pieces.extend(self._sp.encode(part, out_type=str))
            else:
                pieces.append(self._added_by_id[part])
        return pieces

    # --- decoding and lookups -------------------------------------------------------------------

    def decode_batch(self, ids: List[List[int]], skip_special_tokens: bool) -> List[str]:
        """Decode id lists; a text run after a special token keeps its leading space."""
        return [self._decode(row, skip_special_tokens) for row in ids]

    def _decode(self, ids: List[int], skip_special_tokens: bool) -> str:
        if self._not_plain.isdisjoint(ids):
            return self._sp.decode(ids)
        parts: List[str] = []
        run: List[int] = []
        for token_id in ids + [-1]:  # -1 flushes the last run
            if 0 <= token_id and token_id not in self._not_plain:
                run.append(token_id)
                continue
            if run:
                text = self._sp.decode(run)
                # sentencepiece drops the space a leading "▁" stands for; keep it mid-sequence
                if parts and self._sp.id_to_piece(run[0]).startswith("\u2581"):
                    text = " " + text
                parts.append(text)
                run = []
            if token_id >= 0 and not (skip_special_tokens and token_id in self._special):
                parts.append(self.id_to_token(token_id))
        return "".join(parts)

    def token_to_id(self, token: str) -> Optional[int]:
        """The id of ``token``, or None when it is neither a piece nor an added token."""
        if token in self._added:
            return self._added[token]
        token_id = self._sp.piece_to_id(token)
        if self._sp.is_unknown(token_id) and self._sp.id_to_piece(token_id) != token:
            return None
        return token_id

    def id_to_token(self, token_id: int) -> Optional[str]:
        """The piece or added token of ``token_id``, or None when the id is unassigned."""
        if token_id in self._added_by_id:
            return self._added_by_id[token_id]
        if 0 <= token_id < self._size:
            return self._sp.id_to_piece(token_id)
        return None

    def num_special_tokens_to_add(self, pair: bool) -> int:
        """How many special tokens encoding adds to one sequence or a pair."""
        return len(self._suffix) * (2 if pair else 1)

    def add_tokens(self, tokens: Sequence[Tuple[str, int, bool]]) -> None:
        """Register ``(content, id, special)`` tokens, matched whole in raw text; ids may have gaps.

        Raises:
            TokenizerError: the id is a model piece other than ``content``, or already taken.
        """
        for content, token_id, special in tokens:
            if not content:
                raise TokenizerError(f"an added token must not be empty (id {token_id})")
            if token_id < self._size and self._sp.id_to_piece(token_id) != content:
                raise TokenizerError(f"token {content!r} cannot take id {token_id}: the model has "
                                     f"{self._sp.id_to_piece(token_id)!r} there")
            taken = self._added_by_id.get(token_id)
            if taken is not None and taken != content:
                raise TokenizerError(f"token {content!r} cannot take id {token_id}: {taken!r} has it")
            self._added[content] = token_id
            self._added_by_id.setdefault(token_id, content)
            self._not_plain.add(token_id)
            if special:
                self._special.add(token_id)
        longest_first_order = sorted(self._added, key=len, reverse=True)
        self._split = re.compile("|".join(re.escape(t) for t in longest_first_order))
        self._first_chars = "".join(sorted({t[0] for t in self._added if t}))

    @property
    def base_vocab_size(self) -> int:
        """Number of pieces in the model."""
        return self._size

    @property
    def vocab_size(self) -> int:
        """Number of ids, added tokens (and any gap before them) included."""
        return max([self._size, *(i + 1 for i in self._added_by_id)])


def _char_spans(offsets: Offsets, ids: List[int], text: str, space_id: int) -> Offsets:
    """Clean sentencepiece's character spans for NER use.

    * spans hold only visible characters: "▁word" spans include the space before the word, and
      characters normalization deletes (controls, zero-width, BOM) ride along with a neighbour;
    * when normalization expands one character into several pieces ("™" -> "▁T" "M"), only the
      last piece gets the character; the earlier ones get the same span instead of an empty one;
    * a lone "▁" gets an empty span where its text ends: it stands for a space, not a character.
    """
    spans: Offsets = []
    following = None
    for (start, end), piece_id in zip(reversed(offsets), reversed(ids)):
        start, end = _strip(text, start, end, str.isspace)
        if piece_id == space_id:
            start = end
        elif start < end:
            visible = _strip(text, start, end, _invisible)
            start, end = visible if visible[0] < visible[1] else (start, end)
        elif following is not None and following[0] == start:
            start, end = following
        spans.append((start, end))
        following = (start, end)
    spans.reverse()
    return spans


def _strip(text: str, start: int, end: int, drop) -> Tuple[int, int]:
    while start < end and drop(text[start]):
        start += 1
    while end > start and drop(text[end - 1]):
        end -= 1
    return start, end


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cf")
