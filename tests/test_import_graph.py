"""The package's import graph: no import cycle, and no module imports another's private names.

Every module under ``sklearn_hamur/`` is parsed (not imported) with :mod:`ast`, and each
``import`` / ``from ... import`` that names a module of the package (relative or
absolute, at module level or inside a function) is an edge from the importing module to
the imported one:

- ``from P import n`` goes to the module ``P.n`` when that is a submodule, else to ``P``;
- a name that a package ``__init__`` re-exports (``from .sub import n`` in the
  ``__init__``) counts as imported from the module that provides it, since that is what
  the importer depends on;
- edges from a package ``__init__`` to modules inside its own package are left out: an
  ``__init__`` that gathers its submodules' names is a facade, not a dependency they
  have on it;
- imports under ``if TYPE_CHECKING:`` never run, and make no edge.

A cycle is then a set of modules each of which, through these edges, needs the others:
it works only while each import stays lazy or in the right order.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "sklearn_hamur"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    """One imported module or name: ``from <target> import <name>`` (``name=None``: the
    module itself), written in ``source`` at ``path:line`` (inside function ``scope``)."""

    source: str
    target: str
    name: str | None
    bound: str  # the name the import binds in ``source``
    path: str
    line: int
    scope: str
    type_checking: bool

    def where(self) -> str:
        place = "module level" if self.scope == "" else f"in {self.scope}"
        return f"{self.path}:{self.line} ({place})"

    def statement(self) -> str:
        if self.name is None:
            return f"import {self.target}"
        return f"from {self.target} import {self.name}"


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name to file, for every ``.py`` file of ``root / package``."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_package(module: str, modules: dict[str, Path]) -> bool:
    return modules[module].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    """The package imports of one module, and its ``alias._name`` uses of imported modules."""

    def __init__(self, module: str, modules: dict[str, Path], root: Path, package: str):
        self.module, self.modules, self.package = module, modules, package
        self.path = modules[module].relative_to(root).as_posix()
        self.scopes: list[str] = []
        self.type_checking = 0
        self.imports: list[Import] = []
        self.module_aliases: dict[str, str] = {}  # local name -> package module it is bound to
        self.attributes: list[tuple[str, str, int]] = []  # (local name, attribute, line)

    def _add(self, node, target: str, name: str | None, bound: str) -> None:
        self.imports.append(
            Import(
                self.module,
                target,
                name,
                bound,
                self.path,
                node.lineno,
                ".".join(self.scopes),
                self.type_checking > 0,
            )
        )

    def _scoped(self, node) -> None:
        self.scopes.append(node.name)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == self.package or alias.name.startswith(self.package + "."):
                if alias.name in self.modules:
                    bound = alias.asname or alias.name.split(".")[0]
                    self._add(node, alias.name, None, bound)
                    self.module_aliases[bound] = alias.name if alias.asname else self.package

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.module.split(".")
            if not _is_package(self.module, self.modules):
                parts.pop()  # a plain module's relative imports start from its package
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        if base not in self.modules:
            return  # not a module of the package (another library, or a typo Python reports)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            bound = alias.asname or alias.name
            if submodule in self.modules:
                self._add(node, submodule, None, bound)
                self.module_aliases[bound] = submodule
            else:
                self._add(node, base, alias.name, bound)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id in self.module_aliases:
            self.attributes.append((node.value.id, node.attr, node.lineno))
        self.generic_visit(node)


@dataclass
class Graph:
    modules: dict[str, Path]
    imports: list[Import]
    #: ``path:line: module.attribute`` for each private attribute read on an imported module.
    private_attributes: list[str]

    def provider(self, imp: Import) -> str:
        """The module that ``imp`` depends on, through the re-exports of package ``__init__``s."""
        target, name, seen = imp.target, imp.name, set()
        while name is not None and _is_package(target, self.modules) and target not in seen:
            seen.add(target)
            binding = next(
                (
                    other
                    for other in self.imports
                    if other.source == target and other.scope == "" and other.bound == name
                ),
                None,
            )
            if binding is None:
                break  # defined in the __init__ itself
            target, name = binding.target, binding.name
        return target

    def edges(self) -> dict[tuple[str, str], list[Import]]:
        """``(importer, provider)`` to the imports that make that edge."""
        edges: dict[tuple[str, str], list[Import]] = {}
        for imp in self.imports:
            if imp.type_checking:
                continue
            target = self.provider(imp)
            own_package = _is_package(imp.source, self.modules) and target.startswith(
                imp.source + "."
            )
            if target != imp.source and not own_package:
                edges.setdefault((imp.source, target), []).append(imp)
        return edges

    def cycles(self) -> list[list[str]]:
        """The strongly connected components of more than one module (Tarjan), sorted."""
        successors: dict[str, set[str]] = {module: set() for module in self.modules}
        for source, target in self.edges():
            successors[source].add(target)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        components = []

        def connect(module: str) -> None:
            index[module] = low[module] = len(index)
            stack.append(module)
            on_stack.add(module)
            for successor in sorted(successors[module]):
                if successor not in index:
                    connect(successor)
                    low[module] = min(low[module], low[successor])
                elif successor in on_stack:
                    low[module] = min(low[module], index[successor])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

        for module in sorted(self.modules):
            if module not in index:
                connect(module)
        return sorted(components)

    def cycle_report(self) -> str:
        """Each cycle with every import that makes one of its edges."""
        lines = []
        edges = self.edges()
        for component in self.cycles():
            lines.append(f"import cycle among {', '.join(component)}:")
            for (source, target), imports in sorted(edges.items()):
                if source in component and target in component:
                    for imp in imports:
                        via = "" if target == imp.target else f" (re-exported from {target})"
                        lines.append(
                            f"  {imp.where()}: {source} -> {target}: {imp.statement()}{via}"
                        )
        return "\n".join(lines)

    def private_imports(self) -> list[str]:
        """``path:line (scope): from M import _name`` for each private name imported
        from another module of the package (dunder names such as ``__version__`` are
        fine; so is importing a private *module*)."""
        found = []
        for imp in self.imports:
            name = imp.name
            if name is None or name == "*" or imp.target == imp.source:
                continue
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                found.append(f"{imp.where()}: {imp.statement()}")
        return found


def build_graph(root: Path = ROOT, package: str = PACKAGE) -> Graph:
    modules = find_modules(root, package)
    imports, private_attributes = [], []
    for module, path in modules.items():
        collector = _Collector(module, modules, root, package)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        imports.extend(collector.imports)
        for local, attribute, line in collector.attributes:
            if attribute.startswith("_") and not (
                attribute.startswith("__") and attribute.endswith("__")
            ):
                target = collector.module_aliases[local]
                if target != module and f"{target}.{attribute}" not in modules:
                    private_attributes.append(
                        f"{collector.path}:{line}: {local}.{attribute} ({target}.{attribute})"
                    )
    return Graph(modules, imports, private_attributes)


# -- the package -----------------------------------------------------------------------


def test_the_graph_sees_the_package():
    graph = build_graph()
    assert {"sklearn_hamur", "sklearn_hamur.model_selection", "sklearn_hamur._tuning"} <= set(
        graph.modules
    )
    edges = graph.edges()
    assert ("sklearn_hamur.model_selection", "sklearn_hamur._tuning") in edges
    # the top-level __init__ is a facade: its imports of its own modules make no edge
    assert not any(source == "sklearn_hamur" for source, _ in edges)


def test_no_import_cycle():
    graph = build_graph()
    cycles = graph.cycles()
    assert not cycles, (
        "Modules of sklearn_hamur import each other (at module level or inside "
        "functions). Move what both need into a module of its own that neither "
        "imports back:\n" + graph.cycle_report()
    )


def test_no_private_name_imported_across_modules():
    graph = build_graph()
    found = graph.private_imports() + [
        f"{entry} (a private attribute of an imported module)" for entry in graph.private_attributes
    ]
    assert not found, (
        "Modules of sklearn_hamur use names that another module keeps private (a leading "
        "underscore). Give the helper a public name (in a private module, if it is not "
        "part of the API) and import that:\n" + "\n".join(f"  {entry}" for entry in found)
    )


# -- the checker itself, on a small package written for the test -----------------------


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_finds_lazy_cycles_and_private_imports(tmp_path):
    write_package(
        tmp_path,
        {
            "__init__.py": "from .a import A\nfrom ._version import __version__\n",
            "_version.py": "__version__ = '1'\n",
            "a.py": "from .b import _helper\n\nclass A:\n    pass\n",
            "b.py": "def _helper():\n    from pkg import A\n    return A\n",
            "c.py": "import pkg.sub.d\nfrom . import b\n\nb._helper()\n",
            "sub/__init__.py": "from .d import D\nfrom .. import __version__\n",
            "sub/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from ..c import C\nD = 1\n",
        },
    )
    graph = build_graph(tmp_path, "pkg")
    # b -> pkg.A is re-exported from pkg.a, so the cycle is a <-> b, not through pkg
    assert graph.cycles() == [["pkg.a", "pkg.b"]]
    report = graph.cycle_report()
    assert "pkg/a.py:1 (module level): pkg.a -> pkg.b: from pkg.b import _helper" in report
    assert (
        "pkg/b.py:2 (in _helper): pkg.b -> pkg.a: from pkg import A (re-exported from pkg.a)"
        in report
    )
    assert graph.private_imports() == ["pkg/a.py:1 (module level): from pkg.b import _helper"]
    assert graph.private_attributes == ["pkg/c.py:4: b._helper (pkg.b._helper)"]
    edges = graph.edges()
    assert ("pkg.c", "pkg.sub.d") in edges and ("pkg.c", "pkg.b") in edges
    assert ("pkg.sub.d", "pkg.c") not in edges  # TYPE_CHECKING only
    assert ("pkg.sub", "pkg._version") in edges  # re-exported __version__, via pkg
