"""GLM command tokens: where FlagAI's GLM tokenizers put them after the base vocabulary.

GLM's blank infilling needs tokens the base vocabulary lacks (``<|startofpiece|>``, ``[gMASK]``...).
FlagAI appends them after the base vocabulary at fixed ids, and GLM checkpoints are trained with
exactly those ids, so each layout below reproduces one FlagAI tokenizer id for id:

* SentencePiece (GLM-large-ch over ``cog-pretrain.model``): ``GLMLargeChTokenizer`` with its defaults
  ``add_block_symbols=True, add_task_mask=True, fix_command_token=True``. Note the unused id
  ``N + 5`` and sMASK before gMASK: that is what ``fix_command_token`` does.
* WordPiece (GLM-large-en over the bert-large-uncased vocab): ``GLMLargeEnWordPieceTokenizer``;
  pad/cls/sep/mask/unk are the vocab's own tokens, eos reuses ``[PAD]``.
* Byte-level BPE (GLM-10b-en over the GPT-2 vocab): ``GLM10bENBPETokenizer`` with block symbols
  and task masks.

(source: FlagAI-Open/FlagAI, flagai/data/tokenizer/glm_large_ch/glm_large_ch_tokenizer.py,
glm_large_en/glm_large_en_tokenizer.py, glm_10b_en/glm_10b_en_bpe_tokenizer.py)
"""
from typing import Callable, List, Optional

from flagai_lite.errors import TokenizerError
from flagai_lite.tokenizer.special_tokens import CommandToken

SOP, EOP = "<|startofpiece|>", "<|endofpiece|>"
GMASK, SMASK = "[gMASK]", "[sMASK]"


def glm_command_tokens(
    engine: str, base_size: int, token_to_id: Callable[[str], Optional[int]]
) -> List[CommandToken]:
    """The GLM command tokens for a base vocabulary of ``base_size`` ids read by ``engine``.

    Args:
        engine: "sentencepiece", "wordpiece", "bpe" or "tokenizer.json" (treated by its model).
        base_size: size of the base vocabulary (before any added token).
        token_to_id: looks a token up in the base vocabulary (None when absent).

    Raises:
        TokenizerError: the engine has no GLM layout, or a token the layout needs is missing.
    """
    n = base_size
    if engine == "sentencepiece":
        return [
            CommandToken("pad", "<|endoftext|>", n),
            CommandToken("eos", "<|endoftext|>", n),
            CommandToken("sep", "[SEP]", n + 1),
            CommandToken("cls", "[CLS]", n + 2),
            CommandToken("mask", "[MASK]", n + 3),
            CommandToken("unk", "[UNK]", n + 4),
            CommandToken("sop", SOP, n + 6),
            CommandToken("eop", EOP, n + 7),
            CommandToken("sMASK", SMASK, n + 8),
            CommandToken("gMASK", GMASK, n + 9),
        ]
    if engine == "wordpiece":
        own = {}
        for name, token in (("pad", "[PAD]"), ("cls", "[CLS]"), ("mask", "[MASK]"),
                            ("unk", "[UNK]"), ("sep", "[SEP]")):
            token_id = token_to_id(token)
            if token_id is None:
                raise TokenizerError(f"GLM WordPiece layout needs {token} in vocab.txt; it is missing")
            own[name] = CommandToken(name, token, token_id)
        return [
            *own.values(),
            CommandToken("eos", "[PAD]", own["pad"].id),
            CommandToken("sop", SOP, n),
            CommandToken("eop", EOP, n + 1),
            CommandToken("gMASK", GMASK, n + 2),
            CommandToken("sMASK", SMASK, n + 3),
        ]
    if engine == "bpe":
        eot = token_to_id("<|endoftext|>")
        if eot is None:
            raise TokenizerError("GLM BPE layout needs <|endoftext|> in vocab.json; it is missing")
        return [
            CommandToken("pad", "<|endoftext|>", eot),
            CommandToken("eos", "<|endoftext|>", eot),
            CommandToken("sop", SOP, n),
            CommandToken("eop", EOP, n + 1),
            CommandToken("cls", "[CLS]", n + 2),
            CommandToken("mask", "[MASK]", n + 3),
            CommandToken("sep", "[SEP]", n + 4),
            CommandToken("unk", "[UNK]", n + 5),
            CommandToken("gMASK", GMASK, n + 6),
            CommandToken("sMASK", SMASK, n + 7),
        ]
    raise TokenizerError(
        f"no GLM command-token layout for the {engine!r} engine; GLM layouts exist for "
        "sentencepiece (GLM-large-ch), wordpiece (GLM-large-en) and bpe (GLM-10b-en)"
    )
