"""Demo test fixtures: one torch thread (restored after), no hub or proxy settings from the environment."""
import pytest
import torch


@pytest.fixture(autouse=True)
def demo_env(monkeypatch):
    before = torch.get_num_threads()
    for name in ("FLAGAI_HUB_ENDPOINT", "FLAGAI_OFFLINE", "FLAGAI_HUB_PROGRESS", "HTTP_PROXY", "http_proxy",
                 "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield
    torch.set_num_threads(before)
