// Lifeline status page: refreshes the tables from ?json&full and sorts them
// on a column click. Each formatter has a twin in columns.go.
(() => {
  "use strict";
  const every = Number(document.body.dataset.refreshMs) || 0;
  const tables = Array.from(document.querySelectorAll("table[data-sort]"));
  const sorts = {};
  let snap = null;

  for (const t of tables) {
    const v = t.dataset.sort;
    if (v) sorts[t.id] = { key: v.replace(/^-/, ""), desc: v.startsWith("-") };
  }

  const int = (v) => String(Number(v) || 0);
  const ms = (v) => {
    v = Number(v) || 0;
    if (v < 1000) return Math.round(v) + " ms";
    if (v < 60000) return (v / 1000).toFixed(1) + " s";
    const s = Math.floor(v / 1000), p = (n) => String(n).padStart(2, "0");
    if (s < 3600) return Math.floor(s / 60) + "m " + p(s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + p(Math.floor((s % 3600) / 60)) + "m";
    return Math.floor(s / 86400) + "d " + p(Math.floor((s % 86400) / 3600)) + "h";
  };

  const flags = (r) => {
    const t = [];
    if (r.runaway === true) t.push("runaway");
    if (r.panicked === true && r.cause === "") t.push("panic");
    if (r.finished === true) t.push("finish");
    if (r.session_locked === true) t.push("session");
    else if (typeof r.session === "string" && r.session.startsWith("waiting")) t.push("session-wait");
    if (r.ignore_user_abort === true) t.push("ignore-abort");
    return t;
  };

  const format = (kind, v, r) => {
    switch (kind) {
      case "ms": return ms(v);
      case "limit": return Number(v) ? ms(v) : "none";
      case "left": return Number(r.time_limit_ms) ? ms(v) : "–";
      case "after": return r.finished === true ? ms(v) : "–";
      case "code": return Number(v) ? int(v) : "–";
      case "int": return int(v);
      case "status": return int(v) + " " + (r.status_text || "");
      case "time": return typeof v === "string" && v.length >= 19 ? v.slice(0, 19).replace("T", " ") + " UTC" : String(v ?? "");
      case "map": return Object.keys(v || {}).sort().map((k) => k + ": " + int(v[k])).join(" · ");
      case "notes": return Object.keys(v || {}).sort().map((k) => k + ": " + (typeof v[k] === "string" ? v[k] : "")).join(" · ");
      case "flags": return "";
    }
    return typeof v === "string" ? v : "";
  };

  const rowClass = (r) => {
    const c = [], st = Number(r.status) || 0;
    if (r.runaway === true) c.push("runaway");
    if (st & 2) c.push("timeout");
    if (st & 1) c.push("aborted");
    if ((r.panicked === true && r.cause === "") || Number(r.code) >= 500) c.push("error");
    if (typeof r.phase === "string") c.push("phase-" + r.phase);
    return c.join(" ");
  };

  const rank = (v) => v == null ? 0 : typeof v === "boolean" ? 1 : typeof v === "number" ? 2 : typeof v === "string" ? 3 : 4;
  const compare = (a, b) => {
    if (typeof a === typeof b && (typeof a === "number" || typeof a === "boolean")) return a < b ? -1 : a > b ? 1 : 0;
    if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
    return rank(a) - rank(b);
  };
  const sortKey = (r, key) => key === "_flags" ? flags(r).join(" ") : r[key];

  const query = () => {
    const q = new URLSearchParams();
    for (const t of tables) {
      const s = sorts[t.id];
      if (s) q.append("sort", (s.desc ? "-" : "") + t.id + "." + s.key);
    }
    return "?" + q.toString();
  };

  const heads = () => {
    for (const t of tables) {
      const s = sorts[t.id];
      for (const th of t.tHead.rows[0].cells) {
        const on = s && s.key === th.dataset.key;
        th.className = on ? (s.desc ? "sorted-desc" : "sorted-asc") : "";
        const saved = sorts[t.id];
        sorts[t.id] = { key: th.dataset.key, desc: Boolean(on && !s.desc) };
        th.querySelector("a").setAttribute("href", query());
        if (saved) sorts[t.id] = saved; else delete sorts[t.id];
      }
    }
  };

  const renderTable = (t) => {
    const cols = Array.from(t.tHead.rows[0].cells, (th) => ({ key: th.dataset.key, fmt: th.dataset.fmt }));
    const rows = (snap[t.id] || []).slice();
    const s = sorts[t.id];
    if (s) {
      rows.sort((a, b) => {
        const c = compare(sortKey(a, s.key), sortKey(b, s.key));
        return s.desc ? -c : c;
      });
    }
    const body = document.createElement("tbody");
    for (const r of rows) {
      const tr = body.insertRow();
      tr.dataset.id = int(r.id);
      const cls = rowClass(r);
      if (cls) tr.className = cls;
      for (const c of cols) {
        const td = tr.insertCell();
        td.dataset.col = c.key;
        td.textContent = format(c.fmt, r[c.key], r);
        if (c.fmt === "flags") {
          for (const tag of flags(r)) {
            const span = document.createElement("span");
            span.className = "tag tag-" + tag;
            span.textContent = tag;
            td.appendChild(span);
          }
        }
      }
    }
    t.replaceChild(body, t.tBodies[0]);
    const count = document.querySelector('[data-count="' + t.id + '"]');
    if (count) count.textContent = String(rows.length);
  };

  // The application's sections: the server rendered one <section> per
  // section; each refresh rebuilds its fields (as text) and its error.
  const renderSections = () => {
    const list = Array.isArray(snap.sections) ? snap.sections : [];
    for (const el of document.querySelectorAll("section[data-section]")) {
      const s = list.find((x) => x && x.name === el.dataset.section);
      if (!s) continue;
      const dl = document.createElement("dl");
      for (const f of Array.isArray(s.fields) ? s.fields : []) {
        const div = document.createElement("div"), dt = document.createElement("dt"), dd = document.createElement("dd");
        div.className = "item";
        dt.textContent = String(f.name ?? "");
        dd.textContent = String(f.value ?? "");
        dd.dataset.field = String(f.name ?? "");
        div.append(dt, dd);
        dl.appendChild(div);
      }
      el.replaceChild(dl, el.querySelector("dl"));
      const p = el.querySelector(".section-error");
      p.textContent = typeof s.error === "string" ? s.error : "";
      p.hidden = !p.textContent;
    }
  };

  const render = () => {
    if (!snap) return;
    for (const dd of document.querySelectorAll("dd[data-sum]")) {
      const v = snap[dd.dataset.sum];
      dd.textContent = format(dd.dataset.fmt, v, snap);
      if (dd.hasAttribute("data-alert")) dd.parentNode.classList.toggle("bad", Number(v) > 0);
    }
    renderSections();
    for (const t of tables) renderTable(t);
    document.getElementById("updated").textContent = format("time", snap.time, snap);
  };

  const live = (ok) => {
    const el = document.getElementById("live");
    el.className = ok ? "on" : "off";
    el.textContent = ok ? "live" : "offline";
    document.body.dataset.live = ok ? "on" : "off";
  };

  const refresh = async () => {
    if (document.hidden) { // a background tab waits
      if (every > 0) setTimeout(refresh, every);
      return;
    }
    try {
      const res = await fetch(location.pathname + "?json&full", { cache: "no-store", credentials: "same-origin" });
      if (!res.ok) throw new Error(String(res.status));
      snap = await res.json();
      render();
      live(true);
    } catch (e) {
      live(false);
    }
    if (every > 0) setTimeout(refresh, every);
  };

  for (const t of tables) {
    t.tHead.addEventListener("click", (ev) => {
      const th = ev.target.closest("th");
      if (!th) return;
      ev.preventDefault();
      const s = sorts[t.id];
      sorts[t.id] = { key: th.dataset.key, desc: Boolean(s && s.key === th.dataset.key && !s.desc) };
      history.replaceState(null, "", location.pathname + query());
      heads();
      render();
    });
  }
  refresh();
})();
