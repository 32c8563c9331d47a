// A box editor on a canvas: draw, select, move, resize and delete boxes with mouse and keys,
// zoom and pan (for thin scratches), undo, pre-labels to accept, read-only overlays.
// This file holds the editor's state and edits (boxes, selection, undo history, pre-labels);
// editor-view.js adds geometry, hit testing and drawing, editor-input.js the mouse and keys.
// Pages load editor.js, editor-view.js, editor-input.js, in that order, before their own script.
"use strict";
(function () {
  const COLORS = ["#22c55e", "#38bdf8", "#eab308", "#ec4899", "#14b8a6", "#f97316", "#a855f7", "#ef4444", "#84cc16"];
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
  }

  Object.assign(BoxEditor, { COLORS, MIN_SIZE, clamp });
  window.BoxEditor = BoxEditor;
})();
