"""GLM-1: parity with the original FlagAI implementation (shared reference vectors), caching, loading,
config checks and FlagAI's blank-infilling layout."""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from flagai_lite.errors import CheckpointError, ConfigError, InputError
from flagai_lite.layer import KVCache
from flagai_lite.model.glm import (
    GLMConfig,
    GLMForSeq2Seq,
    GLMForSequenceClassification,
    GLMModel,
    glm_attention_bias,
)
from flagai_lite.model.glm_blank import (
    build_blank_infilling_inputs,
    build_seq2seq_inputs,
    encode_blank_text,
    step_position_ids,
)

CASES = ["bidir", "blank_mask", "blank_gmask", "multisep", "multispan", "scalar_sep"]
SEQ2SEQ_CASES = ["blank_mask", "blank_gmask", "multisep"]


# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def glm_dir(shared_reference):
    return shared_reference / "glm" / "tiny-a"


@pytest.fixture(scope="module")
def vectors(shared_reference):
    return load_file(str(shared_reference / "glm" / "vectors-a.safetensors"))


@pytest.fixture(scope="module")
def model(glm_dir):
    return GLMModel.from_pretrain(glm_dir)


@pytest.fixture(scope="module")
def model64(glm_dir):
    return GLMModel.from_pretrain(glm_dir).double()


def _inputs(vectors, case):
    return {k: vectors[f"{case}.{k}"] for k in ("input_ids", "position_ids", "attention_mask")}


def _report(label, actual, expected):
    diff = (actual.double() - expected.double()).abs().max().item()
    print(f"{label}: max abs diff {diff:.3e}")
    return diff


class FakeGLMTokenizer:
    """The tokenizer API the helpers use, with the reference's special ids; words are looked up or are ids."""

    COMMANDS = {"pad": 990, "eos": 990, "sep": 991, "cls": 992, "MASK": 993, "unk": 994, "sop": 995,
                "eop": 996, "sMASK": 997, "gMASK": 998}
    VOCAB = {"the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "hello": 6, "world": 7}

    def __init__(self):
        self.pieces = []

    def get_command_id(self, name):
        return self.COMMANDS[name]

    def tokenize(self, text):
        return text.split()

    def encode(self, text):
        self.pieces.append(text)
        return [int(w) if w.isdigit() else self.VOCAB[w] for w in text.split()]


# ---------------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("case", CASES)
def test_logits_match_reference_fp32(model, vectors, case):
    with torch.no_grad():
        out = model(**_inputs(vectors, case), return_memory=True)
    _report(f"{case} logits f32", out["logits"], vectors[f"{case}.logits"])
    torch.testing.assert_close(out["logits"], vectors[f"{case}.logits"], atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(out["hidden_states"], vectors[f"{case}.final_hidden"], atol=1e-5, rtol=1e-6)
    # FlagAI's mems: the embedding sum and every layer's output
    torch.testing.assert_close(torch.stack(out["mems"]), vectors[f"{case}.layer_outputs"], atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_logits_match_reference_fp64(model64, vectors, case):
    with torch.no_grad():
        out = model64(**_inputs(vectors, case))
    _report(f"{case} logits f64", out["logits"], vectors[f"{case}.logits_f64"])
    torch.testing.assert_close(out["logits"], vectors[f"{case}.logits_f64"], atol=1e-9, rtol=0)
    torch.testing.assert_close(out["hidden_states"], vectors[f"{case}.final_hidden_f64"], atol=1e-9, rtol=0)


@pytest.mark.parametrize("case", SEQ2SEQ_CASES)
def test_seq2seq_loss_matches_reference(glm_dir, vectors, case):
    model = GLMForSeq2Seq.from_pretrain(glm_dir)
    with torch.no_grad():
        out = model(**_inputs(vectors, case), target_ids=vectors[f"{case}.target_ids"],
                    loss_mask=vectors[f"{case}.loss_mask"])
    _report(f"{case} seq2seq loss", out["loss"], vectors[f"{case}.seq2seq_loss"][0])
    torch.testing.assert_close(out["loss"], vectors[f"{case}.seq2seq_loss"][0], atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(out["logits"], vectors[f"{case}.logits"], atol=1e-5, rtol=1e-6)


def test_explicit_matrix_mask_equals_separator(model, vectors):
    inputs = _inputs(vectors, "multisep")
    length = inputs["input_ids"].shape[1]
    i, j = torch.arange(length)[:, None], torch.arange(length)[None, :]
    matrix = ((j <= i) | (j < inputs["attention_mask"].view(-1, 1, 1))).float()[:, None]  # (B, 1, L, L)
    with torch.no_grad():
        expected = model(**inputs)["logits"]
        got = model(**{**inputs, "attention_mask": matrix})["logits"]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------- incremental
@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_incremental_decoding_matches_reference(model, model64, vectors, precision):
    m, suffix, atol = (model, "", 1e-5) if precision == "f32" else (model64, "_f64", 1e-9)
    with torch.no_grad():
        out = m(input_ids=vectors["incr.context_input_ids"], position_ids=vectors["incr.context_position_ids"],
                attention_mask=vectors["incr.context_attention_mask"], use_cache=True)
        _report(f"incr context {precision}", out["logits"], vectors[f"incr.context_logits{suffix}"])
        torch.testing.assert_close(out["logits"], vectors[f"incr.context_logits{suffix}"], atol=atol, rtol=0)
        cache = out["past_key_values"]
        for s in range(5):
            step = m(input_ids=vectors["incr.step_input_ids"][s], position_ids=vectors["incr.step_position_ids"][s],
                     attention_mask=vectors["incr.step_attention_mask"][s], past_key_values=cache)
            _report(f"incr step {s} {precision}", step["logits"], vectors[f"incr.step_logits{suffix}"][s])
            torch.testing.assert_close(step["logits"], vectors[f"incr.step_logits{suffix}"][s], atol=atol, rtol=0)
    assert cache.seq_length == 15


def test_incremental_equals_full_forward(model64, vectors):
    ids = torch.cat([vectors["incr.context_input_ids"], *vectors["incr.step_input_ids"]], dim=1)  # (2, 15)
    pos = torch.cat([vectors["incr.context_position_ids"], *vectors["incr.step_position_ids"]], dim=2)
    with torch.no_grad():
        full = model64(input_ids=ids, position_ids=pos, attention_mask=vectors["incr.context_attention_mask"])
    step_logits = vectors["incr.step_logits_f64"].squeeze(2).transpose(0, 1)  # (2, 5, V)
    torch.testing.assert_close(full["logits"][:, 10:], step_logits, atol=1e-9, rtol=0)
    # several new tokens at once through the cache: the separator rule applies inside the new block
    with torch.no_grad():
        ctx = model64(input_ids=ids[:, :10], position_ids=pos[:, :, :10], attention_mask=torch.tensor([10]),
                      use_cache=True)
        rest = model64(input_ids=ids[:, 10:], position_ids=pos[:, :, 10:], attention_mask=torch.tensor([0]),
                       past_key_values=ctx["past_key_values"])
    torch.testing.assert_close(rest["logits"], full["logits"][:, 10:], atol=1e-9, rtol=0)


def test_flagai_mems_match_reference(model, vectors):
    with torch.no_grad():
        out = model(input_ids=vectors["incr.context_input_ids"], position_ids=vectors["incr.context_position_ids"],
                    attention_mask=vectors["incr.context_attention_mask"], return_memory=True)
        mems = out["mems"]
        torch.testing.assert_close(torch.stack(mems), vectors["incr.context_mems"], atol=1e-5, rtol=1e-6)
        for s in range(5):
            step = model(input_ids=vectors["incr.step_input_ids"][s], position_ids=vectors["incr.step_position_ids"][s],
                         attention_mask=vectors["incr.step_attention_mask"][s], mems=mems, return_memory=True)
            torch.testing.assert_close(step["logits"], vectors["incr.step_logits"][s], atol=1e-5, rtol=0)
            mems = step["mems"]
    torch.testing.assert_close(torch.stack(mems), vectors["incr.final_mems"], atol=1e-5, rtol=1e-6)
    with pytest.raises(InputError, match="not both"):
        model(input_ids=vectors["incr.step_input_ids"][0], mems=mems, past_key_values=KVCache(2))


def test_attention_bias_rules():
    bias = glm_attention_bias(torch.tensor([2]), batch=1, query_length=4, past_length=3,
                              dtype=torch.float32, device=torch.device("cpu"))
    allowed = (bias[0, 0] == 0).int().tolist()
    assert allowed == [[1, 1, 1, 1, 1, 0, 0],
                       [1, 1, 1, 1, 1, 0, 0],
                       [1, 1, 1, 1, 1, 1, 0],
                       [1, 1, 1, 1, 1, 1, 1]]
    one_token = glm_attention_bias(torch.tensor([0]), batch=2, query_length=1, past_length=9,
                                   dtype=torch.float32, device=torch.device("cpu"))
    assert one_token is None
    with pytest.raises(InputError, match="separator"):
        glm_attention_bias(torch.tensor([1, 2, 3]), batch=2, query_length=4, past_length=0,
                           dtype=torch.float32, device=torch.device("cpu"))


def test_greedy_generation_with_cache_equals_recompute(model):
    tok = FakeGLMTokenizer()
    inputs = build_blank_infilling_inputs(tok, "the cat [MASK] on the mat")
    ids, pos = inputs["input_ids"], inputs["position_ids"]
    with torch.no_grad():
        out = model(input_ids=ids, position_ids=pos, attention_mask=inputs["attention_mask"], use_cache=True)
        cache, token = out["past_key_values"], torch.tensor([[tok.get_command_id("sop")]])
        for step in range(4):
            step_pos = step_position_ids(inputs["mask_position"], step)
            logits = model(input_ids=token, position_ids=step_pos, past_key_values=cache)["logits"]
            ids, pos = torch.cat([ids, token], dim=1), torch.cat([pos, step_pos], dim=2)
            full = model(input_ids=ids, position_ids=pos, attention_mask=inputs["attention_mask"])["logits"]
            torch.testing.assert_close(logits[:, -1], full[:, -1], atol=1e-5, rtol=0)
            token = logits[:, -1].argmax(-1, keepdim=True)
    assert pos[0, :, -4:].tolist() == [[3, 3, 3, 3], [1, 2, 3, 4]]


# ---------------------------------------------------------------------------------------- loading
def test_loads_flagai_key_names_and_wrappers(glm_dir, tmp_path, model, vectors):
    assert model.load_report.initialized == [] and model.load_report.ignored == []
    # a DeepSpeed-style {"module": ...} pytorch_model.bin with the "model." prefix FlagAI's loader strips
    state = load_file(str(glm_dir / "model.safetensors"))
    torch.save({"module": {f"model.{k}": v for k, v in state.items()}}, tmp_path / "pytorch_model.bin")
    shutil.copy(glm_dir / "config.json", tmp_path / "config.json")
    wrapped = GLMModel.from_pretrain(tmp_path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, wrapped.state_dict()[key]), key
    # GLMForSeq2Seq reads the same checkpoint with the same keys
    assert GLMForSeq2Seq.from_pretrain(glm_dir).state_dict().keys() == model.state_dict().keys()


def test_unknown_key_fails_loudly(glm_dir, tmp_path):
    state = load_file(str(glm_dir / "model.safetensors"))
    state["transformer.layers.0.attention.rotary.weight"] = torch.zeros(2)
    save_file(state, str(tmp_path / "model.safetensors"))
    shutil.copy(glm_dir / "config.json", tmp_path / "config.json")
    with pytest.raises(CheckpointError, match="rotary"):
        GLMModel.from_pretrain(tmp_path)


@pytest.mark.parametrize("safe", [True, False])
def test_save_load_round_trip_is_bitwise(model, vectors, tmp_path, safe):
    model.save_pretrained(tmp_path, safe_serialization=safe)
    assert (tmp_path / ("model.safetensors" if safe else "pytorch_model.bin")).is_file()
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "glm1" and saved["num_layers"] == 2
    loaded = GLMModel.from_pretrain(tmp_path)
    assert loaded.load_report.source_format == "flagai_lite"
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    with torch.no_grad():
        assert torch.equal(loaded(**_inputs(vectors, "bidir"))["logits"], model(**_inputs(vectors, "bidir"))["logits"])


def test_bf16_load(glm_dir, model, vectors):
    bf16 = GLMModel.from_pretrain(glm_dir, torch_dtype=torch.bfloat16)
    assert bf16.dtype == torch.bfloat16
    assert all(p.dtype == torch.bfloat16 for p in bf16.parameters())
    with torch.no_grad():
        logits = bf16(**_inputs(vectors, "multisep"))["logits"]
    assert logits.dtype == torch.bfloat16
    _report("multisep logits bf16 vs f32 reference", logits, vectors["multisep.logits"])
    torch.testing.assert_close(logits.float(), vectors["multisep.logits"], atol=0.1, rtol=0.05)


# ---------------------------------------------------------------------------------------- config
def _write_config(tmp_path, glm_dir, drop=(), **changes):
    data = json.loads((glm_dir / "config.json").read_text())
    data.update(changes)
    for key in drop:
        del data[key]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


def test_flagai_config_reads_without_model_type(glm_dir):
    config = GLMConfig.from_json(glm_dir / "config.json")
    assert (config.num_layers, config.hidden_size, config.num_attention_heads, config.vocab_size) == (2, 64, 4, 1000)
    assert config.to_dict()["model_type"] == "glm1"


def test_heads_must_divide_hidden_size(tmp_path, glm_dir):
    with pytest.raises(ConfigError, match="num_attention_heads"):
        GLMModel.init_from_json(_write_config(tmp_path, glm_dir, num_attention_heads=5))


def test_missing_num_layers(tmp_path, glm_dir):
    with pytest.raises(ConfigError, match="num_layers"):
        GLMModel.init_from_json(_write_config(tmp_path, glm_dir, drop=["num_layers"]))


def test_unsupported_options(tmp_path, glm_dir):
    with pytest.raises(ConfigError, match="relative_encoding"):
        GLMConfig.from_json(_write_config(tmp_path, glm_dir, relative_encoding=True))
    with pytest.raises(ConfigError, match="spell_length"):
        GLMConfig.from_json(_write_config(tmp_path, glm_dir, spell_length=4))


def test_presets():
    large_ch = GLMConfig.from_name("GLM-large-ch")
    assert (large_ch.num_layers, large_ch.hidden_size, large_ch.num_attention_heads, large_ch.vocab_size,
            large_ch.max_sequence_length) == (24, 1024, 16, 50048, 1024)
    assert GLMConfig.from_name("GLM-large-en").vocab_size == 30592
    ten_b = GLMConfig.from_name("glm-10b-ch")
    assert (ten_b.num_layers, ten_b.hidden_size, ten_b.num_attention_heads) == (48, 4096, 64)


# ---------------------------------------------------------------------------------------- heads
def test_sequence_classification_head(glm_dir, tmp_path, vectors):
    clf = GLMForSequenceClassification.from_pretrain(glm_dir, class_num=3)
    assert sorted(clf.load_report.initialized) == [
        "head.classifier.bias", "head.classifier.weight", "head.pool_proj.bias", "head.pool_proj.weight"]
    inputs = _inputs(vectors, "multisep")
    with torch.no_grad():
        out = clf(**inputs, labels=torch.tensor([0, 2]))
    assert out["logits"].shape == (2, 3) and torch.isfinite(out["loss"])
    torch.testing.assert_close(out["hidden_states"], vectors["multisep.final_hidden"], atol=1e-5, rtol=1e-6)
    # a FlagAI GLMForSequenceClassification save: backbone under "model.", head as pool_layer / multichoice_head
    state = {f"model.{k}": v for k, v in load_file(str(glm_dir / "model.safetensors")).items()}
    head = {"pool_layer.weight": torch.randn(64, 64), "pool_layer.bias": torch.randn(64),
            "multichoice_head.weight": torch.randn(3, 64), "multichoice_head.bias": torch.randn(3)}
    save_file({**state, **head}, str(tmp_path / "model.safetensors"))
    shutil.copy(glm_dir / "config.json", tmp_path / "config.json")
    flagai = GLMForSequenceClassification.from_pretrain(tmp_path, class_num=3, pool_token="start")
    assert flagai.load_report.initialized == []
    assert torch.equal(flagai.head.classifier.weight, head["multichoice_head.weight"])
    expected = torch.tanh(vectors["multisep.final_hidden"][[0, 1], [7, 12]] @ head["pool_layer.weight"].T
                          + head["pool_layer.bias"]) @ head["multichoice_head.weight"].T + head["multichoice_head.bias"]
    with torch.no_grad():
        torch.testing.assert_close(flagai(**inputs)["logits"], expected, atol=1e-4, rtol=1e-5)


def test_multiple_choice_and_missing_class_num(glm_dir, vectors):
    with pytest.raises(ConfigError, match="class_num"):
        GLMForSequenceClassification.from_pretrain(glm_dir)
    clf = GLMForSequenceClassification.from_pretrain(glm_dir, class_num=1)
    inputs = _inputs(vectors, "multisep")
    choices = {"input_ids": inputs["input_ids"][None], "position_ids": inputs["position_ids"][None],
               "attention_mask": inputs["attention_mask"][None]}  # (1, 2 choices, ...)
    with torch.no_grad():
        out = clf(**choices, labels=torch.tensor([1]))
    assert out["logits"].shape == (1, 2) and torch.isfinite(out["loss"])


def test_backward_and_activation_checkpointing(glm_dir, vectors):
    torch.manual_seed(0)
    inputs = _inputs(vectors, "blank_mask")
    targets = {"target_ids": vectors["blank_mask.target_ids"], "loss_mask": vectors["blank_mask.loss_mask"]}
    grads = []
    for recompute in (False, True):
        model = GLMForSeq2Seq.from_pretrain(glm_dir, checkpoint_activations=recompute, embedding_dropout_prob=0.0,
                                            attention_dropout_prob=0.0, output_dropout_prob=0.0).train()
        model(**inputs, **targets)["loss"].backward()
        grads.append(model.layers[0].attn.qkv_proj.weight.grad.clone())
    assert torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------------------------- blank infilling
def test_blank_inputs_hand_derived():
    tok = FakeGLMTokenizer()
    # FlagAI: [cls] + text + [eos] (text does not end with [gMASK]); positions 0..n-1, block 0, sep = n;
    # the text before a mask loses its trailing space (mask tokens are lstrip).
    out = build_blank_infilling_inputs(tok, "the cat [MASK] on the mat")
    assert tok.pieces == ["the cat", " on the mat"]
    assert out["input_ids"].tolist() == [[992, 1, 2, 993, 4, 1, 5, 990]]
    assert out["position_ids"].tolist() == [[[0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 0, 0, 0]]]
    assert out["attention_mask"].tolist() == [8]
    assert out["mask_position"] == 3 and out["mask_positions"] == [3]
    # generated span: every token at the mask's position, block positions 1, 2, ... (sop first)
    assert step_position_ids(3, 0).tolist() == [[[3], [1]]]
    assert step_position_ids(3, 4, batch_size=2).tolist() == [[[3], [5]], [[3], [5]]]
    assert step_position_ids(torch.tensor([3, 5]), 1).tolist() == [[[3], [2]], [[5], [2]]]
    # no mask: " [gMASK]" is appended, and no [eos] after a final [gMASK]
    out = build_blank_infilling_inputs(tok, "hello world")
    assert out["input_ids"].tolist() == [[992, 6, 7, 998]]
    assert out["attention_mask"].tolist() == [4] and out["mask_position"] == 3
    # several blanks are listed in text order
    out = build_blank_infilling_inputs(tok, "[sMASK] the cat [gMASK]")
    assert out["input_ids"].tolist() == [[992, 997, 1, 2, 998]]
    assert out["mask_positions"] == [1, 4]
    assert encode_blank_text(tok, "on [MASK][MASK] mat") == [4, 993, 993, 5]


def test_seq2seq_layout_hand_derived():
    tok = FakeGLMTokenizer()
    # FlagAI's seq2seq collate: tokens = source + [sop] + target[:-1] with target = span + [eop];
    # targets 0 over the source; positions: the mask's (2) over the span; block positions 1..len.
    out = build_seq2seq_inputs(tok, [992, 1, 993, 2, 990], [5, 6])
    assert out["input_ids"].tolist() == [992, 1, 993, 2, 990, 995, 5, 6]
    assert out["target_ids"].tolist() == [0, 0, 0, 0, 0, 5, 6, 996]
    assert out["loss_mask"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert out["position_ids"].tolist() == [[0, 1, 2, 3, 4, 2, 2, 2], [0, 0, 0, 0, 0, 1, 2, 3]]
    assert out["attention_mask"].item() == 5
    flat = build_seq2seq_inputs(tok, [992, 1, 993, 2, 990], [5, 6], block_position=False)
    assert flat["position_ids"][1].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    with pytest.raises(InputError, match="mask"):
        build_seq2seq_inputs(tok, [992, 1, 2], [5])


@pytest.mark.parametrize("case", ["blank_mask", "blank_gmask", "multisep"])
def test_seq2seq_layout_matches_reference(vectors, case):
    tok = FakeGLMTokenizer()
    samples = []
    for b, sep in enumerate(vectors[f"{case}.attention_mask"].tolist()):
        span = vectors[f"{case}.target_ids"][b, sep:-1].tolist()  # the reference target minus its eop
        samples.append(build_seq2seq_inputs(tok, vectors[f"{case}.input_ids"][b, :sep].tolist(), span))
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    for key in ("input_ids", "position_ids", "attention_mask", "target_ids", "loss_mask"):
        assert torch.equal(batch[key], vectors[f"{case}.{key}"]), key


def test_multispan_layout_matches_reference(vectors):
    ids = vectors["multispan.input_ids"][0].tolist()
    sep = vectors["multispan.attention_mask"].item()
    spans = [ids[17:20], ids[21:24]]  # after each sop
    out = build_seq2seq_inputs(FakeGLMTokenizer(), ids[:sep], spans)
    assert out["input_ids"].tolist() == ids
    assert torch.equal(out["position_ids"], vectors["multispan.position_ids"][0])


def test_generation_context_matches_reference(vectors):
    context = vectors["incr.context_input_ids"]
    for b in range(context.shape[0]):
        text = " ".join(str(i) for i in context[b, 1:-1].tolist()) + " [gMASK]"
        out = build_blank_infilling_inputs(FakeGLMTokenizer(), text)
        assert torch.equal(out["input_ids"][0], context[b])
        assert torch.equal(out["position_ids"][0], vectors["incr.context_position_ids"][b])
        assert torch.equal(out["attention_mask"], vectors["incr.context_attention_mask"])
    for s in range(5):
        expected = vectors["incr.step_position_ids"][s]
        assert torch.equal(step_position_ids(out["mask_position"], s, batch_size=2), expected)
