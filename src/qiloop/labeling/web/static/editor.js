// A box editor on a canvas: draw, select, move, resize and delete boxes with mouse and keys,
// zoom and pan (for thin scratches), undo, pre-labels to accept, read-only overlays.
"use strict";
(function () {
  const COLORS = ["#22c55e", "#38bdf8", "#eab308", "#ec4899", "#14b8a6", "#f97316", "#a855f7", "#ef4444", "#84cc16"];
  const PRELABEL = "#f59e0b";
  const HANDLE = 7; // css px around a corner that grabs it
  const MIN_SIZE = 2; // image px: smaller drags are clicks, not boxes

  const round2 = (v) => Math.round(v * 100) / 100;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

  class BoxEditor {
    constructor(canvas, options) {
      this.canvas = canvas;
      this.ctx = canvas.getContext("2d");
      this.classes = options.classes || [];
      this.onChange = options.onChange || (() => {});
      this.onKey = options.onKey || (() => false);
      this.image = null;
      this.width = 0;
      this.height = 0;
      this.boxes = [];
      this.overlays = [];
      this.selected = -1;
      this.history = [];
      this.classId = 0;
      this.scale = 1; this.ox = 0; this.oy = 0; this.dpr = 1;
      this.drag = null;
      this.space = false;
      this._bind();
      if (window.ResizeObserver) new ResizeObserver(() => this._resize()).observe(canvas);
      this._resize();
    }

    load(image, width, height, boxes) {
      this.image = image;
      this.width = width;
      this.height = height;
      this.boxes = (boxes || []).map((b) => ({ ...b }));
      this.selected = -1;
      this.history = [];
      this.fit();
      this.canvas.dataset.state = "ready";
      this.changed();
    }

    clear() {
      this.image = null; this.boxes = []; this.overlays = []; this.selected = -1; this.history = [];
      this.canvas.dataset.state = "empty";
      this.changed();
    }

    // ---- what the page reads
    accepted() {
      return this.boxes.filter((b) => !b.prelabel).map((b) => this._clean(b));
    }

    pendingPrelabels() {
      return this.boxes.filter((b) => b.prelabel).length;
    }

    _clean(b) {
      const left = round2(clamp(b.left, 0, this.width));
      const top = round2(clamp(b.top, 0, this.height));
      const width = round2(Math.min(b.width, this.width - left));
      const height = round2(Math.min(b.height, this.height - top));
      return { class_id: b.class_id, left, top, width, height };
    }

    // ---- editing
    snapshot() {
      this.history.push(JSON.stringify(this.boxes));
      if (this.history.length > 200) this.history.shift();
    }

    undo() {
      if (!this.history.length) return;
      this.boxes = JSON.parse(this.history.pop());
      this.selected = Math.min(this.selected, this.boxes.length - 1);
      this.changed();
    }

    deleteSelected() {
      if (this.selected < 0) return;
      this.snapshot();
      this.boxes.splice(this.selected, 1);
      this.selected = Math.min(this.selected, this.boxes.length - 1);
      this.changed();
    }

    acceptPrelabels() {
      if (!this.pendingPrelabels()) return;
      this.snapshot();
      this.boxes.forEach((b) => { b.prelabel = false; });
      this.changed();
    }

    setClass(id) {
      if (id < 0 || id >= this.classes.length) return;
      this.classId = id;
      if (this.selected >= 0 && this.boxes[this.selected].class_id !== id) {
        this.snapshot();
        this.boxes[this.selected].class_id = id;
        this.boxes[this.selected].prelabel = false;
      }
      this.changed();
    }

    select(i) {
      this.selected = i;
      this.changed();
    }

    nudge(dx, dy, resize) {
      const b = this.boxes[this.selected];
      if (!b) return;
      this.snapshot();
      if (resize) {
        b.width = clamp(b.width + dx, MIN_SIZE, this.width - b.left);
        b.height = clamp(b.height + dy, MIN_SIZE, this.height - b.top);
      } else {
        b.left = clamp(b.left + dx, 0, this.width - b.width);
        b.top = clamp(b.top + dy, 0, this.height - b.height);
      }
      b.prelabel = false;
      this.changed();
    }

    changed() {
      this.draw();
      this.onChange(this);
    }

    // ---- view
    _cssSize() {
      const r = this.canvas.getBoundingClientRect();
      return { w: Math.max(1, r.width), h: Math.max(1, r.height) };
    }

    _resize() {
      const { w, h } = this._cssSize();
      this.dpr = window.devicePixelRatio || 1;
      this.canvas.width = Math.round(w * this.dpr);
      this.canvas.height = Math.round(h * this.dpr);
      if (this.image) this.fit(); else this.draw();
    }

    fit() {
      if (!this.width) return;
      const { w, h } = this._cssSize();
      this.scale = Math.min(w / this.width, h / this.height) * 0.98;
      this.ox = (w - this.width * this.scale) / 2;
      this.oy = (h - this.height * this.scale) / 2;
      this.draw();
    }

    zoomAt(sx, sy, factor) {
      const ix = (sx - this.ox) / this.scale, iy = (sy - this.oy) / this.scale;
      this.scale = clamp(this.scale * factor, 0.05, 64);
      this.ox = sx - ix * this.scale;
      this.oy = sy - iy * this.scale;
      this.draw();
    }

    zoom(factor) {
      const { w, h } = this._cssSize();
      this.zoomAt(w / 2, h / 2, factor);
    }

    _point(event) {
      const r = this.canvas.getBoundingClientRect();
      const sx = event.clientX - r.left, sy = event.clientY - r.top;
      return { sx, sy, x: (sx - this.ox) / this.scale, y: (sy - this.oy) / this.scale };
    }

    _handleAt(p) {
      const b = this.boxes[this.selected];
      if (!b) return null;
      const corners = { nw: [b.left, b.top], ne: [b.left + b.width, b.top],
        sw: [b.left, b.top + b.height], se: [b.left + b.width, b.top + b.height] };
      for (const [name, [cx, cy]] of Object.entries(corners)) {
        if (Math.abs(cx - p.x) * this.scale <= HANDLE && Math.abs(cy - p.y) * this.scale <= HANDLE) return name;
      }
      return null;
    }

    _boxAt(p) {
      const slack = 3 / this.scale;
      let best = -1, area = Infinity;
      this.boxes.forEach((b, i) => {
        const inside = p.x >= b.left - slack && p.x <= b.left + b.width + slack &&
          p.y >= b.top - slack && p.y <= b.top + b.height + slack;
        if (inside && b.width * b.height < area) { best = i; area = b.width * b.height; }
      });
      return best;
    }

    // ---- input
    _bind() {
      const c = this.canvas;
      c.addEventListener("contextmenu", (e) => e.preventDefault());
      c.addEventListener("wheel", (e) => {
        e.preventDefault();
        const p = this._point(e);
        this.zoomAt(p.sx, p.sy, Math.exp(-e.deltaY * 0.0015));
      }, { passive: false });
      c.addEventListener("mousedown", (e) => this._down(e));
      window.addEventListener("mousemove", (e) => this._move(e));
      window.addEventListener("mouseup", (e) => this._up(e));
      document.addEventListener("keydown", (e) => this._key(e));
      document.addEventListener("keyup", (e) => { if (e.key === " ") this.space = false; });
    }

    _down(e) {
      if (!this.image) return;
      this.canvas.focus();
      e.preventDefault();
      const p = this._point(e);
      if (e.button === 1 || e.button === 2 || this.space) {
        this.drag = { mode: "pan", sx: e.clientX, sy: e.clientY, ox: this.ox, oy: this.oy };
        return;
      }
      if (e.button !== 0) return;
      const handle = this._handleAt(p);
      if (handle) {
        this.snapshot();
        this.drag = { mode: "resize", handle, box: { ...this.boxes[this.selected] }, moved: false };
        return;
      }
      const hit = this._boxAt(p);
      if (hit >= 0) {
        this.selected = hit;
        this.snapshot();
        this.drag = { mode: "move", p0: p, box: { ...this.boxes[hit] }, moved: false };
        this.changed();
        return;
      }
      this.selected = -1;
      this.drag = { mode: "draw", x0: clamp(p.x, 0, this.width), y0: clamp(p.y, 0, this.height) };
      this.drag.x1 = this.drag.x0; this.drag.y1 = this.drag.y0;
      this.changed();
    }

    _move(e) {
      const d = this.drag;
      if (!d) return;
      const p = this._point(e);
      if (d.mode === "pan") {
        this.ox = d.ox + e.clientX - d.sx;
        this.oy = d.oy + e.clientY - d.sy;
      } else if (d.mode === "draw") {
        d.x1 = clamp(p.x, 0, this.width);
        d.y1 = clamp(p.y, 0, this.height);
      } else if (d.mode === "move") {
        const b = this.boxes[this.selected];
        b.left = clamp(d.box.left + p.x - d.p0.x, 0, this.width - b.width);
        b.top = clamp(d.box.top + p.y - d.p0.y, 0, this.height - b.height);
        b.prelabel = false;
        d.moved = true;
      } else if (d.mode === "resize") {
        const b = this.boxes[this.selected], o = d.box;
        const fx = d.handle.includes("w") ? o.left + o.width : o.left;
        const fy = d.handle.includes("n") ? o.top + o.height : o.top;
        const x = clamp(p.x, 0, this.width), y = clamp(p.y, 0, this.height);
        b.left = Math.min(fx, x); b.top = Math.min(fy, y);
        b.width = Math.max(Math.abs(x - fx), MIN_SIZE); b.height = Math.max(Math.abs(y - fy), MIN_SIZE);
        b.prelabel = false;
        d.moved = true;
      }
      this.draw();
    }

    _up() {
      const d = this.drag;
      if (!d) return;
      this.drag = null;
      if (d.mode === "draw") {
        const w = Math.abs(d.x1 - d.x0), h = Math.abs(d.y1 - d.y0);
        if (w >= MIN_SIZE && h >= MIN_SIZE) {
          this.snapshot();
          this.boxes.push({ class_id: this.classId, left: Math.min(d.x0, d.x1), top: Math.min(d.y0, d.y1),
            width: w, height: h, prelabel: false });
          this.selected = this.boxes.length - 1;
        }
      } else if ((d.mode === "move" || d.mode === "resize") && !d.moved) {
        this.history.pop(); // a click that changed nothing leaves no undo step
      }
      this.changed();
    }

    _key(e) {
      if (!this.image || window.qiloop.typing(e)) return;
      if (this.onKey(e)) { e.preventDefault(); return; }
      const k = e.key;
      let handled = true;
      if (k === "Delete" || k === "Backspace") this.deleteSelected();
      else if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "z") this.undo();
      else if (k === "Tab") this.select(this.boxes.length ? (this.selected + (e.shiftKey ? -1 : 1) + this.boxes.length) % this.boxes.length : -1);
      else if (k.startsWith("Arrow")) {
        const step = e.shiftKey ? 10 : 1;
        const dx = k === "ArrowLeft" ? -step : k === "ArrowRight" ? step : 0;
        const dy = k === "ArrowUp" ? -step : k === "ArrowDown" ? step : 0;
        this.nudge(dx, dy, e.altKey);
      } else if (k === "+" || k === "=") this.zoom(1.25);
      else if (k === "-") this.zoom(0.8);
      else if (k === "0") this.fit();
      else if (k === "a" || k === "A") this.acceptPrelabels();
      else if (k >= "1" && k <= "9") this.setClass(Number(k) - 1);
      else if (k === "Escape") this.select(-1);
      else if (k === " ") this.space = true;
      else handled = false;
      if (handled) e.preventDefault();
    }

    // ---- drawing
    draw() {
      const ctx = this.ctx, s = this.scale;
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      const { w, h } = this._cssSize();
      ctx.clearRect(0, 0, w, h);
      if (!this.image) return;
      ctx.imageSmoothingEnabled = s < 2;
      ctx.drawImage(this.image, this.ox, this.oy, this.width * s, this.height * s);
      const rect = (b) => [this.ox + b.left * s, this.oy + b.top * s, b.width * s, b.height * s];
      for (const overlay of this.overlays) {
        if (!overlay.visible) continue;
        ctx.strokeStyle = overlay.color; ctx.lineWidth = 1.5; ctx.setLineDash([4, 3]);
        overlay.boxes.forEach((b) => ctx.strokeRect(...rect(b)));
      }
      ctx.font = "12px system-ui, sans-serif";
      this.boxes.forEach((b, i) => {
        const color = b.prelabel ? PRELABEL : COLORS[b.class_id % COLORS.length];
        ctx.strokeStyle = color; ctx.setLineDash(b.prelabel ? [6, 4] : []);
        ctx.lineWidth = i === this.selected ? 2.5 : 1.8;
        const [x, y, bw, bh] = rect(b);
        ctx.strokeRect(x, y, bw, bh);
        ctx.fillStyle = color;
        const name = (this.classes[b.class_id] || String(b.class_id)) + (b.prelabel ? " (pre-label)" : "");
        ctx.fillText(name, x + 2, Math.max(12, y - 3)); // canvas text is never parsed as HTML
        if (i === this.selected) {
          ctx.setLineDash([]);
          for (const [cx, cy] of [[x, y], [x + bw, y], [x, y + bh], [x + bw, y + bh]]) ctx.fillRect(cx - 3, cy - 3, 6, 6);
        }
      });
      const d = this.drag;
      if (d && d.mode === "draw") {
        ctx.setLineDash([3, 3]); ctx.strokeStyle = "#fff"; ctx.lineWidth = 1;
        ctx.strokeRect(this.ox + Math.min(d.x0, d.x1) * s, this.oy + Math.min(d.y0, d.y1) * s,
          Math.abs(d.x1 - d.x0) * s, Math.abs(d.y1 - d.y0) * s);
      }
      ctx.setLineDash([]);
    }
  }

  BoxEditor.COLORS = COLORS;
  window.BoxEditor = BoxEditor;
})();
