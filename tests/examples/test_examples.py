"""Every example's tiny setting end to end: training lowers the loss, save_dir/best loads through the
AutoLoader, predict.py prints predictions and a held-out score."""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flagai_lite.auto_loader import AutoLoader

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# (example folder, config, extra arguments, the task save_dir/best is fine-tuned for)
CASES = [
    ("title_generation", "glm_title_generation.yaml", [], "title-generation"),
    ("title_generation", "t5_title_generation.yaml", [], "title-generation"),
    ("title_generation", "gpt2_title_generation.yaml", [], "title-generation"),
    ("title_generation", "bert_title_generation.yaml", [], "title-generation"),
    ("ner", "roberta_ner.yaml", ["--task", "ner"], "ner"),
    ("ner", "roberta_ner.yaml", ["--task", "ner-crf"], "ner-crf"),
    ("ner", "roberta_ner.yaml", ["--task", "ner-gp"], "ner-gp"),
    ("semantic_matching", "roberta_semantic_matching.yaml", ["--max_steps", "300"], "semantic-matching"),
    ("text_classification", "bert_text_classification.yaml", [], "classification"),
    ("poetry_generation", "glm_poetry_generation.yaml", [], "poetry-generation"),
]
# Fewer steps than the tiny configs take, enough for the loss to fall (semantic matching sits on a plateau
# for about 200 steps before it learns: it gets 300).
STEPS = 30
SCORE_LINE = {"title_generation": r"test \(40 articles\): ROUGE-L \d\.\d{3}, exact match \d\.\d{3}",
              "ner": r"test \(60 sentences\): entity F1 \d\.\d{3}",
              "semantic_matching": r"test \(60 pairs\): accuracy \d\.\d{3}",
              "text_classification": r"test \(16 sentences\): accuracy \d\.\d{3}",
              "poetry_generation": r"test \(4 titles\): ROUGE-L \d\.\d{3}"}


@pytest.mark.parametrize("example,config,extra,task", CASES,
                         ids=[c.split(".")[0] + (f"-{t}" if x == "ner" else "") for x, c, _, t in CASES])
def test_tiny_setting_trains_saves_and_predicts(example, config, extra, task, script, model_dir, tmp_path, capsys):
    argv = ["--config", str(CONFIGS / config), "--tiny", "--model_dir", str(model_dir), "--save_dir",
            str(tmp_path / "run"), "--max_steps", str(STEPS), "--log_interval", "5", "--eval_interval", "0",
            "--save_interval", "0", "--no-progress_bar", *extra]
    result = script(f"{example}/train.py").main(argv)

    losses, steps = result["losses"], result["state"].total_steps
    assert len(losses) == steps // 5 and losses[-1] < 0.95 * losses[0], losses
    assert result["state"].step == steps and all(0 <= v <= 1 for v in result["scores"].values())

    best = tmp_path / "run" / "best"
    saved = {p.name for p in best.iterdir()}
    assert {"config.json", "task.json", "model.safetensors", "tokenizer_config.json"} <= saved
    assert json.loads((best / "task.json").read_text())["task"] == task
    assert AutoLoader(task, str(best)).get_model().task == task

    capsys.readouterr()
    scores = script(f"{example}/predict.py").main(argv)
    out = capsys.readouterr().out
    assert re.search(SCORE_LINE[example], out), out
    n_test = len((CONFIGS.parent / "examples" / example / "data" / "test.jsonl").read_text().splitlines())
    assert out.count("\n  -> ") == min(5, n_test)  # the first `show` held-out inputs with their predictions
    assert all(0 <= v <= 1 for v in scores.values())


def test_model_name_and_dir_pick_an_existing_model(model_dir, tmp_path, capsys, finetune):
    """--model_name / --model_dir load what is there (here: a model another example made), as a user's model."""
    from flagai_lite.tiny import make_tiny_model_dir

    make_tiny_model_dir("bert", ["a house by the river", "the river is long"], tmp_path / "models" / "my-bert")
    config, opts = finetune.load_config(["--tiny", "--model_name", "my-bert", "--model_dir=" + str(tmp_path / "models"),
                                         "--lr", "1e-4", "--example.max_length", "32"], "roberta_ner.yaml")
    assert (opts.model_name, opts.model_dir, opts.max_length) == ("my-bert", str(tmp_path / "models"), 32)
    assert config.lr == 1e-4
    assert opts.task == "ner-crf" and opts.tiny_family == "roberta"
    loader = finetune.load_model(opts)  # an existing directory is used as it is, never rebuilt
    assert loader.model_path == tmp_path / "models" / "my-bert"
    assert loader.get_tokenizer().tokenize("the river") == ["the", "river"]


def test_unknown_option_is_a_config_error(finetune):
    from flagai_lite.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown option '--lrr'.*did you mean 'lr'"):
        finetune.load_config(["--tiny", "--lrr", "1"], "glm_title_generation.yaml")


def test_the_readme_torchrun_command_trains_on_two_cpu_processes(tmp_path):
    """torchrun --nproc_per_node 2 examples/title_generation/train.py --tiny --env_type pytorchDDP (gloo on CPU)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", FLAGAI_OFFLINE="1")
    command = [str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), str(CONFIGS.parent / "examples" / "title_generation" / "train.py"),
               "--tiny", "--env_type", "pytorchDDP", "--max_steps", "20", "--no-progress_bar"]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "batch 16 x 2 processes x 1 accumulation = 32; 20 optimizer steps" in proc.stderr
    assert proc.stdout.count("valid (40 articles): ROUGE-L") == 1  # rank 0 alone scores and prints
    assert (tmp_path / "runs" / "glm_title_generation_tiny" / "best" / "vocab.txt").is_file()
    assert (tmp_path / "checkpoints" / "tiny-glm-titles" / "config.json").is_file()


def test_a_model_on_the_hub_is_downloaded_not_rebuilt(tmp_path, monkeypatch, finetune):
    from flagai_lite.hub import upload
    from flagai_lite.tiny import make_tiny_model_dir

    monkeypatch.delenv("FLAGAI_OFFLINE")
    source = make_tiny_model_dir("bert", ["the hub has this model"], tmp_path / "src" / "tiny-roberta-ner")
    upload(source, "tiny-roberta-ner", endpoint=(tmp_path / "hub").as_uri(), progress=False)
    monkeypatch.setenv("FLAGAI_HUB_ENDPOINT", (tmp_path / "hub").as_uri())
    config, opts = finetune.load_config(["--tiny", "--model_dir", str(tmp_path / "models")], "roberta_ner.yaml")
    loader = finetune.load_model(opts, tiny_texts=["other texts would make another vocabulary"])
    assert loader.model_path == tmp_path / "models" / "tiny-roberta-ner"
    assert (loader.model_path / "manifest.json").is_file()  # it came from the hub
    assert loader.get_tokenizer().tokenize("the hub has this model") == ["the", "hub", "has", "this", "model"]
