"""Every (task, backbone) in the task table: built by the AutoLoader from a hub, trained one step, predicted."""
import math

import pytest
import torch

from flagai_lite.auto_loader import AutoLoader
from flagai_lite.errors import CapabilityError, TaskError
from flagai_lite.predictor import Predictor

SEQ2SEQ = [{"source": "alice lives in paris", "target": "paris"}, {"source": "the cat sat on the mat", "target": "cat"}]
CLS = [{"text": "a good movie", "label": 1}, {"text": "a bad film", "label": 0}, {"text": "great story", "label": 1}]
PAIRS = [{"text_a": "alice lives in paris", "text_b": "alice works in paris", "label": 1},
         {"text_a": "the cat sat", "text_b": "a bad film", "label": 0}]
NER_TEXT = "alice lives in paris"
NER = [{"text": NER_TEXT, "entities": [{"start": 0, "end": 5, "type": "PER"}, {"start": 15, "end": 20, "type": "LOC"}]},
       {"text": "bob visited berlin", "entities": [{"start": 0, "end": 3, "type": "PER"}]}]
TEXTS = [{"text": "alice lives in paris"}, {"text": "the cat sat on the mat"}]
EMBED = [{"text": "a good movie", "label": 0}, {"text": "a great story", "label": 0}, {"text": "a bad film", "label": 1},
         {"text": "a poor plot", "label": 1}]

GENERATION = ("seq2seq", "title-generation", "poetry-generation")
NER_TASKS = ("ner", "ner-crf", "ner-gp")
# task -> backbones it is registered for (the README's table)
TABLE = {
    **{t: ("tiny-bert", "tiny-gpt2", "tiny-t5", "tiny-glm") for t in GENERATION},
    "classification": ("tiny-bert", "tiny-gpt2", "tiny-t5", "tiny-glm"),
    "semantic-matching": ("tiny-bert", "tiny-gpt2", "tiny-t5", "tiny-glm"),
    **{t: ("tiny-bert", "tiny-t5", "tiny-glm") for t in NER_TASKS},
    "embedding": ("tiny-bert", "tiny-t5", "tiny-glm"),
    "masklm": ("tiny-bert",),
    "lm": ("tiny-gpt2",),
}
CASES = [(task, name) for task, names in TABLE.items() for name in names]
KWARGS = {"classification": dict(class_num=2), "ner": dict(labels=["PER", "LOC"]),
          "ner-crf": dict(labels=["PER", "LOC"]), "ner-gp": dict(labels=["PER", "LOC"], inner_dim=8),
          "embedding": dict(embedding_dim=16)}
DATA = {**{t: SEQ2SEQ for t in GENERATION}, "classification": CLS, "semantic-matching": PAIRS,
        **{t: NER for t in NER_TASKS}, "embedding": EMBED, "masklm": TEXTS, "lm": TEXTS}


@pytest.fixture
def load(tiny_hub, tmp_path):
    def make(task, name, **kwargs):
        loader = AutoLoader(task, name, model_dir=tmp_path, hub_options={"endpoint": tiny_hub, "progress": False},
                            **{**KWARGS.get(task, {}), **kwargs})
        return loader.get_model(), loader.get_tokenizer()
    return make


@pytest.mark.parametrize("task,name", CASES, ids=[f"{t}-{n}" for t, n in CASES])
def test_task_trains_and_predicts(load, task, name):
    model, tokenizer = load(task, name)
    torch.manual_seed(0)
    model.train()
    batch = model.head.collate(tokenizer, DATA[task], max_length=32)
    out = model(**batch)
    assert math.isfinite(out["loss"].item())
    out["loss"].backward()
    head_params = [p for p in model.head.parameters()]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head_params), "head got no gradient"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())
    model.eval()
    _check_prediction(Predictor(model, tokenizer), task, model)


def _check_prediction(predictor, task, model):
    if task in GENERATION or task == "lm":
        text = predictor.predict_generate_beamsearch("alice lives in", out_max_length=4, beam_size=2)
        assert isinstance(text, str)
        sampled = predictor.predict_generate_randomsample("alice lives in", out_max_length=4, top_k=5)
        assert isinstance(sampled, str)
    elif task in ("classification", "semantic-matching"):
        query = ("alice lives in paris", "alice works in paris") if task == "semantic-matching" else "a good movie"
        result = predictor.predict_cls_classifier(query)
        assert result["label"] in (0, 1) and len(result["probs"]) == 2
        assert abs(sum(result["probs"]) - 1) < 1e-5
    elif task in NER_TASKS:
        entities = predictor.predict_ner(NER_TEXT)
        assert isinstance(entities, list)
        for entity in entities:
            assert entity["type"] in ("PER", "LOC")
            assert NER_TEXT[entity["start"]:entity["end"]] == entity["text"] and entity["text"]
    elif task == "masklm":
        filled = predictor.predict_masklm("alice [MASK] in paris")
        assert isinstance(filled, str) and "[MASK]" not in filled
    elif task == "embedding":
        vector = predictor.predict_embedding("a good movie")
        assert vector.shape == (16,) and abs(vector.norm().item() - 1) < 1e-5
        assert predictor.predict_embedding(["a", "b c"]).shape == (2, 16)


def test_ner_learns_entities_and_maps_them_to_text(load):
    """A few steps on one sentence: predictions decode to the right character spans."""
    model, tokenizer = load("ner-crf", "tiny-bert")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    batch = model.head.collate(tokenizer, NER[:1], max_length=32)
    for _ in range(60):
        optimizer.zero_grad()
        model(**batch)["loss"].backward()
        optimizer.step()
    model.eval()
    entities = Predictor(model, tokenizer).predict_ner(NER_TEXT)
    assert [(e["type"], e["text"]) for e in entities] == [("PER", "alice"), ("LOC", "paris")]


def test_finetuned_directory_round_trip(load, tmp_path):
    model, tokenizer = load("classification", "tiny-bert")
    target = tmp_path / "saved" / "tiny-bert-classification"
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    again = AutoLoader("classification", str(target)).get_model()
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key
    assert again.head.class_num == 2
    # the fine-tuned directory is preferred over the base model when both are in model_dir
    preferred = AutoLoader("classification", "tiny-bert", model_dir=tmp_path / "saved",
                           hub_options={"offline": True})
    assert preferred.model_path.name == "tiny-bert-classification"


def test_unknown_task_lists_valid_tasks(tiny_hub, tmp_path):
    with pytest.raises(TaskError, match=r"unknown task 'titel-generation'.*Did you mean title-generation.*ner-crf"):
        AutoLoader("titel-generation", "tiny-bert", model_dir=tmp_path, hub_options={"endpoint": tiny_hub})


def test_unknown_model_lists_known_names(tiny_hub, tmp_path):
    with pytest.raises(TaskError, match=r"unknown model 'tiny-bart'.*did you mean: tiny-bert.*BERT-base-en.*GLM-large-ch"):
        AutoLoader("ner", "tiny-bart", model_dir=tmp_path, hub_options={"endpoint": tiny_hub, "progress": False},
                   labels=["PER"])


def test_task_the_backbone_cannot_do(tiny_hub, tmp_path):
    with pytest.raises(TaskError, match=r"'masklm' is not available for GPT2Model.*it can do: .*lm.*seq2seq"):
        AutoLoader("masklm", "tiny-gpt2", model_dir=tmp_path, hub_options={"endpoint": tiny_hub, "progress": False})
    with pytest.raises(TaskError, match=r"'ner' is not available for GPT2-base-ch \(GPT2Model\)"):
        AutoLoader("ner", "GPT2-base-ch", model_dir=tmp_path, hub_options={"offline": True})


def test_missing_head_options(load):
    with pytest.raises(TaskError, match=r"needs class_num=N or labels"):
        load("classification", "tiny-bert", class_num=None)
    with pytest.raises(TaskError, match=r"needs labels=\[entity types\]"):
        load("ner", "tiny-bert", labels=None)


def test_predictor_refuses_methods_the_model_cannot_serve(load):
    model, tokenizer = load("classification", "tiny-bert")
    with pytest.raises(CapabilityError, match=r"predict_ner needs a model that can ner.*predict_cls_classifier"):
        Predictor(model, tokenizer).predict_ner("alice")


def test_seeded_new_heads_are_reproducible(load):
    first, _ = load("classification", "tiny-bert", seed=3)
    second, _ = load("classification", "tiny-bert", seed=3)
    other, _ = load("classification", "tiny-bert", seed=4)
    assert torch.equal(first.head.classifier.weight, second.head.classifier.weight)
    assert not torch.equal(first.head.classifier.weight, other.head.classifier.weight)
