/*
 * Refettorio: page set-up after Bootstrap Italia's bundle. Served at /static/refettorio.js;
 * load it after /static/bootstrap-italia/js/bootstrap-italia.bundle.min.js.
 * Every page works without JavaScript: this file only adds what Bootstrap Italia needs.
 */
(function () {
  'use strict';

  // Bootstrap Italia's CSS declares no @font-face: its fonts (Titillium Web, Lora, Roboto Mono)
  // are declared by loadFonts, pointing at the copy embedded in the refettorio binary.
  if (window.bootstrap && typeof window.bootstrap.loadFonts === 'function') {
    window.bootstrap.loadFonts('/static/bootstrap-italia/fonts');
  }
})();
