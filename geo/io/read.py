"""Read any supported file into chunks of rows: attributes + shapely geometries in file CRS.

Formats: GeoJSON (a FeatureCollection, a bare array of Features, or GeoJSON text sequences),
Shapefile (``.shp``, a folder holding one, or a ``.zip``), GeoPackage (``layer``), KML/KMZ,
CSV (streamed in chunks: millions of rows in bounded memory) and XLSX, the last two with
longitude/latitude columns or a WKT column.

A file's own CRS is reported in :attr:`Source.file_crs` (``None`` when the file has none:
CSV, XLSX, and GeoJSON without a ``crs`` member, which many Chinese GeoJSON files in GCJ-02
omit although RFC 7946 says WGS84).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.errors import InvalidInput, WanggeError
from geo.io.parse import find_field, is_empty, parse_coordinate

GDAL_SUFFIXES = {".geojson", ".json", ".shp", ".gpkg", ".kml", ".kmz", ".geojsonl",
                 ".geojsons", ".fgb", ".gml"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}
CHUNK_ROWS = 50_000


@dataclass
class Chunk:
    """Rows ``start .. start+len`` of a source: attributes and geometries (file CRS)."""

    start: int
    attrs: pd.DataFrame
    geoms: np.ndarray  # object array of shapely geometries or None
    geom_errors: list[str | None]  # why a row has no geometry (None: fine or absent)


@dataclass
class Source:
    """An opened input file."""

    path: Path
    fmt: str
    columns: list[str]
    file_crs: CRS | None
    total: int | None
    layer: str | None = None
    _reader: Any = None
    notes: list[str] = field(default_factory=list)
    tmpdir: Path | None = None

    def chunks(self) -> Iterator[Chunk]:
        """Iterate over the rows in chunks."""
        yield from self._reader()

    def close(self) -> None:
        """Remove files extracted from a zip."""
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


@dataclass
class GeomFields:
    """How to build geometries from table columns."""

    lon: str | None = None
    lat: str | None = None
    wkt: str | None = None


def open_source(
    path: str | Path,
    layer: str | None = None,
    lon_field: str | None = None,
    lat_field: str | None = None,
    wkt_field: str | None = None,
    geometry_required: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> Source:
    """Open ``path`` and describe it; rows are read lazily by :meth:`Source.chunks`.

    Raises
    ------
    InvalidInput
        Unknown format, missing file, no layer chosen among several, no coordinate columns.
    """
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"文件不存在 / file not found: {p}")
    suffix = p.suffix.lower()
    if p.is_dir():
        return _open_gdal(_pick_in_dir(p, layer), None)
    if suffix == ".zip":
        return _open_zip(p, layer)
    if suffix in (".geojson", ".json"):
        return _open_geojson(p)
    if suffix in GDAL_SUFFIXES:
        return _open_gdal(p, layer)
    if suffix in TABLE_SUFFIXES:
        return _open_table(p, lon_field, lat_field, wkt_field, geometry_required, chunk_rows)
    raise InvalidInput(
        f"不支持的文件格式 {suffix!r} / unsupported file format {suffix!r}: use GeoJSON, "
        "Shapefile (.shp, folder or .zip), GeoPackage (.gpkg), KML, CSV or XLSX"
    )


def _pick_in_dir(p: Path, layer: str | None) -> Path:
    shps = sorted(p.rglob("*.shp")) or sorted(p.rglob("*.gpkg")) or sorted(p.rglob("*.geojson"))
    if not shps:
        raise InvalidInput(f"文件夹 {p} 中没有 .shp 文件 / no .shp file in folder {p}")
    if layer:
        for s in shps:
            if s.stem == layer:
                return s
        raise InvalidInput(
            f"文件夹中没有图层 {layer!r}；可选: {[s.stem for s in shps]} / no layer {layer!r} "
            f"in the folder; choose one of {[s.stem for s in shps]} with --layer"
        )
    if len(shps) > 1:
        raise InvalidInput(
            f"文件夹中有多个图层 {[s.stem for s in shps]}，请用 --layer 选择 / the folder holds "
            f"several layers {[s.stem for s in shps]}: choose one with --layer"
        )
    return shps[0]


# The most a zip may hold uncompressed (checked from its directory before inflating).
MAX_UNZIPPED_BYTES = 1024**3
# A zip of GIS layers holds a few files per layer; more members, or member paths deeper or
# longer than a file system takes, are refused before anything is written (review round 3, R3).
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_PATH_CHARS = 1000
MAX_ZIP_NAME_BYTES = 255


def _open_zip(p: Path, layer: str | None) -> Source:
    try:
        with zipfile.ZipFile(p) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            total = sum(i.file_size for i in infos)
            if total > MAX_UNZIPPED_BYTES:  # before anything is inflated: no zip bomb
                raise InvalidInput(
                    f"压缩包解压后 {total} 字节, 超过上限 {MAX_UNZIPPED_BYTES} / the zip holds "
                    f"{total} bytes uncompressed, above the limit of {MAX_UNZIPPED_BYTES}: "
                    "import its layers one by one, unzipped")
            if len(infos) > MAX_ZIP_MEMBERS:
                raise InvalidInput(
                    f"压缩包含 {len(infos)} 个文件, 超过上限 {MAX_ZIP_MEMBERS} / the zip holds "
                    f"{len(infos)} files, more than {MAX_ZIP_MEMBERS}: zip only the layer's "
                    "files (.shp, .shx, .dbf, .prj, .cpg) or a .gpkg")
            for info in infos:
                parts = info.filename.split("/")
                if (len(info.filename) > MAX_ZIP_PATH_CHARS
                        or any(len(part.encode()) > MAX_ZIP_NAME_BYTES for part in parts)):
                    raise InvalidInput(
                        f"压缩包内文件路径过长 / a path in the zip is too long "
                        f"({len(info.filename)} characters; at most {MAX_ZIP_PATH_CHARS}, "
                        f"{MAX_ZIP_NAME_BYTES} bytes per name): {info.filename[:80]}...")
            tmp = Path(tempfile.mkdtemp(prefix="wangge_zip_"))
            try:
                for info in infos:
                    target = (tmp / info.filename).resolve()
                    if not str(target).startswith(str(tmp.resolve())):
                        raise InvalidInput(
                            f"压缩包内路径非法 / unsafe path in zip: {info.filename}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src_f, target.open("wb") as out_f:
                        shutil.copyfileobj(src_f, out_f, 1 << 20)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"不是有效的 zip 文件 / not a valid zip file: {p.name}") from exc
    try:
        inner = _pick_in_dir(tmp, layer)
        src = open_source(inner, layer=layer if inner.suffix == ".gpkg" else None)
    except WanggeError as exc:  # name the file as sent, not the server's folder
        shutil.rmtree(tmp, ignore_errors=True)
        exc.message = exc.message.replace(f"folder {tmp}", f"zip {p.name}").replace(
            str(tmp) + "/", "").replace(str(tmp), p.name)
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    src.tmpdir = tmp
    src.path = p
    src.fmt = f"zip:{src.fmt}"
    return src


def _read_info(p: Path | bytes, layer: str | None) -> dict[str, Any]:
    import pyogrio

    try:
        return dict(pyogrio.read_info(p, layer=layer))
    except Exception as exc:  # noqa: BLE001 - GDAL raises many kinds; say it plainly
        raise InvalidInput(
            f"无法读取文件 / cannot read the file: {exc}".replace(str(Path.cwd()), ".")
        ) from exc


def _open_gdal(p: Path, layer: str | None, data: bytes | None = None,
               explicit_crs: bool | None = None) -> Source:
    import pyogrio

    suffix = p.suffix.lower()
    fmt = {".shp": "shapefile", ".gpkg": "gpkg", ".kml": "kml", ".kmz": "kml",
           ".geojson": "geojson", ".json": "geojson"}.get(suffix, suffix.lstrip("."))
    target: Any = data if data is not None else str(p)
    if suffix in (".gpkg", ".kml", ".kmz") and data is None:
        try:
            layers = [str(row[0]) for row in pyogrio.list_layers(str(p))]
        except Exception as exc:  # noqa: BLE001 - GDAL raises many kinds; say it plainly
            raise InvalidInput(
                f"无法读取文件 {p.name} (不是有效的 {fmt} 文件?) / cannot read {p.name}: not a "
                f"valid {fmt} file ({type(exc).__name__}); check the file and its extension"
            ) from exc
        if layer is None and len(layers) > 1 and suffix == ".gpkg":
            raise InvalidInput(
                f"GeoPackage 中有多个图层 {layers}，请用 --layer 选择 / the GeoPackage holds "
                f"several layers {layers}: choose one with --layer"
            )
        if layer is not None and layer not in layers:
            raise InvalidInput(
                f"没有图层 {layer!r}；可选: {layers} / no layer {layer!r}; layers: {layers}"
            )
        if layer is None and suffix in (".kml", ".kmz") and len(layers) > 1:
            counts = {name: int(_read_info(p, name).get("features") or 0) for name in layers}
            layer = max(counts, key=lambda k: counts[k])
    info = _read_info(target if data is None else data, layer)
    encoding = dbf_encoding(p) if suffix == ".shp" and data is None else None
    crs: CRS | None = CRS.from_user_input(info["crs"]) if info.get("crs") else None
    if suffix == ".shp" and not p.with_suffix(".prj").exists() and not p.with_suffix(
            ".PRJ").exists():
        crs = None
    if explicit_crs is False:
        crs = None
    total = int(info.get("features") or 0)
    columns = [str(c) for c in info.get("fields", [])]
    objects, lists = nested_fields(info)
    notes = []
    if objects:
        columns = [c for c in columns if c not in objects]
        notes.append(
            f"忽略值为对象 (JSON) 的列 {objects} (如 DataV 文件的 parent); "
            "需要其中的值请先展开为普通列 "
            f"/ ignored columns holding objects (JSON): {objects} (e.g. DataV's parent); "
            "flatten them into plain columns first if a value in them is needed")
    if lists:
        notes.append(f"值为数组的列 {lists} 按逗号连接的文本读取 / columns holding arrays {lists} "
                     "read as comma-joined text")

    def reader() -> Iterator[Chunk]:
        step = CHUNK_ROWS
        start = 0
        while True:
            try:
                df = pyogrio.read_dataframe(
                    target, layer=layer, skip_features=start, max_features=step,
                    on_invalid="fix", use_arrow=False, encoding=encoding,
                )
            except Exception as exc:  # noqa: BLE001 - a file damaged after its header
                raise InvalidInput(
                    f"文件 {p.name} 第 {start + 1} 行起无法读取 / cannot read {p.name} from "
                    f"feature {start + 1}: {str(exc).replace(str(p), p.name)[:200]}"
                ) from exc
            geoms = np.asarray(df.geometry.values, dtype=object) if "geometry" in df else (
                np.full(len(df), None, dtype=object))
            attrs = flatten_values(pd.DataFrame(
                df.drop(columns=["geometry", *objects], errors="ignore")))
            errors: list[str | None] = [None] * len(df)
            for i, g in enumerate(geoms):
                if g is None:
                    errors[i] = ("几何为空或无法解析 (如环少于 4 个点) / geometry missing or "
                                 "unreadable (e.g. a ring of fewer than 4 points)")
            yield Chunk(start, attrs.reset_index(drop=True), geoms, errors)
            if len(df) < step:
                break
            start += step

    if encoding == "GB18030":
        notes.append("属性表 (.dbf) 无 .cpg 且不是 UTF-8, 按 GBK/GB18030 读取 / the attribute "
                     "table (.dbf) has no .cpg and is not UTF-8: read as GBK (GB18030)")
    return Source(path=p, fmt=fmt, columns=columns, file_crs=crs, total=total, layer=layer,
                  _reader=reader, notes=notes)


def dbf_encoding(shp: Path) -> str | None:
    """The text encoding of a shapefile's attributes: None (GDAL's own reading) when a .cpg
    says it; else UTF-8 when the text decodes as UTF-8, otherwise GB18030 (a superset of GBK,
    the usual encoding of Chinese shapefiles made without a .cpg)."""
    import pyogrio

    if any(shp.with_suffix(ext).exists() for ext in (".cpg", ".CPG")):
        return None
    try:
        pyogrio.read_dataframe(shp, read_geometry=False, use_arrow=False, encoding="UTF-8",
                               max_features=5000)
    except UnicodeDecodeError:
        return "GB18030"
    except Exception:  # noqa: BLE001 - unreadable for another reason: the reader says why
        return None
    return "UTF-8"


def nested_fields(info: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The columns of a GDAL layer whose values are objects (JSON subtype: ignored) and those
    whose values are arrays (read as text)."""
    fields = [str(c) for c in info.get("fields", [])]
    subtypes = list(info.get("ogr_subtypes") or [""] * len(fields))
    dtypes = [str(d) for d in info.get("dtypes", [""] * len(fields))]
    objects = [f for f, sub in zip(fields, subtypes, strict=False) if sub == "OFSTJSON"]
    lists = [f for f, d in zip(fields, dtypes, strict=False)
             if d.startswith("list(") and f not in objects]
    return objects, lists


def flatten_values(attrs: pd.DataFrame) -> pd.DataFrame:
    """Attribute values as scalars: an array becomes comma-joined text, an object (a mapping
    GDAL could not type) becomes None; never a Python object written into a column."""
    for col in attrs.columns:
        if attrs[col].dtype != object:
            continue
        values = attrs[col].tolist()
        if not any(isinstance(v, dict | list | tuple | np.ndarray) for v in values):
            continue
        attrs[col] = [
            None if isinstance(v, dict) else
            ",".join(str(x) for x in v) if isinstance(v, list | tuple | np.ndarray) else v
            for v in values]
    return attrs


_CRS_MEMBER = re.compile(rb'"crs"\s*:')


def _open_geojson(p: Path) -> Source:
    head = p.read_bytes()[:65536]
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    explicit = bool(_CRS_MEMBER.search(head))
    if stripped.startswith(b"["):
        try:
            features = json.loads(p.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"GeoJSON 解析失败 / invalid GeoJSON: {exc}") from exc
        if not isinstance(features, list) or not all(
                isinstance(f, dict) and f.get("type") == "Feature" for f in features):
            raise InvalidInput(
                "GeoJSON 数组中应全部为 Feature / a bare GeoJSON array must hold only Features"
            )
        data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        src = _open_gdal(p, None, data=data, explicit_crs=False)
        src.fmt = "geojson (bare array of Features)"
        return src
    return _open_gdal(p, None, explicit_crs=explicit)


TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
_ENCODING_ERROR = ("无法识别文件编码 (应为 UTF-8 或 GB18030/GBK) / text encoding not recognised "
                   "(use UTF-8 or GB18030/GBK)")


def csv_encoding(source: bytes | Path) -> str:
    """The encoding of CSV text: UTF-8 (with or without BOM), else GB18030 (Chinese Excel).

    This is the one rule for decoding CSV files in Wangge (imports, hotline intake, batch
    lookups). A file is checked whole (streamed, for a path) so a stray GBK byte deep in a
    UTF-8-looking file picks GB18030 instead of failing half way.

    Parameters
    ----------
    source
        The bytes, or the path of the file.

    Returns
    -------
    str
        ``"utf-8-sig"`` or ``"gb18030"``.

    Raises
    ------
    InvalidInput
        When neither encoding decodes the text.
    """
    import codecs

    for enc in TEXT_ENCODINGS:
        try:
            if isinstance(source, bytes | bytearray | memoryview):
                bytes(source).decode(enc)
            else:
                dec = codecs.getincrementaldecoder(enc)()
                with Path(source).open("rb") as fh:
                    while block := fh.read(1 << 20):
                        dec.decode(block)
                    dec.decode(b"", final=True)
            return enc
        except UnicodeDecodeError:
            continue
    raise InvalidInput(_ENCODING_ERROR, field="file")  # pragma: no cover - gb18030 takes all


def decode_csv(data: bytes) -> str:
    """CSV bytes as text, decoded by :func:`csv_encoding`.

    Parameters
    ----------
    data
        The raw file content.

    Returns
    -------
    str
        The text (a UTF-8 byte-order mark removed).
    """
    return data.decode(csv_encoding(data))


def unreadable_table(fmt: str, exc: BaseException) -> InvalidInput:
    """The one 422 for a CSV or spreadsheet its reader cannot read (malformed, an XML entity
    bomb openpyxl's parser stops, a CSV field over the csv module's limit): every importer
    (layers, the hotline intake) answers it instead of a 500.

    Parameters
    ----------
    fmt
        ``"csv"`` or ``"xlsx"``.
    exc
        The reader's error (its text is shown: it names the line or limit).
    """
    if fmt == "csv":
        return InvalidInput(f"CSV 解析失败 / cannot parse CSV: {exc}", field="file")
    return InvalidInput(f"无法读取 Excel 文件 / cannot read the spreadsheet: "
                        f"{exc or exc.__class__.__name__}", field="file")


def _read_csv_chunks(p: Path, chunk_rows: int) -> tuple[list[str], Iterator[pd.DataFrame]]:
    sep = "\t" if p.suffix.lower() == ".tsv" else ","
    enc = csv_encoding(p)
    try:
        head = pd.read_csv(p, sep=sep, dtype=str, nrows=5, encoding=enc,
                           keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise unreadable_table("csv", exc) from exc
    columns = [str(c) for c in head.columns]
    it = pd.read_csv(p, sep=sep, dtype=str, chunksize=chunk_rows, encoding=enc,
                     keep_default_na=False)
    return columns, iter(it)


def _open_table(
    p: Path,
    lon_field: str | None,
    lat_field: str | None,
    wkt_field: str | None,
    geometry_required: bool,
    chunk_rows: int,
) -> Source:
    is_csv = p.suffix.lower() in (".csv", ".txt", ".tsv")
    if is_csv:
        columns, _ = _read_csv_chunks(p, 5)
        total = None
    else:
        try:
            sheet = pd.read_excel(p, dtype=object, engine="openpyxl")
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise unreadable_table("xlsx", exc) from exc
        columns = [str(c) for c in sheet.columns]
        sheet.columns = columns
        total = len(sheet)
    try:
        gf = GeomFields(
            lon=find_field(columns, "lon", lon_field) if not wkt_field else None,
            lat=find_field(columns, "lat", lat_field) if not wkt_field else None,
            wkt=find_field(columns, "wkt", wkt_field) if not (lon_field or lat_field) else None,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if gf.lon and gf.lat:
        gf.wkt = None
    elif gf.wkt is None and geometry_required:
        raise InvalidInput(
            f"找不到坐标列：请用 --lon-field/--lat-field 指定经纬度 (或 x/y) 列，或用 --wkt-field "
            f"指定 WKT 列；现有列: {columns} / no coordinate columns: give --lon-field and "
            f"--lat-field (or --wkt-field); columns are: {columns}"
        )

    def frames() -> Iterator[pd.DataFrame]:
        if is_csv:
            _, it = _read_csv_chunks(p, chunk_rows)
            yield from it
        else:
            for s in range(0, len(sheet), chunk_rows):
                yield sheet.iloc[s: s + chunk_rows].reset_index(drop=True)

    def reader() -> Iterator[Chunk]:
        start = 0
        for df in frames():
            df = df.reset_index(drop=True)
            geoms, errors = _table_geoms(df, gf)
            yield Chunk(start, df, geoms, errors)
            start += len(df)

    src = Source(path=p, fmt="csv" if is_csv else "xlsx", columns=columns, file_crs=None,
                 total=total, _reader=reader)
    if gf.lon and gf.lat:
        src.notes.append(f"coordinates from columns {gf.lon!r}, {gf.lat!r}")
    elif gf.wkt:
        src.notes.append(f"geometry from WKT column {gf.wkt!r}")
    return src


def _table_geoms(df: pd.DataFrame, gf: GeomFields) -> tuple[np.ndarray, list[str | None]]:
    n = len(df)
    errors: list[str | None] = [None] * n
    if gf.lon and gf.lat:
        # plain numbers at once; only the rows that are not (empty, thousands separators,
        # degrees-minutes-seconds...) go through parse_coordinate one by one
        xs = pd.to_numeric(df[gf.lon], errors="coerce").to_numpy(dtype=float, copy=True)
        ys = pd.to_numeric(df[gf.lat], errors="coerce").to_numpy(dtype=float, copy=True)
        slow = np.flatnonzero(np.isnan(xs) | np.isnan(ys))
        if len(slow):
            lon_col = df[gf.lon].to_numpy(dtype=object)
            lat_col = df[gf.lat].to_numpy(dtype=object)
            for i in slow.tolist():
                xs[i] = ys[i] = np.nan
                if is_empty(lon_col[i]) or is_empty(lat_col[i]):
                    errors[i] = "没有坐标 / no coordinates"
                    continue
                try:
                    x2, y2 = parse_coordinate(lon_col[i]), parse_coordinate(lat_col[i])
                except ValueError as exc:
                    errors[i] = f"坐标不是数字 / coordinate is not a number: {exc}"
                    continue
                xs[i], ys[i] = float(x2 or 0.0), float(y2 or 0.0)
        ok = ~(np.isnan(xs) | np.isnan(ys))
        geoms = np.full(n, None, dtype=object)
        if ok.any():
            geoms[ok] = shapely.points(xs[ok], ys[ok])
        return geoms, errors
    if gf.wkt:
        col = df[gf.wkt].to_numpy(dtype=object)
        geoms = np.full(n, None, dtype=object)
        for i, v in enumerate(col):
            if is_empty(v):
                errors[i] = "没有几何 / no geometry"
                continue
            try:
                s = str(v).strip()
                s = re.sub(r"^SRID=\d+;", "", s, flags=re.I)
                geoms[i] = shapely.from_wkt(s)
            except shapely.errors.GEOSException as exc:
                errors[i] = f"WKT 无法解析 / unreadable WKT: {exc}"
        return geoms, errors
    return np.full(n, None, dtype=object), errors


def crs_label(crs: CRS | None) -> str | None:
    """``EPSG:nnnn`` when pyproj can identify the CRS, else its name."""
    if crs is None:
        return None
    code = crs.to_epsg(min_confidence=60)
    return f"EPSG:{code}" if code else str(crs.name)
