/* The grading queue in Trac's admin (tracl_admin_queue.html): counts the
 * characters of each decision's comment as the instructor types. The
 * forms work without it. */
(function () {
  "use strict";
  var settings = window.tracl_admin_queue || {};
  var format = settings.count || "%(count)s / %(max)s characters";

  function counted(length, max) {
    return format.replace("%(count)s", String(length))
                 .replace("%(max)s", String(max));
  }

  function watch(textarea) {
    var counter = document.getElementById(
      textarea.getAttribute("aria-describedby") || "");
    if (!counter)
      return;
    var max = parseInt(textarea.getAttribute("maxlength"), 10) ||
      settings.max || 2000;
    var update = function () {
      counter.textContent = counted(textarea.value.length, max);
    };
    textarea.addEventListener("input", update);
    update();
  }

  function start() {
    var boxes = document.querySelectorAll(".tracl-decide textarea");
    for (var i = 0; i < boxes.length; i++)
      watch(boxes[i]);
  }

  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", start);
  else
    start();
})();
