/* Errors of TracLearn's pages, kept in window.__traclErrors for the
 * functional tests: the browser's console cannot be read through Selenium
 * with Firefox. Loaded before the page scripts that use it. */
(function () {
  "use strict";
  var errors = window.__traclErrors = window.__traclErrors || [];
  if (!window.__traclErrorsWatched) {
    window.__traclErrorsWatched = true;
    window.addEventListener("error", function (event) {
      var target = event.target;
      if (target && target !== window && (target.src || target.href)) {
        // Firefox prefetches Trac's <link rel="next"> and reports an
        // error when the prefetch is refused: only a script, an image or
        // a stylesheet that did not load is the page's error.
        if (target.tagName === "LINK" && !/\bstylesheet\b/.test(target.rel))
          return;
        errors.push("failed to load " + (target.src || target.href));
      } else {
        errors.push(String(event.message || event.error));
      }
    }, true);
    window.addEventListener("unhandledrejection", function (event) {
      errors.push("unhandled rejection: " + String(event.reason));
    });
    if (window.console && console.error) {
      var consoleError = console.error;
      console.error = function () {
        errors.push(Array.prototype.join.call(arguments, " "));
        return consoleError.apply(console, arguments);
      };
    }
  }
})();
