"""Load-time analysis of a routing table: conflicts, unreachable rules, residency.

All checks are conservative in the safe direction: a *conflict* is reported when two
exclusive rules *may* overlap (two globs that could both match some type count as
overlapping), while a rule is called *unreachable* only when an earlier stop rule provably
matches everything it matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._glob import glob_match, has_glob_meta
from ._routing_model import Deployment, RouteMatch, RoutingRule

__all__ = ["RoutingProblem", "find_problems"]


@dataclass(frozen=True)
class RoutingProblem:
    """One problem found in a routing table.

    Attributes:
        field: where it is (``"routing.rules[3]"``).
        message: what is wrong, naming the rules involved.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _literal_ends(glob: str) -> tuple[str, str]:
    """The literal prefix and suffix of a glob (up to its first / after its last meta)."""
    metas = [i for i, ch in enumerate(glob) if ch in "*?[]\\"]
    if not metas:
        return glob, glob
    return glob[: metas[0]], glob[metas[-1] + 1 :]


def _globs_may_overlap(a: str, b: str) -> bool:
    if not has_glob_meta(a):
        return glob_match(b, a)
    if not has_glob_meta(b):
        return glob_match(a, b)
    (pa, sa), (pb, sb) = _literal_ends(a), _literal_ends(b)
    prefixes_ok = pa.startswith(pb) or pb.startswith(pa)
    suffixes_ok = sa.endswith(sb) or sb.endswith(sa)
    return prefixes_ok and suffixes_ok


def _glob_covers(general: str, specific: str) -> bool:
    """``True`` only if every string matched by ``specific`` is matched by ``general``."""
    if general == specific or (general and general.strip("*") == ""):
        return True
    if not has_glob_meta(specific):
        return glob_match(general, specific)
    return False


def _sets_overlap(a: frozenset[object], b: frozenset[object]) -> bool:
    return not a or not b or bool(a & b)


def may_overlap(a: RouteMatch, b: RouteMatch) -> bool:
    """Whether some message could satisfy both matches (conservative: may say yes)."""
    if a.types and b.types and not any(_globs_may_overlap(x, y) for x in a.types for y in b.types):
        return False
    for name in a.headers.keys() & b.headers.keys():
        if not _globs_may_overlap(a.headers[name], b.headers[name]):
            return False
    return (
        _sets_overlap(frozenset(a.priorities), frozenset(b.priorities))
        and _sets_overlap(frozenset(a.tenants), frozenset(b.tenants))
        and _sets_overlap(frozenset(a.regions), frozenset(b.regions))
        and _sets_overlap(frozenset(a.classifications), frozenset(b.classifications))
    )


def covers(general: RouteMatch, specific: RouteMatch) -> bool:
    """Whether every message matching ``specific`` also matches ``general`` (provably)."""
    if general.types:
        if not specific.types:
            return False
        if not all(any(_glob_covers(g, s) for g in general.types) for s in specific.types):
            return False
    for name, glob in general.headers.items():
        other = specific.headers.get(name)
        if other is None or not _glob_covers(glob, other):
            return False
    pairs: tuple[tuple[frozenset[object], frozenset[object]], ...] = (
        (frozenset(general.priorities), frozenset(specific.priorities)),
        (frozenset(general.tenants), frozenset(specific.tenants)),
        (frozenset(general.regions), frozenset(specific.regions)),
        (frozenset(general.classifications), frozenset(specific.classifications)),
    )
    return all(not g or (s and s <= g) for g, s in pairs)


def find_problems(
    rules: Sequence[tuple[int, RoutingRule]],
    *,
    deployments: Mapping[str, Deployment],
    default_deployment: str | None,
    residency: Mapping[str, frozenset[str]],
) -> list[RoutingProblem]:
    """Check a table. ``rules`` holds (declaration index, rule) in evaluation order.

    Returns:
        Every problem found (empty when the table is sound).
    """
    problems: list[RoutingProblem] = []

    def where(index: int) -> str:
        return f"routing.rules[{index}]"

    seen: dict[str, int] = {}
    for index, rule in rules:
        if rule.name in seen:
            problems.append(RoutingProblem(where(index), f"duplicate rule name {rule.name!r}"))
        seen.setdefault(rule.name, index)
        if rule.deployment is not None and rule.deployment not in deployments:
            known = ", ".join(sorted(deployments)) or "none declared"
            problems.append(
                RoutingProblem(
                    where(index),
                    f"rule {rule.name!r} names unknown deployment {rule.deployment!r} "
                    f"(known: {known})",
                )
            )

    # Unreachable: an earlier stop rule matches everything this rule matches.
    for pos, (index, rule) in enumerate(rules):
        for earlier_index, earlier in rules[:pos]:
            if earlier.stop and covers(earlier.match, rule.match):
                what = "every message" if earlier.match.is_catch_all else "every message it matches"
                problems.append(
                    RoutingProblem(
                        where(index),
                        f"rule {rule.name!r} is unreachable: rule {earlier.name!r} "
                        f"(rules[{earlier_index}], stop) matches {what} and runs first",
                    )
                )
                break

    # Conflicts: same precedence, one exclusive, may overlap, different targets.
    for pos, (index, rule) in enumerate(rules):
        for other_index, other in rules[pos + 1 :]:
            if other.precedence != rule.precedence or not (rule.exclusive or other.exclusive):
                continue
            if rule.target_signature() == other.target_signature():
                continue
            if may_overlap(rule.match, other.match):
                problems.append(
                    RoutingProblem(
                        where(other_index),
                        f"rule {other.name!r} conflicts with exclusive rule "
                        f"{rule.name!r} (rules[{index}]): same precedence "
                        f"{rule.precedence}, overlapping matches, different targets",
                    )
                )

    # Residency: a rule pinned to bound classifications must target an allowed region.
    for index, rule in rules:
        name = rule.deployment or default_deployment
        target = deployments.get(name) if name is not None else None
        region = target.region if target is not None else None
        for cls in sorted(rule.match.classifications):
            allowed = residency.get(cls)
            if allowed is not None and region not in allowed:
                problems.append(
                    RoutingProblem(
                        where(index),
                        f"rule {rule.name!r} routes classification {cls!r} (allowed in "
                        f"{', '.join(sorted(allowed))}) to deployment {name!r} in region "
                        f"{region!r}",
                    )
                )
    return problems
