"""save_pretrained -> from_pretrain round trips are bitwise, in every format; loading is memory-mapped."""
import json
import subprocess
import sys
import textwrap

import pytest
import torch

from flagai_lite.checkpoint import parse_size

FORMATS = {
    "safetensors": dict(safe_serialization=True),
    "safetensors-sharded": dict(safe_serialization=True, max_shard_size="20KB"),
    "bin": dict(safe_serialization=False),
    "bin-sharded": dict(safe_serialization=False, max_shard_size="20KB"),
}


def _assert_bitwise_equal(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("kind", ["bert", "roberta", "gpt2", "t5", "t5-gated"])
def test_round_trip_is_bitwise(tiny_model, tmp_path, kind, fmt):
    cls, model = tiny_model(kind)
    model.save_pretrained(tmp_path, **FORMATS[fmt])
    names = sorted(p.name for p in tmp_path.iterdir())
    if fmt.endswith("sharded"):
        index = "model.safetensors.index.json" if fmt.startswith("safe") else "pytorch_model.bin.index.json"
        assert index in names and len(names) > 3, names
        weight_map = json.loads((tmp_path / index).read_text())["weight_map"]
        assert set(weight_map.values()) <= set(names)
    loaded = cls.from_pretrain(tmp_path)
    _assert_bitwise_equal(model, loaded)
    assert loaded.load_report.source_format == "flagai_lite"
    assert loaded.load_report.initialized == []
    for alias, source in loaded.tied_weights.items():
        assert loaded.get_parameter(alias) is loaded.get_parameter(source)


def test_tied_weights_are_stored_once(tiny_model, tmp_path):
    from safetensors import safe_open

    _, model = tiny_model("gpt2")
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        keys = set(f.keys())
    assert "embeddings.word.weight" in keys and "lm_head.weight" not in keys


def test_resave_in_other_format_removes_stale_files(tiny_model, tmp_path):
    cls, model = tiny_model("bert")
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    model.save_pretrained(tmp_path, safe_serialization=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["config.json", "pytorch_model.bin"]
    _assert_bitwise_equal(model, cls.from_pretrain(tmp_path))


def test_dtype_conversion_on_load(tiny_model, tmp_path):
    cls, model = tiny_model("gpt2")
    model.save_pretrained(tmp_path)
    half = cls.from_pretrain(tmp_path, torch_dtype=torch.bfloat16)
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}
    for key, value in model.state_dict().items():
        assert torch.equal(half.state_dict()[key], value.to(torch.bfloat16)), key
    kept = cls.from_pretrain(tmp_path, torch_dtype="auto")
    assert {p.dtype for p in kept.parameters()} == {torch.float32}


def test_init_from_json_overrides_win(tiny_model, tmp_path):
    cls, model = tiny_model("bert")
    model.config.save(tmp_path / "config.json")
    fresh = cls.init_from_json(tmp_path / "config.json", num_hidden_layers=3)
    assert len(fresh.layers) == 3 and fresh.config.hidden_size == model.config.hidden_size


def test_parse_size():
    assert parse_size("5GB") == 5 * 10**9
    assert parse_size("10KiB") == 10 * 1024
    assert parse_size("200MB") == 200 * 10**6
    assert parse_size(123) == 123


_PEAK_RAM_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch, safetensors.torch
    from flagai_lite.model.gpt2 import GPT2Config, GPT2Model

    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    # Warm up first: the first load and forward initialise BLAS buffers and lazy modules, which
    # are not the cost of the weights.
    tiny = GPT2Model.from_config(GPT2Config(vocab_size=64, n_positions=8, n_embd=8, n_layer=1, n_head=2))
    tiny(input_ids=torch.tensor([[1, 2, 3]]))
    before = rss("VmRSS:")
    model = GPT2Model.from_pretrain(sys.argv[1])
    model(input_ids=torch.tensor([[1, 2, 3]]))  # ready for forward
    print(json.dumps({"before": before, "peak": rss("VmHWM:")}))
    """
)


def test_sharded_load_peak_ram_stays_near_weight_size(tmp_path):
    """Loading a 3-shard checkpoint grows peak RSS by < 1.3x the weight bytes (memory-mapped, no copies)."""
    from flagai_lite.model.gpt2 import GPT2Config, GPT2Model

    config = GPT2Config(vocab_size=16000, n_positions=256, n_embd=768, n_layer=6, n_head=12)
    model = GPT2Model.from_config(config)
    weight_bytes = sum(t.numel() * t.element_size() for k, t in model.state_dict().items() if k not in model.tied_weights)
    model.save_pretrained(tmp_path, max_shard_size=weight_bytes // 3 + 1024)
    assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) >= 3
    del model
    out = subprocess.run([sys.executable, "-c", _PEAK_RAM_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                         check=True)
    numbers = json.loads(out.stdout.strip().splitlines()[-1])
    growth = (numbers["peak"] - numbers["before"]) / weight_bytes
    assert growth < 1.3, f"peak RAM grew by {growth:.2f}x the weights ({weight_bytes / 1e6:.0f} MB)"
