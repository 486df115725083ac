// Loaded between require.js and embed-amd.js on pages with Jupyter widgets (see _ext/vae_offline.py).
// embed-amd.js defines its modules by name; RequireJS derives each module's URL from its name, and
// the bundled CSS finds its Font Awesome fonts next to that URL. Map every name to this folder, so
// the fonts load from _vendor/html-manager/ and nothing is fetched from a CDN.
(function () {
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
})();
