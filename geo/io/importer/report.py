"""The one import report: what an import did or, in a dry run, would do."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import RootTransaction

from geo.errors import InvalidInput
from geo.io.importer.options import MAX_LISTED, ImportOptions
from geo.io.parse import is_empty


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    layer: str
    region: str
    file: str
    format: str
    crs: dict[str, Any]
    dry_run: bool
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    repaired: list[dict[str, Any]] = field(default_factory=list)
    repaired_count: int = 0
    merged: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    refused_count: int = 0
    refused_reasons: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    no_location: int = 0
    # rows placed by their address text (no coordinates): how many at each level matched
    # (room, building, compound, road, village, township); ``review``: a weak match, kept as
    # needs_location for the command centre; ``none``: nothing matched
    address_levels: dict[str, int] = field(default_factory=dict)
    region_created: bool = False
    boundary_set: dict[str, Any] | None = None
    checks: dict[str, Any] | None = None
    activation: dict[str, Any] | None = None
    routed: int | None = None
    cases: list[dict[str, Any]] = field(default_factory=list)  # as_cases: the first created
    notes: list[str] = field(default_factory=list)
    committed: bool = False
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return json.loads(json.dumps(asdict(self), default=str))

    def refuse(self, row: int, code: Any, reason: str, example: dict[str, Any] | None = None,
               kind: str | None = None) -> None:
        """Record a refused row (the first MAX_LISTED are listed, all are counted)."""
        self.refused_count += 1
        key = kind or reason.split(" / ")[0][:40]
        self.refused_reasons[key] = self.refused_reasons.get(key, 0) + 1
        if len(self.refused) < MAX_LISTED:
            item: dict[str, Any] = {"row": row, "code": None if is_empty(code) else str(code),
                                    "reason": reason}
            if example:
                item["example"] = example
            self.refused.append(item)

    def repair(self, row: int, code: str | None, reason: str) -> None:
        """Record a repaired row (the first MAX_LISTED are listed, all are counted)."""
        self.repaired_count += 1
        if len(self.repaired) < MAX_LISTED:
            self.repaired.append({"row": row, "code": code, "reason": reason})

    def summary_lines(self) -> list[str]:
        """Text for the terminal (Chinese / English)."""
        mode = "已提交 COMMITTED" if self.committed else "试运行 DRY RUN (nothing written)"
        if self.error:
            mode = "未写入 NOT WRITTEN"
        out = [
            f"{mode}: {self.layer} <- {self.file} ({self.format}), region {self.region}"
            + (" (new region)" if self.region_created else ""),
            f"坐标系 CRS: {self.crs.get('source')} (from {self.crs.get('from')})",
            f"行 rows: {self.rows}; 新增 new: {self.new}; 更新 updated: {self.updated}; "
            f"不变 unchanged: {self.unchanged}"
            + (f"; 删除 removed: {self.removed}" if self.removed else "")
            + f"; 修复 repaired: {self.repaired_count}; 拒绝 refused: {self.refused_count}"
            + (f"; 重复 duplicates: {self.duplicates}" if self.duplicates else "")
            + (f"; 无坐标 no location: {self.no_location}" if self.no_location else ""),
        ]
        if self.address_levels:
            out.append("按地址定位 placed by address: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.address_levels.items(), key=lambda kv: -kv[1])))
        for note in self.notes:
            out.append(f"  note: {note}")
        for m in self.merged[:10]:
            out.append(f"  合并 merged: {m['code']} from {m['parts']} features (rows {m['rows']})")
        for r in self.repaired[:10]:
            out.append(f"  修复 repaired row {r['row']} {r.get('code')}: {r['reason']}")
        for r in self.refused[:10]:
            ex = f" example: {r['example']}" if r.get("example") else ""
            out.append(f"  拒绝 refused row {r['row']} {r.get('code')}: {r['reason']}{ex}")
        if self.refused_count > 10:
            out.append(f"  ... {self.refused_count - 10} more refused: {self.refused_reasons}")
        if self.boundary_set:
            out.append(f"边界集 boundary set: {self.boundary_set}")
        if self.checks:
            from geo.boundaries.checks import describe_checks

            out.extend("检查 checks: " + line if i == 0 else line
                       for i, line in enumerate(describe_checks(self.checks)))
        if self.activation:
            out.append(f"已启用 activated: {self.activation.get('activated')} "
                       f"(incidents re-routed: {self.activation.get('incidents_rerouted')})")
        if self.routed is not None:
            out.append(f"事件已分派到网格 incidents routed to a cell: {self.routed}")
        if self.error:
            out.append(f"错误 error: {self.error}")
        out.append(f"{self.seconds:.1f} s")
        return out


def finish(trans: RootTransaction, report: ImportReport, opts: ImportOptions) -> None:
    """End an import's transaction by the one rule of every import.

    Every row refused: InvalidInput (nothing written). A commit with refused rows writes
    nothing (``report.error`` says why) unless ``opts.skip_refused``. A dry run rolls back.
    ``report.committed`` and ``report.dry_run`` say what happened.

    Raises
    ------
    InvalidInput
        When every row was refused (the report rides along).
    """
    if report.rows and report.refused_count == report.rows:
        raise InvalidInput(
            f"所有 {report.rows} 行都被拒绝 / all {report.rows} rows were refused: "
            f"{report.refused[0]['reason'] if report.refused else ''}",
            report=report.to_dict())
    if opts.commit and report.refused_count and not opts.skip_refused:
        report.error = (
            f"{report.refused_count} 行被拒绝，未写入任何数据；修正后重试或用 "
            f"--skip-refused 只导入其余行 / {report.refused_count} rows refused, "
            "nothing written: fix them, or give --skip-refused to import the other rows")
        trans.rollback()
    elif opts.commit:
        trans.commit()
        report.committed = True
    else:
        trans.rollback()
    report.dry_run = not report.committed
