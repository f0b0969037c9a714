"""Fuzzing: schemathesis against every route of the running service, from its own OpenAPI
document, for longer than the bounded run in ``make test``.

    python -m benchmarks.fuzz [--home DIR] [--seconds 600] [--seed N]

``--home``: a project home with a feature build and a champion (``./.failcast`` after
``make demo``); without it the demo world is simulated, built and trained first. Every
phase runs (examples, coverage, fuzzing and stateful); the check is that no request gets a
5xx. Prints schemathesis's summary: operations tested, cases generated, failures found.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from benchmarks.serving import prepare
from core.access import Role
from core.runtime import quiet_libraries
from serving.api.keys import local_keys
from serving.api.server import running_server

__all__ = ["run_schemathesis"]

PHASES = "examples,coverage,fuzzing,stateful"


def run_schemathesis(
    url: str,
    max_examples: int,
    seconds: int,
    workers: int = 2,
    seed: int | None = None,
    phases: str = PHASES,
    credential: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """schemathesis against the service at ``url``: every operation but the page, checking
    that nothing answers a 5xx (a seed makes the run repeatable; no example is kept), as the
    holder of ``credential`` (none: every protected route answers 401)."""
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{url}/docs.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(seconds),
        "--workers",
        str(workers),
        "--request-timeout",
        "30",
        "--phases",
        phases,
        "--exclude-path",
        "/ui",
        "--generation-database",
        "none",
        "--no-color",
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    if credential is not None:
        command += ["--header", f"Authorization: Bearer {credential}"]
    with tempfile.TemporaryDirectory() as scratch:  # its crash cache goes nowhere
        return subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 600, cwd=scratch
        )


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="project home with features and a champion")
    parser.add_argument("--seconds", type=int, default=600, help="time budget of the run")
    parser.add_argument("--seed", type=int, help="repeat a run")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        settings = prepare(args.home, Path(tmp), console)
        keys = local_keys(settings)
        failed = 0
        with running_server(settings) as url:
            # the feed reaches the data routes, the lead the workflow's
            for role in (Role.FEED, Role.LEAD):
                seconds = args.seconds // 2
                console.print(f"schemathesis against {url}/docs.json as {role} for {seconds} s")
                done = run_schemathesis(
                    url,
                    max_examples=200,
                    seconds=seconds,
                    seed=args.seed,
                    credential=keys.keys[role],
                )
                at = done.stdout.find(" SUMMARY ")  # schemathesis's summary, from its heading
                start = done.stdout.rfind("\n", 0, at) + 1 if at >= 0 else len(done.stdout) - 4000
                console.print(done.stdout[max(start, 0) :], markup=False, highlight=False)
                failed = failed or done.returncode
    console.print("[green]no 5xx on any route[/]" if failed == 0 else "[red]failures found[/]")
    sys.exit(failed)


if __name__ == "__main__":
    main()
