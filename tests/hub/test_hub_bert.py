"""BertModel.from_pretrain fetches a missing model through the hub (moto S3) and loads it."""
from __future__ import annotations

import torch
from hub_helpers import CREDS

from flagai_lite.hub import upload


def test_bert_from_pretrain_downloads_from_an_empty_directory(bucket, moto_url, tmp_path, proxy_factory, monkeypatch):
    from flagai_lite.model.bert import BertConfig, BertModel

    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=24)
    torch.manual_seed(0)
    original = BertModel.from_config(config).eval()
    original.save_pretrained(tmp_path / "src" / "bert-tiny")
    upload(tmp_path / "src" / "bert-tiny", "bert-tiny", f"{moto_url}/{bucket}", credentials=CREDS,
           acl="public-read", progress=False)

    proxy = proxy_factory(moto_url)
    monkeypatch.setenv("FLAGAI_HUB_ENDPOINT", f"{proxy.url}/{bucket}")
    monkeypatch.setenv("FLAGAI_HUB_PROGRESS", "0")
    loaded = BertModel.from_pretrain(tmp_path / "dl", "bert-tiny")
    assert (tmp_path / "dl" / "bert-tiny" / "config.json").is_file()
    served = len(proxy.served())
    assert served >= 3  # manifest, config.json, weights

    input_ids = torch.tensor([[1, 5, 7, 2]])
    with torch.no_grad():
        expected = original(input_ids=input_ids)["hidden_states"]
        torch.testing.assert_close(loaded(input_ids=input_ids)["hidden_states"], expected)
    BertModel.from_pretrain(tmp_path / "dl", "bert-tiny")  # second load: local only
    assert len(proxy.served()) == served
