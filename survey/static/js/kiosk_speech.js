/* HaiLong kiosk: "Listen to the question" (issue 15 §2).  On each question screen a large button reads the
   question and then its options; beside it "Listen again" and the volume.  It never speaks by itself and stops
   as soon as the citizen answers, goes back, changes language, or the kiosk resets (any new screen).
   It speaks with the device's own offline voice for the language when there is one, else plays the audio the
   server made with espeak-ng (survey/respond/speech.py), which the service worker keeps for offline use.
   kiosk.js draws the screens and announces each one with the "hailong:kiosk-screen" event; this script only
   adds its controls to the question screens. */
(function () {
  "use strict";

  var dataEl = document.getElementById("kiosk-data");
  var root = document.getElementById("kiosk-app");
  if (!dataEl || !root) { return; }
  var S = JSON.parse(dataEl.textContent).speech;
  if (!S) { return; }
  var SVG_NS = "http://www.w3.org/2000/svg";
  var VOLUME_STEP = 0.2;
  var synth = window.speechSynthesis || null;
  var audio = document.createElement("audio");
  audio.id = "kiosk-speech-audio";
  audio.preload = "none";
  audio.hidden = true;
  document.body.appendChild(audio);

  var volume = S.volume;
  var lang = "vi";
  var code = null;
  var playing = false;
  var run = 0;  // bumped by every stop: callbacks of an earlier reading do nothing
  var box = null;

  function str(key) { return (S.strings[lang] || S.strings.vi)[key]; }
  function entry() { return code ? (S.items[lang] || {})[code] || null : null; }
  function baseLang(tag) { return String(tag || "").toLowerCase().replace("_", "-").split("-")[0]; }
  // an offline voice only: a network voice would fail with the network cut
  function deviceVoice() {
    if (!synth || typeof synth.getVoices !== "function") { return null; }
    var voices = synth.getVoices() || [];
    for (var i = 0; i < voices.length; i++) {
      if (voices[i].localService && baseLang(voices[i].lang) === lang) { return voices[i]; }
    }
    return null;
  }
  function canSpeak() { var e = entry(); return !!e && (!!e.audio || !!deviceVoice()); }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text) { n.textContent = text; }
    return n;
  }
  function speakerIcon() {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "kiosk-listen-icon");
    var p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", "M3 9v6h4l5 4V5L7 9H3zm13.5 3a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z");
    svg.appendChild(p);
    return svg;
  }

  /* ---------------------------------------------------------------- playing and stopping */

  function setPlaying(value) {
    playing = value;
    document.documentElement.setAttribute("data-speech", value ? "playing" : "idle");
    if (!box) { return; }
    var listen = box.querySelector(".kiosk-listen");
    listen.setAttribute("aria-pressed", String(value));
    listen.querySelector(".kiosk-listen-label").textContent = value ? str("stop") : str("listen");
  }

  function stop() {
    run += 1;
    if (synth && (synth.speaking || synth.pending)) { synth.cancel(); }
    if (!audio.paused) { audio.pause(); }
    setPlaying(false);
  }

  function speakWithDevice(parts, voice, mine) {
    var left = parts.length;
    parts.forEach(function (part) {
      var u = new window.SpeechSynthesisUtterance(part);
      u.lang = voice.lang;
      u.voice = voice;
      u.volume = volume;
      u.rate = 0.9;
      u.onend = u.onerror = function () {
        left -= 1;
        if (left === 0 && mine === run) { setPlaying(false); }
      };
      synth.speak(u);
    });
  }

  function play() {
    stop();
    var e = entry();
    if (!e) { return; }
    var mine = run;
    setPlaying(true);
    var voice = deviceVoice();
    if (voice) { speakWithDevice(e.parts, voice, mine); return; }
    if (!e.audio) { setPlaying(false); return; }
    if (audio.getAttribute("src") !== e.audio) { audio.src = e.audio; }
    audio.volume = volume;
    audio.currentTime = 0;
    var started = audio.play();
    if (started && typeof started.catch === "function") {
      started.catch(function () { if (mine === run) { setPlaying(false); } });
    }
  }
  audio.addEventListener("ended", function () { setPlaying(false); });
  audio.addEventListener("error", function () { setPlaying(false); });

  function changeVolume(delta) {
    volume = Math.round(Math.min(1, Math.max(VOLUME_STEP, volume + delta)) * 10) / 10;
    audio.volume = volume;  // heard at once; a device voice takes it from the next reading
    showVolume();
  }
  function showVolume() {
    if (!box) { return; }
    box.querySelector(".kiosk-volume-level").textContent = str("volume").replace("{n}", String(Math.round(volume * 100)));
    box.querySelector(".kiosk-volume-down").disabled = volume <= VOLUME_STEP + 1e-9;
    box.querySelector(".kiosk-volume-up").disabled = volume >= 1 - 1e-9;
  }

  /* ---------------------------------------------------------------- the controls */

  function controls() {
    var listen = node("button", "kiosk-listen");
    listen.type = "button";
    listen.setAttribute("aria-pressed", "false");
    listen.appendChild(speakerIcon());
    listen.appendChild(node("span", "kiosk-listen-label", str("listen")));
    listen.addEventListener("click", function () { if (playing) { stop(); } else { play(); } });
    var again = node("button", "kiosk-listen-again", str("again"));
    again.type = "button";
    again.addEventListener("click", play);
    var down = node("button", "kiosk-volume-down", "−");
    down.type = "button";
    down.setAttribute("aria-label", str("quieter"));
    down.addEventListener("click", function () { changeVolume(-VOLUME_STEP); });
    var up = node("button", "kiosk-volume-up", "+");
    up.type = "button";
    up.setAttribute("aria-label", str("louder"));
    up.addEventListener("click", function () { changeVolume(VOLUME_STEP); });
    var level = node("span", "kiosk-volume-level");
    level.setAttribute("aria-live", "polite");
    var vol = node("div", "kiosk-volume");
    [down, level, up].forEach(function (n) { vol.appendChild(n); });
    var group = node("div", "kiosk-speech");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", str("listen"));
    [listen, again, vol].forEach(function (n) { group.appendChild(n); });
    return group;
  }

  function addControls() {
    if (box && box.isConnected) { return; }
    box = null;
    var section = root.querySelector(".kiosk-item[data-item]");
    var heading = section && section.querySelector(".kiosk-question");
    if (!heading || !canSpeak()) { return; }
    box = controls();
    heading.parentNode.insertBefore(box, heading.nextSibling);
    showVolume();
    setPlaying(false);
  }

  document.addEventListener("hailong:kiosk-screen", function (ev) {
    var d = ev.detail || {};
    stop();
    box = null;
    lang = d.lang || "vi";
    var section = root.querySelector(".kiosk-item[data-item]");
    code = d.screen === "question" && section ? section.getAttribute("data-item") : null;
    if (d.screen === "welcome") { volume = S.volume; }  // the next citizen starts with the usual volume
    if (code) { addControls(); }
  });
  // answering (or typing, going back, skipping) stops the reading at once
  root.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t && t.closest && t.closest(".kiosk-option, .kiosk-nav button, .kiosk-lang, .kiosk-large")) { stop(); }
  }, true);
  root.addEventListener("input", stop, true);
  window.addEventListener("pagehide", stop);
  // a device's voices may arrive after the first screen
  if (synth && typeof synth.addEventListener === "function") {
    synth.addEventListener("voiceschanged", function () { if (code) { addControls(); } });
  }

  /* ---------------------------------------------------------------- offline: the service worker keeps the audio */

  var urls = [];
  Object.keys(S.items).forEach(function (l) {
    Object.keys(S.items[l]).forEach(function (c) { var a = S.items[l][c].audio; if (a) { urls.push(a); } });
  });
  if (urls.length && "serviceWorker" in navigator && window.isSecureContext && window.MessageChannel) {
    navigator.serviceWorker.ready.then(function (reg) {
      if (!reg.active) { return; }
      var channel = new MessageChannel();
      channel.port1.onmessage = function (ev) {
        var r = ev.data || {};
        document.documentElement.setAttribute("data-speech-cached", String(r.cached || 0) + "/" + String(urls.length));
      };
      reg.active.postMessage({type: "hailong-speech-cache", urls: urls}, [channel.port2]);
    });
  }
}());
