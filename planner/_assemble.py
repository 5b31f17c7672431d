"""Compile scheduled sorties into numbered missions and have the verifier check them (private).

Used by :func:`planner.pipeline.make_plan`. Sorties are numbered ``S001``... in the order of
take-off (then depot, then drops). With an executor the checks of each group of compiled
sorties run on it while the next group compiles; and :func:`speculate` compiles and checks a
construction on the executor while the caller does other work (the pipeline routes), so that
when that construction wins its missions and their violations are ready. Either way the
verifier sees only compiled missions, and the missions and violations are the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from planner.compile import CompileContext, compile_sortie
from planner.plan_model import Sortie
from planner.sorties.schedule import Scheduled
from planner.tasks import PIECES_PER_CALL, MapFn, chunks, start_map
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


def speculate(ctx: CompileContext, dem: Dem, sorties: Numbered,
              map_fn: MapFn) -> Iterator[tuple[list[Sortie], list[Violation]]]:
    """Start compiling and checking ``sorties`` on ``map_fn``; the one result comes later."""
    bare = replace(ctx, catalog=replace(ctx.catalog, _cache={}, _finder=None))
    return start_map(map_fn, _compile_and_check, [(bare, dem, sorties)])


def _compile_and_check(piece: tuple[CompileContext, Dem, Numbered]
                       ) -> tuple[list[Sortie], list[Violation]]:
    """Missions and their per-sortie violations (the task :func:`speculate` hands over)."""
    ctx, dem, sorties = piece
    missions = _compiled(ctx, sorties)
    found = verify_sorties([missions], ctx.scenario, dem)
    return missions, [v for part in found for v in part]

