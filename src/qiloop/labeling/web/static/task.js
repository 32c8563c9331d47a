// The task page: lease a task through the API, label it on the canvas, submit, take the next one.
"use strict";
(function () {
  const { api, el, status, loadImage, shortName, retryAfter } = window.qiloop;
  const page = document.getElementById("task-page");
  const job = page.dataset.job;
  const canvas = document.getElementById("canvas");
  const classes = Array.from(document.querySelectorAll('#classes input[name="class"]'));
  const classNames = Array.from(document.querySelectorAll("#classes label")).map((l) => l.textContent.replace(/^\s*\d+\s*/, "").trim());
  let task = null;
  let busy = false;

  const editor = new window.BoxEditor(canvas, {
    classes: classNames,
    onChange: render,
    onKey: (e) => {
      if (e.key === "Enter") { submit(); return true; }
      if (e.key === "n" || e.key === "N") { next(); return true; }
      return false;
    },
  });

  classes.forEach((input) => input.addEventListener("change", () => editor.setClass(Number(input.value))));

  function render(ed) {
    classes.forEach((input) => { input.checked = Number(input.value) === ed.classId; });
    const list = document.getElementById("box-list");
    list.replaceChildren(...ed.boxes.map((b, i) => {
      const text = (classNames[b.class_id] || b.class_id) + (b.prelabel ? " (pre-label)" : "") +
        ` · ${Math.round(b.left)},${Math.round(b.top)} ${Math.round(b.width)}×${Math.round(b.height)}`;
      const item = el("li", text, i === ed.selected ? "selected" : "");
      item.addEventListener("click", () => ed.select(i));
      return item;
    }));
    document.getElementById("accept").disabled = !ed.pendingPrelabels();
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
      const pre = task.prelabels.map((b) => ({ ...b, prelabel: true }));
      editor.load(image, task.image_width, task.image_height, pre);
      const info = document.getElementById("task-info");
      info.textContent = `Task ${task.id} · ${shortName(task.image_uri)} · ${task.image_width}×${task.image_height}` +
        ` · lease until ${new Date(task.leased_until).toLocaleTimeString()}`;
      info.title = task.image_uri;
      const rejection = document.getElementById("rejection");
      rejection.hidden = !task.previous_rejection;
      document.getElementById("rejection-text").textContent = task.previous_rejection || "";
      status(pre.length ? `${pre.length} pre-label(s) shown: accept (A), correct or delete them.` : "Draw a box around every defect.");
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
  document.getElementById("undo").addEventListener("click", () => editor.undo());
  document.getElementById("delete").addEventListener("click", () => editor.deleteSelected());
  document.getElementById("accept").addEventListener("click", () => editor.acceptPrelabels());
  document.getElementById("zoom-in").addEventListener("click", () => editor.zoom(1.25));
  document.getElementById("zoom-out").addEventListener("click", () => editor.zoom(0.8));
  document.getElementById("zoom-fit").addEventListener("click", () => editor.fit());
  next();
})();
