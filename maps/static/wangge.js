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
  var HIDDEN = {stroke: false, fill: false, radius: 0};  // a tile feature redrawn elsewhere
  W.hidden = {};  // keys (W.caseKey) of cases redrawn on top after a live change
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
  /* A case's URL from a template of the server's ({code}, {region}: maps.overlays.API_LINKS,
   * maps.dispatch.live_config's panel): the code with its county, since two counties may hold
   * one code (the code alone is then a 409); an empty region is no region (the server's
   * asked_region). */
  W.caseUrl = function (tpl, code, region) {
    return tpl.replace("{code}", encodeURIComponent(code)).replace(
      "{region}", encodeURIComponent(region || ""));
  };
  /* The key of a case in the page (markers, hidden cases, live redraws): its code with its
   * county, so that one county's case never stands for another's of the same code. */
  W.caseKey = function (code, region) { return region ? code + "@" + region : String(code); };
  /* Incidents: d = {cols:[...], rows:[[...]], dicts:{col:[values]}, styles:{cls:{color,fill}},
   * t:{texts}, links:[[text, url template]], order: [cls bottom -> top], urgentWeight};
   * dictionary-encoded columns hold an index. Drawn bottom to top in d.order (overdue over
   * urgent over open over closed), in o.pane when given; g.byCode finds a case's marker
   * (by W.caseKey). */
  W.incidents = function (d, o) {
    var g = L.featureGroup(), ci = {}, dicts = d.dicts || {}, order = d.order || [];
    g.byCode = {};
    d.cols.forEach(function (c, i) { ci[c] = i; });
    function v(r, c) {
      var x = r[ci[c]];
      return dicts[c] ? dicts[c][x] : x;
    }
    function rank(r) {
      var k = v(r, "cls"), u = ci.urg !== undefined && r[ci.urg] && k === "open" ? "urgent" : k;
      var i = order.indexOf(u);
      return i < 0 ? 0 : i;
    }
    var rows = d.rows.slice();
    if (order.length) { rows.sort(function (a, b) { return rank(a) - rank(b); }); }
    rows.forEach(function (r) {
      var key = v(r, "cls"), st = d.styles[key] || d.styles.unknown,
        urgent = ci.urg !== undefined && !!r[ci.urg] && key !== "closed";
      var lat0 = ci.lat0 !== undefined ? r[ci.lat0] : r[ci.lat],
        lon0 = ci.lon0 !== undefined ? r[ci.lon0] : r[ci.lon];
      var rad = key === "closed" && o.closedRadius ? o.closedRadius : (o.radius || 6);
      var opt = {radius: urgent ? rad + 1.5 : rad, color: st.color,
        weight: urgent ? (d.urgentWeight || 3) : 1.5, fillColor: st.fill, fillOpacity: 0.9,
        className: "wangge-incident " + key + (urgent ? " urgent" : "")};
      if (o.pane) { opt.pane = o.pane; }
      var m = L.circleMarker([r[ci.lat], r[ci.lon]], opt);
      m.wanggeCode = W.caseKey(r[ci.code], v(r, "region"));
      m.bindTooltip(esc(r[ci.code]) + " " + esc(v(r, "cat")));
      m.bindPopup(function () {
        var t = d.t, late = key === "overdue" ? " <span class='late'>" + esc(t.overdue) + "</span>" : "";
        var links = (d.links || []).map(function (l) {
          var href = W.caseUrl(l[1].replace("{id}", encodeURIComponent(r[ci.id])), r[ci.code],
            v(r, "region")).replace("{lon}", lon0).replace("{lat}", lat0);
          return "<a href='" + esc(href) + "' target='_blank'>" + esc(l[0]) + "</a>";
        });
        if (t.open_case) {
          links.unshift("<a href='#' class='wangge-open-case' data-code='" + esc(r[ci.code]) +
            "' data-region='" + esc(v(r, "region") || "") + "'>" + esc(t.open_case) + "</a>");
        }
        links = links.join(" · ");
        return "<div class='wangge-popup'><b>" + esc(r[ci.code]) + "</b> " + esc(v(r, "cat")) + late +
          table([[t.status, esc(v(r, "status"))], [t.urgency, esc(v(r, "urgency"))],
                 [t.reported, esc(r[ci.reported])], [t.description, esc(v(r, "desc"))],
                 [t.location, esc(r[ci.loc])], [t.cell, esc(r[ci.cell])],
                 [t.department, esc(v(r, "dept"))], [t.channel, esc(v(r, "channel"))]]) +
          (links ? "<div>" + links + "</div>" : "") + "</div>";
      }, {maxWidth: 320});
      m.on("click", function () { if (W.openCase) { W.openCase(r[ci.code], v(r, "region")); } });
      m.addTo(g);
      g.byCode[m.wanggeCode] = m;
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
        var inner = W.incidents(j, {radius: o.radius || 5, pane: o.pane});
        g.byCode = inner.byCode;
        inner.eachLayer(function (l) {
          if (!(W.hidden && W.hidden[l.wanggeCode])) { g.addLayer(l); } });
        g.fire("wangge:loaded", {count: j.rows.length});
      });
    }
    g.on("add", function () { map = g._map; map.on("moveend", load); load(); });
    g.on("remove", function () { if (map) { map.off("moveend", load); } });
    return g;
  };
  /* Every incident of the period as Mapbox vector tiles from Wangge's /tiles/incidents (drawn
   * client-side by Leaflet.VectorGrid) from zoom o.minZoom. A tile is drawn as SVG (one element
   * per incident) up to W.CANVAS_FROM incidents, on a canvas beyond (100,000 in view stay
   * interactive: scripts/bench/maps.py); in both, closed first and overdue/urgent last (on top). d = {url, closed:
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
        getFeatureId: function (f) { return W.caseKey(f.properties.code, f.properties.region_code); },
        fetchOptions: {credentials: "same-origin"},
        vectorTileLayerStyles: {incidents: function (p) {
          var k = cls(p), st = d.styles[k], urgent = p.urgency === "urgent" && k !== "closed";
          return {radius: (o.radius || 5) + (urgent ? 1.5 : 0), color: st.color,
            weight: urgent ? (o.urgentWeight || 3) : 1.2, fill: true,
            fillColor: st.fill, fillOpacity: 0.85,
            className: "wangge-vt-incident " + k + (urgent ? " urgent" : "")};
        }}
      });
      // hidden cases (redrawn on top by Wangge.dispatch after a live change) stay hidden in
      // tiles loaded later
      Object.keys(W.hidden || {}).forEach(function (c) { vg.setFeatureStyle(c, HIDDEN); });
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
        g.counts.features += r && r._features ? Object.keys(r._features).length : 0;
      });
      vg.on("click", function (e) {
        var p = e.layer.properties || {}, t = d.t, k = cls(p);
        var late = k === "overdue" ? " <span class='late'>" + esc(t.overdue) + "</span>" : "";
        var href = W.caseUrl(d.item, p.code, p.region_code);
        var at = e.latlng || g._map.mouseEventToLatLng(e.originalEvent);
        if (W.openCase) { W.openCase(p.code, p.region_code); }
        L.popup({maxWidth: 320}).setLatLng(at).setContent(
          "<div class='wangge-popup'><b>" + esc(p.code) + "</b> " +
          esc(d.cats[p.category_code] || p.category_code) + late +
          table([[t.status, esc((d.statuses || {})[p.status] || p.status)],
                 [t.urgency, esc((d.urgencies || {})[p.urgency] || p.urgency)],
                 [t.reported, esc(String(p.reported_at || "").slice(0, 16))],
                 [t.cell, esc(p.cell_code)], [t.channel, esc(p.channel)]]) +
          "<div><a href='#' class='wangge-open-case' data-code='" + esc(p.code) +
          "' data-region='" + esc(p.region_code || "") + "'>" +
          esc(t.open_case || "") + "</a> · <a href='" + esc(href) + "' target='_blank'>" +
          esc(t.link_item) + "</a></div></div>"
        ).openOn(g._map);
      });
      // VectorGrid 1.3's canvas tiles stop a click with L.DomEvent.fakeStop, gone in Leaflet
      // 1.9 (where stopping is marking the event: e._stopped, as 1.8's fakeStop did)
      if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = function (e) { e._stopped = true; }; }
      // each tile fetched first, then drawn by the renderer its size asks for, its incidents
      // sorted so that the last drawn (on top) are the overdue and urgent ones
      var create = vg.createTile, fetchTile = vg._getVectorTilePromise;
      vg.createTile = function (coords, done) {
        var self = this, box = document.createElement("div");
        fetchTile.call(self, coords).then(function (tile) {
          var n = 0, rank = {};
          (o.order || []).forEach(function (k, i) { rank[k] = i; });
          Object.keys(tile.layers).forEach(function (name) {
            var fs = tile.layers[name].features;
            n += fs.length;
            fs.forEach(function (f, i) {  // the order of o.order (bottom -> top), urgent as a class
              var p = f.properties || {}, k = cls(p), r = rank[k] || 0;
              if (p.urgency === "urgent" && k !== "closed" && rank.urgent > r) { r = rank.urgent; }
              f.wanggeRank = r + i / (fs.length + 1);
            });
            fs.sort(function (a, b) { return a.wanggeRank - b.wanggeRank; });
          });
          self.options.rendererFactory = n > W.CANVAS_FROM ? L.canvas.tile : L.svg.tile;
          self._getVectorTilePromise = function () { return Promise.resolve(tile); };
          try { box.appendChild(create.call(self, coords, done)); }
          finally { self._getVectorTilePromise = fetchTile; }
        }, function (err) { done(err, box); });
        return box;
      };
      return vg;
    }
    g.counts = {features: 0, tiles: 0};
    g.hide = function (key) { if (vg) { vg.setFeatureStyle(key, HIDDEN); } };
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
  W.CANVAS_FROM = 10000;  // incidents in one vector tile drawn on a canvas beyond this (the
  // demo's densest tile at zoom 13, the county seat over the whole period, holds 8,919)
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
        // sectors never take a click meant for an incident (they are drawn below them too)
        L.polygon(W.sector(r[0], r[1], r[4], r[5], r[6]), {color: st.color, weight: 1,
          fillColor: st.color, fillOpacity: 0.18, className: "wangge-sector",
          interactive: false}).addTo(g);
      }
      if (o.points !== false) {
        L.circleMarker([r[0], r[1]], {radius: o.radius || 3, color: st.color, weight: 1,
          fillColor: d.fill, fillOpacity: 1, className: "wangge-camera"}).bindTooltip(tip).addTo(g);
      }
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
  /* Fit bounds ([[s, w], [n, e]]) into the part of the map the boxes on the right (title,
   * layer list, legend) leave free, so they cover no township name; on a narrow screen (boxes
   * wider than half the map) the plain fit. */
  W.fitClear = function (map, bounds) {
    var c = map.getContainer(), right = 0;
    c.querySelectorAll(".leaflet-right .leaflet-control").forEach(function (e) {
      right = Math.max(right, e.offsetWidth);
    });
    if (right > c.clientWidth / 2) { right = 0; }
    map.fitBounds(bounds, {paddingTopLeft: [10, 10], paddingBottomRight: [right + 20, 10],
                           animate: false});
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
  /* Patrol tracks (command centre): rows [worker name, start, end, km, [[lat, lon], ...]],
   * d.color (maps.styles.PATROL), d.t texts; names are written as text, never HTML. */
  W.patrols = function (d) {
    var g = L.featureGroup();
    d.rows.forEach(function (r) {
      L.polyline(r[4], {color: d.color, weight: 3, opacity: 0.9, className: "wangge-patrol"})
        .bindTooltip(esc(r[0]) + " · " + esc(d.t.track) + " " + esc(r[1]) + "–" + esc(r[2]) +
          " · " + esc(r[3]) + " " + esc(d.t.km), {sticky: true})
        .addTo(g);
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
  /* A group whose content is on the map only for min <= zoom < max. */
  W.zoomRange = function (inner, min, max) {
    var g = L.featureGroup(), map = null;
    function sync() {
      if (!map) { return; }
      var z = map.getZoom(), want = z >= min && z < max;
      if (want && !g.hasLayer(inner)) { g.addLayer(inner); }
      if (!want && g.hasLayer(inner)) { g.removeLayer(inner); }
    }
    g.on("add", function () { map = g._map; map.on("zoomend", sync); sync(); });
    g.on("remove", function () { if (map) { map.off("zoomend", sync); } g.removeLayer(inner); });
    return g;
  };
  function pane(map, name, z) {
    if (!map.getPane(name)) { map.createPane(name).style.zIndex = z; }
    return name;
  }
  /* The dispatch map's one incident layer (maps.dispatch.add_incident_layer): the capped
   * markers below d.switch, from d.switch the vector tiles (d.tiles) or every incident in view
   * (d.bbox, GCJ-02 basemaps); never both. In pane wanggeIncidents, above the camera sectors.
   * g.hide(key) hides a case (W.caseKey; it is redrawn on top by Wangge.dispatch after a live
   * change). */
  W.incidentLayer = function (d, o) {
    var g = L.featureGroup(), order = d.capped.order;
    var capped = W.incidents(d.capped, {radius: o.radius, closedRadius: o.closedRadius,
      pane: "wanggeIncidents"});
    var far = d.tiles ? W.tiles(d.tiles, {minZoom: d.switch, order: order,
      urgentWeight: d.capped.urgentWeight}) :
      W.live(d.bbox, {minZoom: d.switch, pane: "wanggeIncidents"});
    g.beforeAdd = function (map) { pane(map, "wanggeIncidents", 450); };
    g.addLayer(W.zoomRange(capped, 0, d.switch));
    g.addLayer(far);
    g.capped = capped;
    g.far = far;
    g.hide = function (key) {
      var m = capped.byCode[key];
      if (m) { capped.removeLayer(m); }
      if (far.hide) { far.hide(key); }
      if (far.byCode && far.byCode[key]) { far.removeLayer(far.byCode[key]); }
    };
    W.incidentLayerNow = g;
    return g;
  };
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  /* The command centre's dispatch map, live (maps.dispatch.live_config): the side panel of a
   * case (its forms post to the case endpoints with If-Match and X-CSRF-Token), the event
   * stream /events (markers, counters and lists updated in place; EventSource reconnects by
   * itself), the wall screen (?wall=1: counters by township, newest and most overdue, alarm
   * with a WebAudio beep for a new urgent case until acknowledged). */
  W.dispatch = function (map, cfg) {
    var t = cfg.t, D = {seen: {}, events: 0, live: null, cases: {}, acted: {}};
    W.dispatchNow = D;
    D.map = map;
    var liveGroup = L.featureGroup().addTo(map);
    pane(map, "wanggeLive", 455);
    // ---- side panel -------------------------------------------------------------------
    var panel = el("aside", "wangge-panel");
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", t.panel);
    panel.hidden = true;
    document.body.appendChild(panel);
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    // the open case: {code, region} (a code may be held by two counties; region names it)
    var current = null, opener = null;
    function isCurrent(code, region) {
      return !!current && current.code === code && (!region || !current.region || current.region === region);
    }
    function load(code, region, focus, message, isError) {
      if (location.protocol === "file:") { return Promise.resolve(); }
      return fetch(W.caseUrl(cfg.panel, code, region), {credentials: "same-origin"}).then(function (r) {
        return r.text().then(function (body) { return {ok: r.ok, status: r.status, body: body}; });
      }).then(function (r) {
        if (!r.ok) {
          var msg = r.status === 404 ? code + ": 404" : code + ": " + r.status;
          try { msg = JSON.parse(r.body).detail || msg; } catch (e) { /* not JSON */ }
          panel.innerHTML = "";
          panel.appendChild(el("div", "wangge-panel-msg err", msg));
          panel.hidden = false;
          return;
        }
        panel.innerHTML = r.body;
        panel.hidden = false;
        var art = panel.querySelector("article"), c = null;
        if (art && art.dataset.case) { c = JSON.parse(art.dataset.case); }
        current = {code: code, region: (c && c.region_code) || region || null};
        document.body.classList.add("wangge-panel-open");
        if (c) { D.update(c, true); }
        if (message) { say(message, isError); }
        if (focus) {
          var h = panel.querySelector("h2");
          if (h) { h.focus(); }
        }
      });
    }
    function say(message, isError) {
      var box = panel.querySelector(".wangge-panel-msg");
      if (!box) { return; }
      box.textContent = message;
      box.className = "wangge-panel-msg " + (isError ? "err" : "ok");
      if (isError) { box.setAttribute("role", "alert"); }
    }
    function close() {
      panel.hidden = true;
      panel.innerHTML = "";
      current = null;
      document.body.classList.remove("wangge-panel-open");
      if (opener && opener.focus && document.body.contains(opener)) { opener.focus(); }
      else { map.getContainer().focus(); }
    }
    W.openCase = function (code, region) {
      opener = document.activeElement;
      return load(code, region, true);
    };
    D.open = W.openCase;
    D.close = close;
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !panel.hidden) { ev.preventDefault(); close(); }
    });
    document.addEventListener("click", function (ev) {
      var a = ev.target.closest ? ev.target.closest(".wangge-open-case") : null;
      if (a) { ev.preventDefault(); W.openCase(a.getAttribute("data-code"), a.getAttribute("data-region")); }
    });
    panel.addEventListener("click", function (ev) {
      if (ev.target.closest(".wangge-panel-close")) { close(); }
    });
    function formBody(f) {
      var body = {};
      try { body = JSON.parse(f.getAttribute("data-body") || "{}") || {}; } catch (e) { body = {}; }
      var lists = {};
      Array.prototype.forEach.call(f.elements, function (x) {
        if (!x.name || x.disabled) { return; }
        if (x.type === "checkbox") {
          lists[x.name] = lists[x.name] || [];
          if (x.checked) { lists[x.name].push(/^\d+$/.test(x.value) ? Number(x.value) : x.value); }
          return;
        }
        if (x.value === "") { if (body[x.name] === "") { delete body[x.name]; } return; }
        body[x.name] = x.type === "number" ? Number(x.value) : x.value;
      });
      Object.keys(lists).forEach(function (k) { body[k] = lists[k]; });
      var shared = f.classList.contains("transition") ? panel.querySelector(".wangge-step-note") : null;
      if (shared && shared.value) { body.note = shared.value; }
      if (body.urge !== undefined) { body.note = body.urge + (body.note || ""); delete body.urge; }
      Object.keys(body).forEach(function (k) {
        if (body[k] === null || body[k] === "") { delete body[k]; }
      });
      return body;
    }
    panel.addEventListener("submit", function (ev) {
      var f = ev.target;
      if (!f.classList || !f.classList.contains("wangge-act")) { return; }
      ev.preventDefault();
      var headers = {"X-CSRF-Token": cookie("wangge_csrf")}, payload;
      if (f.getAttribute("data-multipart")) {
        payload = new FormData(f);
      } else {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(formBody(f));
      }
      if (f.getAttribute("data-version")) { headers["If-Match"] = '"' + f.getAttribute("data-version") + '"'; }
      var buttons = f.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      var now = current || {}, code = now.code, label = (f.querySelector("button") || {}).textContent || "";
      D.acted[W.caseKey(code, now.region)] = Date.now();
      fetch(f.getAttribute("data-path"), {method: f.getAttribute("data-method") || "POST",
        credentials: "same-origin", headers: headers, body: payload}).then(function (r) {
        return r.text().then(function (text) {
          var j = null;
          try { j = JSON.parse(text); } catch (e) { j = null; }
          if (!r.ok) {
            buttons.forEach(function (b) { b.disabled = false; });
            say((j && (j.detail || j.title)) || (r.status + " " + text.slice(0, 200)), true);
            return;
          }
          if (j && j.code && j.status) { D.update(j, true); }
          load(code, now.region, false, t.done + ": " + label, false).then(function () {
            var h = panel.querySelector("h2");
            if (h) { h.focus(); }
          });
          D.figures();
        });
      }, function (err) {
        buttons.forEach(function (b) { b.disabled = false; });
        say(String(err), true);
      });
    });
    // ---- markers updated in place -----------------------------------------------------
    function cls(c) {
      if (c.cls) { return c.cls; }
      if (c.overdue) { return "overdue"; }
      return cfg.closed.indexOf(c.status) >= 0 ? "closed" : "open";
    }
    /* A case changed (event or action answer): hide its old marker, draw it on top in the
     * live pane with its new class. */
    D.update = function (c, fromPanel) {
      if (c.lon === null || c.lon === undefined || c.lat === null || c.lat === undefined) {
        return;
      }
      var k = cls(c), st = cfg.styles[k] || cfg.styles.unknown,
        urgent = (c.urgency === "urgent" || c.urgent === true) && k !== "closed";
      var key = W.caseKey(c.code, c.region_code), old = D.cases[key];
      if (old && old.cls === k && old.urgent === urgent && fromPanel) { return; }
      W.hidden[key] = true;
      if (W.incidentLayerNow) { W.incidentLayerNow.hide(key); }
      if (old) { liveGroup.removeLayer(old.marker); }
      var m = L.circleMarker([c.lat, c.lon], {pane: "wanggeLive", radius: urgent ? 8 : 7,
        color: st.color, weight: urgent ? 3.5 : 2, fillColor: st.fill, fillOpacity: 0.95,
        className: "wangge-incident wangge-live-incident " + k + (urgent ? " urgent" : "")});
      m.bindTooltip(esc(c.code) + " " + esc(c.category_name || ""));
      m.on("click", function () { W.openCase(c.code, c.region_code); });
      m.addTo(liveGroup);
      if (m._path) { m._path.setAttribute("data-code", c.code); }
      D.cases[key] = {marker: m, cls: k, urgent: urgent};
      liveGroup.eachLayer(function (l) {  // overdue stays on top
        if (l.options.className.indexOf(" overdue") >= 0) { l.bringToFront(); }
      });
    };
    // ---- the event stream ---------------------------------------------------------------
    var status = el("div", "wangge-live-state off", t.live_off);
    status.setAttribute("role", "status");
    if (!cfg.events) { status.hidden = true; }
    function onEvent(ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      D.events += 1;
      var key = W.caseKey(d.code, d.region_code);
      var isNew = !D.seen[key] && ["needs_location", "reported", "registered"].indexOf(d.status) >= 0 &&
        (d.kind === undefined || /creat|intake|report|new/i.test(String(d.kind)));
      D.seen[key] = true;
      D.update(d, false);
      if (isNew) {
        addNewest(d);
        if (d.urgency === "urgent") { alarm(d); }
      }
      // the open panel follows, unless the operator is typing in it or just acted on it
      if (isCurrent(d.code, d.region_code) &&
          !panel.querySelector("input:focus, select:focus, textarea:focus") &&
          !(D.acted[key] && Date.now() - D.acted[key] < 3000)) { load(d.code, d.region_code, false); }
      D.figures();
    }
    // an alert for the command centre (超期告警, 返工告警, 超期升级: event "alert"): in the
    // alarm banner until acknowledged (with the beep), the counters refetched; kept in D.alerts.
    // Many at once (event "alerts": the server's summary of a backlog or a replay; or single
    // alerts arriving within GROUP_MS of each other) make one banner entry: "N 件新告警",
    // the count per rule and the newest few, never one entry per case.
    D.alerts = [];
    var GROUP_MS = 2000, SHOW_NEWEST = 3;
    function ruleName(a) { return (cfg.lang === "en" ? a.rule_name_en : a.rule_name) || t.alarm; }
    function alertGroup(count, byRule, newest) {  // newest first
      var g = {group: true, alert: true, count: 0, byRule: {}, newest: [], at: Date.now()};
      return addToGroup(g, count, byRule, newest);
    }
    function addToGroup(g, count, byRule, newest) {
      g.count += count;
      Object.keys(byRule).forEach(function (k) { g.byRule[k] = (g.byRule[k] || 0) + byRule[k]; });
      g.newest = newest.concat(g.newest).slice(0, SHOW_NEWEST);
      g.code = g.newest.length ? g.newest[0].code : null;
      g.region_code = g.newest.length ? g.newest[0].region_code : null;
      g.at = Date.now();
      return g;
    }
    function onAlert(ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      D.alerts.push(d);
      var last = queue[queue.length - 1], one = {}, name = ruleName(d);
      one[name] = 1;
      if (last && last.alert && Date.now() - last.at < GROUP_MS) {  // came together: group
        var g = last.group ? last : alertGroup(1, last.byRule, [last]);
        queue[queue.length - 1] = addToGroup(g, 1, one, [d]);
        showAlarm();
      } else {
        alarm({alert: true, code: d.code, category_name: d.category_name, region_code: d.region_code,
               township_name: d.township_name, title: name, byRule: one, at: Date.now()});
      }
      D.figures();
    }
    function onAlerts(ev) {
      var d, byRule = {};
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      d.newest.forEach(function (a) { D.alerts.push(a); });
      d.by_rule.forEach(function (r) { byRule[ruleName(r)] = r.count; });
      var last = queue[queue.length - 1];
      if (last && last.group && Date.now() - last.at < GROUP_MS) {
        addToGroup(last, d.count, byRule, d.newest);
        showAlarm();
      } else {
        var g = alertGroup(d.count, byRule, d.newest);
        g.alert = true;
        alarm(g);
      }
      D.figures();
    }
    function connect() {
      if (!window.EventSource || location.protocol === "file:" || !cfg.events) { return; }
      status.hidden = false;
      // started again after a close: resume from the last position seen (as EventSource does
      // by itself on a reconnect), so missed case events and alerts are replayed
      var url = cfg.events;
      if (D.lastEventId) {
        url += (url.indexOf("?") >= 0 ? "&" : "?") + "last_event_id=" +
          encodeURIComponent(D.lastEventId);
      }
      var es = new EventSource(url, {withCredentials: true});
      D.source = es;
      ["incident", "alert", "alerts"].forEach(function (k) {
        es.addEventListener(k, function (ev) { if (ev.lastEventId) { D.lastEventId = ev.lastEventId; } });
      });
      es.addEventListener("incident", onEvent);
      es.addEventListener("alert", onAlert);
      es.addEventListener("alerts", onAlerts);
      es.addEventListener("reset", function () { D.figures(); });
      es.addEventListener("logout", function () {  // the login ended: do not reconnect
        es.close(); D.connected = false; D.loggedOut = true;
        status.className = "wangge-live-state off"; status.textContent = t.live_logout;
      });
      es.onopen = function () { status.className = "wangge-live-state on"; status.textContent = t.live_on; D.connected = true; };
      es.onerror = function () {
        status.className = "wangge-live-state off"; status.textContent = t.live_off;
        D.connected = false;
        if (es.readyState === 2 && !D.loggedOut) { setTimeout(connect, 5000); }  // closed: start again
      };
    }
    D.connect = function (url) { cfg.events = url; connect(); };
    // ---- the wall screen: counters, lists, alarm ----------------------------------------
    var wall = null, lists = {};
    function pct(x) {
      if (x === null || x === undefined) { return "—"; }
      return (x >= 0.9995 ? "100" : (100 * x).toFixed(1)) + "%";
    }
    function hm(min) {
      if (min === null || min === undefined) { return ""; }
      return min >= 1440 ? Math.floor(min / 1440) + "天" + Math.floor((min % 1440) / 60) + "时" :
        Math.floor(min / 60) + "时" + (min % 60) + "分";
    }
    function listItem(i) {
      var li = el("li", "wangge-wall-item " + (i.cls || "") + (i.urgent ? " urgent" : ""));
      var a = el("a", "wangge-open-case", i.code);
      a.href = "#";
      a.setAttribute("data-code", i.code);
      if (i.region_code) { a.setAttribute("data-region", i.region_code); }
      li.appendChild(a);
      if (i.county_name) { li.appendChild(el("span", "county", " " + i.county_name)); }
      li.appendChild(el("span", "cat", " " + (i.category_name || "")));
      li.appendChild(el("span", "town", " " + (i.township_name || "")));
      if (i.late_min) { li.appendChild(el("span", "late", " " + t.overdue + " " + hm(i.late_min))); }
      else if (i.urgent) { li.appendChild(el("span", "urg", " " + t.urgent)); }
      return li;
    }
    // the county of a live event or alert on the wall of several counties (none on a county's)
    function countyOf(d) { return (cfg.countyNames || {})[d.region_code] || null; }
    function addNewest(d) {
      if (!lists.newest) { return; }
      var li = listItem({code: d.code, region_code: d.region_code, category_name: d.category_name,
        township_name: d.township_name,
        county_name: countyOf(d), urgent: d.urgency === "urgent", cls: cls(d)});
      lists.newest.insertBefore(li, lists.newest.firstChild);
      while (lists.newest.children.length > 8) { lists.newest.removeChild(lists.newest.lastChild); }
    }
    function fitCounter(n) {
      // a figure wider than its tile (a prefecture's thousands, 100.0%) is set smaller
      n.style.fontSize = "";
      var size = parseFloat(window.getComputedStyle(n).fontSize);
      while (n.scrollWidth > n.clientWidth && size > 16) {
        size -= 2;
        n.style.fontSize = size + "px";
      }
    }
    function render(f) {
      if (!wall || !f) { return; }
      D.lastFigures = f;
      var tot = f.totals;
      [["today", tot.today], ["open", tot.open], ["overdue", tot.overdue], ["urgent", tot.urgent],
       ["closing_rate", pct(tot.closing_rate)]].forEach(function (p) {
        var n = wall.querySelector(".wangge-counter." + p[0] + " .n");
        if (n) { n.textContent = p[1]; fitCounter(n); }
      });
      var body = wall.querySelector(".wangge-towns tbody");
      body.innerHTML = "";
      (cfg.byCounty ? f.counties || [] : f.townships).forEach(function (r) {
        var tr = document.createElement("tr");
        if (cfg.byCounty) { tr.setAttribute("data-region", r.code); }
        [r.name || r.code || "—", r.today, r.open, r.overdue, r.urgent, pct(r.closing_rate)].forEach(function (x, i) {
          var td = el("td", ["name", "today", "open", "overdue", "urgent", "rate"][i], x);
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      ["newest", "most_overdue"].forEach(function (k) {
        lists[k].innerHTML = "";
        f[k].forEach(function (i) { lists[k].appendChild(listItem(i)); });
      });
    }
    var pending = null, busy = false;
    D.figures = function () {
      if (!wall || location.protocol === "file:") { return; }
      if (pending) { return; }
      pending = setTimeout(function () {
        pending = null;
        if (busy) { D.figures(); return; }
        busy = true;
        fetch(cfg.figures, {credentials: "same-origin"}).then(function (r) {
          return r.ok ? r.json() : null;
        }).then(function (f) { busy = false; render(f); }, function () { busy = false; });
      }, 400);
    };
    function buildWall() {
      var c = cfg.wallColors;
      document.body.classList.add("wangge-wall");
      wall = el("aside", "wangge-wall-side");
      wall.style.background = c.bg;
      wall.style.color = c.text;
      var head = el("div", "wangge-wall-head");
      head.appendChild(el("h1", "", cfg.byCounty ? t.wall_title_scope : t.wall_title));
      var clock = el("div", "wangge-wall-clock");
      head.appendChild(clock);
      head.appendChild(status);
      wall.appendChild(head);
      function tick() { clock.textContent = new Date().toLocaleString("zh-CN", {hour12: false, timeZone: "Asia/Shanghai"}); }
      tick();
      setInterval(tick, 1000);
      var counters = el("div", "wangge-counters");
      [["today", t.today_intake, c.text], ["open", t.open_n, c.open],
       ["overdue", t.overdue_n, c.overdue], ["urgent", t.urgent_n, c.accent],
       ["closing_rate", t.closing_rate, c.closed]].forEach(function (p) {
        var box = el("div", "wangge-counter " + p[0]);
        box.style.background = c.panel;
        var n = el("div", "n", "—");
        n.style.color = p[2];
        box.appendChild(n);
        box.appendChild(el("div", "l", p[1]));
        counters.appendChild(box);
      });
      wall.appendChild(counters);
      var tbl = el("table", "wangge-towns"), thead = document.createElement("thead"),
        tr = document.createElement("tr");
      [cfg.byCounty ? t.county : t.township, t.today_intake, t.open_n, t.overdue_n, t.urgent_n,
       t.closing_rate].forEach(function (h) {
        tr.appendChild(el("th", "", h));
      });
      thead.appendChild(tr);
      tbl.appendChild(thead);
      tbl.appendChild(document.createElement("tbody"));
      var townBox = el("section", "wangge-wall-towns");
      townBox.appendChild(el("h2", "", cfg.byCounty ? t.by_county : t.by_township));
      townBox.appendChild(tbl);
      wall.appendChild(townBox);
      var two = el("div", "wangge-wall-lists");
      [["newest", t.newest], ["most_overdue", t.most_overdue]].forEach(function (p) {
        var sec = el("section", "wangge-wall-list " + p[0]);
        sec.appendChild(el("h2", "", p[1]));
        lists[p[0]] = el("ol", "");
        sec.appendChild(lists[p[0]]);
        two.appendChild(sec);
      });
      wall.appendChild(two);
      document.body.appendChild(wall);
      L.DomEvent.disableClickPropagation(wall);
      // the legend where the county leaves room (top left), its rows only
      var legend = map.getContainer().querySelector(".wangge-legend"),
        topLeft = map.getContainer().querySelector(".leaflet-top.leaflet-left");
      if (legend && topLeft) { topLeft.appendChild(legend); }
      map.invalidateSize();
      if (cfg.bounds) {
        map.fitBounds([[cfg.bounds[1], cfg.bounds[0]], [cfg.bounds[3], cfg.bounds[2]]],
          {padding: [8, 8]});
      }
      render(cfg.initial);
    }
    // alarm: a banner and a WebAudio beep (no file) until acknowledged
    var queue = [], beepTimer = null, audio = null, banner = null;
    D.alarm = {active: false, beeps: 0, acknowledged: []};
    function beep() {
      D.alarm.beeps += 1;
      try {
        audio = audio || new (window.AudioContext || window.webkitAudioContext)();
        if (audio.state === "suspended") { audio.resume(); }
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start();
        osc.stop(audio.currentTime + 0.25);
      } catch (e) { /* no audio device: the banner still shows */ }
    }
    function showAlarm() {
      var d = queue[0];
      if (!d) { return; }
      if (!banner) {
        banner = el("div", "wangge-alarm");
        banner.setAttribute("role", "alertdialog");
        banner.setAttribute("aria-live", "assertive");
        banner.style.background = cfg.alarm.bg;
        banner.style.color = cfg.alarm.text;
        banner.appendChild(el("div", "what", ""));
        var open = el("button", "open", t.open_case);
        open.type = "button";
        var ack = el("button", "ack", t.ack);
        ack.type = "button";
        banner.appendChild(open);
        banner.appendChild(ack);
        open.addEventListener("click", function () {
          if (queue[0]) { W.openCase(queue[0].code, queue[0].region_code); }
        });
        ack.addEventListener("click", acknowledge);
        document.body.appendChild(banner);
        L.DomEvent.disableClickPropagation(banner);
      }
      var what = d.group ?
        t.alerts_many.replace("{n}", d.count) + " (" + Object.keys(d.byRule).map(function (k) {
          return k + " " + d.byRule[k]; }).join(" · ") + ") · " + t.alerts_newest + ": " +
          d.newest.map(function (a) {
            return a.code + " " + (a.category_name || "") + " · " + place(a);
          }).join("; ") :
        (d.title || t.alarm) + ": " + d.code + " " + (d.category_name || "") + " · " + place(d);
      banner.querySelector(".what").textContent = what +
        (queue.length > 1 ? " (+" + (queue.length - 1) + ")" : "");
      banner.hidden = false;
      D.alarm.active = true;
      D.alarm.code = d.code;
      if (!beepTimer) { beep(); beepTimer = setInterval(beep, 1500); }
      banner.querySelector(".ack").focus();
    }
    function alarm(d) { queue.push(d); showAlarm(); }
    function place(d) {  // 临县 高家村镇 on the wall of several counties; the township on a county's
      var county = countyOf(d);
      return (county ? county + " " : "") + (d.township_name || "");
    }
    function acknowledge() {
      var d = queue.shift();
      if (d) { D.alarm.acknowledged.push(d.group ? d.count + " alerts" : d.code); }
      if (queue.length) { showAlarm(); return; }
      clearInterval(beepTimer);
      beepTimer = null;
      D.alarm.active = false;
      if (banner) { banner.hidden = true; }
    }
    D.acknowledge = acknowledge;
    D.alarm.queue = queue;
    if (cfg.wall) { buildWall(); }
    else {
      var box = L.control({position: "bottomleft"});
      box.onAdd = function () { return status; };
      box.addTo(map);
    }
    if (cfg.wall || cfg.refresh) {  // overdue counts change with time alone
      setInterval(D.figures, 1000 * (cfg.refresh || 60));
    }
    connect();
    return D;
  };
  W.here = function (map, lat, lon, label) {
    var icon = L.divIcon({className: "", html: "<div class='wangge-here'></div>", iconSize: [24, 24],
      iconAnchor: [12, 12]});
    return L.marker([lat, lon], {icon: icon, title: label, zIndexOffset: 1000}).bindTooltip(esc(label),
      {permanent: true, direction: "top", offset: [0, -12]}).addTo(map);
  };
  window.Wangge = W;
}());
