"""YAML training configs: typed, every key checked, command-line overrides, errors naming the key."""
import dataclasses
from pathlib import Path
from typing import Optional

import pytest

from flagai_lite.errors import ConfigError
from flagai_lite.trainer import TrainerConfig, load_train_config

BASE = Path(__file__).resolve().parents[2] / "configs" / "base.yaml"


def _yaml(tmp_path, text):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_base_yaml_documents_every_option_with_its_default():
    config, example = load_train_config(BASE, [])
    assert config == TrainerConfig() and example == {}
    text = BASE.read_text()
    missing = [f.name for f in dataclasses.fields(TrainerConfig) if f"\n{f.name}:" not in text]
    assert not missing


def test_unknown_key_is_named_with_the_closest_option(tmp_path):
    path = _yaml(tmp_path, "lr: 1e-4\nbatchsize: 8\n")
    with pytest.raises(ConfigError, match=r"train.yaml: unknown option 'batchsize'; did you mean 'batch_size'\?"):
        load_train_config(path, [])


def test_wrong_type_is_named_with_the_expected_type(tmp_path):
    with pytest.raises(ConfigError, match=r"train.yaml: option 'batch_size' must be int, got 'eight'"):
        load_train_config(_yaml(tmp_path, "batch_size: eight\n"), [])
    with pytest.raises(ConfigError, match=r"option 'save_dir' must be str or NoneType, got 3"):
        load_train_config(_yaml(tmp_path, "save_dir: 3\n"), [])
    with pytest.raises(ConfigError, match=r"option 'precision' must be one of \['fp32', 'bf16', 'fp16'\]"):
        load_train_config(_yaml(tmp_path, "precision: fp8\n"), [])


def test_duplicate_keys_and_non_mappings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="duplicate key 'lr'"):
        load_train_config(_yaml(tmp_path, "lr: 1.0e-3\nlr: 1.0e-4\n"), [])
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_train_config(_yaml(tmp_path, "- lr\n"), [])
    with pytest.raises(ConfigError, match="not found"):
        load_train_config(tmp_path / "missing.yaml", [])


def test_yaml_reads_exponents_as_floats(tmp_path):
    config, _ = load_train_config(_yaml(tmp_path, "lr: 1e-4\nweight_decay: 0\n"), [])
    assert config.lr == 1e-4 and config.weight_decay == 0.0 and isinstance(config.weight_decay, float)


def test_command_line_overrides_yaml(tmp_path):
    path = _yaml(tmp_path, "lr: 1.0e-3\nepochs: 2\nsave_dir: out\nexample:\n  max_length: 64\n  data: a.json\n")
    argv = ["--lr", "1e-4", "--epochs=3", "--resume", "--no-progress_bar", "--eval-batch-size", "4",
            "--greater_is_better", "false", "--example.max_length", "128"]
    config, example = load_train_config(path, argv)
    assert (config.lr, config.epochs, config.resume, config.progress_bar) == (1e-4, 3, True, False)
    assert config.eval_batch_size == 4 and config.greater_is_better is False and config.save_dir == "out"
    assert example == {"max_length": 128, "data": "a.json"}
    config, _ = load_train_config(path, ["--save_dir", "null", "--eval_batch_size", "none"])
    assert config.save_dir is None and config.eval_batch_size is None


def test_bad_command_line_options_are_named(tmp_path):
    path = _yaml(tmp_path, "example:\n  max_length: 64\n")
    with pytest.raises(ConfigError, match=r"unknown option '--lrr'; did you mean 'lr'\?"):
        load_train_config(path, ["--lrr", "1"])
    with pytest.raises(ConfigError, match=r"'--epochs' must be int, got 'three'"):
        load_train_config(path, ["--epochs", "three"])
    with pytest.raises(ConfigError, match=r"'--example.max_length' must be int, got 'long'"):
        load_train_config(path, ["--example.max_length", "long"])
    with pytest.raises(ConfigError, match=r"unknown option '--example.max_len'; did you mean 'example.max_length'"):
        load_train_config(path, ["--example.max_len", "3"])
    with pytest.raises(ConfigError, match="'--lr' needs a value"):
        load_train_config(path, ["--lr"])
    with pytest.raises(ConfigError, match="unexpected argument 'oops'"):
        load_train_config(path, ["oops"])
    with pytest.raises(ConfigError, match="'resume' is true but 'save_dir' is null"):
        load_train_config(path, ["--resume"])


def test_config_path_from_the_command_line(tmp_path):
    path = _yaml(tmp_path, "epochs: 5\n")
    config, _ = load_train_config(None, ["--config", str(path), "--lr", "0.5"])
    assert (config.epochs, config.lr) == (5, 0.5)


@dataclasses.dataclass
class ExampleFields:
    model_name: str
    max_length: int = 64
    data_dir: Optional[str] = None


def test_example_section_typed_by_a_dataclass(tmp_path):
    path = _yaml(tmp_path, "example:\n  model_name: GPT2-base-ch\n")
    _, example = load_train_config(path, ["--example.max_length", "256"], example_class=ExampleFields)
    assert example == ExampleFields("GPT2-base-ch", 256, None)
    with pytest.raises(ConfigError, match="section 'example': option 'max_length' must be int"):
        load_train_config(_yaml(tmp_path, "example:\n  model_name: x\n  max_length: 1.5\n"), [],
                          example_class=ExampleFields)
    with pytest.raises(ConfigError, match="section 'example': unknown option 'modelname'"):
        load_train_config(_yaml(tmp_path, "example:\n  modelname: x\n"), [], example_class=ExampleFields)
    with pytest.raises(ConfigError, match="model_name"):
        load_train_config(_yaml(tmp_path, "example:\n  max_length: 3\n"), [], example_class=ExampleFields)


def test_fp16_alias_and_conflicts():
    assert TrainerConfig(fp16=True).precision == "fp16"
    with pytest.raises(ConfigError, match="'fp16' is true but 'precision' is 'bf16'"):
        TrainerConfig(fp16=True, precision="bf16")
    with pytest.raises(ConfigError, match="'warm_up'.*'warm_up_iters'"):
        TrainerConfig(warm_up=0.1, warm_up_iters=10)
    with pytest.raises(ConfigError, match="'epochs' and 'max_steps' are both 0"):
        TrainerConfig(epochs=0)
