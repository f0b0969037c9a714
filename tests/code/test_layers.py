"""Imports run one way: from the CLI down to the domain, never back up.

The layers, lowest first (a module belongs to the longest prefix that names it):

    core               settings, errors, markets, calendar, stages, vocabularies, catalogue, costs
    features.data      raw-data contract, sources, simulator, calibration summary
    features           Feast repo, feature computation, build, pushes, retrieval
    training           datasets, models, evaluation, tracking
    serving.scoring    features at request time, model, SHAP, reasons
    serving.workflow   exception store, events, re-scoring
    serving.api        the BentoML service, its routes and its launcher
    pipelines.reports  the ops-lead report, the backtest
    pipelines          the command line, the demo and its replayed day
"""

from __future__ import annotations

import grimp
import pytest

LAYERS = (
    "core",
    "features.data",
    "features",
    "training",
    "serving.scoring",
    "serving.workflow",
    "serving.api",
    "pipelines.reports",
    "pipelines",
)
PACKAGES = ("core", "features", "training", "serving", "pipelines")


def containers(graph: grimp.ImportGraph) -> list[str]:
    """Packages that only hold layers (``serving``): they must import nothing."""
    return sorted(
        m for m in graph.modules if m not in LAYERS and any(p.startswith(m + ".") for p in LAYERS)
    )


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest prefix naming ``module``."""
    named = [
        (len(prefix), i)
        for i, prefix in enumerate(LAYERS)
        if module == prefix or module.startswith(prefix + ".")
    ]
    if not named:
        raise LookupError(f"{module} belongs to no layer; add it to LAYERS")
    return max(named)[1]


def upward_imports(graph: grimp.ImportGraph) -> list[str]:
    """Every import of a module by one in a lower layer, as 'importer -> imported (line)'."""
    out = []
    for module in sorted(set(graph.modules) - set(containers(graph))):
        low = layer_of(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if layer_of(imported) > low:
                details = graph.get_import_details(importer=module, imported=imported)
                lines = ", ".join(str(d["line_number"]) for d in details)
                out.append(
                    f"{module} ({LAYERS[low]}) -> {imported} "
                    f"({LAYERS[layer_of(imported)]}), line {lines}"
                )
    return out


@pytest.fixture()
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_every_module_belongs_to_a_layer(graph: grimp.ImportGraph) -> None:
    for module in set(graph.modules) - set(containers(graph)):
        layer_of(module)
    for container in containers(graph):
        assert graph.find_modules_directly_imported_by(container) == set(), container


def test_no_layer_imports_a_higher_one(graph: grimp.ImportGraph) -> None:
    assert upward_imports(graph) == []


def test_a_deliberate_upward_import_is_caught(graph: grimp.ImportGraph) -> None:
    graph.add_import(
        importer="core.settings",
        imported="serving.api.service",
        line_number=1,
        line_contents="from serving.api.service import Failcast",
    )
    graph.add_import(importer="training.train", imported="pipelines.reports.backtest")
    found = upward_imports(graph)
    assert len(found) == 2
    assert found[0].startswith("core.settings (core) -> serving.api.service (serving.api)")
    assert found[1].startswith("training.train (training) -> pipelines.reports.backtest")
