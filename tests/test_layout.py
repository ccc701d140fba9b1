"""The layout's rules (DEVELOPERS.md): no import cycles, core knows no blueprint, nobody imports another's views."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "marathon"
# the one place that attaches the races, lines and registrations routes to the `ticketing` Blueprint
REGISTERS_ROUTES = {"marathon.blueprints.ticketing"}


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def import_graph():
    """module -> the marathon modules it imports (anywhere in its body), by name."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_core_and_extensions_know_no_blueprint_nor_the_layers_above():
    above = ("marathon.blueprints", "marathon.admission", "marathon.web", "marathon.tooling")
    offending = [(module, target) for module, targets in import_graph().items()
                 if module.startswith("marathon.core") or module == "marathon.extensions"
                 for target in targets if target.startswith(above)]
    assert offending == []


def _package(module):
    """The concern a module belongs to: marathon.blueprints.<name>, or marathon.<name>."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[1:2] == ["blueprints"] else parts[:2])


def test_no_module_imports_the_views_of_another_package():
    offending = [(module, target) for module, targets in import_graph().items() if module not in REGISTERS_ROUTES
                 for target in targets
                 if target.rsplit(".", 1)[-1] == "routes" and _package(target) != _package(module)]
    assert offending == []


def test_the_runtime_does_not_import_the_tooling():
    offending = [(module, target) for module, targets in import_graph().items()
                 if not module.startswith("marathon.tooling")
                 for target in targets if target.startswith("marathon.tooling")]
    assert offending == []
