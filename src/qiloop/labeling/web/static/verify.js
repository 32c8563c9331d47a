// The verification page: the queue (lowest agreement first), consolidated boxes with each
// annotator's boxes as overlays, approve as is, adjust then approve, or reject with a reason.
"use strict";
(function () {
  const { api, el, status, loadImage, shortName } = window.qiloop;
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
    list.replaceChildren(...ed.boxes.map((b, i) => {
      const meta = current && current.boxes[i] && !edited
        ? ` · support ${current.boxes[i].support.toFixed(2)} · by ${current.boxes[i].annotators.join(", ")}` : "";
      const item = el("li", `${ed.classes[b.class_id] || b.class_id} · ${Math.round(b.left)},${Math.round(b.top)} ` +
        `${Math.round(b.width)}×${Math.round(b.height)}${meta}`, i === ed.selected ? "selected" : "");
      item.addEventListener("click", () => ed.select(i));
      return item;
    }));
    document.getElementById("approve").textContent = edited ? "Approve adjusted" : "Approve";
  }

  function renderQueue() {
    const list = document.getElementById("queue");
    list.replaceChildren(...queue.map((item) => {
      const node = el("li", `agreement ${item.agreement.toFixed(2)} · round ${item.round} · ${shortName(item.image_uri)}`,
        current && item.item_id === current.item_id ? "current" : "");
      node.title = item.image_uri;
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
      editor.load(image, item.image_width, item.image_height, item.boxes.map((c) => ({ ...c.box, prelabel: false })));
      edited = false;
      renderBoxes(editor);
      renderAnnotators(item);
      const info = document.getElementById("item-info");
      info.textContent = `Item ${item.item_id} · ${shortName(item.image_uri)} · agreement ${item.agreement.toFixed(2)}` +
        ` · round ${item.round}`;
      info.title = item.image_uri;
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
  document.getElementById("undo").addEventListener("click", () => editor.undo());
  document.getElementById("delete").addEventListener("click", () => editor.deleteSelected());
  document.getElementById("zoom-in").addEventListener("click", () => editor.zoom(1.25));
  document.getElementById("zoom-out").addEventListener("click", () => editor.zoom(0.8));
  document.getElementById("zoom-fit").addEventListener("click", () => editor.fit());
  load();
})();
