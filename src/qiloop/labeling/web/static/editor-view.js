// The box editor's view: image <-> screen geometry (fit, zoom, pan), hit testing of boxes and
// corner handles, and drawing the image (with brightness and contrast), overlays and the boxes on
// screen, each numbered as in the page's list. Extends window.BoxEditor (editor.js).
"use strict";
(function () {
  const { clamp, COLORS } = window.BoxEditor;
  const PRELABEL = "#f59e0b";
  const HANDLE = 7; // css px around a corner that grabs it

  Object.assign(window.BoxEditor.prototype, {
    _cssSize() {
      const r = this.canvas.getBoundingClientRect();
      return { w: Math.max(1, r.width), h: Math.max(1, r.height) };
    },

    _resize() {
      const { w, h } = this._cssSize();
      this.dpr = window.devicePixelRatio || 1;
      this.canvas.width = Math.round(w * this.dpr);
      this.canvas.height = Math.round(h * this.dpr);
      if (this.image) this.fit(); else this.draw();
    },

    fit() {
      if (!this.width) return;
      const { w, h } = this._cssSize();
      this.scale = Math.min(w / this.width, h / this.height) * 0.98;
      this.ox = (w - this.width * this.scale) / 2;
      this.oy = (h - this.height * this.scale) / 2;
      this.draw();
    },

    zoomAt(sx, sy, factor) {
      const ix = (sx - this.ox) / this.scale, iy = (sy - this.oy) / this.scale;
      this.scale = clamp(this.scale * factor, 0.05, 64);
      this.ox = sx - ix * this.scale;
      this.oy = sy - iy * this.scale;
      this.draw();
    },

    zoom(factor) {
      const { w, h } = this._cssSize();
      this.zoomAt(w / 2, h / 2, factor);
    },

    _point(event) {
      const r = this.canvas.getBoundingClientRect();
      const sx = event.clientX - r.left, sy = event.clientY - r.top;
      return { sx, sy, x: (sx - this.ox) / this.scale, y: (sy - this.oy) / this.scale };
    },

    _handleAt(p) {
      const b = this.boxes[this.selected];
      if (!b) return null;
      const corners = { nw: [b.left, b.top], ne: [b.left + b.width, b.top],
        sw: [b.left, b.top + b.height], se: [b.left + b.width, b.top + b.height] };
      for (const [name, [cx, cy]] of Object.entries(corners)) {
        if (Math.abs(cx - p.x) * this.scale <= HANDLE && Math.abs(cy - p.y) * this.scale <= HANDLE) return name;
      }
      return null;
    },

    _boxAt(p) {
      const slack = 3 / this.scale;
      let best = -1, area = Infinity;
      this.boxes.forEach((b, i) => {
        if (!this.visible(b)) return;
        const inside = p.x >= b.left - slack && p.x <= b.left + b.width + slack &&
          p.y >= b.top - slack && p.y <= b.top + b.height + slack;
        if (inside && b.width * b.height < area) { best = i; area = b.width * b.height; }
      });
      return best;
    },

    // ---- drawing
    draw() {
      const ctx = this.ctx, s = this.scale;
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      const { w, h } = this._cssSize();
      ctx.clearRect(0, 0, w, h);
      if (!this.image) return;
      ctx.imageSmoothingEnabled = s < 2;
      const adjust = this.brightness !== 1 || this.contrast !== 1
        ? `brightness(${this.brightness}) contrast(${this.contrast})` : "none";
      if ("filter" in ctx) ctx.filter = adjust;
      else this.canvas.style.filter = adjust; // no canvas filters (older Safari): the whole canvas, boxes too
      ctx.drawImage(this.image, this.ox, this.oy, this.width * s, this.height * s);
      if ("filter" in ctx) ctx.filter = "none";
      const rect = (b) => [this.ox + b.left * s, this.oy + b.top * s, b.width * s, b.height * s];
      for (const overlay of this.overlays) {
        if (!overlay.visible) continue;
        ctx.strokeStyle = overlay.color; ctx.lineWidth = 1.5; ctx.setLineDash([4, 3]);
        overlay.boxes.forEach((b) => ctx.strokeRect(...rect(b)));
      }
      ctx.font = "12px system-ui, sans-serif";
      let number = 0;
      this.boxes.forEach((b, i) => {
        if (!this.visible(b)) return;
        number += 1;
        const color = b.prelabel ? PRELABEL : COLORS[b.class_id % COLORS.length];
        ctx.strokeStyle = color; ctx.setLineDash(b.prelabel ? [6, 4] : []);
        ctx.lineWidth = i === this.selected ? 2.5 : 1.8;
        const [x, y, bw, bh] = rect(b);
        ctx.strokeRect(x, y, bw, bh);
        ctx.fillStyle = color;
        const name = `${number} ${this.classes[b.class_id] || String(b.class_id)}` +
          (b.prelabel ? ` (pre-label${typeof b.score === "number" ? " " + b.score.toFixed(2) : ""})` : "");
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
    },
  });
})();
