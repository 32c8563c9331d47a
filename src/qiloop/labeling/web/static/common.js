// Shared by the page scripts: the JSON API with the session's CSRF token, and plain-text rendering.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || "request failed with status " + status);
      this.status = status;
      this.hint = body && body.hint;
    }
  }

  // After an empty answer (204): the seconds the server asked us to wait before asking again, or null.
  let retryAfter = null;

  async function api(method, url, body) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); }
    retryAfter = null;
    if (response.status === 204) {
      const wait = Number(response.headers.get("Retry-After"));
      if (wait > 0) retryAfter = wait;
      return null;
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // Every text from the server goes through textContent, never parsed as HTML.
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function status(message, isError) {
    const node = document.getElementById("status");
    if (!node) return;
    node.textContent = message || "";
    node.classList.toggle("error", !!isError);
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error("the image could not be loaded"));
      image.src = url;
    });
  }

  // Whether a key belongs to a form field rather than the page's shortcuts: text fields take every key,
  // a slider its arrows and paging keys, radio buttons and checkboxes none.
  function typing(event) {
    const t = event.target;
    if (!t || t.tagName !== "INPUT") return !!t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT");
    if (t.type === "radio" || t.type === "checkbox") return false;
    if (t.type === "range") return /^(Arrow|Page|Home$|End$)/.test(event.key);
    return true;
  }

  window.qiloop = { api, el, status, loadImage, typing, ApiError, retryAfter: () => retryAfter };
})();
