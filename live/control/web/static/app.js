// The web remote's page: state in, controls out, over one WebSocket (docs/web.md). No framework,
// no build step; every element is made with createElement, so no name from the server is ever HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let ws = null, retry = 500, state = null, previewUrl = null;
  const touched = new Map(); // slider name -> time of the last move here: the server's value waits until it settles
  const HELD_MS = 600;

  function el(tag, attrs = {}, text = "") {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
    }
    if (text) e.textContent = text;
    return e;
  }
  function send(msg) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.binaryType = "blob";
    ws.onopen = () => { retry = 500; $("link").textContent = "connected"; $("link").classList.add("up"); };
    ws.onclose = () => {
      $("link").textContent = "reconnecting"; $("link").classList.remove("up");
      setTimeout(connect, retry); retry = Math.min(retry * 2, 5000);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") { // the preview: the newest JPEG
        const url = URL.createObjectURL(ev.data);
        $("preview").src = url;
        if (previewUrl) URL.revokeObjectURL(previewUrl);
        previewUrl = url;
        return;
      }
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "state") render(msg);
    };
  }

  // --- scenes -------------------------------------------------------------------------------------
  let sceneNames = "";
  function renderScenes(s) {
    const names = s.scenes || [];
    const grid = $("scenes");
    if (names.join("\n") !== sceneNames) {
      sceneNames = names.join("\n");
      grid.replaceChildren(...names.map((name) => {
        const card = el("div", { class: "scene", "data-scene": name });
        card.append(el("img", { alt: name }));
        card.append(el("div", { class: "name", title: name }, name));
        const row = el("div", { class: "row" });
        const go = el("button", { type: "button", "data-go": name }, "go");
        go.onclick = () => send({ type: "scene", name });
        const cue = el("button", { type: "button", "data-cue": name }, "cue");
        cue.onclick = () => send({ type: "cue", name });
        row.append(go, cue);
        card.append(row);
        return card;
      }));
    }
    const ready = new Set(s.thumbnails || []);
    for (const card of grid.children) {
      const name = card.getAttribute("data-scene");
      const img = card.querySelector("img");
      if (ready.has(name) && !img.getAttribute("src")) img.src = "/thumb/" + encodeURIComponent(name) + ".jpg";
      card.classList.toggle("current", name === s.scene);
      card.classList.toggle("cued", name === s.cued);
    }
  }

  // --- actions ------------------------------------------------------------------------------------
  let actionNames = "";
  const LABELS = { blackout: "blackout", freeze: "freeze", tap: "tap", release_tap: "release", half_beat: "half beat",
    downbeat: "this is the one", learn: "learn" };
  const FIRST = ["blackout", "freeze", "tap", "release_tap", "half_beat", "downbeat", "scene_go", "scene_cue", "scene_next",
    "scene_previous", "learn"]; // what a VJ reaches for, first; the rest of the surface after them
  function renderActions(s) {
    const given = s.actions || [];
    const names = FIRST.filter((n) => given.includes(n)).concat(given.filter((n) => !FIRST.includes(n)));
    const box = $("actions");
    if (names.join("\n") !== actionNames) {
      actionNames = names.join("\n");
      box.replaceChildren(...names.map((name) => {
        const b = el("button", { type: "button", "data-action": name, title: name }, LABELS[name] || name.replace(/_/g, " "));
        b.onclick = () => send({ type: "action", name });
        return b;
      }));
    }
    const on = { blackout: s.blackout, freeze: s.frozen, half_beat: s.tempo && s.tempo.half_beat };
    for (const b of box.children) b.classList.toggle("on", !!on[b.getAttribute("data-action")]);
  }

  // --- parameters ---------------------------------------------------------------------------------
  let paramNames = "";
  const fmt = (v) => (v === null || v === undefined ? "-" : Number(v).toPrecision(3));
  function renderParams(s) {
    const params = s.params || {};
    const names = Object.keys(params);
    const box = $("params");
    if (names.join("\n") !== paramNames) {
      paramNames = names.join("\n");
      box.replaceChildren(...names.map((name) => {
        const p = params[name];
        const row = el("div", { class: "param", "data-row": name });
        const id = "param-" + name;
        row.append(el("label", { htmlFor: id, title: p.help || name }, name.replace(/_/g, " ")));
        row.append(el("output", { id: id + "-value" }));
        const input = el("input", { type: "range", id, min: p.min, max: p.max, step: (p.max - p.min) / 200, "data-param": name });
        let pending = false, last = 0;
        const SEND_MS = 33; // a slider dragged: at most 30 messages a second (the server takes 100 a second from a page)
        const flush = () => { pending = false; last = performance.now(); send({ type: "param", name, value: Number(input.value) }); };
        input.oninput = () => {
          touched.set(name, performance.now());
          $(id + "-value").textContent = fmt(input.value) + " " + (p.unit || "");
          if (pending) return;
          pending = true;
          setTimeout(flush, Math.max(0, SEND_MS - (performance.now() - last))); // the newest value, when due
        };
        row.append(input);
        return row;
      }));
    }
    for (const name of names) {
      const p = params[name];
      const input = $("param-" + name);
      const row = input.parentElement;
      row.classList.toggle("off", p.value === null || p.value === undefined);
      input.disabled = p.value === null || p.value === undefined;
      const held = performance.now() - (touched.get(name) || -1e9) < HELD_MS;
      if (!held && p.value !== null && p.value !== undefined) {
        input.value = p.value;
        $("param-" + name + "-value").textContent = fmt(p.value) + " " + (p.unit || "");
      }
    }
  }

  // --- the rest -----------------------------------------------------------------------------------
  function renderHud(hud) {
    const box = $("hud");
    const rows = [];
    for (const [k, v] of Object.entries(hud || {})) {
      const text = Array.isArray(v) ? (v.join(", ") || "-")
        : typeof v === "number" ? (Number.isInteger(v) ? String(v) : fmt(v)) : String(v === "" || v === null ? "-" : v);
      rows.push(el("dt", {}, k.replace(/_/g, " ")), el("dd", { "data-hud": k }, text));
    }
    box.replaceChildren(...rows);
  }

  function render(s) {
    state = s;
    $("scene").textContent = s.scene || "-";
    $("cued").textContent = s.cued ? "cued " + s.cued : "";
    $("bar").textContent = "bar " + (s.bar ?? "-");
    $("beat").textContent = s.beat ?? "-";
    $("beat").classList.toggle("on", s.beat === 1);
    const t = s.tempo || {};
    $("tempo").textContent = (t.bpm ? Number(t.bpm).toFixed(1) : "-") + " BPM";
    $("tempo-source").textContent = t.source ? "(" + t.source + ")" : "";
    $("flag-blackout").classList.toggle("on", !!s.blackout);
    $("flag-frozen").classList.toggle("on", !!s.frozen);
    const tl = s.timeline || {};
    $("timeline").textContent = tl.cues ? "cue " + tl.cue + " / " + tl.cues : "";
    $("prompt-now").textContent = s.prompt ? "now: " + s.prompt : "";
    renderScenes(s);
    renderActions(s);
    renderParams(s);
    renderHud(s.hud);
  }

  $("prompt-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("prompt-text").value.trim();
    if (text) { send({ type: "prompt", text }); $("prompt-text").value = ""; }
  });
  window.phosphene = { send, state: () => state }; // for scripts and tests in this page
  connect();
})();
