"""Chat: the checkpoint's template renders the same prompt ids as transformers; chat / stream_chat answer."""
import json

import pytest
import torch

from flagai_lite.chat import chat_prompt_ids
from flagai_lite.errors import CapabilityError, ConfigError
from flagai_lite.model.llama import LlamaConfig, LlamaModel
from flagai_lite.tokenizer import Tokenizer

transformers = pytest.importorskip("transformers")
pytest.importorskip("jinja2")

TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are helpful.<|im_end|>\\n' }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}{{ raise_exception('bad role') }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CORPUS = ["浙江的省会在哪里？杭州。", "What is the capital of Jiangsu? Nanjing.", "hello world, how are you today"] * 20
HISTORIES = [
    [],
    [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "浙江的省会在哪里？"},
     {"role": "assistant", "content": "杭州。"}, {"role": "user", "content": "And Jiangsu?"},
     {"role": "assistant", "content": "Nanjing."}],
]


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory):
    from tokenizers import Tokenizer as RustTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    path = tmp_path_factory.mktemp("chat-model")
    rust = RustTokenizer(models.BPE())
    rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    rust.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    rust.train_from_iterator(CORPUS, trainer)
    rust.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "chat_template": TEMPLATE, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }))
    torch.manual_seed(0)
    vocab = rust.get_vocab_size()
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, model_type="qwen2",
                         eos_token_id=rust.token_to_id("<|im_end|>"), pad_token_id=rust.token_to_id("<|endoftext|>"))
    LlamaModel.from_config(config).save_pretrained(path)
    (path / "generation_config.json").write_text(json.dumps({"max_new_tokens": 6, "do_sample": False}))
    return path


@pytest.mark.parametrize("history", HISTORIES, ids=["empty", "one-turn", "multi-turn-system"])
def test_prompt_ids_match_apply_chat_template(chat_dir, history):
    theirs = transformers.PreTrainedTokenizerFast.from_pretrained(chat_dir)
    ours = Tokenizer.from_pretrained(chat_dir)
    messages = [*history, {"role": "user", "content": "浙江的省会在哪里？ "}]
    expected = theirs.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    expected = expected["input_ids"] if isinstance(expected, dict) or hasattr(expected, "keys") else expected
    assert chat_prompt_ids(ours, messages) == list(expected)


def test_chat_returns_response_and_extended_history(chat_dir):
    model, tokenizer = LlamaModel.from_pretrain(chat_dir), Tokenizer.from_pretrained(chat_dir)
    assert model.generation_config == {"max_new_tokens": 6, "do_sample": False}
    response, history = model.chat(tokenizer, "浙江的省会在哪里？", history=None)
    assert isinstance(response, str)
    assert history == [{"role": "user", "content": "浙江的省会在哪里？"}, {"role": "assistant", "content": response}]
    again, longer = model.chat(tokenizer, "And Jiangsu?", history=history, max_new_tokens=3)
    assert longer[:2] == history and longer[2] == {"role": "user", "content": "And Jiangsu?"}
    # the answer is what greedy generation from the rendered prompt gives (generation_config: 6 tokens)
    ids = torch.tensor([chat_prompt_ids(tokenizer, [{"role": "user", "content": "浙江的省会在哪里？"}])])
    out = model.generate(input_ids=ids, max_new_tokens=6, eos_token_id=tokenizer.eos_token_id)
    assert response == tokenizer.decode(out[0, ids.shape[1]:].tolist())


def test_chat_accepts_pair_history_and_streams(chat_dir):
    model, tokenizer = LlamaModel.from_pretrain(chat_dir), Tokenizer.from_pretrained(chat_dir)
    pairs = [("hello", "hi there")]
    response, history = model.chat(tokenizer, "how are you", history=pairs)
    assert history == [("hello", "hi there"), ("how are you", response)]
    partials = [text for text, _ in model.stream_chat(tokenizer, "how are you", history=pairs)]
    assert partials and partials[-1] == response
    assert all(b.startswith(a) for a, b in zip(partials, partials[1:]))


def test_chat_task_through_autoloader(chat_dir):
    from flagai_lite.auto_loader import AutoLoader

    loader = AutoLoader("chat", str(chat_dir))
    model, tokenizer = loader.get_model(), loader.get_tokenizer()
    response, history = model.chat(tokenizer, "hello")
    assert history[-1] == {"role": "assistant", "content": response}
    batch = model.head.collate(tokenizer, [{"messages": HISTORIES[1]}])
    assert (batch["labels"] != -100).sum() > 0 and torch.isfinite(model(**batch)["loss"])


def test_template_errors_are_clear(chat_dir):
    tokenizer = Tokenizer.from_pretrained(chat_dir)
    with pytest.raises(ConfigError, match="bad role"):
        chat_prompt_ids(tokenizer, [{"role": "robot", "content": "x"}])


def test_no_template_is_a_clear_error(tmp_path):
    from flagai_lite.model.gpt2 import GPT2Config, GPT2Model

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")
    tokenizer = Tokenizer.from_pretrained(tmp_path)
    model = GPT2Model.from_config(GPT2Config(vocab_size=7, n_positions=16, n_embd=8, n_layer=1, n_head=2))
    with pytest.raises(CapabilityError, match="no chat template"):
        model.chat(tokenizer, "a b")
