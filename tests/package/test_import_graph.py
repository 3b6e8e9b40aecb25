"""The package's import graph shows its architecture: wings by purpose, no cycles, nothing points up.

    wing                        imports (of ours)
    constants, _quiet, files    nothing: names, log quieting, atomic files
    recipes                     nothing: TrainConfig's fields by name, in plain dicts
    config                      constants
    layers/                     constants, config
    model                       layers, config, constants
    data/                       constants, files
    corpus/                     data (the grammar that wrote the embedded corpus)
    runs/                       config, model, data, constants, files (the run-directory contract)
    training/   inference/      peers: each stands on runs, model, data; never on the other
    serving/                    nothing: the server runs beside a SavedModel alone
    viz/                        config, model, constants, files (the attention page, the figure)
    course/                     what the notebooks share: on training, data, corpus, recipes
    check, demo, cli, __main__  the commands, on top of everything

Read from the source with ``ast`` (imports inside functions count too), so the test
needs no TensorFlow; one subprocess checks what importing inference really loads.
"""

import ast
import pathlib
import re
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "tf_transformer"
SUBPACKAGES = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: pathlib.Path) -> set[str]:
    """The tf_transformer modules that ``path`` imports, anywhere in the file."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    + ([node.module] if node.module else [])
                )
            for alias in node.names:  # `from tf_transformer import data` names a module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name.split(".")[0] == "tf_transformer"}


def unit(module: str) -> str:
    """What the architecture talks about: a subpackage, or a top-level module."""
    parts = module.split(".")
    if len(parts) == 1:
        return "tf_transformer"  # the package's own __init__
    return parts[1]


def unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(unit(name), set())
        edges.update(unit(m) for m in imports(path) if unit(m) != unit(name))
    return graph


def test_the_graph_is_read_from_every_module():
    graph = unit_graph()
    assert {"layers", "data", "training", "inference", "config", "constants", "runs"} <= set(graph)
    assert "runs" in graph["training"] and "runs" in graph["inference"]
    assert "tf_transformer.data" in imports(
        PACKAGE / "training" / "plan.py"
    )  # `from tf_transformer import data`


def assert_no_cycle(graph: dict[str, set[str]]) -> None:
    """Fail with the first import cycle a depth-first walk of ``graph`` finds."""
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node) :] + [node]))
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_no_cycles_between_subpackages_and_modules():
    assert_no_cycle(unit_graph())


def module_graph() -> dict[str, set[str]]:
    """Module to module, every import in the file (in functions too), without the edge from a
    module to its own package's ``__init__`` (``from tf_transformer.data import catalogs`` reaches
    the submodule; the package's lazy re-exports are not a dependency)."""
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {
            other
            for other in imports(path)
            if other != name and other in MODULES and not name.startswith(other + ".")
        }
    return graph


def test_no_cycles_between_modules_inside_a_subpackage():
    # The subpackage graph above folds each subpackage into one node; a circle such as
    # data/spec -> data/datasets -> data/local -> data/spec hides inside one.
    assert_no_cycle(module_graph())


def test_the_foundations_import_nothing_above_them():
    graph = unit_graph()
    allowed = {
        "constants": set(),
        "_quiet": set(),
        "files": set(),
        "recipes": set(),
        "config": {"constants"},
        "layers": {"constants", "config", "_quiet"},
        "model": {"constants", "config", "layers", "_quiet"},
        "data": {"constants", "files"},
        "corpus": {"constants", "data"},
        "runs": {"constants", "config", "model", "data", "files", "tf_transformer"},
        "serving": set(),
        "viz": {"constants", "config", "model", "files"},
    }
    for name, below in allowed.items():
        assert graph[name] <= below, f"{name} imports {sorted(graph[name] - below)}"
    commands = {"check", "demo", "cli", "__main__"}
    for name in graph.keys() - commands:
        assert not graph[name] & commands, f"{name} imports the commands {sorted(graph[name] & commands)}"


def test_the_map_above_names_every_wing_and_root_module():
    """The docstring's map is the architecture's one picture: a new module or wing must appear in it."""
    words = set(re.findall(r"[\w]+", __doc__.split("Read from the source")[0]))
    missing = sorted(set(unit_graph()) - words - {"tf_transformer"})
    assert not missing, f"add {missing} to the map at the top of this file"
    # ... and the wings the map names are folders, the modules files
    for name in set(unit_graph()) - {"tf_transformer"}:
        assert (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file(), name


def test_training_and_inference_are_peers():
    graph = unit_graph()
    assert "inference" not in graph["training"], "training imports inference"
    assert "training" not in graph["inference"], "inference imports training"


@pytest.mark.slow  # a fresh process
def test_importing_inference_loads_no_training_code():
    code = (
        "import sys\n"
        "import tf_transformer.inference, tf_transformer.inference.cli, tf_transformer.runs\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('tf_transformer.training'))\n"
        "print('LOADED', loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.slow  # a fresh process
def test_translating_needs_neither_tfds_nor_sacrebleu():
    # The path of `tf-transformer translate`: the CLI, the run-directory code and the tokenizers.
    # TensorFlow Datasets (~0.3 s to import) and sacreBLEU load only when a corpus is read or scored.
    code = (
        "import sys\n"
        "import tf_transformer.inference.cli, tf_transformer.runs\n"
        "from tf_transformer.data import DatasetSpec, DatasetUnavailableError, Tokenizer, load_tokenizers\n"
        "tokenizers = load_tokenizers()\n"
        "tokenizers.source.tokenize(['O gato dorme.'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow_datasets', 'sacrebleu'))\n"
        "print('LOADED', loaded[:5])\n"
        "from tf_transformer.data import load_dataset\n"
        "import tensorflow_datasets as tfds\n"
        "assert 'embedded_pt_en' in tfds.list_builders(with_community_datasets=False)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_test_modules_share_code_only_through_the_helpers_package():
    """What tests share lives in tests/helpers/: no test imports conftest.py or another test module,
    whose import would run its module-level code (and collect its tests twice under xdist)."""
    tests = pathlib.Path(__file__).resolve().parents[1]
    for path in sorted(p for p in tests.rglob("*.py") if "helpers" not in p.relative_to(tests).parts):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top != "conftest" and not top.startswith("test_"), f"{path.name} imports {name}"
