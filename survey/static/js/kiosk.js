/* HaiLong kiosk: one question per screen, faces and words, idle reset, offline queue, heartbeat.
   Plain JavaScript, no framework.  Everything it shows comes from the JSON block #kiosk-data (texts in
   both languages).  One citizen's answers live only in `state` (memory) until they are queued; a reset
   replaces the whole screen, so nothing of one citizen is visible to the next. */
(function () {
  "use strict";

  var dataEl = document.getElementById("kiosk-data");
  var root = document.getElementById("kiosk-app");
  var statusEl = document.getElementById("kiosk-status");
  var skipLink = document.querySelector(".skip-link");
  if (!dataEl || !root) { return; }
  var CFG = JSON.parse(dataEl.textContent);
  var Q = CFG.questionnaire;
  var ITEMS = Q.items;
  var QUEUE_KEY = "hailong-kiosk-queue";
  var REJECTED_KEY = "hailong-kiosk-rejected";
  var RETRY_KEY = "hailong-kiosk-retry";
  var RETRY_BASE = CFG.retry_seconds || 5;  // first wait after the server fails one response; doubles each time
  var RETRY_MAX = 600;
  var SVG_NS = "http://www.w3.org/2000/svg";

  var state = null;
  var lastActivity = Date.now();
  var thanksTimer = null;
  var online = navigator.onLine !== false;
  var enrolled = true;
  var flushing = false;
  var retryTimer = null;
  var backoff = 5;

  /* ---------------------------------------------------------------- helpers */

  function t(key, n, total) {
    var s = CFG.strings[state.lang][key] || CFG.strings.vi[key] || key;
    return s.replace("{n}", n === undefined ? "" : String(n)).replace("{total}", total === undefined ? "" : String(total));
  }
  function tr(texts) { return texts ? (texts[state.lang] || texts.vi) : ""; }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; }
        else if (k === "cls") { node.className = attrs[k]; }
        else if (k.indexOf("on") === 0) { node.addEventListener(k.slice(2), attrs[k]); }
        else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) { node.setAttribute(k, attrs[k]); }
      });
    }
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* ---------------------------------------------------------------- faces (inline SVG, decorative) */

  var MOUTHS = {
    "very-sad": "M20 47 Q32 33 44 47",
    "sad": "M22 45 Q32 38 42 45",
    "neutral": "M22 42 L42 42",
    "happy": "M22 38 Q32 47 42 38",
    "very-happy": "M19 36 Q32 54 45 36 Z"
  };
  function face(kind) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 64 64");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "face face-" + kind);
    function add(tag, attrs) {
      var n = document.createElementNS(SVG_NS, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      svg.appendChild(n);
      return n;
    }
    add("circle", {cx: 32, cy: 32, r: 29, "class": "face-bg"});
    if (kind === "yes") {
      add("path", {d: "M18 33 L28 43 L47 22", "class": "face-line"});
      return svg;
    }
    if (kind === "no") {
      add("path", {d: "M21 21 L43 43 M43 21 L21 43", "class": "face-line"});
      return svg;
    }
    add("circle", {cx: 23, cy: 25, r: 3.5, "class": "face-eye"});
    add("circle", {cx: 41, cy: 25, r: 3.5, "class": "face-eye"});
    var mouth = MOUTHS[kind] || MOUTHS.neutral;
    add("path", {d: mouth, "class": kind === "very-happy" ? "face-mouth face-mouth-open" : "face-mouth"});
    return svg;
  }

  /* ---------------------------------------------------------------- screens */

  function newState(lang) {
    return {lang: lang || "vi", index: -1, answers: {}, screen: "welcome", large: false};
  }

  function show(nodes, focusNode) {
    root.textContent = "";
    nodes.forEach(function (n) { root.appendChild(n); });
    document.documentElement.setAttribute("lang", state.lang);
    if (skipLink) { skipLink.textContent = t("skip_link"); }  // the kiosk's language, not the browser's
    document.documentElement.classList.toggle("large-text", state.large);
    document.title = tr(CFG.service_point) + " · HaiLong";
    if (focusNode) { focusNode.focus({preventScroll: false}); }
    guardAgainstDoubleTap();
    updateStatus();
    // kiosk_speech.js adds its "Listen" controls to question screens and stops reading on any new screen
    document.dispatchEvent(new CustomEvent("hailong:kiosk-screen", {detail: {screen: state.screen, lang: state.lang}}));
  }

  // A quick double tap must not also answer the next question, which has a button at the same place:
  // the new screen's answer/skip/back buttons accept taps only after a moment.
  function guardAgainstDoubleTap() {
    var held = Array.prototype.filter.call(root.querySelectorAll(".kiosk-option, .kiosk-skip, .kiosk-back"),
      function (b) { return !b.disabled; });
    held.forEach(function (b) { b.disabled = true; });
    window.setTimeout(function () { held.forEach(function (b) { b.disabled = false; }); }, 300);
  }

  // every screen has one h1 (screen readers jump by headings): the service point, hidden where the
  // visible heading is the question or the thanks
  function pageHeading() { return el("h1", {cls: "visually-hidden", text: tr(CFG.service_point)}); }

  function toolbar() {
    // each language named in its own script (Tiếng Việt, English, ខ្មែរ), from the page's data
    var langs = el("div", {cls: "kiosk-langs", role: "group", "aria-label": t("language")},
      CFG.languages.map(function (l) {
        return el("button", {type: "button", lang: l.code, "aria-pressed": String(state.lang === l.code),
                             cls: "kiosk-lang", onclick: function () { setLang(l.code); }, text: l.name});
      }));
    var large = el("button", {type: "button", cls: "kiosk-large", "aria-pressed": String(state.large),
                              onclick: function () { state.large = !state.large; render(); }, text: t("larger_text")});
    return el("div", {cls: "kiosk-toolbar"}, [langs, large]);
  }

  function setLang(lang) { state.lang = lang; render(); }

  function welcome() {
    var heading = el("h1", {cls: "kiosk-title", tabindex: "-1", text: tr(CFG.service_point)});
    var parts = [toolbar(), el("p", {cls: "kiosk-kicker", text: t("welcome")}), heading];
    if (CFG.official) {
      parts.push(el("p", {cls: "kiosk-official"}, [
        el("span", {cls: "kiosk-official-label", text: t("official") + ": "}), el("strong", {text: CFG.official})
      ]));
    }
    parts.push(el("p", {cls: "kiosk-lead", text: t("intro")}));
    parts.push(el("p", {cls: "kiosk-qtitle", text: tr(Q.title)}));
    parts.push(el("button", {type: "button", cls: "kiosk-start", onclick: start, text: t("start")}));
    show([el("section", {cls: "kiosk-screen kiosk-welcome"}, parts)], heading);
  }

  function start() { state.index = 0; state.screen = "question"; render(); }

  function optionButton(label, value, selected, faceKind, onPick, extraCls) {
    var children = [];
    if (faceKind) { children.push(face(faceKind)); }
    children.push(el("span", {cls: "kiosk-option-label", text: label}));
    return el("button", {type: "button", cls: "kiosk-option" + (extraCls ? " " + extraCls : ""),
                         "aria-pressed": String(selected), "data-value": String(value),
                         onclick: function () { onPick(value); }}, children);
  }

  function question() {
    var item = ITEMS[state.index];
    var total = ITEMS.length;
    var headingId = "q-" + state.index;
    var heading = el("h2", {id: headingId, cls: "kiosk-question", tabindex: "-1", text: tr(item.text)});
    var progress = el("div", {cls: "kiosk-progress"}, [
      el("span", {cls: "kiosk-progress-text", text: t("question_n", state.index + 1, total)}),
      el("progress", {max: String(total), value: String(state.index + 1), "aria-label": t("progress")})
    ]);
    var parts = [toolbar(), progress, heading];
    parts.unshift(pageHeading());
    var helpText = tr(item.help) || (item.required ? "" : t("optional"));
    if (helpText) { parts.push(el("p", {cls: "kiosk-help", text: helpText})); }
    var current = state.answers[item.code];
    var nav = [el("button", {type: "button", cls: "kiosk-back", onclick: back, text: t("back")})];

    if (item.type === "scale") {
      var buttons = item.levels.map(function (lv) {
        return optionButton(tr(lv.label), lv.value, current === lv.value, lv.face || "neutral", answerAndAdvance);
      });
      if (item.no_opinion) {
        buttons.push(optionButton(tr(item.no_opinion), 0, current === 0, null, answerAndAdvance, "kiosk-no-opinion"));
      }
      parts.push(el("div", {cls: "kiosk-options kiosk-scale kiosk-n" + item.levels.length, role: "group",
                            "aria-labelledby": headingId}, buttons));
      if (!item.required) { nav.push(el("button", {type: "button", cls: "kiosk-skip", onclick: skip, text: t("skip")})); }
    } else if (item.type === "choice" && !item.multiple) {
      parts.push(el("div", {cls: "kiosk-options kiosk-choice", role: "group", "aria-labelledby": headingId},
        item.options.map(function (o) { return optionButton(tr(o.label), o.value, current === o.value, null, answerAndAdvance); })));
      if (!item.required) { nav.push(el("button", {type: "button", cls: "kiosk-skip", onclick: skip, text: t("skip")})); }
    } else if (item.type === "choice") {
      var chosen = Array.isArray(current) ? current.slice() : [];
      if (item.max_choices) { parts.push(el("p", {cls: "kiosk-help", text: t("choose_up_to", item.max_choices)})); }
      var group = el("div", {cls: "kiosk-options kiosk-choice", role: "group", "aria-labelledby": headingId},
        item.options.map(function (o) {
          return optionButton(tr(o.label), o.value, chosen.indexOf(o.value) >= 0, null, function (v) {
            var i = chosen.indexOf(v);
            if (i >= 0) { chosen.splice(i, 1); }
            else if (!item.max_choices || chosen.length < item.max_choices) { chosen.push(v); }
            state.answers[item.code] = chosen.slice();
            Array.prototype.forEach.call(group.children, function (b) {
              b.setAttribute("aria-pressed", String(chosen.indexOf(Number(b.getAttribute("data-value"))) >= 0));
            });
            nextBtn.disabled = item.required && chosen.length === 0;
          });
        }));
      parts.push(group);
      var nextBtn = el("button", {type: "button", cls: "kiosk-next", onclick: advance, text: isLast() ? t("send") : t("next")});
      nextBtn.disabled = item.required && chosen.length === 0;
      nav.push(nextBtn);
    } else {
      var max = item.max_length || 2000;
      var area = el("textarea", {id: "kiosk-text", cls: "kiosk-text", rows: "4", maxlength: String(max),
                                 autocomplete: "off", autocorrect: "off", spellcheck: "false", name: "kiosk-comment-" + uuid()});
      area.value = typeof current === "string" ? current : "";
      var counter = el("p", {cls: "kiosk-counter", id: "kiosk-text-count", "aria-live": "polite",
                             text: t("chars_left", max - area.value.length)});
      var privacy = el("p", {cls: "kiosk-privacy", id: "kiosk-text-privacy", text: t("comment_privacy")});
      area.setAttribute("aria-describedby", "kiosk-text-count kiosk-text-privacy");
      area.addEventListener("input", function () {
        state.answers[item.code] = area.value;
        counter.textContent = t("chars_left", max - area.value.length);
        sendBtn.disabled = item.required && !area.value.trim();
      });
      var oldHeading = heading;
      heading = el("h2", {cls: "kiosk-question", tabindex: "-1"}, [el("label", {"for": "kiosk-text", text: tr(item.text)})]);
      parts[parts.indexOf(oldHeading)] = heading;
      parts.push(privacy, area, counter);
      var sendBtn = el("button", {type: "button", cls: "kiosk-next", onclick: advance, text: isLast() ? t("send") : t("next")});
      sendBtn.disabled = item.required && !area.value.trim();
      nav.push(sendBtn);
    }
    parts.push(el("div", {cls: "kiosk-nav"}, nav));
    show([el("section", {cls: "kiosk-screen kiosk-item kiosk-type-" + item.type, "data-item": item.code}, parts)], heading);
  }

  function isLast() { return state.index >= ITEMS.length - 1; }
  function answerAndAdvance(value) { state.answers[ITEMS[state.index].code] = value; advance(); }
  function skip() { delete state.answers[ITEMS[state.index].code]; advance(); }
  function advance() {
    if (isLast()) { finish(); return; }
    state.index += 1;
    render();
  }
  function back() {
    if (state.index <= 0) { reset(); return; }
    state.index -= 1;
    render();
  }

  function thanks() {
    clearThanks();
    var heading = el("h2", {cls: "kiosk-thanks-title", tabindex: "-1", text: t("thanks")});
    var left = CFG.thanks_seconds;
    var countdown = el("p", {cls: "kiosk-countdown", text: t("restart_in", left)});
    var done = el("button", {type: "button", cls: "kiosk-start", onclick: reset, text: t("done")});
    show([el("section", {cls: "kiosk-screen kiosk-thanks"}, [
      pageHeading(), face("very-happy"), heading, el("p", {cls: "kiosk-lead", text: t("thanks_body")}), countdown, done
    ])], heading);
    thanksTimer = window.setInterval(function () {
      left -= 1;
      if (left <= 0) { reset(); return; }
      countdown.textContent = t("restart_in", left);
    }, 1000);
  }

  function notEnrolledScreen() {
    var heading = el("h1", {cls: "kiosk-title", tabindex: "-1", text: t("not_enrolled")});
    show([el("section", {cls: "kiosk-screen kiosk-not-enrolled"}, [
      heading, el("p", {cls: "kiosk-lead", text: t("not_enrolled_body")}),
      el("a", {href: CFG.enrol_url, cls: "kiosk-start", text: t("enrol_link")})
    ])], heading);
  }

  function render() {
    if (!enrolled) { notEnrolledScreen(); return; }
    if (state.screen === "welcome") { welcome(); }
    else if (state.screen === "question") { question(); }
    else { thanks(); }
  }

  function clearThanks() {
    if (thanksTimer) { window.clearInterval(thanksTimer); thanksTimer = null; }
  }

  function reset() {
    clearThanks();
    state = newState("vi");
    render();
  }

  /* ---------------------------------------------------------------- finishing and the offline queue */

  function finish() {
    var answers = {};
    Object.keys(state.answers).forEach(function (code) {
      var v = state.answers[code];
      if (v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) { return; }
      if (typeof v === "string") { v = v.trim(); if (!v) { return; } }
      answers[code] = v;
    });
    enqueue({client_id: uuid(), questionnaire: Q.id, version: Q.version, submitted_at: new Date().toISOString(),
             language: state.lang, answers: answers});
    state = newState(state.lang);
    state.screen = "thanks";
    render();
    flush();
  }

  // localStorage survives reloads and power cuts; if it is unavailable or full, keep the queue in memory
  // so that the citizen's response is still sent while the page stays open.
  var memoryLists = {};
  function loadList(key) {
    if (memoryLists[key]) { return memoryLists[key].slice(); }
    try { var v = JSON.parse(window.localStorage.getItem(key) || "[]"); return Array.isArray(v) ? v : []; }
    catch (e) { return []; }
  }
  function saveList(key, list) {
    try { window.localStorage.setItem(key, JSON.stringify(list)); delete memoryLists[key]; }
    catch (e) { memoryLists[key] = list.slice(); }
  }
  function enqueue(payload) { var q = loadList(QUEUE_KEY); q.push(payload); saveList(QUEUE_KEY, q); updateStatus(); }
  function dequeue(clientId) {
    saveList(QUEUE_KEY, loadList(QUEUE_KEY).filter(function (p) { return p.client_id !== clientId; }));
  }

  function scheduleFlush(seconds) {
    if (retryTimer) { window.clearTimeout(retryTimer); }
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, seconds * 1000);
  }

  // One response the server keeps failing (a 500 on it alone) must not hold back the others: each failed
  // response waits its own exponential backoff (with jitter) while the rest of the queue is sent in order.
  // The waits are kept beside the queue, so a reload does not reset them.
  function retries() {
    var byId = {};
    loadList(RETRY_KEY).forEach(function (r) { if (r && r.client_id) { byId[r.client_id] = r; } });
    return byId;
  }
  function saveRetries(byId) {
    var queued = {};
    loadList(QUEUE_KEY).forEach(function (p) { queued[p.client_id] = true; });
    saveList(RETRY_KEY, Object.keys(byId).filter(function (id) { return queued[id]; })
      .map(function (id) { return byId[id]; }));
  }
  function itemFailed(clientId, status) {
    var byId = retries();
    var r = byId[clientId] || {client_id: clientId, attempts: 0};
    r.attempts += 1;
    r.status = status;
    r.at = Date.now();
    var wait = Math.min(RETRY_BASE * Math.pow(2, r.attempts - 1), RETRY_MAX);
    r.next_at = r.at + wait * 1000 * (0.75 + Math.random() * 0.5);
    byId[clientId] = r;
    saveRetries(byId);
  }
  function itemGone(clientId) {
    dequeue(clientId);
    var byId = retries();
    delete byId[clientId];
    saveRetries(byId);
  }
  // For the heartbeat: how many queued responses keep failing, and the latest failure's HTTP status.
  function failureReport() {
    var byId = retries();
    var list = Object.keys(byId).map(function (id) { return byId[id]; });
    var latest = list.reduce(function (a, r) { return !a || r.at > a.at ? r : a; }, null);
    return {failing_items: list.length, last_failure_status: latest ? latest.status : null};
  }

  function flush() {
    if (flushing || !enrolled) { return; }
    var queue = loadList(QUEUE_KEY);
    updateStatus();
    if (!queue.length) { return; }
    var byId = retries(), now = Date.now(), item = null, soonest = null;
    for (var i = 0; i < queue.length && !item; i++) {
      var r = byId[queue[i].client_id];
      if (!r || r.next_at <= now) { item = queue[i]; }
      else { soonest = soonest === null ? r.next_at : Math.min(soonest, r.next_at); }
    }
    if (!item) { scheduleFlush(Math.max(0.05, (soonest - now) / 1000)); return; }
    flushing = true;
    fetch(CFG.api.responses, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(item)
    }).then(function (resp) {
      flushing = false;
      online = true;
      if (resp.status === 200 || resp.status === 201) {
        backoff = 5;
        itemGone(item.client_id);
        flush();
      } else if (resp.status === 400 || resp.status === 413) {
        // never acceptable as sent: keep a short record for support, do not block the queue behind it
        var rejected = loadList(REJECTED_KEY);
        rejected.push({client_id: item.client_id, status: resp.status, at: new Date().toISOString()});
        saveList(REJECTED_KEY, rejected.slice(-20));
        itemGone(item.client_id);
        flush();
      } else if (resp.status === 401) {
        setEnrolled(false);
      } else if (resp.status === 429 || resp.status === 503) {
        // throttled, or the server's database is briefly down: the whole kiosk waits as told
        var told = parseInt(resp.headers.get("Retry-After"), 10);
        scheduleFlush(told > 0 ? told : backoff);
        if (!(told > 0)) { backoff = Math.min(backoff * 2, 60); }
      } else {
        // this response failed (e.g. a 500 on it alone): retry it later, send the others meanwhile
        itemFailed(item.client_id, resp.status);
        flush();
      }
      updateStatus();
    }).catch(function () {
      flushing = false;
      online = false;
      updateStatus();
      scheduleFlush(backoff);
      backoff = Math.min(backoff * 2, 60);
    });
  }

  function setEnrolled(value) {
    if (enrolled === value) { return; }
    enrolled = value;
    if (!value) { state = newState("vi"); }
    render();
  }

  function heartbeatBody() {
    var report = failureReport();
    return {queue_length: loadList(QUEUE_KEY).length, software_version: CFG.version,
            failing_items: report.failing_items, last_failure_status: report.last_failure_status};
  }

  function heartbeat() {
    fetch(CFG.api.heartbeat, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(heartbeatBody())
    }).then(function (resp) {
      online = true;
      if (resp.status === 401) { setEnrolled(false); return null; }
      if (resp.ok) { setEnrolled(true); return resp.json(); }
      return null;
    }).then(function (info) {
      updateStatus();
      var q = info && info.questionnaire;
      // a new questionnaire version was published: load it between two citizens
      if (q && (q.id !== Q.id || q.version !== Q.version) && state.screen === "welcome") { window.location.reload(); }
      if (loadList(QUEUE_KEY).length) { flush(); }
    }).catch(function () { online = false; updateStatus(); });
  }

  function updateStatus() {
    if (!statusEl || !state) { return; }
    var n = loadList(QUEUE_KEY).length;
    var isOnline = online && navigator.onLine !== false;
    var text = isOnline ? t("online") : t("offline");
    if (n) { text += " · " + t("queued", n); }
    if (statusEl.textContent !== text) { statusEl.textContent = text; }
    statusEl.setAttribute("data-online", String(isOnline));
    statusEl.setAttribute("data-queued", String(n));
    statusEl.setAttribute("data-failing", String(failureReport().failing_items));
    statusEl.setAttribute("lang", state.lang);
  }

  /* ---------------------------------------------------------------- idle reset */

  function activity() { lastActivity = Date.now(); }
  ["pointerdown", "keydown", "input", "touchstart", "wheel"].forEach(function (ev) {
    document.addEventListener(ev, activity, {passive: true, capture: true});
  });
  // Before the reset, a prompt "still answering?" counts down the last seconds; any touch keeps the answers.
  var idlePrompt = null;
  function hideIdlePrompt() {
    if (idlePrompt) { idlePrompt.remove(); idlePrompt = null; }
  }
  function showIdlePrompt(left) {
    if (!idlePrompt) {
      var title = el("h2", {id: "kiosk-idle-title", cls: "kiosk-idle-title", text: t("still_there")});
      var count = el("p", {id: "kiosk-idle-count", cls: "kiosk-idle-count", "aria-live": "polite"});
      var keep = el("button", {type: "button", cls: "kiosk-start kiosk-idle-continue",
                               onclick: function () { activity(); hideIdlePrompt(); }, text: t("continue")});
      idlePrompt = el("div", {cls: "kiosk-idle", role: "alertdialog", "aria-modal": "true", lang: state.lang,
                              "aria-labelledby": "kiosk-idle-title", "aria-describedby": "kiosk-idle-count"},
                      [el("div", {cls: "kiosk-idle-box"}, [title, count, keep])]);
      document.body.appendChild(idlePrompt);
      keep.focus();
    }
    var text = t("restart_in", left);
    var countEl = idlePrompt.querySelector(".kiosk-idle-count");
    if (countEl.textContent !== text) { countEl.textContent = text; }
  }
  window.setInterval(function () {
    // a half-answered form, or a welcome screen left in another language or in large text
    var dirty = state.screen === "question" || (state.screen === "welcome" && (state.lang !== "vi" || state.large));
    var idleMs = Date.now() - lastActivity;
    var promptMs = Math.min(CFG.idle_prompt_seconds, CFG.idle_seconds - 1) * 1000;
    if (!dirty || !enrolled || idleMs <= CFG.idle_seconds * 1000 - promptMs) { hideIdlePrompt(); return; }
    if (idleMs > CFG.idle_seconds * 1000) { hideIdlePrompt(); reset(); return; }
    showIdlePrompt(Math.ceil((CFG.idle_seconds * 1000 - idleMs) / 1000));
  }, 250);

  /* ---------------------------------------------------------------- start */

  window.addEventListener("online", function () { online = true; backoff = 5; updateStatus(); flush(); });
  window.addEventListener("offline", function () { online = false; updateStatus(); });
  // a page restored from the back/forward cache must not show the previous citizen's screen
  window.addEventListener("pageshow", function (e) { if (e.persisted) { reset(); } });

  state = newState("vi");
  render();
  flush();
  heartbeat();
  window.setInterval(heartbeat, CFG.heartbeat_seconds * 1000);

  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(CFG.sw.url, {scope: CFG.sw.scope}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      document.documentElement.setAttribute("data-sw", "ready");
    }).catch(function () { /* no offline start on this browser; the queue still works */ });
  }
}());
