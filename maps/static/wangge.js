/* Wangge map helpers (own code): compact point layers, camera sectors, legend, search,
 * period filter, auto-refresh and the "where am I" marker. Data arrive as compact arrays
 * built on the server; popups are assembled lazily when opened. */
(function () {
  "use strict";
  var W = {};
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }
  W.esc = esc;
  /* Tooltip of a GeoJSON feature (maps.frame.Tooltip): a table of aliases and property values
   * written with textContent, so a name such as "<img src=x onerror=...>" shows as text. */
  W.detail = function (props, fields, aliases, labels) {
    var div = document.createElement("div"), tbl = document.createElement("table");
    fields.forEach(function (f, i) {
      var v = props ? props[f] : null, tr = document.createElement("tr"),
        td = document.createElement("td");
      if (labels !== false) {
        var th = document.createElement("th");
        th.textContent = aliases[i] === null || aliases[i] === undefined ? "" : aliases[i];
        tr.appendChild(th);
      }
      td.textContent = v === null || v === undefined ? "" :
        (typeof v === "object" ? JSON.stringify(v) : String(v));
      tr.appendChild(td);
      tbl.appendChild(tr);
    });
    div.appendChild(tbl);
    return div;
  };
  function table(pairs) {
    var h = "<table>";
    pairs.forEach(function (p) { if (p[1] !== null && p[1] !== undefined && p[1] !== "") {
      h += "<tr><td>" + esc(p[0]) + "</td><td>" + p[1] + "</td></tr>"; } });
    return h + "</table>";
  }
  /* Incidents: d = {cols:[...], rows:[[...]], dicts:{col:[values]}, styles:{cls:{color,fill}},
   * t:{texts}, links:[[text, url template]]}; dictionary-encoded columns hold an index. */
  W.incidents = function (d, o) {
    var g = L.featureGroup(), ci = {}, dicts = d.dicts || {};
    d.cols.forEach(function (c, i) { ci[c] = i; });
    function v(r, c) {
      var x = r[ci[c]];
      return dicts[c] ? dicts[c][x] : x;
    }
    d.rows.forEach(function (r) {
      var key = v(r, "cls"), st = d.styles[key] || d.styles.unknown;
      var lat0 = ci.lat0 !== undefined ? r[ci.lat0] : r[ci.lat],
        lon0 = ci.lon0 !== undefined ? r[ci.lon0] : r[ci.lon];
      var rad = key === "closed" && o.closedRadius ? o.closedRadius : (o.radius || 6);
      var m = L.circleMarker([r[ci.lat], r[ci.lon]], {radius: rad, color: st.color,
        weight: 1.5, fillColor: st.fill, fillOpacity: 0.9, className: "wangge-incident " + key});
      m.bindTooltip(esc(r[ci.code]) + " " + esc(v(r, "cat")));
      m.bindPopup(function () {
        var t = d.t, late = key === "overdue" ? " <span class='late'>" + esc(t.overdue) + "</span>" : "";
        var links = (d.links || []).map(function (l) {
          var href = l[1].replace("{id}", encodeURIComponent(r[ci.id])).replace("{code}",
            encodeURIComponent(r[ci.code])).replace("{lon}", lon0).replace("{lat}", lat0);
          return "<a href='" + esc(href) + "' target='_blank'>" + esc(l[0]) + "</a>";
        }).join(" · ");
        return "<div class='wangge-popup'><b>" + esc(r[ci.code]) + "</b> " + esc(v(r, "cat")) + late +
          table([[t.status, esc(v(r, "status"))], [t.urgency, esc(v(r, "urgency"))],
                 [t.reported, esc(r[ci.reported])], [t.description, esc(v(r, "desc"))],
                 [t.location, esc(r[ci.loc])], [t.cell, esc(r[ci.cell])],
                 [t.department, esc(v(r, "dept"))], [t.channel, esc(v(r, "channel"))]]) +
          (links ? "<div>" + links + "</div>" : "") + "</div>";
      }, {maxWidth: 320});
      m.addTo(g);
    });
    return g;
  };
  /* Every incident in view, fetched from the server when zoomed in to o.minZoom or closer
   * (served pages only; a standalone file keeps the capped layers). */
  W.live = function (d, o) {
    var g = L.featureGroup(), map = null, seq = 0;
    function load() {
      if (!map || !map.hasLayer(g) || location.protocol === "file:") { return; }
      if (map.getZoom() < o.minZoom) { g.clearLayers(); return; }
      var b = map.getBounds(), u = new URL(d.url, location.href), my = ++seq;
      u.searchParams.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(
        function (v) { return v.toFixed(6); }).join(","));
      fetch(u.toString(), {credentials: "same-origin"}).then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (j) {
        if (!j || my !== seq) { return; }
        g.clearLayers();
        W.incidents(j, {radius: o.radius || 5}).eachLayer(function (l) { g.addLayer(l); });
        g.fire("wangge:loaded", {count: j.rows.length});
      });
    }
    g.on("add", function () { map = g._map; map.on("moveend", load); load(); });
    g.on("remove", function () { if (map) { map.off("moveend", load); } });
    return g;
  };
  /* Every incident of the period as Mapbox vector tiles from Wangge's /tiles/incidents (drawn
   * client-side by Leaflet.VectorGrid, SVG renderer) from zoom o.minZoom. d = {url, closed:
   * [statuses], asof (ISO), odays, styles, cats: {code: name}, t: {texts}, item: URL template}.
   * Overdue as on the server: open and past due_at (or reported more than odays before asof).
   * Served pages only: a standalone file (file:) has no tile server. */
  W.tiles = function (d, o) {
    var g = L.featureGroup(), asof = new Date(d.asof).getTime(), vg = null;
    function when(s) {
      if (!s) { return null; }
      s = String(s).replace(" ", "T");
      if (/[+-]\d\d$/.test(s)) { s += ":00"; }
      return new Date(s).getTime();
    }
    function cls(p) {
      if (d.closed.indexOf(p.status) >= 0) { return "closed"; }
      var due = when(p.due_at), rep = when(p.reported_at);
      var limit = due !== null ? due : rep + d.odays * 86400000;
      return limit < asof ? "overdue" : "open";
    }
    function make() {  // the VectorGrid layer, created when first added to a map
      var vg = L.vectorGrid.protobuf(d.url, {
        // no minZoom here: Leaflet would make it the whole map's minimum zoom (fromZoom below)
        pane: "wanggeTiles", interactive: true,
        getFeatureId: function (f) { return f.properties.code; },
        fetchOptions: {credentials: "same-origin"},
        vectorTileLayerStyles: {incidents: function (p) {
          var k = cls(p), st = d.styles[k];
          return {radius: o.radius || 5, color: st.color, weight: 1.2, fill: true,
            fillColor: st.fill, fillOpacity: 0.85, className: "wangge-vt-incident " + k};
        }}
      });
      vg.on("tileload", function (e) {
        // Leaflet 1.9 asks a clicked circle for its LatLng; tile symbolizers only know their
        // pixel position in the tile: give each one its LatLng (VectorGrid 1.3 predates 1.9).
        var r = vg._vectorTiles[vg._tileCoordsToKey(e.coords)], size = vg.getTileSize();
        if (r && r._features) {
          Object.keys(r._features).forEach(function (id) {
            var f = r._features[id].feature;
            if (f && f._point) {
              f._latlng = g._map.unproject(L.point(e.coords.x * size.x + f._point.x,
                e.coords.y * size.y + f._point.y), e.coords.z);
            }
          });
        }
        g.counts.tiles += 1;
        g.counts.features += e.tile.querySelectorAll ? e.tile.querySelectorAll("path").length : 0;
      });
      vg.on("click", function (e) {
        var p = e.layer.properties || {}, t = d.t, k = cls(p);
        var late = k === "overdue" ? " <span class='late'>" + esc(t.overdue) + "</span>" : "";
        var href = d.item.replace("{code}", encodeURIComponent(p.code));
        var at = e.latlng || g._map.mouseEventToLatLng(e.originalEvent);
        L.popup({maxWidth: 320}).setLatLng(at).setContent(
          "<div class='wangge-popup'><b>" + esc(p.code) + "</b> " +
          esc(d.cats[p.category_code] || p.category_code) + late +
          table([[t.status, esc((d.statuses || {})[p.status] || p.status)],
                 [t.urgency, esc((d.urgencies || {})[p.urgency] || p.urgency)],
                 [t.reported, esc(String(p.reported_at || "").slice(0, 16))],
                 [t.cell, esc(p.cell_code)], [t.channel, esc(p.channel)]]) +
          "<div><a href='" + esc(href) + "' target='_blank'>" + esc(t.link_item) + "</a></div></div>"
        ).openOn(g._map);
      });
      return vg;
    }
    g.counts = {features: 0, tiles: 0};
    if (location.protocol === "file:" || !L.vectorGrid) { return g; }
    g.on("add", function () {
      if (vg) { return; }
      var map = g._map;
      if (!map.getPane("wanggeTiles")) {  // above the cell polygons, below markers/popups
        map.createPane("wanggeTiles").style.zIndex = 450;
      }
      vg = make();
      g.addLayer(W.fromZoom(vg, o.minZoom));
      g.vectorGrid = vg;
    });
    return g;
  };
  /* Per-cell aggregates: rows [lat, lon, code, name, total, open, overdue] */
  W.counts = function (d) {
    var g = L.featureGroup(), max = 1;
    d.rows.forEach(function (r) { if (r[4] > max) { max = r[4]; } });
    d.rows.forEach(function (r) {
      var k = d.colors, color = r[6] > 0 ? k.overdue : (r[5] > 0 ? k.open : k.closed);
      var m = L.circleMarker([r[0], r[1]], {radius: 4 + 16 * Math.sqrt(r[4] / max), color: k.outline,
        weight: 1, fillColor: color, fillOpacity: 0.75, className: "wangge-count-marker"});
      m.bindTooltip(esc(r[2]) + " " + esc(r[3]) + "<br>" + esc(d.t.total) + " " + r[4] + " · " +
        esc(d.t.open) + " " + r[5] + " · " + esc(d.t.overdue) + " " + r[6]);
      m.addTo(g);
    });
    return g;
  };
  /* A camera's view sector around (lat, lon): bearing clockwise from north, null = full circle */
  W.sector = function (lat, lon, bearing, fov, range) {
    var pts = [], mLat = 111320, mLon = 111320 * Math.cos(lat * Math.PI / 180);
    var full = bearing === null || fov >= 360, a0 = full ? 0 : bearing - fov / 2,
      a1 = full ? 360 : bearing + fov / 2, n = Math.max(6, Math.round((a1 - a0) / 10));
    if (!full) { pts.push([lat, lon]); }
    for (var k = 0; k <= n; k++) {
      var a = (a0 + (a1 - a0) * k / n) * Math.PI / 180;
      pts.push([lat + range * Math.cos(a) / mLat, lon + range * Math.sin(a) / mLon]);
    }
    return pts;
  };
  /* Cameras: rows [lat, lon, gb_id, name, bearing, fov, range, status] */
  W.cameras = function (d, o) {
    var g = L.featureGroup();
    d.rows.forEach(function (r) {
      var st = d.styles[r[7]] || d.styles.online;
      var tip = esc(r[3]) + "<br>" + esc(r[2]) + "<br>" + esc(d.t[r[7]] || r[7]) + " · " +
        (r[4] === null ? esc(d.t.nobearing) : r[4] + "°") + " · " + r[5] + "° · " + r[6] + " m";
      if (o.sectors) {
        L.polygon(W.sector(r[0], r[1], r[4], r[5], r[6]), {color: st.color, weight: 1,
          fillColor: st.color, fillOpacity: 0.18, className: "wangge-sector"}).bindTooltip(tip).addTo(g);
      }
      L.circleMarker([r[0], r[1]], {radius: o.radius || 3, color: st.color, weight: 1,
        fillColor: d.fill, fillOpacity: 1, className: "wangge-camera"}).bindTooltip(tip).addTo(g);
    });
    return o.minZoom ? W.fromZoom(g, o.minZoom) : g;
  };
  /* Recommended camera sites: rows [lat, lon, rank, bearing, fov, range, sector ring [[lat, lon]],
   * gain_incidents, gain_weight, cumulative, standalone, gain_area_m2, sector_area_m2, cell,
   * source, compound]; only aggregates (no incident codes). Numbered badges that would overlap
   * at the current zoom are moved apart (best rank keeps its place) and tied to the true
   * position (a small dot) by a leader line; recomputed after every zoom. */
  W.sites = function (d) {
    var g = L.featureGroup(), t = d.t, sites = [], size = 22, gap = 3, map = null;
    d.rows.forEach(function (r) {
      var tip = esc(t.site) + " #" + r[2] + "<br>" + esc(t.gain_inc) + " " + r[7] + " · " +
        esc(t.gain_area) + " " + r[11].toLocaleString() + " m²";
      var popup = "<div class='wangge-popup'><b>" + esc(t.site) + " #" + r[2] + "</b>" +
        table([[t.gain_inc, r[7]], [t.gain_weight, r[8]], [t.cum_inc, r[9]],
               [t.standalone, r[10]], [t.gain_area, r[11].toLocaleString() + " m²"],
               [t.sector_area, r[12].toLocaleString() + " m²"],
               [t.bearing, r[3] + "°"], [t.fov, r[4] + "°"], [t.range, r[5] + " m"],
               [t.cell, esc(r[13])], [t.source, esc(r[14])], [t.compound, esc(r[15])]]) + "</div>";
      L.polygon(r[6], {color: d.color, weight: 2, fillColor: d.color, fillOpacity: 0.35,
        className: "wangge-site-sector"}).bindTooltip(tip).bindPopup(popup).addTo(g);
      var at = L.latLng(r[0], r[1]);
      var icon = L.divIcon({className: "wangge-site", html: String(r[2]), iconSize: [size, size],
        iconAnchor: [size / 2, size / 2]});
      var marker = L.marker(at, {icon: icon, title: t.site + " #" + r[2], zIndexOffset: 500 - r[2]})
        .bindTooltip(tip).bindPopup(popup);
      var leader = L.polyline([at, at], {color: d.color, weight: 1.5, interactive: false,
        className: "wangge-site-leader"});
      var dot = L.circleMarker(at, {radius: 2.5, color: d.color, weight: 1, fillColor: d.color,
        fillOpacity: 1, interactive: false, className: "wangge-site-anchor"});
      sites.push({at: at, rank: r[2], marker: marker, leader: leader, dot: dot});
      marker.addTo(g);
    });
    sites.sort(function (a, b) { return a.rank - b.rank; });
    function free(p, placed, min) {
      for (var k = 0; k < placed.length; k++) {
        if (Math.abs(p.x - placed[k].x) < min && Math.abs(p.y - placed[k].y) < min) { return false; }
      }
      return true;
    }
    function layout() {
      if (!map) { return; }
      var placed = [], box = size;
      sites.forEach(function (s) {  // the badge as drawn (border included)
        var icon = s.marker._icon;
        if (icon && icon.offsetWidth) { box = Math.max(box, icon.offsetWidth, icon.offsetHeight); }
      });
      var min = box + gap, step = min + 1;
      sites.forEach(function (s) {
        var p0 = map.latLngToLayerPoint(s.at), p = p0;
        for (var ring = 1; !free(p, placed, min) && ring < 40; ring++) {
          var n = 8 * ring, found = null;
          for (var j = 0; j < n && !found; j++) {
            var a = -Math.PI / 2 + 2 * Math.PI * j / n,
              q = L.point(p0.x + ring * step * Math.cos(a), p0.y + ring * step * Math.sin(a));
            if (free(q, placed, min)) { found = q; }
          }
          if (found) { p = found; }
        }
        placed.push(p);
        var moved = p.distanceTo(p0) > 0.5, ll = moved ? map.layerPointToLatLng(p) : s.at;
        s.marker.setLatLng(ll);
        if (moved) {
          s.leader.setLatLngs([s.at, ll]);
          if (!g.hasLayer(s.leader)) { g.addLayer(s.leader); g.addLayer(s.dot); }
        } else if (g.hasLayer(s.leader)) { g.removeLayer(s.leader); g.removeLayer(s.dot); }
      });
    }
    g.on("add", function () { map = g._map; map.on("zoomend viewreset", layout); layout(); });
    g.on("remove", function () { if (map) { map.off("zoomend viewreset", layout); } map = null; });
    g.layout = layout;
    return g;
  };
  /* A group whose content is only on the map from zoom o.minZoom (keeps county views light). */
  W.fromZoom = function (inner, minZoom) {
    var g = L.featureGroup(), map = null;
    function sync() {
      if (!map) { return; }
      var want = map.getZoom() >= minZoom;
      if (want && !g.hasLayer(inner)) { g.addLayer(inner); }
      if (!want && g.hasLayer(inner)) { g.removeLayer(inner); }
    }
    g.on("add", function () { map = g._map; map.on("zoomend", sync); sync(); });
    g.on("remove", function () { if (map) { map.off("zoomend", sync); } g.removeLayer(inner); });
    return g;
  };
  W.legend = function (map, html, pos, summary) {
    var c = L.control({position: pos || "bottomright"});
    c.onAdd = function () {
      var div = L.DomUtil.create("div", "wangge-box wangge-legend");
      // collapsible (closed on a phone-sized screen): the map stays visible
      var open = window.innerWidth > 600 ? " open" : "";
      div.innerHTML = "<details" + open + "><summary>" + esc(summary || "") + "</summary>" + html +
        "</details>";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    c.addTo(map);
    return c;
  };
  /* The chrome of every map (maps.frame.new_map): attribution without Leaflet's default prefix
   * and flag (the basemap's own attribution stays), and a metric-only scale bar. */
  W.chrome = function (map) {
    if (map.attributionControl) { map.attributionControl.setPrefix(false); }
    L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo(map);
  };
  /* Title box: what the map shows (text) and, on a second line, its data period/date (sub). */
  W.title = function (map, text, sub) {
    var c = L.control({position: "topright"});
    c.onAdd = function () {
      var div = L.DomUtil.create("div", "wangge-box wangge-title"),
        h = L.DomUtil.create("div", "wangge-title-main", div);
      h.textContent = text;
      if (sub) { L.DomUtil.create("div", "wangge-title-sub", div).textContent = sub; }
      return div;
    };
    c.addTo(map);
  };
  /* Place names written on the map (township labels): rows [lat, lon, text]; d.color, d.halo.
   * Drawn in their own pane above the fills and outlines, below the markers; not clickable. */
  W.labels = function (d) {
    var g = L.featureGroup();
    g.beforeAdd = function (map) {  // the pane must exist before the markers are added
      if (!map.getPane("wanggeLabels")) {
        var pane = map.createPane("wanggeLabels");
        pane.style.zIndex = 580;
        pane.style.pointerEvents = "none";
      }
    };
    d.rows.forEach(function (r) {
      var span = document.createElement("span");
      span.className = "wangge-label-text";
      span.textContent = r[2];
      span.style.color = d.color;
      span.style.textShadow = [[-1, -1], [1, -1], [-1, 1], [1, 1], [0, 0]].map(function (o) {
        return o[0] + "px " + o[1] + "px 2px " + d.halo; }).join(", ");
      var icon = L.divIcon({className: "wangge-label", html: span, iconSize: null});
      L.marker([r[0], r[1]], {icon: icon, interactive: false, keyboard: false,
        pane: "wanggeLabels"}).addTo(g);
    });
    return g;
  };
  /* Incidents as anonymous points (planners): rows [lat, lon, cat, cls] with cat and cls
   * indexes into d.dicts; no code, time, text or link; d.t names the classes. o.radius, and
   * o.closedRadius for closed ones (as Wangge.incidents). */
  W.points = function (d, o) {
    var g = L.featureGroup(), dicts = d.dicts;
    d.rows.forEach(function (r) {
      var key = dicts.cls[r[3]], st = d.styles[key] || d.styles.unknown;
      var rad = key === "closed" && o.closedRadius ? o.closedRadius : (o.radius || 5);
      L.circleMarker([r[0], r[1]], {radius: rad, color: st.color, weight: 1.5,
        fillColor: st.fill, fillOpacity: 0.9, className: "wangge-incident wangge-point " + key})
        .bindTooltip(esc(dicts.cat[r[2]]) + " · " + esc(d.t[key] || key)).addTo(g);
    });
    return g;
  };
  /* Search box: index = [{label, kind, bounds:[x0,y0,x1,y1]}]; color of the hit's outline */
  W.search = function (map, index, t, color) {
    var c = L.control({position: "topleft"}), hl = null;
    c.onAdd = function () {
      var div = L.DomUtil.create("div", "wangge-box wangge-search"), id = "wangge-search-list";
      div.innerHTML = "<input type='search' list='" + id + "' placeholder='" + esc(t.placeholder) +
        "' aria-label='" + esc(t.placeholder) + "'><datalist id='" + id + "'></datalist>" +
        "<button type='button'>" + esc(t.go) + "</button><div class='note'></div>";
      var dl = div.querySelector("datalist"), input = div.querySelector("input"),
        note = div.querySelector(".note");
      index.forEach(function (e) { var opt = document.createElement("option"); opt.value = e.label; dl.appendChild(opt); });
      function go() {
        var q = input.value.trim().toLowerCase(), hit = null;
        if (!q) { return; }
        index.forEach(function (e) { if (!hit && e.label.toLowerCase() === q) { hit = e; } });
        index.forEach(function (e) { if (!hit && e.label.toLowerCase().indexOf(q) >= 0) { hit = e; } });
        if (!hit) { note.textContent = t.notfound; return; }
        note.textContent = hit.label;
        var b = L.latLngBounds([hit.bounds[1], hit.bounds[0]], [hit.bounds[3], hit.bounds[2]]);
        if (hl) { map.removeLayer(hl); }
        hl = L.rectangle(b, {color: color, weight: 3, fill: false, className: "wangge-hit"}).addTo(map);
        map.fitBounds(b, {maxZoom: 17});
      }
      div.querySelector("button").addEventListener("click", go);
      input.addEventListener("change", go);
      input.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { go(); } });
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    c.addTo(map);
    return c;
  };
  /* Period filter: reloads the page with ?from=&to= (other parameters kept). */
  W.period = function (map, p, t) {
    var c = L.control({position: "topleft"});
    c.onAdd = function () {
      var div = L.DomUtil.create("div", "wangge-box wangge-period");
      div.innerHTML = "<label>" + esc(t.from) + " <input type='date' name='from' value='" + esc(p.from) +
        "'></label><br><label>" + esc(t.to) + " <input type='date' name='to' value='" + esc(p.to) +
        "'></label><button type='button'>" + esc(t.apply) + "</button>";
      div.querySelector("button").addEventListener("click", function () {
        if (location.protocol === "file:") { return; }
        var u = new URL(location.href);
        u.searchParams.set("from", div.querySelector("input[name=from]").value);
        u.searchParams.set("to", div.querySelector("input[name=to]").value);
        location.href = u.toString();
      });
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    c.addTo(map);
    return c;
  };
  W.refresh = function (seconds) {
    if (seconds > 0 && location.protocol !== "file:") {
      setTimeout(function () { location.reload(); }, seconds * 1000);
    }
  };
  W.here = function (map, lat, lon, label) {
    var icon = L.divIcon({className: "", html: "<div class='wangge-here'></div>", iconSize: [24, 24],
      iconAnchor: [12, 12]});
    return L.marker([lat, lon], {icon: icon, title: label, zIndexOffset: 1000}).bindTooltip(esc(label),
      {permanent: true, direction: "top", offset: [0, -12]}).addTo(map);
  };
  window.Wangge = W;
}());
