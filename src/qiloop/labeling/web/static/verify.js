// The verification page: the queue (lowest agreement first), consolidated boxes with each
// annotator's boxes as overlays, approve as is, adjust then approve, or reject with a reason.
// Boxes that look like one defect drawn twice are named before approving (and asked about on approve).
"use strict";
(function () {
  const { api, el, status, loadImage } = window.qiloop;
  // As qiloop.labeling.consolidation: DUPLICATE_OVERLAP of the smaller box, each grown by DUPLICATE_PAD px.
  const DUPLICATE_OVERLAP = 0.7, DUPLICATE_PAD = 2;
  const page = document.getElementById("verify-page");
  const job = page.dataset.job;
  const canvas = document.getElementById("canvas");
  const OVERLAY = ["#f472b6", "#60a5fa", "#facc15", "#34d399", "#c084fc", "#fb923c"];
  let queue = [];
  let current = null;
  let edited = false;
  let busy = false;

  const editor = new window.BoxEditor(canvas, {
    classes: [],
    onChange: (ed) => { if (ed.history.length) edited = true; renderBoxes(ed); },
    onKey: (e) => { if (e.key === "Enter") { approve(); return true; } return false; },
  });

  function renderBoxes(ed) {
    const list = document.getElementById("box-list");
    const twice = new Set(duplicates(ed.boxes).flatMap(([i, j]) => [i, j]));
    list.replaceChildren(...ed.boxes.map((b, i) => {
      const meta = current && current.boxes[i] && !edited
        ? ` · support ${current.boxes[i].support.toFixed(2)} · by ${current.boxes[i].annotators.join(", ")}` : "";
      const item = el("li", `${ed.classes[b.class_id] || b.class_id} · ${Math.round(b.left)},${Math.round(b.top)} ` +
        `${Math.round(b.width)}×${Math.round(b.height)}${meta}`, (i === ed.selected ? "selected " : "") +
        (twice.has(i) ? "duplicate" : ""));
      item.addEventListener("click", () => ed.select(i));
      return item;
    }));
    document.getElementById("approve").textContent = edited ? "Approve adjusted" : "Approve";
    renderDuplicates(ed);
  }

  // Pairs [i, j, overlap] of same-class boxes of different annotators overlapping by DUPLICATE_OVERLAP of the
  // smaller one (whoever drew both meant two defects; boxes the verifier drew are theirs to judge).
  function duplicates(boxes) {
    const pairs = [];
    const apart = (a, b) => a.annotators && b.annotators && !a.annotators.some((name) => b.annotators.includes(name));
    const pad = (b) => [b.left - DUPLICATE_PAD, b.top - DUPLICATE_PAD,
      b.left + b.width + DUPLICATE_PAD, b.top + b.height + DUPLICATE_PAD];
    const area = (r) => (r[2] - r[0]) * (r[3] - r[1]);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        if (boxes[i].class_id !== boxes[j].class_id || !apart(boxes[i], boxes[j])) continue;
        const a = pad(boxes[i]), b = pad(boxes[j]);
        const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
        const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        const overlap = (w * h) / Math.min(area(a), area(b));
        if (overlap >= DUPLICATE_OVERLAP) pairs.push([i, j, overlap]);
      }
    }
    return pairs;
  }

  function describeDuplicates(pairs) {
    return pairs.map(([i, j, o]) => `boxes ${i + 1} and ${j + 1} (${Math.round(o * 100)} % overlap)`).join(", ");
  }

  function renderDuplicates(ed) {
    const pairs = duplicates(ed.boxes);
    const node = document.getElementById("duplicates");
    node.hidden = !pairs.length;
    document.getElementById("duplicates-text").textContent = pairs.length
      ? `Near-duplicates: ${describeDuplicates(pairs)}. One defect drawn twice? Delete one, or approve to keep both.` : "";
  }

  function renderQueue() {
    const list = document.getElementById("queue");
    list.replaceChildren(...queue.map((item) => {
      const node = el("li", `agreement ${item.agreement.toFixed(2)} · round ${item.round} · ${item.image_name}`,
        current && item.item_id === current.item_id ? "current" : "");
      node.addEventListener("click", () => show(item));
      return node;
    }));
  }

  function renderAnnotators(item) {
    const box = document.getElementById("annotators");
    box.replaceChildren(...editor.overlays.map((overlay) => {
      const label = el("label");
      const check = document.createElement("input");
      check.type = "checkbox";
      check.checked = overlay.visible;
      check.addEventListener("change", () => { overlay.visible = check.checked; editor.draw(); });
      const swatch = el("span", "", "swatch");
      swatch.style.background = overlay.color; // CSSOM from script, not an inline style attribute
      label.append(check, swatch, el("span", `${overlay.name} (${overlay.boxes.length})`));
      return label;
    }));
    if (!editor.overlays.length) box.append(el("p", "No annotator boxes.", "muted"));
  }

  async function show(item) {
    current = item;
    edited = false;
    editor.classes = item.classes;
    renderQueue();
    try {
      const image = await loadImage(item.image_url);
      editor.overlays = Object.entries(item.annotations).map(([name, boxes], i) =>
        ({ name, boxes, color: OVERLAY[i % OVERLAY.length], visible: true }));
      editor.load(image, item.image_width, item.image_height,
        item.boxes.map((c) => ({ ...c.box, annotators: c.annotators, prelabel: false })));
      edited = false;
      renderBoxes(editor);
      renderAnnotators(item);
      const info = document.getElementById("item-info");
      info.textContent = `${item.image_name} · ${item.image_width}×${item.image_height} · agreement ` +
        `${item.agreement.toFixed(2)} · round ${item.round}`;
      status("");
    } catch (err) {
      status(err.message, true);
    }
  }

  async function load() {
    try {
      queue = await api("GET", `/api/v1/jobs/${encodeURIComponent(job)}/review`);
      if (!queue.length) {
        current = null;
        editor.clear();
        canvas.dataset.state = "done";
        renderQueue();
        document.getElementById("item-info").textContent = "Nothing waits for verification in this job.";
        return;
      }
      await show(queue[0]);
    } catch (err) {
      status(err.message + (err.hint ? " — " + err.hint : ""), true);
    }
  }

  async function decide(path, body, message) {
    if (busy || !current) return;
    busy = true;
    try {
      await api("POST", `/api/v1/items/${current.item_id}/${path}`, body);
      status(message);
    } catch (err) {
      status(err.message + (err.hint ? " — " + err.hint : ""), true);
      return;
    } finally {
      busy = false;
    }
    await load();
  }

  function approve() {
    if (busy || !current) return;
    const pairs = duplicates(editor.boxes);
    if (pairs.length && !window.confirm(`Near-duplicate boxes: ${describeDuplicates(pairs)}. Approve them all anyway?`)) {
      status("Not approved: delete the extra box, then approve.");
      return;
    }
    const body = edited ? { boxes: editor.accepted() } : {};
    decide("approve", body, edited ? "Approved with adjustments." : "Approved.");
  }

  document.getElementById("approve").addEventListener("click", approve);
  document.getElementById("reject-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const reason = document.getElementById("reason");
    if (!reason.value.trim()) { status("Say why the boxes are wrong.", true); return; }
    decide("reject", { reason: reason.value }, "Rejected: the image goes back for a new round.").then(() => { reason.value = ""; });
  });
  window.BoxEditor.bindControls(editor);
  load();
})();
