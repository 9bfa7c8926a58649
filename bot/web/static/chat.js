// Web chat client: renders messages with textContent only (never as HTML).
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("text");
  var pollMs = parseInt(log.getAttribute("data-poll-ms"), 10) || 5000;
  var lastId = 0;
  var seen = {};
  var busy = false;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function scroll() { log.scrollTop = log.scrollHeight; }
  function newId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function clearChoices() {
    var old = log.querySelectorAll(".choices");
    for (var i = 0; i < old.length; i++) old[i].remove();
  }
  function render(m) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    lastId = Math.max(lastId, m.id);
    var bubble = el("div", "msg bot", m.text);
    if (m.links && m.links.length) {
      var links = el("div", "links");
      m.links.forEach(function (l) {
        var a = el("a", "", l.label);
        a.href = l.url; a.target = "_blank"; a.rel = "noopener noreferrer";
        links.appendChild(a);
      });
      bubble.appendChild(links);
    }
    (m.attachments || []).forEach(function (att) {
      var a = el("a", "", att.caption || att.name || "Tệp đính kèm");
      a.href = att.url; a.target = "_blank"; a.rel = "noopener noreferrer";
      bubble.appendChild(el("br")); bubble.appendChild(a);
    });
    log.appendChild(bubble);
    if (m.choices && m.choices.length) {
      var box = el("div", "choices");
      m.choices.forEach(function (c) {
        var b = el("button", "", c.label);
        b.type = "button";
        b.addEventListener("click", function () { send({ choice: c.payload }, c.label); });
        box.appendChild(b);
      });
      log.appendChild(box);
    }
  }
  function showError(text) { log.appendChild(el("div", "msg err", text)); scroll(); }
  function receive(data) {
    var fresh = (data.messages || []).filter(function (m) { return !seen[m.id]; });
    // buttons of older turns go; all buttons of this turn stay (the core accepts any of them)
    if (fresh.some(function (m) { return m.choices && m.choices.length; })) clearChoices();
    fresh.forEach(render);
    scroll();
  }
  function send(body, shown) {
    if (busy) return;
    busy = true;
    clearChoices();
    if (shown) log.appendChild(el("div", "msg me", shown));
    scroll();
    body.id = newId();
    body.after = lastId;
    fetch("/api/chat", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { showError(data.error || "Không gửi được tin nhắn. Vui lòng thử lại."); return; }
        receive(data);
      });
    }).catch(function () {
      showError("Mất kết nối. Vui lòng kiểm tra mạng và thử lại.");
    }).then(function () { busy = false; input.focus(); });
  }
  function poll() {
    if (busy) return;
    fetch("/api/messages?after=" + lastId, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) receive(data); })
      .catch(function () {});
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text: text }, text);
  });
  var file = document.getElementById("file");
  if (file) file.addEventListener("change", function () {
    if (!file.files.length || busy) return;
    var f = file.files[0];
    busy = true;
    clearChoices();
    log.appendChild(el("div", "msg me", "📎 " + f.name));
    scroll();
    var data = new FormData();
    data.append("id", newId());
    data.append("after", String(lastId));
    data.append("file", f, f.name);
    fetch("/api/upload", { method: "POST", credentials: "same-origin", body: data })
      .then(function (r) {
        return r.json().then(function (d) {
          if (!r.ok) { showError(d.error || "Không gửi được tệp. Vui lòng thử lại."); return; }
          receive(d);
        });
      })
      .catch(function () { showError("Mất kết nối. Vui lòng kiểm tra mạng và thử lại."); })
      .then(function () { busy = false; file.value = ""; });
  });
  document.getElementById("menu").addEventListener("click", function () { send({ text: "Menu" }, "Menu"); });
  fetch("/api/messages?after=0", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      receive(data);
      if (!(data.messages || []).length) send({ event: "start" }, "");
    })
    .catch(function () { showError("Không tải được cuộc trò chuyện. Vui lòng tải lại trang."); });
  setInterval(poll, pollMs);
})();
