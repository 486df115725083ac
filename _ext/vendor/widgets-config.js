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
})();
