"""`import flagai_lite` stays cheap: heavy or optional modules load only when used."""
import json
import subprocess
import sys

FORBIDDEN = ["transformers", "requests", "flagai_lite.hub", "flagai_lite.tokenizer", "flagai_lite.trainer",
             "flagai_lite.model.bert", "torch"]


def _modules_after(code: str) -> set:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_import_flagai_lite_loads_nothing_heavy():
    loaded = _modules_after("import flagai_lite")
    assert not [m for m in FORBIDDEN if m in loaded]


def test_loading_a_model_module_does_not_import_reference_or_network_code():
    loaded = _modules_after("from flagai_lite.model.bert import BertModel")
    assert not [m for m in ("transformers", "requests", "flagai_lite.hub", "flagai_lite.trainer") if m in loaded]
