"""The package's shape: imports go only downward, and no import cycle crosses a folder."""

from __future__ import annotations

import ast
from pathlib import Path

import facedeblur

PACKAGE = Path(facedeblur.__file__).parent

# Bottom to top; a unit may import from its own rank or below, never above.
LAYERS = [
    {"errors"},
    {"io", "splits"},
    {"models"},
    {"faces"},
    {"blur"},
    {"data", "losses", "metrics"},
    {"restore", "evaluate", "privacy", "train"},
    {"commands"},
    # The web page (Gradio, an optional extra): only cli imports it.
    {"web"},
    {"cli", "__init__", "__main__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path, package: Path = PACKAGE) -> tuple[str, bool]:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """Modules of the package that ``path`` imports (``from x import y`` counts y when it is a
    module).
    """
    name, is_package = _module_name(path, package)
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                as_path = package.parent / candidate.replace(".", "/")
                found.add(
                    candidate
                    if as_path.with_suffix(".py").is_file() or as_path.is_dir()
                    else module
                )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "facedeblur" or m.startswith("facedeblur.")}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _graph() -> dict[str, set[str]]:
    return {_module_name(p)[0]: _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_folder_and_root_module_has_a_layer():
    units = {_unit(m) for m in _graph()}
    assert units <= set(RANK), f"give these a layer: {sorted(units - set(RANK))}"


def test_no_module_imports_from_a_higher_layer():
    upward = [
        f"{m} -> {d}"
        for m, deps in _graph().items()
        for d in deps
        if d != "facedeblur" and RANK[_unit(d)] > RANK[_unit(m)]
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_cycle_crosses_a_folder():
    folders: dict[str, set[str]] = {}
    for module, deps in _graph().items():
        for dep in deps:
            if dep != "facedeblur" and _unit(dep) != _unit(module):
                folders.setdefault(_unit(module), set()).add(_unit(dep))

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(folders.get(node, ()))
        return False

    cycles = sorted(f"{a} <-> {b}" for a, deps in folders.items() for b in deps if reaches(b, a))
    assert not cycles, f"import cycles between folders: {cycles}"


def test_the_graph_sees_relative_imports_of_modules_and_names(tmp_path):
    """On a made-up package: a relative import of a higher layer's module is found, so the
    checks above can fail."""
    package = tmp_path / "facedeblur"
    (package / "io").mkdir(parents=True)
    (package / "commands").mkdir()
    (package / "commands" / "batch.py").write_text("")
    probe = package / "io" / "images.py"
    probe.write_text(
        "from ..commands import batch\nfrom ..errors import InputError\nimport numpy\n"
    )
    deps = _imports(probe, package)
    assert deps == {"facedeblur.commands.batch", "facedeblur.errors"}
    assert RANK[_unit("facedeblur.commands.batch")] > RANK[_unit("facedeblur.io.images")]
