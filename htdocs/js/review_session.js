/* The review session (tracl/web/review_page.py, templates/tracl_review.html):
 * the learner's due concepts, one at a time.
 *
 * The queue comes from the page's <script type="application/json"> block,
 * the settings (API base, CSRF token, the server's now, the sentences)
 * from the script data `tracl_review`. Each answer goes to
 * PUT /progress/{id}/submit-answer with the X-CSRF-Token header; the
 * result says whether the concept was recalled, with the grader's score
 * and feedback and the next review; Next (Enter, on the focused button)
 * goes on. The session ends with a summary and the next review still to
 * come (GET /reviews?until= a year ahead).
 *
 * Everything from the server goes in with textContent (tracl.element),
 * never as HTML. Keyboard alone: the answer box takes the focus for each
 * concept, Ctrl+Enter submits, Next takes the focus after a result, the
 * summary's heading at the end.
 */
(function () {
  "use strict";

  var page = tracl.page("tracl_review");
  var settings = page.settings, message = page.message,
      plural = page.plural, request = page.request;
  var element = tracl.element, percent = tracl.percent, say = tracl.say;

  /* Trac's pretty_timedelta: the largest unit of which there are at least
   * 1.9, rounded; seconds below two minutes. */
  var UNITS = [["year", 3600 * 24 * 365], ["month", 3600 * 24 * 30],
               ["week", 3600 * 24 * 7], ["day", 3600 * 24],
               ["hour", 3600], ["minute", 60]];

  function prettyTimedelta(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    if (seconds <= 60 * 1.9)
      return plural("second", seconds);
    for (var i = 0; i < UNITS.length; i++) {
      var r = seconds / UNITS[i][1];
      if (r >= 1.9)
        return plural(UNITS[i][0], Math.round(r));
    }
    return "";
  }

  /* The server's now, moved on by the time the page has been open: the
   * server's clock may be set (an admin's or a test's "now"). */
  var loadedAt = Date.now();
  var serverNow = Date.parse(settings().now) || loadedAt;

  function now() {
    return serverNow + (Date.now() - loadedAt);
  }

  /* An ISO time as Trac's relative dates read ("in 3 days"), in a <time>
   * whose title is the absolute time in the learner's Trac time zone. */
  function timeElement(iso) {
    var at = Date.parse(iso);
    var delta = (at - now()) / 1000;
    var text = message(delta > 0 ? "in" : "ago",
                       {relative: prettyTimedelta(delta)});
    var node = element("time", null, text);
    node.setAttribute("datetime", iso);
    // The absolute time as the server writes it for this reader (as the
    // page's own titles are); until it answers, the ISO time.
    node.title = tracl.writtenTime(iso) || iso;
    tracl.writeTimes(settings().times_url, [iso]).then(function () {
      node.title = tracl.writtenTime(iso) || node.title;
    });
    return node;
  }

  /* A sentence with a `%(when)s` placeholder, the time in its place. */
  function sentenceWithTime(className, key, iso) {
    var line = element("p", className);
    var parts = message(key).split("%(when)s");
    line.appendChild(document.createTextNode(parts[0]));
    line.appendChild(timeElement(iso));
    if (parts.length > 1)
      line.appendChild(document.createTextNode(parts.slice(1).join("")));
    return line;
  }

  function readQueue() {
    var block = document.getElementById("tracl-rs-queue");
    try {
      return block ? JSON.parse(block.textContent) : [];
    } catch (e) {
      return [];
    }
  }

  function Session(root, queue) {
    var self = this;
    this.root = root;
    this.queue = queue;
    this.index = 0;
    this.busy = false;
    this.tally = {reviewed: 0, recalled: 0, lapsed: 0};
    this.card = root.querySelector(".tracl-rs-card");
    this.form = root.querySelector(".tracl-rs-form");
    this.answer = root.querySelector(".tracl-rs-answer");
    this.count = root.querySelector(".tracl-count");
    this.submitButton = root.querySelector(".tracl-rs-submit");
    this.status = root.querySelector(".tracl-rs-status");
    this.result = root.querySelector(".tracl-rs-result");
    this.position = root.querySelector(".tracl-rs-position");
    this.bar = root.querySelector(".tracl-rs-bar");
    this.summary = document.querySelector(".tracl-rs-summary");
    tracl.onAnswer(this.form, this.answer, function () {
      self.submit();
    }, function () {
      self.updateCount();
    });
    this.show(0);
  }

  Session.prototype.current = function () {
    return this.queue[this.index];
  };

  /* Concept `index` of the queue, its answer box empty and focused. */
  Session.prototype.show = function (index) {
    var item = this.queue[index];
    this.index = index;
    this.position.textContent = message("position", {
      n: index + 1, total: this.queue.length});
    this.bar.value = index;
    var link = this.root.querySelector(".tracl-rs-concept-link");
    link.textContent = item.concept;
    link.href = item.href;
    this.root.querySelector(".tracl-rs-subject").textContent = item.subject;
    var overdue = this.root.querySelector(".tracl-rs-overdue");
    overdue.textContent = item.overdue;
    overdue.setAttribute("datetime", item.due);
    overdue.title = item.overdue_title;
    this.root.querySelector(".tracl-rs-recall").textContent =
      message("recall", {percent: item.recall_percent});
    this.root.querySelector(".tracl-rs-question").textContent =
      item.question;
    this.result.hidden = true;
    this.result.textContent = "";
    this.form.hidden = false;
    this.answer.value = "";
    this.answer.readOnly = false;
    this.answer.removeAttribute("aria-invalid");
    say(this.status, "");
    this.updateCount();
    this.answer.focus();
  };

  Session.prototype.updateCount = function () {
    page.showCount(this.answer, this.count);
  };

  Session.prototype.setBusy = function (busy) {
    this.busy = busy;
    tracl.showBusy(this.card, this.submitButton, this.answer, busy,
                   message(busy ? "grading" : "submit"));
  };

  Session.prototype.submit = function () {
    if (this.busy || this.form.hidden)
      return;
    var item = this.current();
    var text = this.answer.value.trim();
    var problem = page.answerProblem(text);
    if (problem)
      return tracl.refuse(this.answer, this.status, problem);
    var self = this;
    var body = {answer: text};
    if (item.question_id)
      body.question_id = item.question_id;
    this.setBusy(true);
    say(this.status, message("grading_status"), "progress");
    request("PUT", "/progress/" + encodeURIComponent(item.ticket_id) +
            "/submit-answer", body).then(function (graded) {
      self.setBusy(false);
      say(self.status, "");
      self.showResult(item, graded);
    }, function (failure) {
      // Nothing was recorded: the answer stays in the box.
      self.setBusy(false);
      if (failure.status === 400)
        self.answer.setAttribute("aria-invalid", "true");
      say(self.status, failure.message, "error");
      self.answer.focus();
    });
  };

  Session.prototype.showResult = function (item, graded) {
    var review = graded.review || {};
    var result = this.result;
    this.tally.reviewed += 1;
    var kind;
    if (review.rating === "good") {
      this.tally.recalled += 1;
      kind = "recalled";
    } else if (review.rating === "again") {
      this.tally.lapsed += 1;
      kind = "forgotten";
    } else {
      kind = "practice";
    }
    result.textContent = "";
    result.className = "tracl-rs-result tracl-rs-" + kind;
    result.appendChild(element("p", "tracl-rs-verdict", message(kind)));
    result.appendChild(element("p", "tracl-rs-score",
                               message("score",
                                       {percent: percent(graded.score)})));
    if (graded.feedback)
      result.appendChild(page.feedbackLine("tracl-rs-feedback",
                                           graded.feedback));
    if (review.due)
      result.appendChild(sentenceWithTime("tracl-rs-due", "next_due",
                                          review.due));
    if (graded.follow_up) {
      var more = element("p", "tracl-rs-follow-up",
                         message("follow_up") + " ");
      var open = element("a", null, message("open_concept"));
      open.href = item.href;
      more.appendChild(open);
      result.appendChild(more);
    }
    var last = this.index + 1 >= this.queue.length;
    var buttons = element("div", "tracl-buttons");
    var next = element("button", "tracl-rs-next",
                       message(last ? "finish" : "next"));
    next.type = "button";
    var self = this;
    next.addEventListener("click", function () {
      self.goOn();
    });
    buttons.appendChild(next);
    buttons.appendChild(document.createTextNode(" "));
    buttons.appendChild(element("span", "tracl-help", message("next_help")));
    result.appendChild(buttons);
    this.bar.value = this.index + 1;
    this.form.hidden = true;
    result.hidden = false;
    next.focus();
  };

  Session.prototype.goOn = function () {
    if (this.index + 1 < this.queue.length)
      this.show(this.index + 1);
    else
      this.finish();
  };

  Session.prototype.finish = function () {
    var tally = this.tally;
    this.root.hidden = true;
    // The intro counts what was due: done now.
    var intro = document.querySelector(".tracl-rs-intro");
    if (intro)
      intro.hidden = true;
    var summary = this.summary;
    var list = summary.querySelector(".tracl-rs-tally");
    list.textContent = "";
    list.appendChild(element("li", "tracl-rs-reviewed",
                             plural("reviewed", tally.reviewed)));
    list.appendChild(element("li", "tracl-rs-recalled-count",
                             message("recalled_count", {n: tally.recalled})));
    list.appendChild(element("li", "tracl-rs-lapsed-count",
                             message("lapsed_count", {n: tally.lapsed})));
    var next = summary.querySelector(".tracl-rs-next-review");
    summary.hidden = false;
    summary.querySelector("h2").focus();
    say(next, message("next_loading"), "progress");
    fetch(settings().next_url, {credentials: "same-origin",
                                headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok)
          throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var due = (data.due || []).map(function (item) {
          return item.due;
        }).sort();
        say(next, "");
        next.className = "tracl-rs-next-review";
        if (!due.length) {
          next.textContent = message("nothing_scheduled");
          return;
        }
        var line = sentenceWithTime("tracl-rs-next-review", "next_review",
                                    due[0]);
        while (line.firstChild)
          next.appendChild(line.firstChild);
      })
      .catch(function () {
        say(next, message("next_unknown"), "warning");
      });
  };

  function start() {
    var root = document.getElementById("tracl-rs-session");
    var queue = readQueue();
    if (root && queue.length)
      root.tracSession = new Session(root, queue);
  }

  tracl.whenReady(start);
})();
