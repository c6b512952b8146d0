"""A file:// modelhub holding one tiny checkpoint (with tokenizer) per architecture, made by flagai_lite.tiny."""
import pytest

from flagai_lite.hub import upload
from flagai_lite.tiny import make_tiny_model_dir

CORPUS = [
    "alice lives in paris and works in london",
    "bob visited berlin with carol",
    "the cat sat on the mat",
    "a good movie with a great story",
    "a bad film and a poor plot",
    "张三在北京工作",
    "李四去上海",
]
# name -> (family, sizes); WordPiece vocabularies for bert / gpt2 (FlagAI's GPT2-base-ch convention) / glm,
# a SentencePiece model for t5.
MODELS = {
    "tiny-bert": ("bert", dict(max_length=64)),
    "tiny-gpt2": ("gpt2", dict(max_length=128)),
    "tiny-t5": ("t5", dict(vocab_size=64, relative_attention_num_buckets=8)),
    "tiny-glm": ("glm", dict(max_length=128)),
}


@pytest.fixture(scope="session")
def tiny_hub(tmp_path_factory):
    """``file://`` endpoint of a hub with tiny-bert, tiny-gpt2, tiny-t5 and tiny-glm."""
    local = tmp_path_factory.mktemp("tiny-models")
    hub = tmp_path_factory.mktemp("tiny-hub")
    endpoint = hub.as_uri()
    for name, (family, sizes) in MODELS.items():
        path = make_tiny_model_dir(family, CORPUS, local / name, hidden=32, layers=2, heads=4, intermediate=48,
                                   **sizes)
        upload(path, name, endpoint=endpoint)
    return endpoint
