/* The helpers TracLearn's page scripts share (js/concept.js,
 * js/learning_path.js), on one namespace object, `window.tracl`:
 *
 * - `tracl.page(name)`: the helpers bound to one page's script data
 *   (`window[name]`, added by the server with add_script_data): its
 *   translated sentences (`message`, `plural`), its JSON API calls
 *   (`request`, rejecting with a `tracl.ApiFailure`) and what an answer
 *   box says with them (`showCount`, `answerProblem`, `feedbackLine`);
 * - `tracl.format`: Python's `%(name)s` placeholders filled in;
 * - `tracl.element` and `tracl.say`: nodes built with textContent, never
 *   as HTML, and a live region's message;
 * - `tracl.onAnswer`, `tracl.showBusy`, `tracl.refuse`: an answer box's
 *   keyboard and busy look; `tracl.percent`: a score as a percentage;
 * - `tracl.whenReady`: run a page script once the document is parsed;
 * - `tracl.writeTimes(url, isos)`: ISO times as the server writes them
 *   for this reader (Trac's date preferences), so a time a script adds
 *   reads as the page's own; `tracl.writtenTime(iso)` one of them.
 *
 * Loaded after js/page_errors.js and before the page scripts
 * (js/concept.js, js/learning_path.js, js/review_session.js).
 */
(function () {
  "use strict";

  /* A grade's score (0 to 1) as a whole percentage. */
  function percent(score) {
    return Math.round(Number(score || 0) * 100);
  }

  /* Fill in Python's `%(name)s` placeholders; `%%` is a percent sign, as
   * in the sentences translated on the server (`Score: %(percent)s%%`).
   * A placeholder without a value stays as it is. */
  function format(text, values) {
    return String(text).replace(/%\((\w+)\)s|%%/g, function (all, name) {
      if (all === "%%")
        return "%";
      return values && name in values ? String(values[name]) : all;
    });
  }

  /* An API call that failed: `message` is for a person, `status` is the
   * HTTP status (0 when the server could not be reached), `error` the
   * answer's `error` object ({} without one) and `retryAfter` the seconds
   * of a `Retry-After` header. An Error, so that a rejection nobody handles
   * reads as what it is in the console. */
  function ApiFailure(text, status, error, retryAfter) {
    this.message = text;
    this.status = status;
    this.error = error || {};
    this.retryAfter = retryAfter;
  }
  ApiFailure.prototype = Object.create(Error.prototype);
  ApiFailure.prototype.constructor = ApiFailure;
  ApiFailure.prototype.name = "ApiFailure";

  /* The helpers of the page whose script data is `window[name]`. The data
   * is read at each call, not once: the server's values stay the truth
   * (a test, for one, replaces the form token of a loaded page). */
  function page(name) {
    function settings() {
      return window[name] || {};
    }

    function messages() {
      return settings().messages || {};
    }

    /* The page's sentence `key` with `values` filled in; the key itself
     * when the page has no such sentence (an empty one stays empty). */
    function message(key, values) {
      var text = messages()[key];
      return format(text === undefined ? key : text, values);
    }

    /* The singular or plural form of sentence `key` for `n`. The number
     * fills both `%(num)s`, the name Trac's ngettext uses, and `%(n)s`. */
    function plural(key, n) {
      var forms = messages()[key] || ["%(num)s", "%(num)s"];
      return format(n === 1 ? forms[0] : forms[1], {num: n, n: n});
    }

    /* The message of a failed answer: the server's own when it gave one;
     * for a 429 without one, how long to wait when the page has a sentence
     * for it; else the HTTP status. */
    function failureText(response, error, retryAfter) {
      if (error && error.message)
        return error.message;
      if (response.status === 429 && retryAfter > 0 &&
          messages().rate_limited !== undefined)
        return message("rate_limited", {seconds: retryAfter});
      return message("server_error", {status: response.status});
    }

    /* Send `body` as JSON with `method` to `path` below the page's
     * `api_url`, with the page's CSRF token (the API checks it for a
     * session's writes); `keepalive` lets the call outlive the page.
     * Resolves to the decoded answer (null for 204), rejects with an
     * ApiFailure. */
    function request(method, path, body, keepalive) {
      var options = {
        method: method,
        credentials: "same-origin",
        headers: {"Accept": "application/json"},
        keepalive: !!keepalive
      };
      if (method !== "GET") {
        options.headers["Content-Type"] = "application/json";
        options.headers["X-CSRF-Token"] = settings().form_token || "";
        options.body = JSON.stringify(body || {});
      }
      var url = settings().api_url + path;
      return fetch(url, options).then(function (response) {
        if (response.status === 204)
          return null;
        // A proxy's error page is not JSON: it fails with its status.
        return response.json().catch(function () {
          return null;
        }).then(function (payload) {
          if (response.ok && payload)
            return payload;
          var error = payload && payload.error;
          var retryAfter = parseInt(response.headers.get("Retry-After"), 10);
          throw new ApiFailure(failureText(response, error, retryAfter),
                               response.status, error,
                               retryAfter > 0 ? retryAfter : undefined);
        });
      }, function () {
        throw new ApiFailure(message("network_error"), 0);
      });
    }

    /* The page's limits of an answer's length, in characters. */
    function answerLimits() {
      return {min: settings().min_answer || 10,
              max: settings().max_answer || 5000};
    }

    /* Show in `count` how many characters the text box `box` holds out
     * of `limits.max` (an answer's limits unless given), marked when
     * there are too many or, the box not empty, fewer than `limits.min`
     * once trimmed. */
    function showCount(box, count, limits) {
      limits = limits || answerLimits();
      var length = box.value.length, trimmed = box.value.trim().length;
      count.textContent = message("count", {count: length,
                                            max: limits.max});
      count.classList.toggle("tracl-count-bad", length > limits.max ||
                             (length > 0 && trimmed < limits.min));
    }

    /* Why the trimmed answer `text` cannot be sent: the page's sentence
     * "too_short", or `tooLong` ("too_long" unless given); "" when its
     * length is within the answer's limits. */
    function answerProblem(text, tooLong) {
      var limits = answerLimits();
      if (text.length < limits.min)
        return message("too_short");
      if (text.length > limits.max)
        return message(tooLong || "too_long");
      return "";
    }

    /* The grader's feedback on an answer, labelled, in a `className`
     * paragraph. */
    function feedbackLine(className, feedback) {
      var line = element("p", className);
      line.appendChild(element("span", "tracl-feedback-label",
                               message("feedback")));
      line.appendChild(document.createTextNode(" "));
      line.appendChild(element("span", "tracl-feedback-text", feedback));
      return line;
    }

    return {settings: settings, messages: messages, message: message,
            plural: plural, request: request, showCount: showCount,
            answerProblem: answerProblem, feedbackLine: feedbackLine};
  }

  /* A new `name` element; `text`, when given, goes in as text. */
  function element(name, className, text) {
    var node = document.createElement(name);
    if (className)
      node.className = className;
    if (text !== undefined && text !== null)
      node.textContent = text;
    return node;
  }

  /* Show `text` in the live region `node`, replacing what it said: kind
   * is "progress" (with a spinner), "error", "warning" or "notice" (in a
   * box of that kind), anything else plain text. No text clears it. */
  function say(node, text, kind) {
    if (!node)
      return;
    node.textContent = "";
    node.className = node.className
      .replace(/\s*tracl-(message|error|notice|warning)\b/g, "");
    if (!text)
      return;
    if (kind === "progress") {
      var spinner = element("span", "tracl-lp-spinner");
      spinner.setAttribute("aria-hidden", "true");
      node.appendChild(spinner);
    } else if (kind === "error" || kind === "warning" || kind === "notice") {
      node.className += " tracl-message tracl-" + kind;
    }
    node.appendChild(element("span", null, text));
  }

  /* Wire the text box `box` of `form`: `send` runs when the form is
   * submitted and on Ctrl+Enter (Cmd+Enter) in the box; `edited` after
   * each change, once the box no longer says it is invalid. */
  function onAnswer(form, box, send, edited) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send();
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        send();
      }
    });
    box.addEventListener("input", function () {
      box.removeAttribute("aria-invalid");
      edited();
    });
  }

  /* Show `holder` busy (`busy` true) or not: its `button` disabled and
   * labelled `label`, its text box `box` read-only rather than disabled,
   * so that the text stays selectable. */
  function showBusy(holder, button, box, busy, label) {
    holder.setAttribute("aria-busy", busy ? "true" : "false");
    button.disabled = busy;
    button.textContent = label;
    box.readOnly = busy;
  }

  /* Refuse what the text box `box` holds: marked invalid, `text` said in
   * the live region `status`, the focus back in the box. */
  function refuse(box, status, text) {
    box.setAttribute("aria-invalid", "true");
    say(status, text, "error");
    box.focus();
  }

  /* Run `start` once the document is parsed: Trac loads a script added
   * while the page renders after the page is parsed, so at once when the
   * document is already there. */
  function whenReady(start) {
    if (document.readyState === "loading")
      document.addEventListener("DOMContentLoaded", start);
    else
      start();
  }

  /* Times the server wrote for this reader, ISO -> text. */
  var writtenTimes = {};

  /* Have the server at `url` (GET url?t=ISO&t=..., answering
   * {"times": {ISO: text}}) write the times of `isos` it has not written
   * yet. Resolves either way: a time it did not write stays unwritten. */
  function writeTimes(url, isos) {
    var missing = (isos || []).filter(function (iso, index, all) {
      return iso && !writtenTimes[iso] && all.indexOf(iso) === index;
    });
    if (!url || !missing.length || !window.fetch)
      return Promise.resolve();
    var query = missing.map(function (iso) {
      return "t=" + encodeURIComponent(iso);
    }).join("&");
    return fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + query, {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (payload) {
      var times = (payload && payload.times) || {};
      Object.keys(times).forEach(function (iso) {
        writtenTimes[iso] = String(times[iso]);
      });
    }, function () {});
  }

  /* The server's text for `iso`, or null when it has not written it. */
  function writtenTime(iso) {
    return writtenTimes[iso] || null;
  }

  window.tracl = {
    ApiFailure: ApiFailure,
    element: element,
    format: format,
    onAnswer: onAnswer,
    page: page,
    percent: percent,
    refuse: refuse,
    say: say,
    showBusy: showBusy,
    whenReady: whenReady,
    writeTimes: writeTimes,
    writtenTime: writtenTime
  };
})();
