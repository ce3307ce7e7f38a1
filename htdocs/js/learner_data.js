/* My learning, "Your data": while the deletion runs, say so and keep the
   button from sending it twice. The form works without this script; the
   browser refuses to send it until the confirmation box is ticked. */
(function () {
  'use strict';
  var form = document.getElementById('tracl-delete-data');
  if (!form) {
    return;
  }
  form.addEventListener('submit', function () {
    var button = form.querySelector('.tracl-delete-button');
    var status = form.querySelector('.tracl-delete-status');
    form.setAttribute('aria-busy', 'true');
    if (status) {
      status.textContent = status.getAttribute('data-busy') || '…';
    }
    if (button) {
      // After the browser has read the form: a disabled button would not
      // stop this submission, only a second one.
      window.setTimeout(function () { button.disabled = true; }, 0);
    }
  });
}());
