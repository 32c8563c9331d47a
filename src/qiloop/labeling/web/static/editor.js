// A box editor on a canvas: draw, select, move, resize and delete boxes with mouse and keys,
// zoom and pan (for thin scratches), undo and redo, brightness and contrast, pre-labels with their
// scores to show above a threshold, hide and accept, read-only overlays.
// This file holds the editor's state and edits (boxes, selection, undo history, pre-labels, view settings);
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
      this.future = []; // undone states, for redo
      this.classId = 0;
      this.showPrelabels = true;
      this.threshold = 0; // pre-labels scoring below it are neither shown nor accepted
      this.brightness = 1; this.contrast = 1;
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
      this.history = []; this.future = [];
      this.fit();
      this.canvas.dataset.state = "ready";
      this.changed();
    }

    clear() {
      this.image = null; this.boxes = []; this.overlays = []; this.selected = -1; this.history = []; this.future = [];
      this.canvas.dataset.state = "empty";
      this.changed();
    }

    // ---- what the page reads
    accepted() {
      return this.boxes.filter((b) => !b.prelabel).map((b) => this._clean(b));
    }

    // A pre-label at or above the score threshold (shown unless all pre-labels are hidden).
    wanted(b) {
      return b.prelabel && (b.score === undefined || b.score === null || b.score >= this.threshold - 1e-9);
    }

    visible(b) {
      return !b.prelabel || (this.showPrelabels && this.wanted(b));
    }

    // Pre-labels above the threshold not accepted yet: left out of a submission unless accepted.
    pendingPrelabels() {
      return this.boxes.filter((b) => this.wanted(b)).length;
    }

    shownPrelabels() {
      return this.boxes.filter((b) => b.prelabel && this.visible(b)).length;
    }

    _clean(b) {
      const left = round2(clamp(b.left, 0, this.width));
      const top = round2(clamp(b.top, 0, this.height));
      const width = round2(Math.min(b.width, this.width - left));
      const height = round2(Math.min(b.height, this.height - top));
      return { class_id: b.class_id, left, top, width, height };
    }

    // ---- editing
    // Before an edit: the state to undo to; a new edit ends what could be redone.
    snapshot() {
      this.history.push(JSON.stringify(this.boxes));
      if (this.history.length > 200) this.history.shift();
      this._future = this.future;
      this.future = [];
    }

    // An edit that changed nothing (a click on a box) leaves no undo step and keeps the redo steps.
    dropSnapshot() {
      this.history.pop();
      if (this._future) this.future = this._future;
    }

    undo() {
      if (!this.history.length) return;
      this.future.push(JSON.stringify(this.boxes));
      this.boxes = JSON.parse(this.history.pop());
      this.selected = Math.min(this.selected, this.boxes.length - 1);
      this.changed();
    }

    redo() {
      if (!this.future.length) return;
      this.history.push(JSON.stringify(this.boxes));
      this.boxes = JSON.parse(this.future.pop());
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

    // Accept the pre-labels on screen; those below the threshold or hidden stay pre-labels.
    acceptPrelabels() {
      if (!this.shownPrelabels()) return;
      this.snapshot();
      this.boxes.forEach((b) => { if (b.prelabel && this.visible(b)) b.prelabel = false; });
      this.changed();
    }

    setThreshold(value) {
      this.threshold = clamp(Number(value) || 0, 0, 1);
      this.changed();
    }

    setPrelabelsShown(shown) {
      this.showPrelabels = !!shown;
      this.changed();
    }

    setImageAdjust(brightness, contrast) {
      this.brightness = clamp(Number(brightness) || 1, 0.1, 5);
      this.contrast = clamp(Number(contrast) || 1, 0.1, 5);
      this.draw();
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
      const b = this.boxes[this.selected];
      if (this.selected >= 0 && (!b || !this.visible(b))) this.selected = -1; // never a box off screen
      this.draw();
      this.onChange(this);
    }
  }

  // Wires a page's editor controls, whichever of them the page has: undo/redo buttons, brightness and
  // contrast sliders (kept in this browser across images and visits) and their reset button.
  function bindControls(editor) {
    const byId = (id) => document.getElementById(id);
    const on = (id, event, handler) => { const node = byId(id); if (node) node.addEventListener(event, handler); };
    on("undo", "click", () => editor.undo());
    on("redo", "click", () => editor.redo());
    on("delete", "click", () => editor.deleteSelected());
    on("zoom-in", "click", () => editor.zoom(1.25));
    on("zoom-out", "click", () => editor.zoom(0.8));
    on("zoom-fit", "click", () => editor.fit());
    const brightness = byId("brightness"), contrast = byId("contrast");
    if (!brightness || !contrast) return;
    const saved = (key) => Number(window.localStorage.getItem("qiloop." + key)) || 100;
    const apply = () => {
      byId("brightness-value").textContent = brightness.value + " %";
      byId("contrast-value").textContent = contrast.value + " %";
      window.localStorage.setItem("qiloop.brightness", brightness.value);
      window.localStorage.setItem("qiloop.contrast", contrast.value);
      editor.setImageAdjust(brightness.value / 100, contrast.value / 100);
    };
    brightness.value = saved("brightness");
    contrast.value = saved("contrast");
    brightness.addEventListener("input", apply);
    contrast.addEventListener("input", apply);
    on("image-reset", "click", () => { brightness.value = 100; contrast.value = 100; apply(); });
    apply();
  }

  Object.assign(BoxEditor, { COLORS, MIN_SIZE, clamp, bindControls });
  window.BoxEditor = BoxEditor;
})();
