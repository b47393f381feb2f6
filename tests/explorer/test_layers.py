"""The explorer's folders are its layers, and imports point one way: models <- compute <- figures <- playground <-
service <- site <- web.

models/ opens the models, compute/ holds pure computations, figures/ draws them, playground/ is the Playground
(its settings, data, runs, scenes, pool and workers: no Gradio), service/ is what the views call (no Gradio), site/ is
the static site's export (no Gradio: it copies web/components' files, it does not import them), web/ is the Gradio
page. A module may import from its own layer and the layers before it, never from a later one, and no module
imports itself back through others (no cycles).
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "explorer"
LAYERS = ["models", "compute", "figures", "playground", "service", "site", "web"]  # in import order: each uses earlier
WITHOUT_GRADIO = ["models", "compute", "figures", "playground", "service", "site"]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved)."""
    here = module_name(path, root).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {m: {i for i in imports_of(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_lives_in_a_layer_folder_except_the_errors_and_the_command():
    loose = sorted(m for m in MODULES if layer_of(m) is None)
    assert loose == ["explorer", "explorer.errors", "explorer.export_site", "explorer.precompute",
                     "explorer.preview"]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) is not None))
def test_imports_point_from_later_layers_to_earlier_ones(module):
    later = [i for i in GRAPH[module] if layer_of(i) is not None and layer_of(i) > layer_of(module)]
    assert not later, f"{module} ({LAYERS[layer_of(module)]}) imports {later} from a later layer"


def test_the_computation_figure_playground_and_service_layers_never_import_gradio():
    for module, path in MODULES.items():
        if layer_of(module) is not None and LAYERS[layer_of(module)] in WITHOUT_GRADIO:
            assert not {i for i in imports_of(path) if i.split(".")[0] == "gradio"}, module
    names = sorted(m for m in MODULES if layer_of(m) is not None and LAYERS[layer_of(m)] in WITHOUT_GRADIO)
    code = f"import importlib, sys\nfor m in {names!r}: importlib.import_module(m)\nprint('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"  # not even through another package


def test_there_is_no_import_cycle():
    done, path = set(), []

    def visit(m):
        if m in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
        if m in done:
            return
        path.append(m)
        for i in sorted(GRAPH[m]):
            visit(i)
        path.pop()
        done.add(m)

    for m in sorted(MODULES):
        visit(m)


def test_the_layer_check_sees_wrong_way_imports_absolute_and_relative(tmp_path):
    bad = tmp_path / "explorer" / "compute" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("import numpy\nfrom explorer.service.explorer import Explorer\nfrom ..web import page\n")
    found = imports_of(bad, tmp_path)
    assert {"explorer.service.explorer", "explorer.web", "explorer.web.page", "numpy"} <= found
    assert [i for i in found if layer_of(i) is not None and layer_of(i) > layer_of("explorer.compute.bad")]
    view = tmp_path / "explorer" / "playground" / "view.py"  # the Playground's own Gradio view would be a layer up
    view.parent.mkdir(parents=True)
    view.write_text("import gradio as gr\nfrom explorer.web.components.playground import playground_canvas\n")
    found = imports_of(view, tmp_path)
    assert "gradio" in found and LAYERS[layer_of("explorer.playground.view")] in WITHOUT_GRADIO
    assert [i for i in found if layer_of(i) is not None and layer_of(i) > layer_of("explorer.playground.view")]
