/* paraminspect's HTML report: the module treemap and the tensor table.
 *
 * Layout: d3-hierarchy's squarified treemap (passed in as `d3`). Drawing: one <canvas>, because
 * a model can hold 50,000 tensors in 25,000 modules: a canvas draws them in one pass, where an
 * element for each of the modules alone (positioned <div>s, measured) took the page 0.5-1 s more
 * to open. Each module drawn is listed in a hidden index
 * (an <i> element carrying its dotted path as data-name, and its box) so that tests and users find
 * it in the DOM; findings and the selection are positioned outlines over the canvas. The table
 * renders only the rows in view.
 * Every string from the model reaches the page through textContent or setAttribute, never as HTML.
 */
function paraminspectReport(root, d3) {
  "use strict";
  if (!root || !d3 || !d3.treemap) return;
  var data = JSON.parse(root.querySelector("script.pi-data").textContent);
  var M = data.modules, T = data.tensors;
  var nMod = M.path.length, nTen = T.m.length;
  var KIND_COLORS = {
    "parameter": "#4e79a7", "buffer": "#f28e2b", "buffer (np)": "#edc948",
    "unregistered": "#e15759", "packed": "#b07aa1", "stored": "#76b7b2"
  };
  var GRAD_COLORS = {"trainable": "#59a14f", "frozen": "#a0a7b4", "not a parameter": "#f28e2b"};
  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac"];
  var FRAMES = ["#2e3440", "#3b4252", "#434c5e", "#4c566a", "#5b6579", "#6a7488"];
  var FLOPS_COLOR = "#7aa6c9";
  var rowHeight = 22;  // measured once the first rows are drawn

  // ---- the tree and its totals ----
  var children = [], own = [], i, m;
  for (i = 0; i < nMod; i++) { children.push([]); own.push([]); }
  for (i = 1; i < nMod; i++) children[M.parent[i]].push(i);
  for (i = 0; i < nTen; i++) own[T.m[i]].push(i);
  var order = [0];  // pre-order, without recursion (modules nest hundreds deep)
  for (i = 0; i < order.length; i++) {
    var ch = children[order[i]];
    for (var j = 0; j < ch.length; j++) order.push(ch[j]);
  }
  var FIELDS = ["elements", "parameters", "trainable", "buffers", "unregistered", "tensors", "bytes"];
  var agg = {};
  FIELDS.forEach(function (f) { agg[f] = new Float64Array(nMod); });
  for (i = 0; i < nTen; i++) {
    m = T.m[i];
    var e = Math.max(T.e[i], 0), kind = data.kinds[T.k[i]];
    agg.elements[m] += e; agg.tensors[m] += 1; agg.bytes[m] += Math.max(T.b[i], 0);
    if (kind === "parameter" || kind === "stored") { agg.parameters[m] += e; if (T.g[i]) agg.trainable[m] += e; }
    else if (kind === "buffer" || kind === "buffer (np)") agg.buffers[m] += e;
    else if (kind === "unregistered") agg.unregistered[m] += e;
  }
  for (i = order.length - 1; i > 0; i--) {
    m = order[i];
    FIELDS.forEach(function (f) { agg[f][M.parent[m]] += agg[f][m]; });
  }
  var flops = data.flops, selfFlops = new Float64Array(nMod);
  if (flops) {
    for (m = 0; m < nMod; m++) {
      if (flops[m] < 0) continue;
      var rest = flops[m];
      children[m].forEach(function (c) { if (flops[c] > 0) rest -= flops[c]; });
      selfFlops[m] = Math.max(rest, 0);
    }
  }
  var flagged = {};  // module -> its findings
  data.findings.forEach(function (f, k) { (flagged[f.module] = flagged[f.module] || []).push(k); });

  // One data node per module, holding its submodules, its tensors and its own FLOPs.
  var nodes = [];
  for (m = 0; m < nMod; m++) nodes.push({m: m, children: []});
  for (m = 0; m < nMod; m++) {
    var kids = nodes[m].children;
    children[m].forEach(function (c) { kids.push(nodes[c]); });
    own[m].forEach(function (t) { kids.push({t: t}); });
    if (selfFlops[m] > 0) kids.push({f: m});
  }

  function path(m) { return M.path[m]; }
  function localPath(m) {
    if (m === 0) return data.root_type;
    var p = M.path[m], parent = M.path[M.parent[m]];
    return parent && p.lastIndexOf(parent + ".", 0) === 0 ? p.slice(parent.length + 1) : p;
  }
  function typeOf(m) { return data.module_types[M.type[m]]; }  // "" for a checkpoint's prefixes
  function tensorName(t) {
    var full = data.full_names[t];
    if (full !== undefined) return full;
    var p = M.path[T.m[t]], local = data.names[T.n[t]];
    return p ? p + "." + local : local;
  }
  function tensorLocal(t) { return data.full_names[t] !== undefined ? data.full_names[t] : data.names[T.n[t]]; }
  function gradClass(t) {
    var kind = data.kinds[T.k[t]];
    if (kind === "parameter") return T.g[t] ? "trainable" : "frozen";
    return "not a parameter";
  }
  function fmtCount(n) { return n < 0 ? "?" : Math.round(n).toLocaleString("en-US"); }
  function fmtShort(n) {
    var units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var u = 0; u < units.length; u++) if (n >= units[u][0]) return (n / units[u][0]).toFixed(1) + units[u][1];
    return String(Math.round(n));
  }
  function fmtBytes(n) {
    if (n < 0) return "?";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
    return u === 0 ? Math.floor(n) + " B" : n.toFixed(1) + " " + units[u];
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- state and the page's parts ----
  var state = {size: "elements", color: data.checkpoint ? "dtype" : "kind", zoom: 0, selected: -1,
    query: "", scope: -1, sortKey: "", sortDir: 0};
  var app = root.querySelector(".pi-app"), live = root.querySelector(".pi-live");
  var nojs = root.querySelector(".pi-nojs"), staticTable = root.querySelector(".pi-static");
  if (nojs) nojs.remove();
  if (staticTable) staticTable.hidden = true;
  app.hidden = false; live.hidden = false;

  var bar = el("div", "pi-bar"), crumbs = el("nav", "pi-crumbs"), legend = el("div", "pi-legend");
  function switcher(label, options, key) {
    var box = el("div", "pi-switch");
    box.appendChild(el("span", "pi-switch-label", label));
    options.forEach(function (o) {
      var b = el("button", "", o[1]);
      b.type = "button"; b.setAttribute("data-value", o[0]);
      b.addEventListener("click", function () { state[key] = o[0]; update(); });
      box.appendChild(b);
    });
    return box;
  }
  var sizeOptions = [["elements", "elements"], ["bytes", data.bytes_label]];
  if (flops) sizeOptions.push(["flops", "FLOPs"]);
  var sizeSwitch = switcher("Size by", sizeOptions, "size");
  var colorSwitch = switcher("Colour by", [["kind", "kind"], ["dtype", "dtype"], ["trainable", "trainable"]], "color");
  bar.appendChild(sizeSwitch); bar.appendChild(colorSwitch); bar.appendChild(legend);
  var main = el("div", "pi-main"), map = el("div", "pi-map"), canvas = el("canvas");
  var overlay = el("div", "pi-overlay"), tip = el("div", "pi-tip"), detail = el("aside", "pi-detail");
  var index = el("div", "pi-index");
  tip.hidden = true; index.hidden = true;
  map.appendChild(canvas); map.appendChild(overlay); map.appendChild(tip); map.appendChild(index);
  main.appendChild(map); main.appendChild(detail);
  app.appendChild(bar); app.appendChild(crumbs); app.appendChild(main);
  var ctx = canvas.getContext("2d");

  // ---- colours ----
  function leafColor(d) {
    if (d.f !== undefined) return FLOPS_COLOR;
    var t = d.t;
    if (state.color === "dtype") return PALETTE[T.d[t] % PALETTE.length];
    if (state.color === "trainable") return GRAD_COLORS[gradClass(t)];
    return KIND_COLORS[data.kinds[T.k[t]]] || "#999";
  }
  function drawLegend() {
    legend.replaceChildren();
    if (state.size === "flops") { legendItem(FLOPS_COLOR, "a module's own FLOPs"); return; }
    var seen = {}, keys = [];
    for (var t = 0; t < nTen; t++) {
      var key = state.color === "dtype" ? T.d[t] : state.color === "trainable" ? gradClass(t) : T.k[t];
      if (seen[key] === undefined) { seen[key] = 0; keys.push(key); }
      seen[key] += 1;
    }
    keys.forEach(function (key) {
      var label = state.color === "dtype" ? data.dtypes[key] : state.color === "trainable" ? key : data.kinds[key];
      var color = state.color === "dtype" ? PALETTE[key % PALETTE.length]
        : state.color === "trainable" ? GRAD_COLORS[key] : KIND_COLORS[label];
      legendItem(color, label + " (" + fmtCount(seen[key]) + ")");
    });
  }
  function legendItem(color, text) {
    var item = el("span", "pi-key"), swatch = el("i");
    swatch.style.background = color;
    item.appendChild(swatch); item.appendChild(document.createTextNode(text));
    legend.appendChild(item);
  }

  // ---- layout and drawing ----
  var laid = null, width = 0, height = 0;
  function valueOf(d) {
    if (state.size === "flops") return d.f !== undefined ? selfFlops[d.f] : 0;
    if (d.t === undefined) return 0;
    return Math.max(state.size === "bytes" ? T.b[d.t] : T.e[d.t], 0);
  }
  function sizeText(v) {
    if (state.size === "bytes") return fmtBytes(v);
    return fmtShort(v) + (state.size === "flops" ? " FLOPs" : "");
  }
  // Padding, called by d3 top-down with the module's box already set: a label strip where
  // there is room for one, a 1px frame where the module is big enough to show it (tiny modules
  // give all their pixels to their tensors).
  function roomy(node) { return node.x1 - node.x0 > 8 && node.y1 - node.y0 > 8 ? 1 : 0; }
  function header(node) {
    node.hdr = node.x1 - node.x0 > 48 && node.y1 - node.y0 > 40;
    node.framed = node.hdr || roomy(node) > 0;  // else its children cover it: no frame to draw
    return node.hdr ? 16 : roomy(node);
  }
  function layout() {
    width = Math.max(map.clientWidth, 200); height = Math.max(map.clientHeight, 200);
    var h = d3.hierarchy(nodes[state.zoom]).sum(valueOf).sort(function (a, b) { return b.value - a.value; });
    if (!h.value && state.zoom !== 0) { state.zoom = 0; return layout(); }
    laid = d3.treemap().tile(d3.treemapSquarify).size([width, height]).round(true).paddingInner(roomy)
      .paddingRight(roomy).paddingBottom(roomy).paddingLeft(roomy).paddingTop(header)(h);
  }
  function fit(text, room) {
    if (room < 12) return "";
    if (ctx.measureText(text).width <= room) return text;
    var lo = 0, hi = text.length;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + "…").width <= room) lo = mid; else hi = mid - 1;
    }
    return lo ? text.slice(0, lo) + "…" : "";
  }
  function draw() {
    var dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr);
    canvas.style.width = width + "px"; canvas.style.height = height + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#f4f5f7"; ctx.fillRect(0, 0, width, height);
    if (!laid.value) {
      ctx.fillStyle = "#333"; ctx.font = "13px system-ui, sans-serif";
      ctx.fillText("Nothing to draw: no tensor has a known size here.", 12, 24);
      return;
    }
    ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
    // Modules level by level (parents under their children), then the tensors one colour at a
    // time: the canvas parses each colour it is given, and 75,000 changes cost more than the drawing.
    var byDepth = [], byColor = {}, labels = [];
    laid.eachBefore(function (n) {
      if (!(n.value > 0) || n.x1 <= n.x0 || n.y1 <= n.y0) return;
      if (n.data.m !== undefined) {
        if (n.framed) (byDepth[n.depth] = byDepth[n.depth] || []).push(n);
        if (n.hdr) labels.push(n);
      } else {
        var color = leafColor(n.data);
        (byColor[color] = byColor[color] || []).push(n);
      }
    });
    byDepth.forEach(function (level, depth) {  // (a sparse array: levels without frames are skipped)
      ctx.fillStyle = FRAMES[depth % FRAMES.length];
      level.forEach(function (n) { ctx.fillRect(n.x0, n.y0, n.x1 - n.x0, n.y1 - n.y0); });
    });
    Object.keys(byColor).forEach(function (color) {
      ctx.fillStyle = color;
      byColor[color].forEach(function (n) { ctx.fillRect(n.x0, n.y0, n.x1 - n.x0, n.y1 - n.y0); });
    });
    ctx.fillStyle = "#fff";
    labels.forEach(function (n) {
      var d = n.data, label = [d.m ? localPath(d.m) : "", typeOf(d.m), sizeText(n.value)].filter(Boolean).join(" · ");
      ctx.fillText(fit(label, n.x1 - n.x0 - 8), n.x0 + 4, n.y0 + 8.5);
    });
    ctx.fillStyle = "rgba(0,0,0,0.75)";
    Object.keys(byColor).forEach(function (color) {
      byColor[color].forEach(function (n) {
        var w = n.x1 - n.x0, h = n.y1 - n.y0;
        if (w > 64 && h > 18 && n.data.t !== undefined) {
          ctx.fillText(fit(tensorLocal(n.data.t), w - 8), n.x0 + 4, n.y0 + Math.min(h / 2, 11));
        }
      });
    });
  }
  function box(n) {
    return "left:" + n.x0 + "px;top:" + n.y0 + "px;width:" + (n.x1 - n.x0) + "px;height:" + (n.y1 - n.y0) + "px";
  }
  function drawIndex() {
    // The invisible index: one <i data-name> per module drawn now, with its box on the canvas.
    // Hidden elements cost no layout: 25,000 positioned ones took the page ~0.5 s more to open.
    var frag = document.createDocumentFragment(), drawn = {};
    laid.eachBefore(function (n) {
      var d = n.data, w = n.x1 - n.x0, h = n.y1 - n.y0;
      if (d.m === undefined || !(n.value > 0) || w <= 0 || h <= 0) return;
      var i = document.createElement("i");
      i.setAttribute("data-name", path(d.m));
      i.setAttribute("data-box", Math.round(n.x0) + "," + Math.round(n.y0) + "," + Math.round(w) + "," + Math.round(h));
      drawn[d.m] = {node: n, mark: i};
      frag.appendChild(i);
    });
    index.replaceChildren(frag);
    return drawn;
  }
  function drawMarks(drawn) {
    // Visible marks: findings on their modules (a dashed outline on the nearest drawn
    // enclosing module when their own is too small to draw), and the selection.
    var frag = document.createDocumentFragment(), marks = {};
    Object.keys(flagged).forEach(function (key) {
      var m = +key, codes = {};
      flagged[key].forEach(function (k) { codes[data.findings[k].code] = true; });
      while (!drawn[m] && m > 0) m = M.parent[m];
      if (!drawn[m]) return;
      var inside = m !== +key, mark = marks[m];
      if (!mark) {
        mark = marks[m] = el("div", "pi-mark");
        mark.setAttribute("data-flag", path(m));
        mark.style.cssText = box(drawn[m].node);
        mark.appendChild(el("span", "pi-badge"));
        frag.appendChild(mark);
      }
      mark.classList.add(inside ? "pi-flag-in" : "pi-flag");
      drawn[m].mark.classList.add(inside ? "pi-flag-in" : "pi-flag");
      var badge = mark.firstChild, text = Object.keys(codes).join(" ");
      badge.textContent = badge.textContent ? badge.textContent + " " + text : text;
      var messages = flagged[key].map(function (k) { return data.findings[k].message; }).join("\n");
      badge.title = badge.title ? badge.title + "\n" + messages : messages;
    });
    if (state.selected >= 0 && drawn[state.selected]) {
      var sel = el("div", "pi-mark pi-sel");
      sel.setAttribute("data-selected", path(state.selected));
      sel.style.cssText = box(drawn[state.selected].node);
      frag.appendChild(sel);
    }
    overlay.replaceChildren(frag);
  }
  function drawCrumbs() {
    crumbs.replaceChildren();
    var chain = [], m = state.zoom;
    while (m >= 0) { chain.unshift(m); m = M.parent[m]; }
    chain.forEach(function (c, k) {
      var b = el("button", "", localPath(c));
      b.type = "button"; b.disabled = k === chain.length - 1;
      b.addEventListener("click", function () { zoomTo(c); });
      crumbs.appendChild(b);
    });
    crumbs.appendChild(el("span", "pi-hint", "click: details · double-click: zoom in · the path above: zoom out"));
  }
  function update() {
    [[sizeSwitch, state.size], [colorSwitch, state.color]].forEach(function (pair) {
      pair[0].querySelectorAll("button").forEach(function (b) {
        b.classList.toggle("pi-on", b.getAttribute("data-value") === pair[1]);
      });
    });
    colorSwitch.classList.toggle("pi-off", state.size === "flops");
    layout(); draw(); drawMarks(drawIndex()); drawCrumbs(); drawLegend(); showDetail();
  }
  function zoomTo(m) { state.zoom = m; update(); }
  function inZoom(m) { while (m >= 0 && m !== state.zoom) m = M.parent[m]; return m === state.zoom; }
  function select(m) {
    state.selected = m;
    if (!inZoom(m)) state.zoom = 0;
    update();
  }

  // ---- hover, click ----
  function hit(x, y) {
    var n = laid;
    if (!n || !(n.value > 0)) return null;
    for (;;) {
      var ch = n.children, next = null;
      if (!ch) break;
      for (var k = 0; k < ch.length; k++) {
        var c = ch[k];
        if (c.value > 0 && x >= c.x0 && x < c.x1 && y >= c.y0 && y < c.y1) { next = c; break; }
      }
      if (!next) break;
      n = next;
    }
    return n;
  }
  function moduleOf(n) { return n.data.m !== undefined ? n.data.m : n.parent.data.m; }
  function tipLine(label, value) {
    var row = el("div"); row.appendChild(el("span", "", label + " ")); row.appendChild(el("b", "", value));
    return row;
  }
  canvas.addEventListener("mousemove", function (ev) {
    var n = hit(ev.offsetX, ev.offsetY);
    if (!n) { tip.hidden = true; return; }
    tip.replaceChildren();
    var d = n.data;
    if (d.t !== undefined) {
      tip.appendChild(el("div", "pi-tip-title", tensorName(d.t)));
      tip.appendChild(tipLine("kind", data.kinds[T.k[d.t]] + (T.g[d.t] ? ", requires grad" : "")));
      tip.appendChild(tipLine("shape", data.shapes[T.s[d.t]] + "  " + data.dtypes[T.d[d.t]] + "  " +
        data.devices[T.v[d.t]]));
      tip.appendChild(tipLine("elements", fmtCount(T.e[d.t])));
      tip.appendChild(tipLine("size", fmtBytes(T.b[d.t])));
    } else {
      var mm = moduleOf(n);
      tip.appendChild(el("div", "pi-tip-title", [path(mm) || "(root)", typeOf(mm)].filter(Boolean).join(" · ")));
      moduleLines(mm).forEach(function (pair) { tip.appendChild(tipLine(pair[0], pair[1])); });
    }
    tip.hidden = false;
    var x = ev.offsetX + 14, y = ev.offsetY + 14;
    if (x + tip.offsetWidth > width) x = Math.max(0, ev.offsetX - tip.offsetWidth - 10);
    if (y + tip.offsetHeight > height) y = Math.max(0, ev.offsetY - tip.offsetHeight - 10);
    tip.style.left = x + "px"; tip.style.top = y + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("click", function (ev) {
    var n = hit(ev.offsetX, ev.offsetY);
    if (n) select(moduleOf(n));
  });
  canvas.addEventListener("dblclick", function (ev) {  // one level down, toward the module pointed at
    var n = hit(ev.offsetX, ev.offsetY);
    if (!n) return;
    var mm = moduleOf(n);
    while (mm > 0 && M.parent[mm] !== state.zoom) mm = M.parent[mm];
    if (mm > 0 && mm !== state.zoom) zoomTo(mm);
  });

  // ---- the detail panel ----
  function moduleLines(m) {
    var lines = [];
    if (data.checkpoint) lines.push(["stored elements", fmtCount(agg.parameters[m])]);
    else {
      lines.push(["parameters", fmtCount(agg.parameters[m])]);
      if (agg.parameters[m] !== agg.trainable[m]) lines.push(["trainable", fmtCount(agg.trainable[m])]);
      lines.push(["buffer elements", fmtCount(agg.buffers[m])]);
      if (agg.unregistered[m]) lines.push(["unregistered elements", fmtCount(agg.unregistered[m])]);
    }
    lines.push(["tensors", fmtCount(agg.tensors[m])]);
    lines.push([data.bytes_label === "bytes" ? "size" : "size (" + data.bytes_label + ")", fmtBytes(agg.bytes[m])]);
    if (flops && flops[m] >= 0) lines.push(["FLOPs", fmtCount(flops[m])]);
    if (m !== 0 && agg.elements[0] > 0) {
      lines.push(["share of the model's elements", (100 * agg.elements[m] / agg.elements[0]).toFixed(2) + " %"]);
    }
    return lines;
  }
  function showDetail() {
    var m = state.selected >= 0 ? state.selected : state.zoom;
    detail.replaceChildren();
    detail.appendChild(el("h3", "", path(m) || "(root)"));
    detail.appendChild(el("div", "pi-type", typeOf(m)));
    if (data.module_aliases[m]) detail.appendChild(el("div", "pi-type", "also at: " + data.module_aliases[m]));
    var dl = el("table", "pi-kv");
    moduleLines(m).forEach(function (pair) {
      var tr = el("tr"); tr.appendChild(el("td", "", pair[0])); tr.appendChild(el("td", "pi-num", pair[1]));
      dl.appendChild(tr);
    });
    detail.appendChild(dl);
    var buttons = el("div", "pi-buttons");
    if (m !== state.zoom && nodes[m].children.length) {
      var zoomButton = el("button", "", "Zoom in");
      zoomButton.type = "button"; zoomButton.addEventListener("click", function () { zoomTo(m); });
      buttons.appendChild(zoomButton);
    }
    var listButton = el("button", "", "List its tensors below");
    listButton.type = "button";
    listButton.addEventListener("click", function () { setScope(m); live.scrollIntoView(); });
    buttons.appendChild(listButton);
    detail.appendChild(buttons);
    (flagged[m] || []).forEach(function (k) {
      var f = data.findings[k], p = el("p", "pi-finding pi-" + f.severity);
      p.appendChild(el("b", "", f.code + " ")); p.appendChild(document.createTextNode(f.message));
      if (f.location) p.appendChild(el("span", "pi-loc", " " + f.location));
      detail.appendChild(p);
    });
    var subs = children[m].filter(function (c) { return agg.tensors[c] > 0; });
    subs.sort(function (a, b) { return agg.elements[b] - agg.elements[a]; });
    if (subs.length) {
      detail.appendChild(el("h4", "", "Submodules (" + fmtCount(subs.length) + ")"));
      var ul = el("ul", "pi-list");
      subs.slice(0, 40).forEach(function (c) {
        var li = el("li"), a = el("button", "pi-link", localPath(c));
        a.type = "button"; a.addEventListener("click", function () { select(c); });
        li.appendChild(a);
        li.appendChild(el("span", "", " " + [typeOf(c), fmtShort(agg.elements[c])].filter(Boolean).join(" · ")));
        ul.appendChild(li);
      });
      if (subs.length > 40) ul.appendChild(el("li", "pi-more", "… " + fmtCount(subs.length - 40) + " more"));
      detail.appendChild(ul);
    }
    var mine = own[m].slice().sort(function (a, b) { return T.e[b] - T.e[a]; });
    if (mine.length) {
      detail.appendChild(el("h4", "", "Its own tensors (" + fmtCount(mine.length) + ")"));
      var tl = el("ul", "pi-list");
      mine.slice(0, 40).forEach(function (t) {
        var li = el("li");
        li.appendChild(el("code", "", tensorLocal(t)));
        li.appendChild(el("span", "", " " + data.shapes[T.s[t]] + " " + data.kinds[T.k[t]] + " · " + fmtBytes(T.b[t])));
        tl.appendChild(li);
      });
      if (mine.length > 40) tl.appendChild(el("li", "pi-more", "… " + fmtCount(mine.length - 40) + " more"));
      detail.appendChild(tl);
    }
  }

  // ---- the tensor table (virtualised) ----
  var COLUMNS = [
    ["Name", function (t) { var a = data.aliases[t]; return a ? tensorName(t) + " = " + a : tensorName(t); }],
    ["Kind", function (t) { var k = data.kinds[T.k[t]]; return k === "unregistered" ? "UNREGISTERED" : k; }],
    ["Grad", function (t) { return T.g[t] ? "yes" : "no"; }],
    ["Shape", function (t) { return data.shapes[T.s[t]]; }],
    ["Dtype", function (t) { return data.dtypes[T.d[t]]; }],
    ["Device", function (t) { return data.devices[T.v[t]]; }],
    ["Numel", function (t) { return fmtCount(T.e[t]); }, function (t) { return T.e[t]; }],
    ["Size", function (t) { return fmtBytes(T.b[t]); }, function (t) { return T.b[t]; }]
  ];
  var tools = el("div", "pi-tools"), search = el("input", "pi-search"), counter = el("span", "pi-count");
  var scopeChip = el("span", "pi-scope");
  search.type = "search"; search.setAttribute("aria-label", "Filter tensors");
  search.placeholder = "Filter by name: a substring, or a glob such as blocks.*.attn.*";
  tools.appendChild(search); tools.appendChild(scopeChip); tools.appendChild(counter);
  var scroller = el("div", "pi-scroll"), table = el("table", "pi-table pi-vtable"), thead = el("thead");
  var tbody = el("tbody"), headRow = el("tr"), colgroup = el("colgroup");
  ["44%", "11%", "6%", "12%", "8%", "7%", "6%", "6%"].forEach(function (w) {
    var col = el("col"); col.style.width = w; colgroup.appendChild(col);
  });
  COLUMNS.forEach(function (c, k) {
    var th = el("th", k >= 6 ? "pi-num" : "", c[0]);
    th.addEventListener("click", function () {
      state.sortDir = state.sortKey === c[0] ? (state.sortDir === -1 ? 1 : state.sortDir === 1 ? 0 : -1) : -1;
      state.sortKey = c[0]; refilter();
    });
    headRow.appendChild(th);
  });
  thead.appendChild(headRow); table.appendChild(colgroup); table.appendChild(thead); table.appendChild(tbody);
  scroller.appendChild(table); live.appendChild(tools); live.appendChild(scroller);

  var selection = data.selection;  // the --filter/--kind rows, or null: every tensor
  var rows = [];  // the tensors the table shows, in its order (refilter)
  var lowerNames = null;
  function globToRegExp(glob) {
    var out = "";
    for (var k = 0; k < glob.length; k++) {
      var c = glob[k];
      out += c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
    return new RegExp("^" + out + "$", "i");
  }
  function refilter() {
    var source = selection, q = state.query.trim(), keep = [];
    var inScope = null;
    if (state.scope >= 0) {
      inScope = new Uint8Array(nMod); inScope[state.scope] = 1;
      for (var k = 0; k < order.length; k++) { var mm = order[k]; if (inScope[M.parent[mm]]) inScope[mm] = 1; }
      inScope[state.scope] = 1;
    }
    var matcher = null;
    if (q) {
      if (/[*?]/.test(q)) {
        var re = globToRegExp(q);
        matcher = function (t) {  // like --filter: the whole name, or one of its aliases
          if (re.test(tensorName(t))) return true;
          var a = data.aliases[t];
          return a !== undefined && a.split(" = ").some(function (x) { return re.test(x); });
        };
      } else {
        var needle = q.toLowerCase();
        if (!lowerNames) lowerNames = [];
        matcher = function (t) {
          var s = lowerNames[t];
          if (s === undefined) s = lowerNames[t] = COLUMNS[0][1](t).toLowerCase();
          return s.indexOf(needle) >= 0;
        };
      }
    }
    var n = source ? source.length : nTen;
    for (var r = 0; r < n; r++) {
      var t = source ? source[r] : r;
      if (inScope && !inScope[T.m[t]]) continue;
      if (matcher && !matcher(t)) continue;
      keep.push(t);
    }
    if (state.sortDir) {
      var col = COLUMNS.filter(function (c) { return c[0] === state.sortKey; })[0];
      var key = col[2] || col[1], dir = state.sortDir;
      var keys = {};
      keep.forEach(function (t) { keys[t] = key(t); });
      keep.sort(function (a, b) { return keys[a] < keys[b] ? -dir : keys[a] > keys[b] ? dir : a - b; });
    }
    rows = keep;
    headRow.querySelectorAll("th").forEach(function (th, k) {
      th.setAttribute("aria-sort", COLUMNS[k][0] === state.sortKey && state.sortDir
        ? (state.sortDir > 0 ? "ascending" : "descending") : "none");
    });
    var total = source ? source.length : nTen;
    counter.textContent = fmtCount(rows.length) + " of " + fmtCount(total) + " tensors" +
      (source ? " (the --filter/--kind selection)" : "");
    scroller.scrollTop = 0;
    renderRows();
  }
  function renderRows() {
    var top = scroller.scrollTop, view = scroller.clientHeight || 400;
    var first = Math.max(0, Math.floor(top / rowHeight) - 10);
    var last = Math.min(rows.length, Math.ceil((top + view) / rowHeight) + 10);
    var frag = document.createDocumentFragment();
    frag.appendChild(spacer(first * rowHeight));
    for (var r = first; r < last; r++) {
      var t = rows[r], tr = el("tr");
      tr.setAttribute("data-tensor", tensorName(t));
      COLUMNS.forEach(function (c, k) {
        var td = el("td", k >= 6 ? "pi-num" : "", c[1](t));
        if (k === 0) td.title = td.textContent;
        tr.appendChild(td);
      });
      tr.addEventListener("click", selectRow);
      frag.appendChild(tr);
    }
    frag.appendChild(spacer((rows.length - last) * rowHeight));
    tbody.replaceChildren(frag);
    var drawn = tbody.children[1];
    if (last > first && drawn && drawn.offsetHeight && drawn.offsetHeight !== rowHeight) {
      rowHeight = drawn.offsetHeight;  // what the browser made of the CSS: the spacers must agree
      renderRows();
    }
  }
  function spacer(px) {
    var tr = el("tr", "pi-pad"), td = el("td");
    td.colSpan = COLUMNS.length; td.style.height = px + "px";
    tr.appendChild(td);
    return tr;
  }
  function selectRow(ev) {
    var name = ev.currentTarget.getAttribute("data-tensor");
    for (var r = 0; r < rows.length; r++) if (tensorName(rows[r]) === name) { select(T.m[rows[r]]); return; }
  }
  function setScope(m) {
    state.scope = m;
    scopeChip.replaceChildren();
    if (m >= 0) {
      scopeChip.appendChild(document.createTextNode("in " + (path(m) || "(root)") + " "));
      var clear = el("button", "", "×");
      clear.type = "button"; clear.setAttribute("aria-label", "All modules");
      clear.addEventListener("click", function () { setScope(-1); });
      scopeChip.appendChild(clear);
    }
    refilter();
  }
  var pending = false;
  scroller.addEventListener("scroll", function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; renderRows(); });
  });
  search.addEventListener("input", function () { state.query = search.value; refilter(); });

  root.querySelectorAll("li.pi-finding").forEach(function (li, k) {  // in the order of data.findings
    li.addEventListener("click", function () {
      select(data.findings[k].module);
      map.scrollIntoView({block: "nearest"});
    });
  });
  var resizing = false, lastWidth = map.clientWidth;
  window.addEventListener("resize", function () {
    if (resizing || map.clientWidth === lastWidth) return;
    resizing = true;
    window.requestAnimationFrame(function () { resizing = false; lastWidth = map.clientWidth; update(); });
  });

  update();
  refilter();
  void root.offsetHeight;  // style and layout are part of "ready"
  root.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  if (performance.mark) performance.mark("paraminspect-ready");
}
