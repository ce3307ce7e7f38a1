/* My learning, "Your data": while the deletion runs, say so and keep the
   button from sending it twice. The form works without this script; the
   browser refuses to send it until the confirmation box is ticked. Trac
   loads scripts in the head: wait for the page. */
(function () {
  'use strict';
  function start() {
    var form = document.getElementById('tracl-delete-data');
    if (!form) {
      return;
    }
    form.addEventListener('submit', function () {
      var button = form.querySelector('.tracl-delete-button');
      var status = form.querySelector('.tracl-delete-status');
      form.setAttribute('aria-busy', 'true');
      if (status) {
        status.textContent = status.getAttribute('data-busy') || '\u2026';
      }
      if (button) {
        // After the browser has read the form: a disabled button would
        // not stop this submission, only a second one.
        window.setTimeout(function () { button.disabled = true; }, 0);
      }
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
