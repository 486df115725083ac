// Loaded between require.js and embed-amd.js on pages with Jupyter widgets (see _ext/vae_offline.py).
(function () {
  // 1. embed-amd.js defines its modules by name; RequireJS derives each module's URL from its name,
  // and the bundled CSS finds its Font Awesome fonts next to that URL. Map every name to this
  // folder, so the fonts load from _vendor/html-manager/ and nothing is fetched from a CDN.
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  var dist = here + "html-manager/";
  var names = [
    "@jupyter-widgets/base",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/base7",
    "@jupyter-widgets/controls7",
    "@jupyter-widgets/output",
    "@jupyter-widgets/html-manager",
    "@jupyter-widgets/html-manager/dist/libembed-amd",
  ];
  var paths = {};
  names.forEach(function (name) {
    paths[name] = dist + name.replace(/\W+/g, "_");
  });
  window.require.config({ paths: paths });
  // Widget libraries that the bundle lacks would be looked up here, never on a CDN.
  document.currentScript.setAttribute("data-jupyter-widgets-cdn", here + "npm/");

  // 2. The widgets typeset their labels with MathJax 2's MathJax.Hub.Queue; the book loads
  // MathJax 3 (deferred, so it is there by DOMContentLoaded; widgets render on load). Give it
  // the one call they make.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup || !mj.startup.promise) return;
    mj.Hub = {
      Queue: function () {
        var jobs = Array.prototype.slice.call(arguments);
        mj.startup.promise = mj.startup.promise.then(function () {
          var elements = jobs
            .filter(function (job) { return Array.isArray(job) && job[0] === "Typeset"; })
            .map(function (job) { return job[2]; })
            .filter(Boolean);
          return elements.length ? mj.typesetPromise(elements) : null;
        });
        return mj.startup.promise;
      },
    };
  });

  // 3. Accessible names. ipywidgets draws a slider's handle (role="slider" in ipywidgets 8,
  // a bare jQuery UI <span> in 7) and its readout with no name, and an Image widget as an <img>
  // with no alt. Name each control after its widget's label (the label's title is the
  // widget's tooltip, else its description), and give each image an alt that lists the values
  // of the sliders beside it: in a static page those are the values it was drawn for.
  function labelOf(widget, tooltipFirst) {
    var label = widget.querySelector(".widget-label");
    if (!label) return "";
    var title = label.title === "null" ? "" : label.title;  // ipywidgets 8 writes a null tooltip
    return ((tooltipFirst && title) || label.textContent).trim();
  }
  function nameControls(widget) {
    var name = labelOf(widget, true);
    if (!name) return;
    widget.querySelectorAll("[role=slider], input, select, textarea").forEach(function (el) {
      if (!el.hasAttribute("aria-label")) el.setAttribute("aria-label", name);
    });
    widget.querySelectorAll(".ui-slider-handle:not([role])").forEach(function (el) {
      el.setAttribute("title", name);  // ipywidgets 7: no role, so no aria-label (prohibited)
    });
    widget.querySelectorAll(".widget-readout").forEach(function (el) {
      el.setAttribute("role", "textbox");
      el.setAttribute("aria-label", name + " value");
    });
  }
  function describeImage(img) {
    var box = img.closest(".widget-box") || img.parentElement;
    var values = [];
    box.querySelectorAll(".widget-slider").forEach(function (slider) {
      var readout = slider.querySelector(".widget-readout");
      if (readout) values.push(labelOf(slider) + " = " + readout.textContent.trim());
    });
    // Redone while sliders appear, not when they move: a static page does not redraw the image.
    var seen = img.getAttribute("data-sliders");
    if (img.hasAttribute("alt") && (seen === null || seen === String(values.length))) return;
    img.setAttribute("data-sliders", values.length);
    img.alt = img.title || (values.length ? "image drawn for " + values.join(", ") : "image");
  }
  function nameAll() {
    document.querySelectorAll(".jupyter-widgets.widget-slider").forEach(nameControls);
    document.querySelectorAll("img.jupyter-widgets").forEach(describeImage);
  }
  // The widgets render after the load event, in pieces: name whatever has appeared.
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; nameAll(); });
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
