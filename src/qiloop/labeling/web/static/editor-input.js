// The box editor's input: draw, select, move and resize with the mouse, pan with the middle or
// right button (or Space), zoom with the wheel, and the keys (Ctrl+Z undo; Ctrl+Shift+Z and Ctrl+Y
// redo; H hides the pre-labels). Extends window.BoxEditor (editor.js).
"use strict";
(function () {
  const { clamp, MIN_SIZE } = window.BoxEditor;

  Object.assign(window.BoxEditor.prototype, {
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
    },

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
    },

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
    },

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
        this.dropSnapshot(); // a click that changed nothing leaves no undo step
      }
      this.changed();
    },

    // Select the next (or previous) box on screen.
    _tab(step) {
      const shown = this.boxes.map((b, i) => i).filter((i) => this.visible(this.boxes[i]));
      if (!shown.length) { this.select(-1); return; }
      const at = shown.indexOf(this.selected);
      this.select(shown[at < 0 ? (step > 0 ? 0 : shown.length - 1) : (at + step + shown.length) % shown.length]);
    },

    _key(e) {
      if (!this.image || window.qiloop.typing(e)) return;
      if (this.onKey(e)) { e.preventDefault(); return; }
      const k = e.key;
      let handled = true;
      if (k === "Delete" || k === "Backspace") this.deleteSelected();
      else if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "z") { if (e.shiftKey) this.redo(); else this.undo(); }
      else if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "y") this.redo();
      else if (k === "Tab") this._tab(e.shiftKey ? -1 : 1);
      else if (k.startsWith("Arrow")) {
        const step = e.shiftKey ? 10 : 1;
        const dx = k === "ArrowLeft" ? -step : k === "ArrowRight" ? step : 0;
        const dy = k === "ArrowUp" ? -step : k === "ArrowDown" ? step : 0;
        this.nudge(dx, dy, e.altKey);
      } else if (k === "+" || k === "=") this.zoom(1.25);
      else if (k === "-") this.zoom(0.8);
      else if (k === "0") this.fit();
      else if (e.ctrlKey || e.metaKey || e.altKey) handled = false; // the browser's own shortcuts
      else if (k === "a" || k === "A") this.acceptPrelabels();
      else if (k === "h" || k === "H") this.setPrelabelsShown(!this.showPrelabels);
      else if (k >= "1" && k <= "9") this.setClass(Number(k) - 1);
      else if (k === "Escape") this.select(-1);
      else if (k === " ") this.space = true;
      else handled = false;
      if (handled) e.preventDefault();
    },
  });
})();
