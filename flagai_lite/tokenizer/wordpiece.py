"""WordPiece (BERT, RoBERTa-Chinese) from a ``vocab.txt``, built on the ``tokenizers`` engine.

The pipeline is BERT's: clean text, split CJK characters one per token, optionally lower-case and
strip accents (as the vocab's tokenizer_config.json says), split on whitespace and punctuation,
then greedy longest-match-first WordPiece with ``##`` continuations.
"""
import logging
from pathlib import Path
from typing import Dict, Optional

from flagai_lite.errors import TokenizerError

logger = logging.getLogger(__name__)

# A word longer than this becomes [UNK] (BERT's max_input_chars_per_word).
MAX_CHARS_PER_WORD = 100


def read_vocab_txt(data: bytes, path: Path) -> Dict[str, int]:
    """Parse vocab.txt: one token per line, id = line number (a repeated token keeps its last line).

    Lines are split on "\\n" only (tokens may contain other Unicode line breaks); a trailing "\\r"
    is dropped.

    Raises:
        TokenizerError: the file is not UTF-8 or holds no token.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path} is not UTF-8 (byte {err.start}); is it a vocab.txt?") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    vocab = {line[:-1] if line.endswith("\r") else line: i for i, line in enumerate(lines)}
    if not vocab:
        raise TokenizerError(f"{path} holds no token; a vocab.txt has one token per line")
    if len(vocab) != len(lines):
        logger.warning("%s repeats %d token(s); each keeps its last line number",
                       path, len(lines) - len(vocab))
    return vocab


def vocab_is_cased(vocab: Dict[str, int]) -> bool:
    """Whether word pieces use capital letters (bracketed specials like [CLS] do not count)."""
    for token in vocab:
        if token.startswith("[") and token.endswith("]") or token.startswith("<"):
            continue
        if token.lower() != token:
            return True
    return False


def build_wordpiece(
    vocab: Dict[str, int],
    *,
    lowercase: bool,
    strip_accents: Optional[bool],
    chinese_chars: bool,
    unk_token: str,
    cls_token: Optional[str],
    sep_token: Optional[str],
    template: bool,
):
    """Build the ``tokenizers.Tokenizer`` for a BERT vocab.

    Args:
        vocab: token -> id, from :func:`read_vocab_txt`.
        lowercase: lower-case the text (BERT's do_lower_case).
        strip_accents: strip accents; None follows ``lowercase`` (as BERT does).
        chinese_chars: put spaces around CJK characters so each is its own token.
        unk_token: the token for words the vocabulary cannot spell.
        cls_token, sep_token: template tokens; required when ``template`` is True.
        template: add ``[CLS] A [SEP] (B [SEP])`` with type ids 0/1; False adds nothing (GLM).

    Raises:
        TokenizerError: unk/cls/sep are missing from the vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    if unk_token not in vocab:
        raise TokenizerError(f"unk token {unk_token!r} is not in vocab.txt; set unk_token in "
                             "tokenizer_config.json to a token the vocab has")
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=unk_token,
                                           max_input_chars_per_word=MAX_CHARS_PER_WORD))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=chinese_chars, strip_accents=strip_accents,
        lowercase=lowercase,
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    if template:
        for role, token in (("cls", cls_token), ("sep", sep_token)):
            if token is None or token not in vocab:
                raise TokenizerError(f"{role} token {token!r} is not in vocab.txt; BERT inputs "
                                     f"need it (set {role}_token in tokenizer_config.json)")
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{cls_token}:0 $A:0 {sep_token}:0",
            pair=f"{cls_token}:0 $A:0 {sep_token}:0 $B:1 {sep_token}:1",
            special_tokens=[(cls_token, vocab[cls_token]), (sep_token, vocab[sep_token])],
        )
    return tokenizer
