"""Compile scheduled sorties into numbered missions and have the verifier check them (private).

Used by :func:`planner.pipeline.make_plan`. Sorties are numbered ``S001``... in the order of
take-off (then depot, then drops). With an executor the checks of each group of compiled
sorties run on it while the next group compiles. The verifier sees only compiled missions, and
the missions and violations are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from planner.compile import CompileContext, compile_sortie
from planner.plan_model import Sortie
from planner.sorties.schedule import Scheduled
from planner.tasks import PIECES_PER_CALL, MapFn, chunks
from planner.terrain import Dem
from planner.verify.verifier import Violation, verify_sorties

Numbered = list[tuple[int, Scheduled]]


def numbered(scheduled: Sequence[Scheduled]) -> Numbered:
    """The sorties with their numbers: by take-off time, then depot, then drops."""
    order = sorted(scheduled, key=lambda s: (s.start_s, s.sortie.depot, s.sortie.drops))
    return list(enumerate(order, start=1))


def _compiled(ctx: CompileContext, part: Numbered) -> list[Sortie]:
    """The missions of numbered sorties."""
    depots = ctx.scenario.depots
    return [compile_sortie(ctx, sch.sortie, sortie_id=f"S{n:03d}", start_s=sch.start_s,
                           vehicle=(f"{depots[sch.sortie.depot].id}/"
                                    f"{sch.sortie.drone_type_id}/{sch.drone_number}"))
            for n, sch in part]


def compile_checked(ctx: CompileContext, dem: Dem, sorties: Numbered,
                    map_fn: MapFn | None) -> tuple[list[Sortie], list[Violation] | None]:
    """The missions of ``sorties`` and, with ``map_fn``, their per-sortie violations.

    With ``map_fn`` each group of missions is checked on it while the next group compiles;
    without, the violations are None (the caller verifies the whole plan).
    """
    if map_fn is None:
        return _compiled(ctx, sorties), None
    out: list[Sortie] = []

    def groups() -> Iterator[list[Sortie]]:
        for part in chunks(sorties, PIECES_PER_CALL):
            done = _compiled(ctx, part)
            out.extend(done)
            yield done

    found = verify_sorties(groups(), ctx.scenario, dem, map_fn=map_fn)
    return out, [v for part in found for v in part]
