/* The book's in-page decoders (vae_lib/display/explorers.py puts this file into each explorer).
   A page has no kernel, so an explorer carries its decoder: a list of layers (linear, convT,
   relu, tanh, sigmoid) with float16 or float32 weights in base64, run here in plain JavaScript
   on the code that the sliders or the drag pad set, at every move. Nothing is fetched, so it
   works offline and from file://. Defined once per page; each explorer then calls mount(id). */
(function () {
  "use strict";
  if (window.vaeBook) { return; }

  var HALF = null;  // float16 bit pattern -> value, built on first use
  function halfTable() {
    if (HALF) { return HALF; }
    HALF = new Float32Array(65536);
    for (var h = 0; h < 65536; h++) {
      var e = (h >> 10) & 31, m = h & 1023, v;
      if (e === 0) { v = m * Math.pow(2, -24); }
      else if (e === 31) { v = m ? NaN : Infinity; }
      else { v = (1024 + m) * Math.pow(2, e - 25); }
      HALF[h] = (h & 0x8000) ? -v : v;
    }
    return HALF;
  }

  function bytesOf(b64) {
    var text = atob(b64), out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i); }
    return out;
  }

  function tensor(b64, dtype) {
    var raw = bytesOf(b64), out, i;
    if (dtype === "f16") {
      var table = halfTable();
      out = new Float32Array(raw.length / 2);
      for (i = 0; i < out.length; i++) { out[i] = table[raw[2 * i] | (raw[2 * i + 1] << 8)]; }
    } else {
      var view = new DataView(raw.buffer);
      out = new Float32Array(raw.length / 4);
      for (i = 0; i < out.length; i++) { out[i] = view.getFloat32(4 * i, true); }
    }
    return out;
  }

  // y = W x + b, W stored (out, in) row by row, as torch's nn.Linear holds it.
  function linear(l, x, y) {
    var n = l.in, w = l.w, b = l.b;
    for (var o = 0; o < l.out; o++) {
      var s = b[o], row = o * n;
      for (var i = 0; i < n; i++) { s += w[row + i] * x[i]; }
      y[o] = s;
    }
  }

  // torch's ConvTranspose2d (weights (Cin, Cout, k, k)): each input pixel adds its kernel,
  // scaled, into the output at (iy * stride - pad + ky, ix * stride - pad + kx).
  function convT(l, x, y) {
    var k = l.k, s = l.stride, p = l.pad, hi = l.hin, wi = l.win, ho = l.hout, wo = l.wout;
    var plane = ho * wo, co, ci, iy, ix, ky, kx;
    for (co = 0; co < l.cout; co++) {
      for (var q = 0; q < plane; q++) { y[co * plane + q] = l.b[co]; }
    }
    for (ci = 0; ci < l.cin; ci++) {
      for (iy = 0; iy < hi; iy++) {
        for (ix = 0; ix < wi; ix++) {
          var v = x[(ci * hi + iy) * wi + ix];
          if (v === 0) { continue; }
          for (co = 0; co < l.cout; co++) {
            var base = (ci * l.cout + co) * k * k, out = co * plane;
            for (ky = 0; ky < k; ky++) {
              var oy = iy * s - p + ky;
              if (oy < 0 || oy >= ho) { continue; }
              for (kx = 0; kx < k; kx++) {
                var ox = ix * s - p + kx;
                if (ox >= 0 && ox < wo) { y[out + oy * wo + ox] += v * l.w[base + ky * k + kx]; }
              }
            }
          }
        }
      }
    }
  }

  var ELEMENTWISE = {
    relu: function (v) { return v > 0 ? v : 0; },
    tanh: Math.tanh,
    sigmoid: function (v) { return 1 / (1 + Math.exp(-v)); },
  };

  function Decoder(spec) {
    this.latent = spec.latent;
    this.shape = spec.shape;
    this.layers = [];
    var size = spec.latent;
    for (var i = 0; i < spec.layers.length; i++) {
      var l = Object.assign({}, spec.layers[i]);
      if (l.w) { l.w = tensor(l.w, spec.dtype); l.b = tensor(l.b, spec.dtype); }
      if (l.lb) { l.lb = tensor(l.lb, spec.dtype); l.b = l.lb.subarray(0, l.out); }
      if (l.op === "linear") { size = l.out; }
      if (l.op === "convT") { size = l.cout * l.hout * l.wout; }
      l.y = new Float64Array(size);  // each layer writes into its own buffer
      this.layers.push(l);
    }
  }
  // A labelled decoder (its first layer read [z, one-hot y]) holds one bias per label, "lb":
  // choosing label y makes that layer's bias b + W[:, latent + y], row y of the table.
  Decoder.prototype.setLabel = function (y) {
    for (var i = 0; i < this.layers.length; i++) {
      var l = this.layers[i];
      if (l.lb) { l.b = l.lb.subarray(y * l.out, (y + 1) * l.out); }
    }
  };
  Decoder.prototype.run = function (z) {
    var x = z;
    for (var i = 0; i < this.layers.length; i++) {
      var l = this.layers[i], f = ELEMENTWISE[l.op];
      if (l.op === "linear") { linear(l, x, l.y); x = l.y; }
      else if (l.op === "convT") { convT(l, x, l.y); x = l.y; }
      else if (f) { for (var j = 0; j < x.length; j++) { l.y[j] = f(x[j]); } x = l.y; }
    }
    return x;  // the mean image, row by row, in [0, 1]
  };

  // The grey levels, rounded as vae_lib.display.to_uint8 rounds them, into the canvas.
  function painter(canvas) {
    var ctx = canvas.getContext("2d"), image = ctx.createImageData(canvas.width, canvas.height);
    return function (p) {
      var d = image.data;
      for (var i = 0; i < p.length; i++) {
        var g = Math.round(255 * Math.min(1, Math.max(0, p[i])));
        d[4 * i] = d[4 * i + 1] = d[4 * i + 2] = g;
        d[4 * i + 3] = 255;
      }
      ctx.putImageData(image, 0, 0);
    };
  }

  function fmt(v) { return (Math.round(v * 100) / 100 + 0).toFixed(2); }
  function describe(z, units) {
    return units.map(function (j) { return "z" + (j + 1) + " = " + fmt(z[j]); }).join(", ");
  }

  // Sliders beside the picture, as vae_lib.widgets.LatentExplorer lays them out.
  function mountSliders(root, cfg, decoder) {
    var z = Float64Array.from(cfg.start), view = root.querySelector(".vae-x-image");
    var paint = painter(view), sliders = root.querySelectorAll("input[type=range]");
    var units = [], choice = root.querySelector("select"), names = cfg.names || [];
    function redraw() {
      var label = "";
      if (choice) {
        var y = Number(choice.value);
        decoder.setLabel(y);
        root.setAttribute("data-label", String(y));
        label = "label " + (names[y] === undefined ? y : names[y]) + ", ";
      }
      paint(decoder.run(z));
      root.setAttribute("data-z", Array.prototype.join.call(z, ","));
      view.setAttribute("aria-label", "decoded image at " + label + describe(z, units));
    }
    if (choice) {
      choice.addEventListener("change", redraw);
      choice.addEventListener("input", redraw);
    }
    Array.prototype.forEach.call(sliders, function (slider) {
      var j = Number(slider.getAttribute("data-unit")), shown = slider.parentNode.querySelector("output");
      units.push(j);
      function moved() { z[j] = Number(slider.value); shown.textContent = fmt(z[j]); redraw(); }
      slider.addEventListener("input", moved);
      slider.addEventListener("change", moved);
    });
    // On the picture: left/right move the first slider, down/up the second, a step at a time.
    var steps = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowDown: [1, -1], ArrowUp: [1, 1]};
    view.addEventListener("keydown", function (event) {
      var step = steps[event.key], slider = step && sliders[step[0]];
      if (!slider) { return; }
      event.preventDefault();
      if (step[1] > 0) { slider.stepUp(); } else { slider.stepDown(); }
      slider.dispatchEvent(new Event("input"));
    });
    redraw();
  }

  var COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf"];  // matplotlib's tab10, as the figures use

  // The drag pad: the encoded test images as dots, a point to drag, its decoding beside it.
  function mountPad(root, cfg, decoder) {
    var span = cfg.span, step = cfg.step, z = Float64Array.from(cfg.start);
    var pad = root.querySelector(".vae-x-pad"), marker = root.querySelector(".vae-x-marker");
    var view = root.querySelector(".vae-x-image"), paint = painter(view);
    var readout = root.querySelector(".vae-x-readout"), dots = root.querySelector(".vae-x-dots");
    var points = tensor(cfg.points, "f16"), labels = bytesOf(cfg.labels);
    var ctx = dots.getContext("2d"), size = dots.width;
    ctx.globalAlpha = 0.7;
    for (var i = 0; i < labels.length; i++) {
      ctx.fillStyle = COLOURS[labels[i] % COLOURS.length];
      var px = (points[2 * i] + span) / (2 * span) * size, py = (span - points[2 * i + 1]) / (2 * span) * size;
      ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
    }
    function place(x, y) {
      z[0] = Math.min(span, Math.max(-span, x));
      z[1] = Math.min(span, Math.max(-span, y));
      marker.style.left = (z[0] + span) / (2 * span) * 100 + "%";
      marker.style.top = (span - z[1]) / (2 * span) * 100 + "%";
      paint(decoder.run(z));
      var text = describe(z, [0, 1]);
      root.setAttribute("data-z", z[0] + "," + z[1]);
      readout.textContent = text;
      pad.setAttribute("aria-valuenow", fmt(z[0]));
      pad.setAttribute("aria-valuetext", text);
      view.setAttribute("aria-label", "decoded image at " + text);
    }
    function follow(event) {
      var r = pad.getBoundingClientRect();
      place(-span + 2 * span * (event.clientX - r.left) / r.width,
            span - 2 * span * (event.clientY - r.top) / r.height);
    }
    var dragging = false;
    pad.addEventListener("pointerdown", function (event) {
      dragging = true;
      try { pad.setPointerCapture(event.pointerId); } catch (e) { /* a synthetic pointer */ }
      pad.focus();
      follow(event);
      event.preventDefault();
    });
    pad.addEventListener("pointermove", function (event) { if (dragging) { follow(event); } });
    pad.addEventListener("pointerup", function () { dragging = false; });
    pad.addEventListener("pointercancel", function () { dragging = false; });
    var keys = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowDown: [0, -1], ArrowUp: [0, 1]};
    pad.addEventListener("keydown", function (event) {
      var move = keys[event.key];
      if (!move) { return; }
      event.preventDefault();
      var by = event.shiftKey ? 10 * step : step;  // Shift: ten steps at a time
      place(z[0] + move[0] * by, z[1] + move[1] * by);
    });
    place(z[0], z[1]);
  }

  window.vaeBook = {
    Decoder: Decoder,
    mount: function (id) {
      var root = document.getElementById(id);
      if (!root || root.vaeMounted) { return; }
      var cfg = JSON.parse(root.querySelector("script.vae-x-model").textContent);
      var decoder = new Decoder(cfg.decoder);
      root.vaeMounted = true;
      root.vaeDecoder = decoder;
      (cfg.kind === "pad" ? mountPad : mountSliders)(root, cfg, decoder);
    },
  };
})();
