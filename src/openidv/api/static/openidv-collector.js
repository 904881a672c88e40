/*! openidv-collector.js: device attributes and behaviour telemetry for openidv (schema openidv.telemetry/1).
 *
 * <script src="/openidv-collector.js"></script>
 * const c = OpenIDV.collector({endpoint: "/v1", sessionId, token});
 * c.step("document"); c.mark("capture"); await c.flush(); c.stop();
 *
 * Never collected: key values (a key event carries an opaque per-session slot of the physical key, drawn at
 * random), the contents of fields, the clipboard's contents (a paste is only "a paste happened in field x").
 * Plain ES2017, no dependencies. Docs: docs/collector.md.
 */
(function (root) {
  "use strict";
  var SCHEMA = "openidv.telemetry/1";
  var MAX_BATCH = 50000; // openidv.telemetry.MAX_EVENTS_PER_BATCH
  var MAX_TEXT = 512;
  var FONTS = ["Arial", "Arial Black", "Calibri", "Cambria", "Comic Sans MS", "Consolas", "Courier New",
    "DejaVu Sans", "Droid Sans", "Georgia", "Helvetica", "Helvetica Neue", "Impact", "Liberation Sans",
    "Lucida Grande", "Menlo", "Monaco", "Noto Sans", "Noto Color Emoji", "Roboto", "Segoe UI", "SF Pro Text",
    "Tahoma", "Times New Roman", "Trebuchet MS", "Ubuntu", "Verdana", "Cantarell", "Fira Sans", "Symbol"];
  var DRIVER_GLOBALS = /^(cdc_|\$cdc_|__playwright|__pw|_phantom|callPhantom|__selenium|__webdriver|__nightmare|domAutomation|__driver|_Selenium_IDE|__fxdriver)/;

  function text(v) { return typeof v === "string" && v ? v.slice(0, MAX_TEXT) : undefined; }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : undefined; }
  function int(v) { return typeof v === "number" && isFinite(v) ? Math.round(v) : undefined; }
  function within(v, lo, hi) { return typeof v === "number" && isFinite(v) && v >= lo && v <= hi ? v : undefined; }
  function round1(v) { return Math.round(v * 10) / 10; }
  function clean(o) { // drop undefined/null fields, so the JSON carries only what was measured
    var out = {};
    Object.keys(o).forEach(function (k) { if (o[k] !== undefined && o[k] !== null) out[k] = o[k]; });
    return out;
  }
  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function sha256(str) {
    if (!root.crypto || !root.crypto.subtle) return Promise.resolve(undefined);
    return root.crypto.subtle.digest("SHA-256", new TextEncoder().encode(str)).then(hex, function () { return undefined; });
  }
  function guard(fn) { try { return fn(); } catch (e) { return undefined; } }
  function store(key, make) { // sessionStorage survives page loads of one onboarding tab
    try {
      var v = root.sessionStorage.getItem(key);
      if (v !== null) return JSON.parse(v);
      v = make(); root.sessionStorage.setItem(key, JSON.stringify(v)); return v;
    } catch (e) { return make(); }
  }

  // ------------------------------------------------------------------ device attributes
  function canvasHash() {
    return guard(function () {
      var c = document.createElement("canvas"); c.width = 240; c.height = 60;
      var g = c.getContext("2d"); if (!g) return undefined;
      g.textBaseline = "top"; g.font = "14px 'Arial'"; g.fillStyle = "#f60"; g.fillRect(100, 1, 62, 20);
      g.fillStyle = "#069"; g.fillText("openidv \u2603 Cwm fjordbank glyphs vext quiz", 2, 15);
      g.fillStyle = "rgba(102, 204, 0, 0.7)"; g.beginPath(); g.arc(50, 30, 20, 0, Math.PI * 2); g.fill();
      g.globalCompositeOperation = "multiply"; g.fillStyle = "rgb(255,0,255)"; g.fillRect(30, 10, 50, 40);
      return sha256(c.toDataURL());
    });
  }
  function webgl() {
    return guard(function () {
      var c = document.createElement("canvas");
      var gl = c.getContext("webgl") || c.getContext("experimental-webgl");
      if (!gl) return undefined;
      var info = gl.getExtension("WEBGL_debug_renderer_info");
      var names = ["VERSION", "SHADING_LANGUAGE_VERSION", "VENDOR", "RENDERER", "MAX_TEXTURE_SIZE",
        "MAX_VIEWPORT_DIMS", "MAX_RENDERBUFFER_SIZE", "MAX_VERTEX_ATTRIBS", "MAX_VERTEX_UNIFORM_VECTORS",
        "MAX_FRAGMENT_UNIFORM_VECTORS", "MAX_TEXTURE_IMAGE_UNITS", "ALIASED_LINE_WIDTH_RANGE", "ALIASED_POINT_SIZE_RANGE"];
      var params = names.map(function (n) { var v = guard(function () { return gl.getParameter(gl[n]); }); return n + "=" + (v && v.length !== undefined && typeof v !== "string" ? Array.prototype.join.call(v, ",") : v); });
      params.push("ext=" + (gl.getSupportedExtensions() || []).join(","));
      return {
        vendor: text(info ? gl.getParameter(info.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR)),
        renderer: text(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER)),
        hash: sha256(params.join(";"))
      };
    });
  }
  function audioHash() {
    var Ctx = root.OfflineAudioContext || root.webkitOfflineAudioContext;
    if (!Ctx) return Promise.resolve(undefined);
    return new Promise(function (resolve) {
      var done = false;
      var finish = function (v) { if (!done) { done = true; resolve(v); } };
      setTimeout(function () { finish(undefined); }, 1000); // some browsers never render offline audio
      guard(function () {
        var ctx = new Ctx(1, 5000, 44100), osc = ctx.createOscillator(), comp = ctx.createDynamicsCompressor();
        osc.type = "triangle"; osc.frequency.value = 10000;
        comp.threshold.value = -50; comp.knee.value = 40; comp.ratio.value = 12; comp.attack.value = 0; comp.release.value = 0.25;
        osc.connect(comp); comp.connect(ctx.destination); osc.start(0);
        ctx.oncomplete = function (e) {
          var d = e.renderedBuffer.getChannelData(0), s = [];
          for (var i = 4500; i < 5000; i++) s.push(d[i].toFixed(6));
          sha256(s.join(",")).then(finish);
        };
        var p = ctx.startRendering(); if (p && p.catch) p.catch(function () { finish(undefined); });
        return true;
      }) || finish(undefined);
    });
  }
  function fonts() {
    return guard(function () {
      var c = document.createElement("canvas").getContext("2d"); if (!c) return [];
      var sample = "mmmmmmmmmmlli1WQ@#", bases = ["monospace", "sans-serif", "serif"], widths = {};
      bases.forEach(function (b) { c.font = "72px " + b; widths[b] = c.measureText(sample).width; });
      return FONTS.filter(function (f) {
        return bases.some(function (b) { c.font = "72px '" + f + "', " + b; return c.measureText(sample).width !== widths[b]; });
      });
    }) || [];
  }
  function automation() {
    var names = [];
    guard(function () {
      [Object.getOwnPropertyNames(root), Object.getOwnPropertyNames(document)].forEach(function (list) {
        list.forEach(function (n) { if (DRIVER_GLOBALS.test(n) && names.indexOf(n) < 0) names.push(n.slice(0, 64)); });
      });
    });
    var ua = navigator.userAgent || "";
    return clean({
      webdriver: typeof navigator.webdriver === "boolean" ? navigator.webdriver : undefined,
      headless_user_agent: /HeadlessChrome/.test(ua),
      driver_globals: names.slice(0, 32),
      plugins: navigator.plugins ? Math.min(navigator.plugins.length, 1000) : undefined,
      chrome_object: /Chrome|Chromium/.test(ua) ? !!root.chrome : undefined
    });
  }
  function permissionsInconsistent() { // headless Chrome: Notification "denied" while the query says "prompt"
    if (!root.Notification || !navigator.permissions || !navigator.permissions.query) return Promise.resolve(undefined);
    return navigator.permissions.query({name: "notifications"}).then(function (s) {
      return root.Notification.permission === "denied" && s.state === "prompt";
    }, function () { return undefined; });
  }
  function clientHints() {
    var d = navigator.userAgentData;
    if (!d) return Promise.resolve(undefined);
    var base = {brands: (d.brands || []).slice(0, 16).map(function (b) { return text(b.brand + " " + b.version); }).filter(Boolean),
      mobile: d.mobile, platform: text(d.platform)};
    if (!d.getHighEntropyValues) return Promise.resolve(clean(base));
    return d.getHighEntropyValues(["platformVersion", "model"]).then(function (h) {
      base.platform_version = text(h.platformVersion); base.model = text(h.model); return clean(base);
    }, function () { return clean(base); });
  }
  function device() {
    var s = root.screen || {}, gl = webgl() || {};
    var tz = guard(function () { return Intl.DateTimeFormat().resolvedOptions().timeZone; });
    return Promise.all([clientHints(), canvasHash(), gl.hash, audioHash(), permissionsInconsistent()]).then(function (r) {
      var auto = automation();
      if (r[4] !== undefined) auto.permissions_inconsistent = r[4];
      return clean({
        user_agent: text(navigator.userAgent), client_hints: r[0], platform: text(navigator.platform),
        vendor: text(navigator.vendor),
        screen: clean({width: within(int(s.width), 0, 1e5) || 0, height: within(int(s.height), 0, 1e5) || 0,
          avail_width: within(int(s.availWidth), 0, 1e5), avail_height: within(int(s.availHeight), 0, 1e5),
          color_depth: within(int(s.colorDepth), 0, 64), pixel_ratio: within(root.devicePixelRatio, 0.01, 20)}),
        timezone: text(tz) && tz.slice(0, 64), timezone_offset_minutes: within(-new Date().getTimezoneOffset(), -900, 900),
        languages: (navigator.languages || [navigator.language]).filter(Boolean).slice(0, 32).map(function (l) { return l.slice(0, MAX_TEXT); }),
        hardware_concurrency: within(int(navigator.hardwareConcurrency), 0, 4096), device_memory: within(navigator.deviceMemory, 0, 4096),
        max_touch_points: within(int(navigator.maxTouchPoints), 0, 256), touch_support: "ontouchstart" in root || (navigator.maxTouchPoints || 0) > 0,
        canvas_hash: r[1], webgl_hash: r[2], webgl_vendor: gl.vendor, webgl_renderer: gl.renderer, audio_hash: r[3],
        fonts: fonts(),
        do_not_track: text(navigator.doNotTrack) && navigator.doNotTrack.slice(0, 16), automation: auto,
        cookies_enabled: typeof navigator.cookieEnabled === "boolean" ? navigator.cookieEnabled : undefined
      });
    });
  }

  // ------------------------------------------------------------------ the collector
  function collector(options) {
    var o = options || {};
    if (!o.sessionId) throw new Error("OpenIDV.collector: sessionId is required");
    var endpoint = (o.endpoint || "/v1").replace(/\/$/, "");
    var url = endpoint + "/sessions/" + encodeURIComponent(o.sessionId) + "/telemetry";
    var maxEvents = o.maxEvents || 100000, flushMs = o.flushIntervalMs || 5000, moveMs = o.moveIntervalMs || 16;
    var prefix = "openidv:" + o.sessionId + ":";
    // one clock for the whole session, across page loads: ms since the session's first page started
    var now = function () { return (performance.timeOrigin || Date.now() - performance.now()) + performance.now(); };
    var t0 = store(prefix + "t0", now);
    var lastT = store(prefix + "last", function () { return 0; });
    var slots = store(prefix + "slots", function () { // a random permutation: which slot is which key is unknowable
      var a = [], i; for (i = 0; i <= 1024; i++) a.push(i);
      for (i = a.length - 1; i > 0; i--) { var j = Math.floor(Math.random() * (i + 1)); var x = a[i]; a[i] = a[j]; a[j] = x; }
      return {perm: a, codes: {}, next: 0};
    });
    var queue = [], total = 0, pendingDevice = null, stopped = false, lastMove = -1e9, listeners = [], timer = null, inflight = Promise.resolve();

    function t() {
      var v = round1(Math.max(0, now() - t0));
      if (v < lastT) v = lastT; // monotone even if the wall clock steps back
      lastT = v; return v;
    }
    function push(ev) {
      if (stopped || total >= maxEvents) return;
      total++; queue.push(clean(ev));
      if (queue.length >= MAX_BATCH) flush();
    }
    function field(target) {
      if (!target || target === document || target === root) return undefined;
      var f = target.getAttribute && (target.getAttribute("data-openidv-field") || target.getAttribute("name") || target.id);
      return f ? String(f).slice(0, 64) : undefined;
    }
    function slot(code) {
      if (!(code in slots.codes)) { slots.codes[code] = slots.perm[slots.next % slots.perm.length]; slots.next++; guard(function () { root.sessionStorage.setItem(prefix + "slots", JSON.stringify(slots)); }); }
      return slots.codes[code];
    }
    function pointerType(e) { return e.pointerType === "touch" || e.pointerType === "pen" ? e.pointerType : "mouse"; }
    function xy(e) { return {x: num(e.clientX) !== undefined ? round1(e.clientX) : undefined, y: num(e.clientY) !== undefined ? round1(e.clientY) : undefined}; }
    function on(target, type, fn, opts) { target.addEventListener(type, fn, opts || {capture: true, passive: true}); listeners.push([target, type, fn, opts || {capture: true, passive: true}]); }

    var handlers = {
      pointermove: function (e) {
        var ts = t();
        if (ts - lastMove < moveMs) return; // at most ~60 moves a second
        lastMove = ts; var p = xy(e), touch = e.pointerType === "touch";
        push({t: ts, type: touch ? "touch_move" : "move", x: p.x, y: p.y, pointer: pointerType(e)});
      },
      pointerdown: function (e) { var p = xy(e); push({t: t(), type: e.pointerType === "touch" ? "touch_start" : "down", x: p.x, y: p.y, button: e.button >= 0 && e.button <= 8 ? e.button : undefined, pointer: pointerType(e), field: field(e.target)}); },
      pointerup: function (e) { var p = xy(e); push({t: t(), type: e.pointerType === "touch" ? "touch_end" : "up", x: p.x, y: p.y, button: e.button >= 0 && e.button <= 8 ? e.button : undefined, pointer: pointerType(e)}); },
      click: function (e) { var p = xy(e); push({t: t(), type: "click", x: p.x, y: p.y, button: e.button >= 0 && e.button <= 8 ? e.button : undefined, pointer: e.pointerType ? pointerType(e) : undefined, field: field(e.target)}); },
      wheel: function (e) { var p = xy(e); push({t: t(), type: "wheel", x: p.x, y: p.y, dx: num(e.deltaX), dy: num(e.deltaY)}); },
      keydown: function (e) { if (!e.repeat) push({t: t(), type: "key_down", key: slot(e.code || "?"), field: field(e.target)}); },
      keyup: function (e) { push({t: t(), type: "key_up", key: slot(e.code || "?"), field: field(e.target)}); },
      paste: function (e) { push({t: t(), type: "paste", field: field(e.target)}); }, // never the clipboard
      focus: function (e) { var f = field(e.target); if (f) push({t: t(), type: "focus", field: f}); },
      blur: function (e) { var f = field(e.target); if (f) push({t: t(), type: "blur", field: f}); }
    };
    var lastScroll = {x: root.scrollX || 0, y: root.scrollY || 0, t: -1e9};
    function onScroll() {
      var ts = t(); if (ts - lastScroll.t < 50) return;
      var x = root.scrollX || 0, y = root.scrollY || 0;
      push({t: ts, type: "scroll", dx: round1(x - lastScroll.x), dy: round1(y - lastScroll.y)});
      lastScroll = {x: x, y: y, t: ts};
    }
    function onVisibility() {
      var hidden = document.visibilityState === "hidden";
      push({t: t(), type: hidden ? "visibility_hidden" : "visibility_visible"});
      if (hidden) flush(); // the page may never come back
    }
    function onResize() { push({t: t(), type: "resize"}); } // the new size is each batch's viewport
    function onOrientation() { push({t: t(), type: "orientation"}); }

    Object.keys(handlers).forEach(function (type) { on(document, type, handlers[type]); });
    on(root, "scroll", onScroll); on(document, "visibilitychange", onVisibility);
    on(root, "resize", onResize); on(root, "orientationchange", onOrientation);
    on(root, "pagehide", function () { flush(); });

    var collected = null;
    var deviceReady = device().then(function (d) { pendingDevice = collected = d; }, function () {});

    function headers() {
      var h = {"Content-Type": "application/json"};
      if (o.token) h.Authorization = "Bearer " + o.token;
      Object.keys(o.headers || {}).forEach(function (k) { h[k] = o.headers[k]; });
      return h;
    }
    function send(events) {
      var body = {schema: SCHEMA, source: "collector", events: events,
        viewport_width: within(int(root.innerWidth), 0, 1e5), viewport_height: within(int(root.innerHeight), 0, 1e5)};
      if (pendingDevice) { body.device = pendingDevice; pendingDevice = null; }
      var json = JSON.stringify(body);
      guard(function () { root.sessionStorage.setItem(prefix + "last", JSON.stringify(lastT)); });
      return fetch(url, {method: "POST", headers: headers(), body: json, keepalive: json.length < 60000, credentials: "omit", mode: "cors"})
        .then(function (r) { return r.json().then(function (b) { if (!r.ok) { var err = new Error(b.detail || ("HTTP " + r.status)); err.status = r.status; err.problem = b; throw err; } return b; }); });
    }
    function flush() {
      var events = queue.splice(0, MAX_BATCH);
      if (!events.length && !pendingDevice) return inflight;
      inflight = inflight.then(function () { return send(events); }, function () { return send(events); });
      if (queue.length) return flush();
      return inflight;
    }
    if (flushMs > 0) timer = setInterval(function () { flush().catch(function (e) { if (o.onError) o.onError(e); }); }, flushMs);

    return {
      /** entered an onboarding step ("document", "selfie", ...) */
      step: function (name) { push({t: t(), type: "step", field: name ? String(name).slice(0, 64) : undefined}); },
      /** a flow event: capture, retry, camera_start, camera_switch or submit */
      mark: function (type, name) {
        if (["capture", "retry", "camera_start", "camera_switch", "submit"].indexOf(type) < 0) throw new Error("OpenIDV: unknown mark " + type);
        push({t: t(), type: type, field: name ? String(name).slice(0, 64) : undefined});
      },
      /** post what is queued (device attributes first); resolves with the server's counts */
      flush: function () { return deviceReady.then(flush); },
      stop: function () {
        stopped = true; if (timer) clearInterval(timer);
        listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2], l[3]); }); listeners = [];
        return deviceReady.then(flush);
      },
      pending: function () { return queue.length; },
      /** the device attributes as collected (what the first post carries) */
      device: function () { return deviceReady.then(function () { return collected; }); }
    };
  }

  root.OpenIDV = root.OpenIDV || {};
  root.OpenIDV.collector = collector;
  root.OpenIDV.collectDevice = device;
  root.OpenIDV.schema = SCHEMA;
})(typeof window !== "undefined" ? window : this);
