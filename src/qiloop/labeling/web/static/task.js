// The task page: lease a task through the API, label it on the canvas, submit, take the next one.
// Pre-labels come with their scores (near-duplicates already merged by the server): a threshold
// slider and a show/hide switch choose which are on screen, and only those are accepted with A.
"use strict";
(function () {
  const { api, el, status, loadImage, retryAfter } = window.qiloop;
  const page = document.getElementById("task-page");
  const job = page.dataset.job;
  const canvas = document.getElementById("canvas");
  const classes = Array.from(document.querySelectorAll('#classes input[name="class"]'));
  const classNames = Array.from(document.querySelectorAll("#classes label")).map((l) => l.textContent.replace(/^\s*\d+\s*/, "").trim());
  const threshold = document.getElementById("threshold");
  const showPrelabels = document.getElementById("show-prelabels");
  let task = null;
  let busy = false;

  const editor = new window.BoxEditor(canvas, {
    classes: classNames,
    onChange: render,
    onKey: (e) => {
      if (e.key === "Enter") { submit(); return true; }
      if ((e.key === "n" || e.key === "N") && !e.ctrlKey && !e.metaKey && !e.altKey) { next(); return true; }
      return false;
    },
  });
  window.BoxEditor.bindControls(editor);

  classes.forEach((input) => input.addEventListener("change", () => editor.setClass(Number(input.value))));

  function describe(b) {
    let text = String(classNames[b.class_id] || b.class_id);
    if (b.prelabel) {
      const parts = [];
      if (typeof b.score === "number") parts.push(`score ${b.score.toFixed(2)}`);
      if (b.merged > 1) parts.push(`${b.merged} merged`);
      text += ` (pre-label${parts.length ? ", " + parts.join(", ") : ""})`;
    }
    return text + ` · ${Math.round(b.left)},${Math.round(b.top)} ${Math.round(b.width)}×${Math.round(b.height)}`;
  }

  function render(ed) {
    classes.forEach((input) => { input.checked = Number(input.value) === ed.classId; });
    showPrelabels.checked = ed.showPrelabels;
    const list = document.getElementById("box-list");
    const items = [];
    ed.boxes.forEach((b, i) => {  // numbered as on the canvas: the boxes on screen, in order
      if (!ed.visible(b)) return;
      const item = el("li", describe(b), (i === ed.selected ? "selected " : "") + (b.prelabel ? "prelabel" : ""));
      item.addEventListener("click", () => ed.select(i));
      items.push(item);
    });
    list.replaceChildren(...items);
    const prelabels = ed.boxes.filter((b) => b.prelabel).length;
    const hidden = prelabels - ed.shownPrelabels();
    document.getElementById("prelabel-count").textContent = prelabels
      ? `${ed.shownPrelabels()} of ${prelabels} pre-label(s) shown` + (hidden ? ` · ${hidden} hidden` : "") : "No pre-labels.";
    document.getElementById("accept").disabled = !ed.shownPrelabels();
  }

  function setThreshold() {
    document.getElementById("threshold-value").textContent = Number(threshold.value).toFixed(2);
    window.localStorage.setItem("qiloop.threshold", threshold.value);
    editor.setThreshold(threshold.value);
  }
  threshold.value = window.localStorage.getItem("qiloop.threshold") || "0";
  threshold.addEventListener("input", setThreshold);
  showPrelabels.addEventListener("change", () => editor.setPrelabelsShown(showPrelabels.checked));
  setThreshold();

  function showProgress(progress) {
    const node = document.getElementById("progress");
    node.textContent = `${progress.labelled} of ${progress.images} images labelled in this job · ${progress.yours} by you`;
    const bar = document.getElementById("progress-bar");
    bar.max = Math.max(1, progress.images);
    bar.value = progress.labelled;
  }

  async function next() {
    if (busy) return;
    busy = true;
    try {
      status("Fetching a task…");
      task = await api("POST", `/api/v1/jobs/${encodeURIComponent(job)}/tasks/next`);
      if (!task) {
        editor.clear();
        const wait = retryAfter();
        if (wait) {  // images remain, leased to other workers: one may come back to the queue
          canvas.dataset.state = "waiting";
          document.getElementById("task-info").textContent = "Images remain, leased to other workers.";
          status(`Asking again in ${wait} s…`);
          setTimeout(next, wait * 1000);
          return;
        }
        canvas.dataset.state = "done";
        document.getElementById("task-info").textContent = "No task left in this job for you.";
        status("All done here, thank you.");
        return;
      }
      const image = await loadImage(task.image_url);
      const pre = task.prelabels_shown.map((p) => ({ ...p.box, merged: p.merged, prelabel: true }));
      editor.load(image, task.image_width, task.image_height, pre);
      const info = document.getElementById("task-info");
      info.textContent = `Task ${task.id} · ${task.image_name} · ${task.image_width}×${task.image_height}` +
        ` · lease until ${new Date(task.leased_until).toLocaleTimeString()}`;
      info.title = `Task ${task.id}: ${task.image_name}`;
      showProgress(task.progress);
      const rejection = document.getElementById("rejection");
      rejection.hidden = !task.previous_rejection;
      document.getElementById("rejection-text").textContent = task.previous_rejection || "";
      const merged = task.prelabels.length - pre.length;
      status(pre.length ? `${pre.length} pre-label(s)` + (merged ? ` (${merged} near-duplicate(s) merged)` : "") +
        ": accept those shown (A), correct or delete them." : "Draw a box around every defect.");
      canvas.focus();
    } catch (err) {
      status(err.message + (err.hint ? " — " + err.hint : ""), true);
    } finally {
      busy = false;
    }
  }

  async function submit() {
    if (busy || !task) return;
    const pending = editor.pendingPrelabels();
    if (pending && !window.confirm(`${pending} pre-label(s) not accepted will be left out. Submit anyway?`)) return;
    busy = true;
    try {
      const boxes = editor.accepted();
      await api("POST", `/api/v1/tasks/${task.id}/submit`, { boxes });
      status(`Submitted ${boxes.length} box(es).`);
      task = null;
    } catch (err) {
      status(err.message + (err.hint ? " — " + err.hint : ""), true);
      return;
    } finally {
      busy = false;
    }
    next();
  }

  document.getElementById("submit").addEventListener("click", submit);
  document.getElementById("accept").addEventListener("click", () => editor.acceptPrelabels());
  next();
})();
