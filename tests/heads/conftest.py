"""A file:// modelhub holding one tiny checkpoint (with tokenizer) per architecture."""
import pytest
import torch

from flagai_lite.hub import upload
from flagai_lite.model.bert import BertConfig, BertModel
from flagai_lite.model.glm import GLMConfig, GLMModel
from flagai_lite.model.gpt2 import GPT2Config, GPT2Model
from flagai_lite.model.t5 import T5Config, T5Model
from flagai_lite.tokenizer import Tokenizer

CORPUS = [
    "alice lives in paris and works in london",
    "bob visited berlin with carol",
    "the cat sat on the mat",
    "a good movie with a great story",
    "a bad film and a poor plot",
    "张三在北京工作",
    "李四去上海",
]
WORDS = sorted({w for line in CORPUS for w in line.split() if line.isascii()})
CHARS = sorted({c for line in CORPUS for c in line if not c.isascii()} | set("abcdefghijklmnopqrstuvwxyz0123456789.,!?"))


def _wordpiece_dir(path, kind=None):
    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + [c for c in CHARS if c not in WORDS]
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"]
    (path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = Tokenizer.from_pretrained(path, kind=kind) if kind else Tokenizer.from_pretrained(path)
    tokenizer.save_pretrained(path)
    return Tokenizer.from_pretrained(path)


def _sentencepiece_dir(path):
    import io

    import sentencepiece as spm

    path.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS * 20), model_writer=model, vocab_size=56, hard_vocab_limit=False,
                                   model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   character_coverage=1.0, minloglevel=2)
    (path / "spiece.model").write_bytes(model.getvalue())
    tokenizer = Tokenizer.from_pretrained(path)
    tokenizer.save_pretrained(path)
    return Tokenizer.from_pretrained(path)


def _build(root, name):
    torch.manual_seed(0)
    path = root / name
    if name == "tiny-bert":
        tok = _wordpiece_dir(path)
        model = BertModel.from_config(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                                                 num_attention_heads=4, intermediate_size=48,
                                                 max_position_embeddings=64))
    elif name == "tiny-gpt2":  # FlagAI's GPT2-base-ch convention: a BERT-style vocab
        tok = _wordpiece_dir(path)
        model = GPT2Model.from_config(GPT2Config(vocab_size=tok.vocab_size, n_positions=128, n_embd=32, n_layer=2,
                                                 n_head=4, bos_token_id=2, eos_token_id=3, pad_token_id=0))
    elif name == "tiny-t5":
        tok = _sentencepiece_dir(path)
        model = T5Model.from_config(T5Config(vocab_size=tok.vocab_size, d_model=32, d_kv=8, d_ff=48, num_layers=2,
                                             num_heads=4, relative_attention_num_buckets=8))
    else:
        tok = _wordpiece_dir(path, kind="glm")
        model = GLMModel.from_config(GLMConfig(num_layers=2, vocab_size=tok.vocab_size, hidden_size=32,
                                               num_attention_heads=4, max_sequence_length=128))
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_hub(tmp_path_factory):
    """``file://`` endpoint of a hub with tiny-bert, tiny-gpt2, tiny-t5 and tiny-glm."""
    local = tmp_path_factory.mktemp("tiny-models")
    hub = tmp_path_factory.mktemp("tiny-hub")
    endpoint = hub.as_uri()
    for name in ("tiny-bert", "tiny-gpt2", "tiny-t5", "tiny-glm"):
        upload(_build(local, name), name, endpoint=endpoint)
    return endpoint
