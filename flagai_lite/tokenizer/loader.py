"""Build a Tokenizer from the files :mod:`~flagai_lite.tokenizer.detect` found.

Order of work: resolve special-token strings (kind defaults < the model's own pieces <
tokenizer_config.json < special_tokens_map.json < keyword overrides), build the engine, register
tokens past the base vocabulary (T5 sentinels, added tokens, GLM command tokens), then bind the
special-token names to ids.
"""
import logging
from typing import Any, Dict, List, Tuple

from flagai_lite.errors import TokenizerError
from flagai_lite.tokenizer.detect import TokenizerFiles
from flagai_lite.tokenizer.special_tokens import (
    KIND_DEFAULTS, SPECIAL_NAMES, CommandToken, additional_special_tokens,
    configured_special_tokens, token_content,
)

logger = logging.getLogger(__name__)

# Keyword overrides from_pretrained accepts (they take the place of tokenizer_config.json values).
OPTIONS = frozenset({
    "do_lower_case", "strip_accents", "tokenize_chinese_chars", "add_prefix_space", "extra_ids",
    "model_max_length", "padding_side", "additional_special_tokens",
    *(f"{name}_token" for name in SPECIAL_NAMES),
})
T5_EXTRA_IDS = 100  # T5Tokenizer's default number of <extra_id_N> sentinels
NO_LIMIT = 10 ** 9  # model_max_length at or above this means "no limit" (HF writes 1e30)

NewToken = Tuple[str, int, bool]  # (content, id, special)


def build(cls, files: TokenizerFiles, kind: str, **options: Any):
    """Make a ``cls`` (the Tokenizer class) from ``files`` with the token convention ``kind``.

    Raises:
        TokenizerError: an unknown option, or files that do not make a tokenizer.
    """
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TokenizerError(f"unknown option(s) {', '.join(unknown)}; from_pretrained accepts "
                             f"{', '.join(sorted(OPTIONS))}")
    config = {**files.config, **options}
    template_file = files.directory / "chat_template.jinja"  # where transformers >= 4.43 saves it
    if "chat_template" not in config and template_file.is_file():
        config["chat_template"] = template_file.read_text(encoding="utf-8")
    configured = configured_special_tokens(files.config, files.special_tokens_map, options)
    extra_specials = additional_special_tokens(files.config, files.special_tokens_map, options)
    strings: Dict[str, str] = dict(KIND_DEFAULTS[kind])
    raw = {name: path.read_bytes() for name, path in files.vocab_files.items()}
    engine = _build_engine(files, kind, raw, config, strings, configured)

    added = _added_tokens(files, config, engine.base_vocab_size, extra_specials)
    glm = _glm_commands(files.engine, engine, kind)
    engine.add_tokens(_dedupe([*_t5_sentinels(engine, kind, config), *added, *glm_tokens(glm)]))
    commands = _bind_specials(engine, strings, configured, files, skip=set(c.name for c in glm))
    commands.update({c.name: c for c in glm})
    _mark_additional(engine, extra_specials, files)

    limit = config.get("model_max_length", config.get("max_len"))
    config.update(_resolved_options(files.engine, config))
    return cls(
        engine,
        kind=kind,
        commands=commands,
        added_tokens={content: token_id for content, token_id, _ in added},
        config=config,
        model_max_length=int(limit) if isinstance(limit, (int, float)) and limit < NO_LIMIT else None,
        padding_side=config.get("padding_side") or "right",
    )


def glm_tokens(commands: List[CommandToken]) -> List[NewToken]:
    """Command tokens as special added tokens."""
    return [(c.token, c.id, True) for c in commands]


def _build_engine(files: TokenizerFiles, kind: str, raw: Dict[str, bytes], config: Dict[str, Any],
                  strings: Dict[str, str], configured: Dict[str, str]):
    from flagai_lite.tokenizer.engine import RustEngine

    name, path = next(iter(files.vocab_files.items()))
    if files.engine == "sentencepiece":
        return _build_sentencepiece(name, raw[name], kind, files, strings, configured)
    strings.update(configured)
    if files.engine == "tokenizer.json":
        from tokenizers import Tokenizer as RustTokenizer

        try:
            backend = RustTokenizer.from_str(raw[name].decode("utf-8"))
        except Exception as err:  # the Rust parser names the bad field
            raise TokenizerError(f"{path} is not a valid tokenizer.json ({err})") from None
        if kind == "glm":
            backend.post_processor = None  # GLM inputs are laid out with get_command_id
        return RustEngine(backend, "tokenizer.json", raw)
    if files.engine == "wordpiece":
        from flagai_lite.tokenizer.wordpiece import build_wordpiece, read_vocab_txt, vocab_is_cased

        vocab = read_vocab_txt(raw[name], path)
        if config.get("do_lower_case") is None:
            config["do_lower_case"] = not vocab_is_cased(vocab)
            logger.info("%s has no do_lower_case setting; the vocab looks %s, so lowercase=%s", path,
                        "uncased" if config["do_lower_case"] else "cased", config["do_lower_case"])
        backend = build_wordpiece(
            vocab, lowercase=bool(config["do_lower_case"]), strip_accents=config.get("strip_accents"),
            chinese_chars=config.get("tokenize_chinese_chars", True) is not False,
            unk_token=strings.get("unk", "[UNK]"), cls_token=strings.get("cls"),
            sep_token=strings.get("sep"), template=kind != "glm",
        )
        return RustEngine(backend, "wordpiece", raw)
    from flagai_lite.tokenizer.bpe import build_byte_level_bpe, read_merges_txt, read_vocab_json

    vocab = read_vocab_json(raw[name], path)
    merges_name, merges_path = list(files.vocab_files.items())[1]
    backend = build_byte_level_bpe(vocab, read_merges_txt(raw[merges_name], merges_path),
                                   add_prefix_space=bool(config.get("add_prefix_space", False)))
    return RustEngine(backend, "bpe", raw)


def _build_sentencepiece(name: str, model: bytes, kind: str, files: TokenizerFiles,
                         strings: Dict[str, str], configured: Dict[str, str]):
    from flagai_lite.tokenizer.sentencepiece import SentencePieceEngine

    engine = SentencePieceEngine(model, name)
    sp = engine.processor
    for slot, piece_id in (("unk", sp.unk_id()), ("bos", sp.bos_id()), ("eos", sp.eos_id()),
                           ("pad", sp.pad_id())):
        if piece_id >= 0:
            strings[slot] = sp.id_to_piece(piece_id)
    strings.update(configured)
    if kind != "t5":
        return engine
    eos = strings.get("eos")
    eos_id = engine.token_to_id(eos) if eos else None
    if eos_id is None:
        raise TokenizerError(f"{files.directory / name} has no eos piece {eos!r}, which T5 appends "
                             "to every sequence; set eos_token in tokenizer_config.json")
    engine.set_template(suffix=[eos_id], pair_type_id=0)
    return engine


def _t5_sentinels(engine, kind: str, config: Dict[str, Any]) -> List[NewToken]:
    # T5 appends <extra_id_0>..<extra_id_{n-1}> after the pieces in reverse order: the last id is
    # <extra_id_0> (transformers' T5Tokenizer, extra_ids=100).
    if kind != "t5" or engine.name != "sentencepiece":
        return []
    count = int(config.get("extra_ids", T5_EXTRA_IDS) or 0)
    if count and engine.token_to_id("<extra_id_0>") is not None:
        return []  # the model already has them
    base = engine.base_vocab_size
    return [(f"<extra_id_{i}>", base + count - 1 - i, True) for i in range(count)]


def _added_tokens(files: TokenizerFiles, config: Dict[str, Any], base: int,
                  extra_specials: List[str]) -> List[NewToken]:
    """Tokens past the base vocabulary from added_tokens.json and tokenizer_config.json."""
    added = {content: (token_id, content in extra_specials)
             for content, token_id in files.added_tokens.items()}
    for key, value in (config.get("added_tokens_decoder") or {}).items():
        content = token_content(value)
        if content is not None and str(key).isdigit() and int(key) >= base:
            special = bool(value.get("special", True)) if isinstance(value, dict) else True
            added.setdefault(content, (int(key), special))
    return [(content, token_id, special) for content, (token_id, special) in added.items()]


def _glm_commands(engine_name: str, engine, kind: str) -> List[CommandToken]:
    if kind != "glm":
        return []
    from flagai_lite.tokenizer.glm import glm_command_tokens

    if engine_name == "tokenizer.json":
        model = type(engine.backend.model).__name__
        engine_name = {"WordPiece": "wordpiece", "BPE": "bpe"}.get(model, model)
    return glm_command_tokens(engine_name, engine.base_vocab_size, engine.token_to_id)


def _dedupe(tokens: List[NewToken]) -> List[NewToken]:
    seen, out = set(), []
    for token in tokens:
        if token[:2] not in seen:
            seen.add(token[:2])
            out.append(token)
    return out


def _bind_specials(engine, strings: Dict[str, str], configured: Dict[str, str],
                   files: TokenizerFiles, skip: set) -> Dict[str, CommandToken]:
    """Named special tokens that exist in the vocabulary. Configured ones that do not are dropped
    with a warning: adding them would give ids the checkpoint's embedding does not have."""
    commands: Dict[str, CommandToken] = {}
    for name in SPECIAL_NAMES:
        token = strings.get(name)
        if token is None or name in skip:
            continue
        token_id = engine.token_to_id(token)
        if token_id is None:
            if configured.get(name) == token:
                logger.warning("%s_token %r (configured for %s) is not in the vocabulary; ignored, "
                               "so get_command_id(%r) is unavailable", name, token, files.directory,
                               name)
            continue
        commands[name] = CommandToken(name, token, token_id)
    engine.add_tokens(_dedupe([(c.token, c.id, True) for c in commands.values()]))
    return commands


def _mark_additional(engine, extra_specials: List[str], files: TokenizerFiles) -> None:
    known, missing = [], []
    for token in extra_specials:
        token_id = engine.token_to_id(token)
        if token_id is None:
            missing.append(token)
        else:
            known.append((token, token_id, True))
    engine.add_tokens(_dedupe(known))
    if missing:
        logger.warning("additional_special_tokens not in the vocabulary of %s are ignored: %s",
                       files.directory, ", ".join(missing))


def _resolved_options(engine_name: str, config: Dict[str, Any]) -> Dict[str, Any]:
    # Written back by save_pretrained so a reload decides the same way.
    if engine_name == "wordpiece":
        return {"do_lower_case": bool(config.get("do_lower_case")),
                "tokenize_chinese_chars": config.get("tokenize_chinese_chars", True) is not False}
    return {}
