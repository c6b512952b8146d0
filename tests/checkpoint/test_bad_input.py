"""Bad checkpoints and configs fail with a specific error from our hierarchy and a useful message."""
import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from flagai_lite.errors import CheckpointError, ConfigError, FlagAILiteError, UnsafeCheckpointError
from flagai_lite.model.bert import BertModel
from flagai_lite.model.gpt2 import GPT2Model
from flagai_lite.model.registry import model_class_for_dir


@pytest.fixture
def saved_bert(tiny_model, tmp_path):
    _, model = tiny_model("bert")
    model.save_pretrained(tmp_path)
    return tmp_path


def test_truncated_safetensors(saved_bert):
    path = saved_bert / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*(truncated|corrupt)"):
        BertModel.from_pretrain(saved_bert)


def test_wrong_shape_names_key_file_and_both_shapes(saved_bert):
    config = json.loads((saved_bert / "config.json").read_text())
    config["intermediate_size"] = 32
    (saved_bert / "config.json").write_text(json.dumps(config))
    pattern = (
        r"shape mismatch for 'layers\.0\.mlp\.(up|down)_proj\.weight' in \S*model\.safetensors: "
        r"checkpoint has \((24, 16|16, 24)\), BertModel expects \((32, 16|16, 32)\)"
    )
    with pytest.raises(CheckpointError, match=pattern):
        BertModel.from_pretrain(saved_bert)


def test_missing_backbone_key(saved_bert):
    path = saved_bert / "model.safetensors"
    tensors = load_file(str(path))
    del tensors["layers.1.attn.qkv_proj.weight"]
    save_file(tensors, str(path))
    with pytest.raises(CheckpointError, match=r"missing.*layers\.1\.attn\.qkv_proj\.weight"):
        BertModel.from_pretrain(saved_bert)


def test_missing_head_weights_are_initialised_and_named_in_one_warning(saved_bert, caplog):
    path = saved_bert / "model.safetensors"
    tensors = load_file(str(path))
    for key in [k for k in tensors if k.startswith("pooler.")]:
        del tensors[key]
    save_file(tensors, str(path))
    with caplog.at_level("WARNING"):
        model = BertModel.from_pretrain(saved_bert)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "pooler.dense.weight" in warnings[0] and "pooler.dense.bias" in warnings[0]
    assert sorted(model.load_report.initialized) == ["pooler.dense.bias", "pooler.dense.weight"]
    assert torch.isfinite(model.pooler.dense.weight).all() and model.pooler.dense.weight.std() > 0


def test_unexpected_key(saved_bert):
    path = saved_bert / "model.safetensors"
    tensors = load_file(str(path))
    tensors["layers.0.attn.rotary.inv_freq"] = torch.zeros(4)
    save_file(tensors, str(path))
    with pytest.raises(CheckpointError, match=r"unexpected.*layers\.0\.attn\.rotary\.inv_freq.*model\.safetensors"):
        BertModel.from_pretrain(saved_bert)


def test_unknown_foreign_key_is_an_error(saved_bert):
    config = json.loads((saved_bert / "config.json").read_text())
    del config["flagai_lite_version"]  # now read as a Hugging Face checkpoint
    (saved_bert / "config.json").write_text(json.dumps(config))
    save_file({"bert.encoder.layer.0.crossattention.self.query.weight": torch.zeros(2, 2)},
              str(saved_bert / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"crossattention.*key map"):
        BertModel.from_pretrain(saved_bert)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_code(saved_bert, tmp_path):
    (saved_bert / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    torch.save({"embeddings.word.weight": torch.zeros(2), "payload": _RunsCode(marker)},
               saved_bert / "pytorch_model.bin")
    with pytest.raises(UnsafeCheckpointError, match=r"pytorch_model\.bin.*refused"):
        BertModel.from_pretrain(saved_bert)
    assert not marker.exists()


def test_truncated_bin(tiny_model, tmp_path):
    _, model = tiny_model("gpt2")
    model.save_pretrained(tmp_path, safe_serialization=False)
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin"):
        GPT2Model.from_pretrain(tmp_path)


def test_broken_json(saved_bert):
    (saved_bert / "config.json").write_text('{"vocab_size": 64,, }')
    with pytest.raises(ConfigError, match=r"config\.json: not valid JSON at line 1"):
        BertModel.from_pretrain(saved_bert)


def test_unknown_model_type(saved_bert):
    config = json.loads((saved_bert / "config.json").read_text())
    config["model_type"] = "perceiver"
    (saved_bert / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"config\.json: unknown model_type 'perceiver'.*bert.*gpt2"):
        model_class_for_dir(saved_bert)
    with pytest.raises(ConfigError, match=r"model_type 'perceiver' is not a bert model"):
        BertModel.from_pretrain(saved_bert)


def test_other_family_directory_is_refused(saved_bert):
    with pytest.raises(ConfigError, match=r"model_type 'bert' is not a gpt2 model"):
        GPT2Model.from_pretrain(saved_bert)


@pytest.mark.parametrize(
    "change,pattern",
    [
        ({"num_attention_heads": 3}, r"'num_attention_heads' \(3\) must divide 'hidden_size' \(16\)"),
        ({"hidden_size": -16}, r"'hidden_size' must be positive"),
        ({"num_hidden_layers": None}, r"required field\(s\) \['num_hidden_layers'\] missing"),
        ({"num_hidden_layers": "2"}, r"'num_hidden_layers' must be int"),
        ({"hidden_act": "gelu_fancy"}, r"unknown activation 'gelu_fancy'"),
    ],
)
def test_bad_config_fields_name_file_and_field(saved_bert, change, pattern):
    config = json.loads((saved_bert / "config.json").read_text())
    for key, value in change.items():
        if value is None:
            del config[key]
        else:
            config[key] = value
    (saved_bert / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=pattern) as err:
        BertModel.init_from_json(saved_bert / "config.json")
    assert str(saved_bert / "config.json") in str(err.value)


def test_missing_weight_file_lists_names_looked_for(saved_bert):
    (saved_bert / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"no weight file.*model\.safetensors.*pytorch_model\.bin"):
        BertModel.from_pretrain(saved_bert)


def test_index_naming_a_missing_shard(tiny_model, tmp_path):
    _, model = tiny_model("bert")
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    next(tmp_path.glob("model-00002-of-*.safetensors")).unlink()
    with pytest.raises(CheckpointError, match=r"model-00002-of-\d+\.safetensors"):
        BertModel.from_pretrain(tmp_path)


def test_all_errors_share_one_base():
    assert issubclass(CheckpointError, FlagAILiteError) and issubclass(ConfigError, FlagAILiteError)
